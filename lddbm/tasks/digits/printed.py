"""Printed digits of the cross-modal digits set: 32x32 RGB house-number style (SVHN-like) renders.

Made here with PIL from the TrueType / OpenType faces of Debian font packages (``FONT_PACKAGES``: the installed
files where a package is installed, else ``apt-get download`` into OUT/_sources), plus any font files passed in.
Drawn like SVHN crops: neighbouring digits partly in frame, text and background colours at least
``PrintedStyle.contrast`` apart in luminance, gradient / value-noise / photograph backgrounds (a folder of
photographs, e.g. the built photo set, is optional), random size, aspect, rotation (±15°), shear, drop shadow,
lighting, then blur, noise and JPEG at 32 px (rendered at 64 px and downsized, antialiased). Faces without ten
distinct digit glyphs, and math / symbol faces, are left out. Each face's package, version and licence (the stanza
of the package's copyright file that covers it, as in ``lddbm.data.photos``) are recorded. ``split_fonts`` holds
fonts out by family; ``background_files`` / ``load_backgrounds`` pick and read the background photographs.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ...data.debian import fetch_and_unpack
from ...data.furniture import stable_seed
from ...data.photos import _licence_for, debian_licences
from ...errors import DataError
from .common import CLASSES, SIZE, SPLITS

logger = logging.getLogger(__name__)

SUPERSAMPLE = 2  # printed digits are drawn at SIZE * SUPERSAMPLE px, then downsized

# Font packages with several faces each, all small (Debian 12): installed ones are read in place.
FONT_PACKAGES = (
    "fonts-dejavu-core", "fonts-dejavu-extra", "fonts-liberation", "fonts-freefont-ttf", "fonts-croscore",
    "fonts-go", "fonts-open-sans", "fonts-crosextra-caladea", "fonts-crosextra-carlito", "fonts-cantarell",
    "fonts-league-spartan",
)
# What a package's copyright file says where it is not machine-readable (read by eye)
LICENCE_NOTES = {
    "fonts-liberation": "GPL-2 with font exceptions (Red Hat, Inc.; LIBERATION is a trademark of Red Hat, Inc.)",
}
FONT_SUFFIXES = (".ttf", ".otf")
SKIP_FAMILY_WORDS = ("Math", "Symbol", "Emoji", "Keyboard", "Initials", "Dingbat", "Icon")
# Families of one design: the metric clones, then the width / weight words dropped from family names
SAME_DESIGN = {"Arimo": "Liberation Sans", "Tinos": "Liberation Serif", "Cousine": "Liberation Mono",
               "Hack": "DejaVu Sans Mono"}
VARIANT_WORDS = ("Condensed", "Narrow", "Medium", "Smallcaps", "Display", "Light", "Semibold", "Black")
TEST_FONT_SHARE, VAL_FONT_SHARE, MAX_HELD_OUT_SHARE = 0.15, 0.10, 0.4
BASE_HEIGHT = 0.6  # digit height / canvas side at which each face is loaded (scaled from there)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class PrintedStyle:
    """Ranges of the printed digits' nuisance factors; every draw is uniform in its range."""

    digit_height: tuple[float, float] = (0.45, 0.75)  # the centre digit's height / image side
    aspect: tuple[float, float] = (0.85, 1.15)  # horizontal stretch
    rotation: float = 15.0  # degrees, ±
    shear: float = 0.25  # horizontal shear (x += shear * y), ±
    shift: float = 0.06  # offset of the centre digit / image side, ± in x and y
    neighbour_p: float = 0.7  # chance of a neighbouring digit on each side
    gap: tuple[float, float] = (-0.05, 0.3)  # space between digits / digit height
    contrast: float = 0.3  # least |luminance(text) - median luminance behind it|, luminance in 0..1
    photo_p: float = 0.4  # chance of a photograph background (when photographs are given)
    noise_background_p: float = 0.25  # chance of a value-noise background (else a gradient)
    shadow_p: float = 0.2  # chance of a drop shadow
    lighting_p: float = 0.3  # chance of a linear lighting falloff (up to 40% darker)
    blur_p: float = 0.4
    blur_radius: tuple[float, float] = (0.3, 1.0)  # Gaussian, px at 32 px
    noise_p: float = 0.6
    noise_sigma: float = 6.0  # largest Gaussian noise sigma, 0..255 scale
    jpeg_p: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 90)


@dataclass(frozen=True)
class FontFace:
    """One font file and where it comes from."""

    file: str
    name: str  # family and style, e.g. "DejaVu Sans Bold"
    family: str  # the face's own family name
    group: str  # the family with width / weight variants and metric clones merged: the unit held out
    package: str  # Debian package ("" when the file is from none)
    version: str
    licence: str
    sha256: str


