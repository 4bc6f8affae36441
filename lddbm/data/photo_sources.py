"""More photographs for super-resolution (issue 38): the sources beyond ``photos.DEBIAN_PACKAGES``,
the checks every photograph passes, and near-duplicate removal.

Sources (``EXTRA_SOURCES``; each folder looked at by eye, renders, paintings, cut-outs and edited
textures left out by name):

- ``gcompris-qt-data``: the Wikimedia Commons photographs of five GCompris activities (animals,
  farm animals, monuments, world music, the "erase" backgrounds), packed in Qt resource files
  (``.rcc``, read by ``read_rcc``); each file's author, licence and source page come from the
  README beside it in the activity's resources (``readme_licences``).
- ``ufoai-textures``: the photographed textures of UFO: Alien Invasion (doors, walls, cobbles,
  grass, wood...: ``tex_mattn``, a few of ``tex_ctp1`` and others) in a zip (``0textures.pk3``); licences per file
  from the package's machine-readable copyright file.
- ``cube2-data``: the Yo Frankie! (Blender Foundation) rock, dirt and bark photo-textures and the
  GK stone, plaster and roof ones.
- ``palapeli-data``'s two GFDL puzzles, and ``python3-sklearn``'s and ``python-matplotlib-data``'s
  sample photographs. (Not used: ``digikam-data``'s about-page photograph, whose licence the
  package does not state; OpenCV's sample images (``opencv-doc``), of unstated provenance; the
  renders, cut-outs and painted textures of ``openarena-081-textures``, ``supertuxkart-data``,
  ``redeclipse-data``, ``lugaru-data``, ``kstars-data``, ``kodi-data``, ``visp-images-data``.)

Every photograph, old sources included, must pass ``inspect_photo``: no palette or bilevel images
(drawings, quantised), no transparency (cut-outs, sprites), no normal maps, not mostly flat
(renders, drawings, screenshots), and not heavily compressed: a JPEG whose quantisation is coarser
than quality ~70, or a lossy WebP under 1 bit per pixel, is downsized (antialiased) until the
artefacts are below a pixel, or dropped when that leaves it too small. Duplicates (the same
picture in two packages, an edited copy, a stereo pair) are found by a 64-bit DCT perceptual hash
(``perceptual_hash``) and dropped (``dedupe``), test photographs winning over training ones.

Split by source: each source is a group; the groups of ``photos.DEBIAN_PACKAGES`` and scikit-image
keep their held-out photographs (the same names as before), new groups go to training, except
``held_out_as`` groups, kept whole as a second held-out set (``test2``) never seen in training.
"""

from __future__ import annotations

import fnmatch
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MIN_SIDE = 512  # shortest side a new photograph must keep (after any downsizing for compression)
MAX_JPEG_QUANT = 35.0  # mean luma quantiser of a JPEG kept at full size (~ IJG quality 70)
MAX_JPEG_QUANT_HALVED = 70.0  # up to this (~ quality 40), the JPEG is kept at half size
MIN_WEBP_BPP = 1.0  # bits per (output) pixel a lossy WebP must have, after downsizing
MAX_DOWNSIZE = 2.5
MAX_FLAT = 0.8  # fraction of pixels with no difference to their right and lower neighbours
DUPLICATE_BITS = 8  # perceptual hashes at most this many bits apart are the same picture


@dataclass(frozen=True)
class PhotoSource:
    """Photographs in one Debian package: ``files`` globs inside the unpacked package, or inside
    ``archive`` (a path in the package: a Qt ``.rcc`` or a zip such as ``.pk3``)."""

    group: str  # the split group and the prefix of the photographs' names
    package: str
    files: tuple[str, ...]
    archive: str = ""
    exclude: tuple[str, ...] = ()  # file-name globs left out (checked by eye)
    licence: str = ""  # a fixed licence (else per file: the README beside it, or debian/copyright)
    min_side: int = MIN_SIDE
    held_out_as: str = ""  # "test2": the whole group is held out


def _gcompris(activity: str, files: str, held_out_as: str = "", min_side: int = 400) -> PhotoSource:
    # GCompris ships 1024-px photographs: the shortest side may drop to 400 px after downsizing
    return PhotoSource(f"gcompris-{activity.replace('_', '-')}", "gcompris-qt-data", (f"gcompris/src/activities/{activity}/resource/{files}",),
                       archive=f"usr/share/gcompris-qt/rcc/{activity}.rcc", held_out_as=held_out_as, min_side=min_side)