# ---------------------------------------------------------------------------------------------- fonts


def _dpkg(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["dpkg", *args], capture_output=True, text=True)
    except FileNotFoundError:  # not a Debian system
        return subprocess.CompletedProcess(args, 1, "", "dpkg not found")


def _installed_version(package: str) -> str:
    result = subprocess.run(["dpkg-query", "-W", "-f", "${Status}|${Version}", package], capture_output=True,
                            text=True) if shutil.which("dpkg-query") else None
    if result is None or result.returncode != 0 or not result.stdout.startswith("install ok installed"):
        return ""
    return result.stdout.split("|", 1)[1]


def _font_files(folder_or_files: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in folder_or_files:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"Font file or folder {path} does not exist.")
    return found


def _package_files(package: str, work: Path, font_source: Path | None) -> tuple[Path, list[Path], str]:
    """(root the package's paths are relative to, its font files, its version): installed, or fetched."""
    version = _installed_version(package)
    if version:
        listing = _dpkg("-L", package).stdout.splitlines()
        files = [Path(p) for p in listing if Path(p).suffix.lower() in FONT_SUFFIXES and Path(p).is_file()]
        return Path("/"), sorted(files), version
    try:
        unpacked = fetch_and_unpack(package, work, font_source)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        raise DataError(f"Could not get the font package {package}: {error}\nPass font_packages=() and font files "
                        f"(fonts=[...]), or a folder holding {package}_*.deb as font_source.") from error
    version = unpacked.name.removeprefix(f"deb-{package}_").rsplit("_", 1)[0]  # deb-PACKAGE_VERSION_ARCH
    fonts = unpacked / "usr/share/fonts"
    return unpacked, _font_files([fonts]) if fonts.is_dir() else [], version


def _licence_of(relative: str, package: str, copyright_file: Path) -> str:
    if not package:
        return "unknown: not from a Debian package (check the font's own licence before publishing)"
    if package in LICENCE_NOTES:
        return LICENCE_NOTES[package]
    if not copyright_file.is_file():
        return f"see the copyright file of the Debian package {package}"
    return _licence_for(relative, debian_licences(copyright_file))


def design_group(family: str) -> str:
    """The design a family belongs to: 'Arimo' -> 'Liberation Sans', 'Open Sans Condensed' -> 'Open Sans'."""
    family = SAME_DESIGN.get(family, family)
    words = [w for w in family.split() if w not in VARIANT_WORDS]
    return SAME_DESIGN.get(" ".join(words), " ".join(words)) or family


def _face(file: Path, package: str, version: str, licence: str) -> FontFace | None:
    try:
        family, style = ImageFont.truetype(str(file), 100).getname()
    except OSError as error:
        logger.warning("skipping font %s: %s", file, error)
        return None
    family, style = family or file.stem, style or "Regular"
    if any(word in family for word in SKIP_FAMILY_WORDS):
        return None
    return FontFace(str(file), f"{family} {style}", family, design_group(family), package, version, licence,
                    hashlib.sha256(file.read_bytes()).hexdigest())


def gather_fonts(work: Path, packages: Sequence[str] = FONT_PACKAGES, fonts: Sequence[str | Path] = (),
                 font_source: str | Path | None = None) -> tuple[list[FontFace], dict[str, Path]]:
    """The faces of ``packages`` plus the font files / folders in ``fonts`` (their package found with
    ``dpkg -S``), each once; and package -> its copyright file."""
    faces: list[FontFace] = []
    copyrights: dict[str, Path] = {}
    seen: set[str] = set()
    source = Path(font_source) if font_source is not None else None

    def add(file: Path, relative: str, package: str, version: str, copyright_file: Path) -> None:
        key = os.path.realpath(file)
        if key in seen:
            return
        seen.add(key)
        if package and copyright_file.is_file():
            copyrights[package] = copyright_file
        face = _face(file, package, version, _licence_of(relative, package, copyright_file))
        if face is not None:
            faces.append(face)

    for package in packages:
        root, files, version = _package_files(package, work, source)
        if not files:
            logger.warning("the font package %s holds no .ttf or .otf files", package)
        for file in files:
            add(file, str(file.relative_to(root)), package, version, root / "usr/share/doc" / package / "copyright")
    extra = _font_files([Path(f).absolute() for f in fonts])
    owners: dict[str, str] = {}
    if extra:
        for line in _dpkg("-S", *map(str, extra)).stdout.splitlines():
            if line.startswith("diversion by"):
                continue
            package, _, path = line.partition(": ")
            owners[path.strip()] = package.split(":")[0].split(",")[0].strip()
    for file in extra:
        package = owners.get(str(file), "")
        add(file, str(file).lstrip("/"), package, _installed_version(package) if package else "",
            Path("/usr/share/doc") / package / "copyright")
    return faces, copyrights


@dataclass
class LoadedFace:
    """A face loaded at the size where its digits are BASE_HEIGHT of the drawing canvas tall."""

    font: ImageFont.FreeTypeFont
    digit_height: float  # px: the extent of '0123456789' at this size


def load_face(face: FontFace, canvas: int = SIZE * SUPERSAMPLE) -> LoadedFace | None:
    """The face at its drawing size, or None when its ten digits are not ten distinct, visible glyphs."""
    probe = ImageFont.truetype(face.file, 100)
    _, top, _, bottom = probe.getbbox("0123456789", anchor="ls")
    if bottom - top <= 0:
        return None
    font = ImageFont.truetype(face.file, max(8, round(100 * BASE_HEIGHT * canvas / (bottom - top))))
    _, top, _, bottom = font.getbbox("0123456789", anchor="ls")
    glyphs = set()
    for digit in "0123456789":
        image = Image.new("L", (2 * canvas, 2 * canvas))
        ImageDraw.Draw(image).text((canvas // 2, 3 * canvas // 2), digit, fill=255, font=font, anchor="ls")
        if image.getbbox() is None:
            return None
        glyphs.add(image.tobytes())
    return LoadedFace(font, float(bottom - top)) if len(glyphs) == CLASSES else None


def _hold_out(groups: dict[str, list[int]], total: int, seed: int) -> dict[str, str]:
    """Group -> "test" / "val" for seeded whole groups: test until TEST_FONT_SHARE of the ``total`` faces, then val
    until VAL_FONT_SHARE, skipping groups that would hold out more than MAX_HELD_OUT_SHARE; the rest train."""
    order = sorted(groups, key=lambda g: stable_seed("font-group", g, seed))
    assigned: dict[str, str] = {}
    held = 0
    for split, share in (("test", TEST_FONT_SHARE), ("val", VAL_FONT_SHARE)):
        got = 0
        for group in order:
            if got >= share * total:
                break
            size = len(groups[group])
            if group not in assigned and held + size <= MAX_HELD_OUT_SHARE * total:
                assigned[group] = split
                got, held = got + size, held + size
    return assigned


def split_fonts(faces: Sequence[FontFace], seed: int = 0) -> dict:
    """{"policy", "train" / "val" / "test": face indices, "val_shares_train": bool}. Policy "families": whole
    design groups held out (at least 3 groups, and one fits under the cap); "faces": single faces held out (at
    least 3 faces); "shared": every split uses every face. Val uses the training faces when nothing is left for it."""
    by_group: dict[str, list[int]] = {}
    for i, face in enumerate(faces):
        by_group.setdefault(face.group, []).append(i)
    for policy, groups in (("families", by_group), ("faces", {str(i): [i] for i in range(len(faces))})):
        if len(groups) < 3:
            continue
        assigned = _hold_out(groups, len(faces), seed)
        out = {s: sorted(i for g, members in groups.items() if assigned.get(g, "train") == s for i in members)
               for s in SPLITS}
        if out["test"]:
            shares = not out["val"]
            return {"policy": policy, **out, "val": out["val"] or out["train"], "val_shares_train": shares}
    everything = list(range(len(faces)))
    return {"policy": "shared", "train": everything, "val": everything, "test": everything, "val_shares_train": True}


# ---------------------------------------------------------------------------------------------- printed digits


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ LUMA


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in 0..1, its saturation scaled by a uniform factor (greys and muted colours too)."""
    colour = rng.random(3).astype(np.float32)
    grey = _luminance(colour)
    return np.clip(grey + rng.uniform(0, 1) * (colour - grey), 0, 1)


def _background(rng: np.random.Generator, photos: Sequence[np.ndarray], style: PrintedStyle, side: int) -> np.ndarray:
    """(side, side, 3) float32 in 0..1: a photograph crop (tinted), a value-noise texture or a gradient."""
    base = _colour(rng)
    if photos and rng.random() < style.photo_p:
        photo = photos[int(rng.integers(len(photos)))]
        h, w = photo.shape[:2]
        crop = int(rng.integers(min(side, h, w), max(min(h, w) * 3 // 5, min(side, h, w)) + 1))
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        patch = Image.fromarray(photo[y : y + crop, x : x + crop]).resize((side, side), Image.BICUBIC)
        image = np.asarray(patch, dtype=np.float32) / 255
        if rng.random() < 0.5:
            image = image[:, ::-1]
        tint = rng.uniform(0, 0.5)  # painted surfaces: part photograph, part flat colour
        return (1 - tint) * image + tint * base
    other = np.clip(base + rng.normal(0, 0.15, 3), 0, 1).astype(np.float32)
    if rng.random() < style.noise_background_p:
        cells = int(rng.integers(2, 9))
        grid = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        t = np.asarray(grid.resize((side, side), Image.BICUBIC), dtype=np.float32)[..., None] / 255
    else:
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / (side - 1)
        t = (xs * math.cos(angle) + ys * math.sin(angle))[..., None]
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (1 - t) * base + t * other


def _text_colour(rng: np.random.Generator, background: np.ndarray, contrast: float) -> np.ndarray:
    """A random colour at least ``contrast`` from the median luminance of the background's centre."""
    side = background.shape[0]
    behind = float(np.median(_luminance(background[side // 4 : 3 * side // 4, side // 4 : 3 * side // 4])))
    for _ in range(32):
        colour = _colour(rng)
        if abs(float(_luminance(colour)) - behind) >= contrast:
            return colour
    return np.full(3, 1.0 if behind < 0.5 else 0.0, dtype=np.float32)


def _digit_layer(label: int, face: LoadedFace, rng: np.random.Generator, style: PrintedStyle, side: int) -> Image.Image:
    """(4 side, 2 side) L image: the digit centred, neighbours on the same baseline with random gaps."""
    canvas = Image.new("L", (4 * side, 2 * side))
    draw = ImageDraw.Draw(canvas)
    centre = str(label)
    left, top, right, bottom = face.font.getbbox(centre, anchor="ls")
    x0, y0 = 2 * side - (left + right) / 2, side - (top + bottom) / 2
    draw.text((x0, y0), centre, fill=255, font=face.font, anchor="ls")
    neighbours = rng.integers(0, CLASSES, 2)
    gaps = rng.uniform(*style.gap, 2) * face.digit_height
    if rng.random() < style.neighbour_p:
        text = str(neighbours[0])
        draw.text((x0 - gaps[0] - face.font.getlength(text), y0), text, fill=255, font=face.font, anchor="ls")
    if rng.random() < style.neighbour_p:
        draw.text((x0 + face.font.getlength(centre) + gaps[1], y0), str(neighbours[1]), fill=255, font=face.font,
                  anchor="ls")
    return canvas


def _affine(rng: np.random.Generator, style: PrintedStyle, side: int, digit_height: float) -> tuple[float, ...]:
    """PIL AFFINE data mapping the (side, side) output onto the digit layer: the centre digit scaled to a random
    height, stretched, sheared, rotated and shifted."""
    scale = rng.uniform(*style.digit_height) * side / digit_height
    angle = math.radians(rng.uniform(-style.rotation, style.rotation))
    shear = rng.uniform(-style.shear, style.shear)
    stretch = rng.uniform(*style.aspect)
    rotate = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    forward = rotate @ np.diag([scale * stretch, scale]) @ np.array([[1.0, shear], [0.0, 1.0]])
    inverse = np.linalg.inv(forward)  # output offset -> layer offset
    centre_out = side / 2 + rng.uniform(-style.shift, style.shift, 2) * side
    centre_in = np.array([2.0 * side, 1.0 * side])
    offset = centre_in - inverse @ centre_out
    return (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])


def render_printed(label: int, face: LoadedFace, rng: np.random.Generator, photos: Sequence[np.ndarray] = (),
                   style: PrintedStyle = PrintedStyle()) -> np.ndarray:
    """One (32, 32, 3) uint8 house-number style image of the digit ``label``, every choice drawn from ``rng``."""
    side = SIZE * SUPERSAMPLE
    background = _background(rng, photos, style, side)
    colour = _text_colour(rng, background, style.contrast)
    layer = _digit_layer(label, face, rng, style, side)
    data = _affine(rng, style, side, face.digit_height)
    mask = np.asarray(layer.transform((side, side), Image.AFFINE, data, resample=Image.BICUBIC), np.float32)[..., None] / 255
    image = background
    if rng.random() < style.shadow_p:
        dx, dy = (rng.integers(1, 4, 2) * rng.choice([-1, 1], 2)).tolist()
        shifted = Image.new("L", layer.size)
        shifted.paste(layer, (int(dx), int(dy)))
        shadow = np.asarray(shifted.transform((side, side), Image.AFFINE, data, resample=Image.BICUBIC),
                            np.float32)[..., None] / 255
        image = image * (1 - shadow) + 0.25 * background.mean((0, 1)) * shadow
    image = image * (1 - mask) + colour * mask  # (side, side, 3)
    if rng.random() < style.lighting_p:
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / (side - 1)
        ramp = xs * math.cos(angle) + ys * math.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
        image = image * (1 - rng.uniform(0, 0.4) * ramp)[..., None]
    small = Image.fromarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)).resize((SIZE, SIZE), Image.LANCZOS)
    if rng.random() < style.blur_p:
        small = small.filter(ImageFilter.GaussianBlur(rng.uniform(*style.blur_radius)))
    pixels = np.asarray(small, dtype=np.float32)
    if rng.random() < style.noise_p:
        pixels = pixels + rng.normal(0, rng.uniform(0, style.noise_sigma), pixels.shape)
    small = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < style.jpeg_p:
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=int(rng.integers(style.jpeg_quality[0], style.jpeg_quality[1] + 1)))
        small = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return np.asarray(small, dtype=np.uint8)


def render_printed_set(per_class: dict[str, int], font_split: dict, faces: Sequence[LoadedFace],
                       photos: dict[str, list[np.ndarray]], seed: int = 0, style: PrintedStyle = PrintedStyle(),
                       progress: bool = True) -> dict[str, np.ndarray]:
    """Every printed render: per split and class ``per_class[split]`` images, each from its ``printed_rng`` with
    a face drawn from ``font_split[split]``. {"images" (M, 32, 32, 3) uint8, "labels", "split", "font"}."""
    from tqdm.auto import tqdm

    total = CLASSES * sum(per_class.values())
    images = np.zeros((total, SIZE, SIZE, 3), np.uint8)
    labels, split_of, font_of = np.zeros(total, np.int64), np.full(total, "train", dtype="<U5"), np.zeros(total, np.int64)
    i = 0
    with tqdm(total=total, desc="printed digits", unit="img", disable=not progress) as bar:
        for split in SPLITS:
            for label in range(CLASSES):
                for number in range(per_class[split]):
                    rng = printed_rng(seed, split, label, number)
                    font = font_split[split][int(rng.integers(len(font_split[split])))]
                    images[i] = render_printed(label, faces[font], rng, photos.get(split, []), style)
                    labels[i], split_of[i], font_of[i] = label, split, font
                    i += 1
                    bar.update()
    return {"images": images, "labels": labels, "split": split_of, "font": font_of}


def printed_rng(seed: int, split: str, label: int, number: int) -> np.random.Generator:
    """The generator of render ``number`` of class ``label`` in ``split``: its own seed, never shared by two splits."""
    return np.random.default_rng([seed, SPLITS.index(split), label, number])


# ---------------------------------------------------------------------------------------------- backgrounds


def background_files(folder: str | Path | None, limit: int = 64) -> dict[str, list[Path]]:
    """Split -> photographs to crop backgrounds from. A built photo set (``folder`` or its parent has split.json)
    keeps its split (train photographs for train and val); any other folder serves every split."""
    if folder is None:
        return {s: [] for s in SPLITS}
    folder = Path(folder)
    root = None  # the photo set's folder, when ``folder`` is one or its images/
    if (folder / "split.json").is_file():
        root = folder
    elif folder.name == "images" and (folder.parent / "split.json").is_file():
        root = folder.parent
    if root is not None:
        split = json.loads((root / "split.json").read_text())
        files = {s: [root / "images" / f"{n}.png" for n in split.get(s, [])] for s in ("train", "test")}
        files = {s: [f for f in fs if f.is_file()] for s, fs in files.items()}
        chosen = {"train": files["train"], "val": files["train"], "test": files["test"]}
    elif folder.is_dir():
        everything = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        chosen = {s: everything for s in SPLITS}
    else:
        raise DataError(f"Background folder {folder} does not exist: pass a folder of photographs "
                        f"(e.g. a built photo set) or None for gradients and noise.")
    if not any(chosen.values()):
        raise DataError(f"{folder} holds no .png or .jpg photographs to use as backgrounds.")
    return {s: fs[:: max(1, math.ceil(len(fs) / limit))] for s, fs in chosen.items()}


def load_backgrounds(files: dict[str, list[Path]], max_side: int = 256) -> dict[str, list[np.ndarray]]:
    """Split -> (H, W, 3) uint8 photographs, downsized to at most ``max_side`` px (each file read once)."""
    cache: dict[Path, np.ndarray] = {}
    for path in sorted({p for fs in files.values() for p in fs}):
        with Image.open(path) as image:
            image.draft("RGB", (max_side, max_side))
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side), Image.LANCZOS)
            cache[path] = np.asarray(image)
    return {s: [cache[p] for p in fs] for s, fs in files.items()}