UFOAI_PK3 = "usr/share/games/ufoai/base/0textures.pk3"
EXTRA_SOURCES = (
    _gcompris("erase", "*.webp"),
    _gcompris("explore_farm_animals", "animals/*.webp"),
    _gcompris("explore_world_animals", "animals/*.webp"),
    _gcompris("explore_monuments", "*/*.webp"),
    _gcompris("explore_world_music", "music/*.webp", held_out_as="test2"),
    PhotoSource("ufoai-mattn", "ufoai-textures", ("textures/tex_mattn/*.jpg", "textures/tex_mattn/*.png"), archive=UFOAI_PK3,
                exclude=("art*", "wall021*", "wall022*", "wall024*", "wall025*", "window*")),  # paintings, edited
    PhotoSource("ufoai", "ufoai-textures", tuple(f"textures/{n}" for n in (
        "tex_nature/wall002.*", "tex_nature/wood003.*", "tex_nature/metall007.*", "tex_nature/dirt002.*", "tex_nature/dirt003.*",
        "tex_buildings/floor_se0[1-4].*", "tex_buildings/wall_brick01.*", "tex_buildings/floor033.*",
        "tex_buildings/floor_wood01.*")), archive=UFOAI_PK3),
    PhotoSource("ufoai-ctp1", "ufoai-textures", tuple(f"textures/tex_ctp1/{n}.*" for n in (
        "grass_g_[478]", "ground_[bg]_[12]", "dirt_b_[1-4]", "rocks_w_1", "roof_t_[1-3]", "sand_s_1", "bricks_r_3",
        "bricks_t_5", "bricks_g_1", "concrete_g_8", "marble_m_1")), archive=UFOAI_PK3),
    PhotoSource("cube2-gk", "cube2-data", tuple(f"usr/share/games/cube2/packages/gk/fantasy/{n}/{n}_cc.jpg" for n in (
        "castell_plaster_gk_v01", "castell_wall_gk_v01", "castell_wall_gk_v02", "castell_wall_gk_v03", "rock_formation_gk_v01",
        "rock_formation_gk_v02", "stone_ground_gk_v01", "stone_ground_tiles_gk_v01", "wooden_roof_tiles_gk_v01"))),
    PhotoSource("cube2-yofrankie", "cube2-data", tuple(f"usr/share/games/cube2/packages/yo_frankie/{n}_col.jpg" for n in (
        "generic_darkRock", "generic_grayrock1", "generic_lightRock", "prop_rocks_rock_002", "trees_bark_001", "trees_bark_002",
        "generic_dirt1", "generic_dirt2"))),
    PhotoSource("palapeli-gfdl", "palapeli-data", ("usr/share/palapeli/collection/castle-maintenon.jpg",
                                                   "usr/share/palapeli/collection/panther-chameleon-female.jpg"),
                licence="GFDL (the puzzles' metadata: Wikimedia Commons photographs)"),
    PhotoSource("sklearn", "python3-sklearn", ("usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg",), min_side=400,
                licence="CC-BY-2.0 (danielbuechele, vultilion on Flickr: sklearn/datasets/images/README.txt)"),
    PhotoSource("matplotlib", "python-matplotlib-data", ("usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",),
                licence="public domain (US Navy photograph of Grace Hopper); the package: matplotlib licence"),
)


# --- archives -------------------------------------------------------------------------------------

def read_rcc(data: bytes) -> dict[str, bytes]:
    """path -> contents of every file in a Qt resource file (``rcc`` binary format 1-3)."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    entry = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    out: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        index, parent = stack.pop()
        o = tree + index * entry
        name_offset, flags = struct.unpack(">IH", data[o : o + 6])
        path = f"{parent}/{name(name_offset)}".lstrip("/") if index else ""
        if flags & 2:  # a directory: its children
            count, first = struct.unpack(">II", data[o + 6 : o + 14])
            stack.extend((c, path) for c in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", data[o + 10 : o + 14])
        (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        raw = data[payload + offset + 4 : payload + offset + 4 + size]
        if flags & 1:
            raw = zlib.decompress(raw[4:])  # qCompress: 4-byte length, then zlib
        elif flags & 4:
            raise ValueError(f"{path}: zstd-compressed resources are not supported")
        out[path] = raw
    return out


def extract_archive(archive: Path, dest: Path) -> Path:
    """Unpack a ``.rcc`` or zip (``.pk3``) once into DEST (a marker file makes it idempotent)."""
    if not (dest / ".unpacked").exists():
        dest.mkdir(parents=True, exist_ok=True)
        if archive.suffix == ".rcc":
            for path, raw in read_rcc(archive.read_bytes()).items():
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(raw)
        else:
            with zipfile.ZipFile(archive) as z:
                z.extractall(dest)
        (dest / ".unpacked").touch()
    return dest


def readme_licences(readme: Path) -> dict[str, str]:
    """file name -> 'License (Copyright; Source)' from a GCompris resource README: blocks of
    ``Key: value`` lines, ``Files:`` followed by the names (on its line or the next ones)."""
    out: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", readme.read_text(errors="replace")):
        fields: dict[str, str] = {}
        files: list[str] = []
        key = ""
        for line in block.splitlines():
            m = re.match(r"^(\w[\w-]*):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                if key == "files":
                    files += m.group(2).split()
                else:
                    fields[key] = m.group(2).strip()
            elif key == "files":
                files += line.split()
        if files and "license" in fields:
            detail = "; ".join(fields[k] for k in ("copyright", "source") if fields.get(k))
            for f in files:
                out[f] = fields["license"] + (f" ({detail})" if detail else "")
    return out


def readme_licence_for(path: Path, root: Path) -> str:
    """The licence a README in the file's folder or one above it (up to ``root``) gives it."""
    folder = path.parent
    while True:
        readme = folder / "README"
        if readme.is_file():
            licences = readme_licences(readme)
            relative = str(path.relative_to(folder))
            if relative in licences:
                return licences[relative]
        if folder == root or root not in folder.parents:
            return ""
        folder = folder.parent


def excluded(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(Path(path).name, p) for p in patterns)


# --- checks -------------------------------------------------------------------------------------

def _jpeg_quant(image: Image.Image) -> float | None:
    tables = getattr(image, "quantization", None)
    return float(np.mean(tables[0])) if image.format == "JPEG" and tables else None


def _lossy_webp(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(40)
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP" and (b"VP8 " in head)


def inspect_photo(path: str | Path, min_side: int = 0) -> tuple[float, str]:
    """(downsizing factor, "") for a photograph to keep, or (0, why) for one to drop."""
    path = Path(path)
    with Image.open(path) as image:
        mode, fmt, (w, h) = image.mode, image.format, image.size
        quant = _jpeg_quant(image)
        if mode in ("P", "1"):
            return 0.0, "palette or bilevel image (a drawing, or quantised)"
        if mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if (alpha < 250).mean() > 0.001:
                return 0.0, "transparent (a cut-out or sprite)"
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    mean = rgb.reshape(-1, 3).mean(0)
    if mean[2] > 180 and abs(mean[0] - 128) < 40 and abs(mean[1] - 128) < 40:
        return 0.0, "a normal map"
    factor = 1.0
    if quant is not None and quant > MAX_JPEG_QUANT:
        if quant > MAX_JPEG_QUANT_HALVED:
            return 0.0, f"heavily compressed JPEG (mean quantiser {quant:.0f})"
        factor = 2.0
    elif fmt == "WEBP" and _lossy_webp(path):
        bpp = path.stat().st_size * 8 / (w * h)
        factor = max(1.0, float(np.sqrt(MIN_WEBP_BPP / bpp)))
        if factor > MAX_DOWNSIZE:
            return 0.0, f"heavily compressed WebP ({bpp:.2f} bits per pixel)"
    still = (np.abs(np.diff(rgb, axis=1))[:-1].sum(-1) == 0) & (np.abs(np.diff(rgb, axis=0))[:, :-1].sum(-1) == 0)
    if still.mean() > MAX_FLAT:
        return 0.0, f"mostly flat ({still.mean():.0%}: a render, drawing or screenshot)"
    if min(w, h) / factor < min_side:
        return 0.0, f"too small ({w}x{h}" + (f", /{factor:.2f} for its compression)" if factor > 1 else ")")
    return round(factor, 3), ""


# --- duplicates ---------------------------------------------------------------------------------

def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    return np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n))


def perceptual_hash(image: Image.Image) -> int:
    """64-bit pHash: the signs (about the median) of the 8x8 lowest frequencies of the DCT of the
    32x32 grey image, the constant term left out. Survives resizing, re-compression, small edits."""
    grey = np.asarray(image.convert("L").resize((32, 32), Image.LANCZOS), dtype=np.float64)
    d = _dct_matrix(32)
    low = (d @ grey @ d.T)[:8, :8].ravel()[1:]
    bits = low > np.median(low)
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def dedupe(items: list[dict], max_bits: int = DUPLICATE_BITS) -> tuple[list[dict], list[dict]]:
    """Keep the first of each group of duplicates in ``items`` (dicts with "name", "sha" (the
    file's digest) and "phash"): same digest or hashes at most ``max_bits`` apart. Returns (kept,
    dropped), each dropped one with "duplicate_of" and "reason". Order the items by priority."""
    kept: list[dict] = []
    dropped: list[dict] = []
    for item in items:
        for k in kept:
            if item["sha"] == k["sha"]:
                dropped.append({**item, "duplicate_of": k["name"], "reason": "exact duplicate"})
                break
            distance = hamming(item["phash"], k["phash"])
            if distance <= max_bits:
                dropped.append({**item, "duplicate_of": k["name"], "reason": f"near duplicate ({distance} bits)"})
                break
        else:
            kept.append(item)
    return kept, dropped
