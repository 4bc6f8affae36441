"""Natural photographs obtainable offline, for super-resolution.

Sources (``DEBIAN_PACKAGES``; each file looked at, so only photographs: no renders, drawings or
patterns): the nature photographs (and the Elephants photograph) of ``mate-backgrounds``, and the
photographs among the wallpapers of ``lomiri-wallpapers-16.04`` and ``-20.04``,
``plasma-workspace-wallpapers``, ``lxqt-themes``, ``palapeli-data`` (its public-domain puzzles only)
and ``sddm-theme-maldives``, fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x``;
plus the photographs bundled with scikit-image. (``ukui-wallpapers``, ``gnome-backgrounds``,
``xfdesktop4-data`` and ``desktop-base`` hold only illustrations or renders; ``enlightenment-data``
has photographs but is a 400 MB download packed in Edje files.) Each image's source and licence are
recorded: the copyright file's stanza for the file (``_licence_for``), plus what the package's own
metadata says where the two differ. Whole photographs are held out as the test set (three each of
mate-backgrounds and scikit-image, one of each package with several; at least six) and never
cropped for training.

More sources (issue 38: GCompris's Wikimedia photographs, UFO: AI's and Yo Frankie!'s photographed
textures, sample photographs of scikit-learn and matplotlib, palapeli's GFDL puzzles) are in
``photo_sources.EXTRA_SOURCES``, with the checks every photograph passes (``inspect_photo``: no
drawings, cut-outs, normal maps, flat renders or heavy compression; coarse JPEG/WebP is downsized)
and the duplicate removal (``dedupe``, by perceptual hash). They are split by source: the test set
above stays as it was (same names); new sources are training only, but GCompris's world-music
photographs, kept whole as a second held-out set, ``test2``.

Layout written by ``build``::

    OUT/images/<name>.png   RGB, longest side at most ``max_side`` (antialiased)
    OUT/test/<name>.png     the held-out photographs again, as a folder for ``eval sr --images``
    OUT/test2/<name>.png    the second held-out set (whole new sources), likewise
    OUT/index.json          name -> source (package: file), licence, size, split, group, downsized
    OUT/split.json          {"train": [...], "test": [...], "test2": [...]}
    OUT/dropped.json        name -> source, why it was left out (a check, or duplicate_of)
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import DataError
from ..images import pil_to_tensor
from .debian import fetch_debian_package, unpack_deb
from .degradations import downsample, realistic
from .furniture import stable_seed
from .photo_sources import EXTRA_SOURCES, PhotoSource, dedupe, excluded, extract_archive, inspect_photo, perceptual_hash, readme_licence_for

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class PhotoPackage:
    """The photographs in one Debian package (found and checked by eye: no renders or drawings)."""

    files: tuple[str, ...]  # globs inside the unpacked package
    held_out: int = 1  # whole photographs of this package kept for the test set
    note: str = ""  # what else the package says about the files' licence


def _under(folder: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{folder}/{n}" for n in names)


DEBIAN_PACKAGES = {
    "mate-backgrounds": PhotoPackage(("usr/share/backgrounds/mate/nature/*.jpg",
                                      "usr/share/backgrounds/mate/abstract/Elephants.jpg"), held_out=3),
    "lomiri-wallpapers-16.04": PhotoPackage(_under(
        "usr/share/backgrounds", "Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
        "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
        "friends_by_Aitzol_Berasategi.jpg", "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "sunset_by_Aitzol_Berasategi.jpg", "free_by_Peter_Nerlich.jpg", "greentock_by_Peter_Nerlich.jpg",
        "seeding_by_Clements_Engelhardt.jpg")),
    "lomiri-wallpapers-20.04": PhotoPackage(("usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",), held_out=0),
    "plasma-workspace-wallpapers": PhotoPackage(
        tuple(f"usr/share/wallpapers/{n}/contents/images/2560x1600.jpg" for n in (
            "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
            "OneStandsOut", "Path", "summer_1am")),  # the other sizes are links to these
        note="each wallpaper's metadata.json says LGPL-3"),
    "lxqt-themes": PhotoPackage(_under(
        "usr/share/lxqt/wallpapers", "Butterfly-Kenneth-Wimer.jpg", "after-the-rain.jpg", "fog.jpg",
        "this-is-not-windows.jpg", "Valendas.png", "appleflower.png", "beam.png", "butterfly.png", "cloud.png", "drop.png",
        "flowers.png"), note="the package's wallpapers/License file says CC-BY-SA-3.0 (2022 LXQt Project Team)"),
    "palapeli-data": PhotoPackage(_under(  # only those whose metadata says public domain (the others: GFDL)
        "usr/share/palapeli/collection", "cincinnati-bridge.jpg", "citrus-fruits.jpg", "european-honey-bee.jpg"),
        note="the puzzles' metadata says public domain (Derek Jensen; US Department of Agriculture; John Severns)"),
    "sddm-theme-maldives": PhotoPackage(("usr/share/sddm/themes/maldives/background.jpg",), held_out=0),
}
# scikit-image's bundled photographs and their licences (from the skimage.data docstrings)
SKIMAGE_PHOTOS = {
    "astronaut.png": "public domain (NASA photograph)",
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "coffee.png": "CC0 (Rachel Michetti)",
    "rocket.jpg": "public domain (SpaceX)",
    "camera.png": "CC0 (Lav Varshney)",
    "hubble_deep_field.jpg": "public domain (NASA)",
    "grass.png": "CC0",
    "gravel.png": "CC0",
    "brick.png": "CC0",
}
MIN_TEST = 6


def debian_licences(copyright_file: Path) -> dict[str, str]:
    """File pattern -> 'License (Copyright)' from a machine-readable debian/copyright file."""
    out: dict[str, str] = {}
    for stanza in re.split(r"\n\s*\n", copyright_file.read_text(errors="replace")):
        files = re.search(r"^Files:(.*(?:\n[ \t]+.*)*)", stanza, re.M)
        licence = re.search(r"^License:\s*(.+)$", stanza, re.M)
        holder = re.search(r"^Copyright:(.*(?:\n[ \t]+.*)*)", stanza, re.M)
        holders = [h.strip() for h in holder.group(1).splitlines() if h.strip()] if holder else []
        if len(holders) > 3:
            holders = [f"{holders[0]}; and {len(holders) - 1} more holders named in the stanza"]
        holders = ["; ".join(holders)] if holders else []
        if files and licence:
            for pattern in files.group(1).split():
                out[pattern] = licence.group(1).strip() + (f" ({holders[0]})" if holders else "")
    return out


def _licence_for(relative: str, licences: dict[str, str]) -> str:
    """The licence of an installed file (path inside the package) by the copyright file's patterns,
    which name source-tree paths. A pattern that names this file by its path's end wins over one
    that names a file of the same name elsewhere in the tree, which wins over a wildcard (``*``,
    ``textures/*``); within each kind the last matching stanza wins, as in DEP-5."""
    found, rank = "see the package's copyright file", -1
    name = Path(relative).name
    for pattern, licence in licences.items():
        literal = Path(pattern).name == name
        if literal and fnmatch.fnmatch(relative, f"*{pattern}"):
            kind = 2
        elif literal:
            kind = 1
        elif fnmatch.fnmatch(relative, f"*{pattern}"):
            kind = 0
        else:
            continue
        if kind >= rank:
            found, rank = licence, kind
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _extra_photos(source: PhotoSource, unpacked: Path, work: Path) -> list[dict]:
    """The photographs of one of ``photo_sources.EXTRA_SOURCES`` in its unpacked package."""
    package = source.package
    copyright_file = unpacked / "usr/share/doc" / package / "copyright"
    licences = debian_licences(copyright_file) if copyright_file.is_file() else {}
    root = unpacked
    if source.archive:
        archive = unpacked / source.archive
        root = extract_archive(archive, work / f"arc-{unpacked.name}-{archive.stem}")
    found = []
    for pattern in source.files:
        for f in sorted(root.glob(pattern)):
            if excluded(str(f), source.exclude):
                continue
            rel = str(f.relative_to(root))
            installed = f"{Path(source.archive).parent}/{rel}" if source.archive else rel  # as the copyright file names it
            licence = source.licence or readme_licence_for(f, root) or _licence_for(installed, licences)
            where = f"/{source.archive}: {rel}" if source.archive else f"/{rel}"
            found.append({"name": _slug(f"{source.group}-{f.stem}"), "file": str(f), "source": f"Debian package {package}: {where}",
                          "license": licence, "group": source.group, "held_out": 0, "min_side": source.min_side,
                          "held_out_as": source.held_out_as})
    return found


def collect_sources(work: Path, sources: list[str | Path] | None = None, more: bool = False) -> list[dict]:
    """Every candidate photograph, in priority order: {"name", "file", "source", "license",
    "group", "held_out" (how many of its group to hold out), "min_side", "held_out_as"}. Without
    ``sources`` (.deb files), the packages of DEBIAN_PACKAGES (and with ``more`` those of EXTRA_SOURCES)
    are downloaded."""
    import skimage

    extra_sources = EXTRA_SOURCES if more else ()
    found: list[dict] = []
    if sources:
        debs = [Path(s) for s in sources]
    else:
        packages = list(DEBIAN_PACKAGES) + [s.package for s in extra_sources if s.package not in DEBIAN_PACKAGES]
        debs = [fetch_debian_package(p, work) for p in dict.fromkeys(packages)]
    extra = []
    for deb in debs:
        package = deb.name.split("_")[0]
        unpacked = unpack_deb(deb, work)
        extra += [(s, unpacked) for s in extra_sources if s.package == package]
        if package not in DEBIAN_PACKAGES and any(s.package == package for s in extra_sources):
            continue
        copyright_file = unpacked / "usr/share/doc" / package / "copyright"
        licences = debian_licences(copyright_file) if copyright_file.is_file() else {}
        spec = DEBIAN_PACKAGES.get(package, PhotoPackage(("usr/share/backgrounds/*.jpg", "usr/share/backgrounds/*.png")))
        for pattern in spec.files:
            for f in sorted(unpacked.glob(pattern)):
                rel = str(f.relative_to(unpacked))
                stem = f.parent.parent.parent.name if f.parent.name == "images" else f.stem  # plasma: <name>/contents/images/
                licence = _licence_for(rel, licences) + (f"; {spec.note}" if spec.note else "")
                found.append({"name": _slug(f"{package}-{stem}"), "file": str(f), "source": f"Debian package {package}: /{rel}",
                              "license": licence, "group": package, "held_out": spec.held_out, "min_side": 0})
    data_dir = Path(skimage.__file__).parent / "data"
    for filename, licence in SKIMAGE_PHOTOS.items():
        f = data_dir / filename
        if f.is_file():
            found.append({"name": f"skimage-{f.stem}".replace("_", "-"), "file": str(f), "group": "scikit-image",
                          "source": f"scikit-image {skimage.__version__}: skimage/data/{filename}", "license": licence,
                          "held_out": 3, "min_side": 0})
    for source, unpacked in extra:
        found += _extra_photos(source, unpacked, work)
    return found


def assign_test(names_by_source: dict[str, list[str]], seed: int = 0, per_source: int | dict[str, int] = 3) -> set[str]:
    """Hold out whole photographs: ``per_source`` from each source (a number, or one per source name),
    at least MIN_TEST in all (topped up from the sources that hold some out)."""
    test: set[str] = set()
    for source, names in names_by_source.items():
        count = per_source if isinstance(per_source, int) else per_source.get(source, 3)
        ranked = sorted(names, key=lambda n: stable_seed(n, seed))
        test.update(ranked[: min(count, max(len(ranked) - 1, 0))])
    holding = [s for s in names_by_source if (per_source if isinstance(per_source, int) else per_source.get(s, 3)) > 0]
    everything = sorted((n for s in holding for n in names_by_source[s]), key=lambda n: stable_seed(n, seed))
    for n in everything:
        if len(test) >= MIN_TEST:
            break
        test.add(n)
    return test


def assign_splits(photos: list[dict], seed: int = 0) -> dict[str, str]:
    """name -> "train", "test" or "test2", split by source: the groups that hold some out give
    ``held_out`` whole photographs each to "test" (``assign_test``); a group with ``held_out_as``
    goes whole to that split; every other group is training only."""
    by_group: dict[str, list[str]] = {}
    held_out: dict[str, int] = {}
    for p in photos:
        if not p.get("held_out_as"):
            by_group.setdefault(p["group"], []).append(p["name"])
            held_out[p["group"]] = p.get("held_out", 0)
    test = assign_test(by_group, seed, held_out)
    return {p["name"]: p.get("held_out_as") or ("test" if p["name"] in test else "train") for p in photos}


def _prepare(p: dict, target: Path, max_side: int) -> None:
    """Write the photograph as an RGB PNG: downsized by its compression factor, then to ``max_side``."""
    with Image.open(p["file"]) as im:
        im = im.convert("RGB")
        if p["downsize"] > 1:
            im = im.resize((round(im.width / p["downsize"]), round(im.height / p["downsize"])), Image.LANCZOS)
        if max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.LANCZOS)
        tmp = target.with_suffix(".tmp.png")
        im.save(tmp)
        tmp.replace(target)


def build(out: str | Path, sources: list[str | Path] | None = None, max_side: int = 2048, seed: int = 0,
          more: bool = False) -> dict:
    """Gather, check, deduplicate, downsize and split the photographs into ``out``; idempotent.
    ``more`` adds EXTRA_SOURCES (game textures, GCompris photographs: 220 training photographs and a
    second held-out group, test2); without it the set is the one the shipped models were trained on.
    Dropped photographs are listed with the reason in OUT/dropped.json."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    candidates = collect_sources(out / "_sources", sources, more=more)
    if not candidates:
        raise DataError("No photographs found in the given sources.")
    names = [p["name"] for p in candidates]
    if len(set(names)) != len(names):
        raise DataError(f"Two photographs share a name: {sorted(n for n in set(names) if names.count(n) > 1)}")
    photos, dropped = [], []
    for p in candidates:
        factor, why = inspect_photo(p["file"], p.get("min_side", 0))
        if why:
            dropped.append({**p, "reason": why})
        else:
            photos.append({**p, "downsize": factor})
    split_of = assign_splits(photos, seed)
    order = {"test": 0, "test2": 1, "train": 2}  # a duplicate of a held-out photograph leaves training
    for p in photos:
        target = out / "images" / f"{p['name']}.png"
        if not target.exists():
            _prepare(p, target, max_side)
        with Image.open(target) as im:
            p["phash"], p["size"] = perceptual_hash(im), im.size
        p["sha"] = hashlib.sha256(Path(p["file"]).read_bytes()).hexdigest()
    ranked = sorted(photos, key=lambda p: order[split_of[p["name"]]])  # stable: source order within a split
    kept, duplicates = dedupe(ranked)
    dropped += duplicates
    kept_names = {p["name"] for p in kept}
    index = {}
    for p in (p for p in photos if p["name"] in kept_names):
        index[p["name"]] = {"source": p["source"], "license": p["license"], "size": p["size"], "split": split_of[p["name"]],
                            "group": p["group"], **({"downsized": p["downsize"]} if p["downsize"] > 1 else {})}
    split = {s: sorted(n for n, v in index.items() if v["split"] == s) for s in ("train", "test", "test2")}
    for s in ("test", "test2"):
        if split[s]:
            (out / s).mkdir(exist_ok=True)
        for name in split[s]:
            if not (out / s / f"{name}.png").exists():
                shutil.copyfile(out / "images" / f"{name}.png", out / s / f"{name}.png")
    if not split["test2"]:
        del split["test2"]
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    (out / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    (out / "dropped.json").write_text(json.dumps(
        {d["name"]: {k: d[k] for k in ("source", "reason", "duplicate_of") if k in d} for d in dropped}, indent=1) + "\n")
    groups: dict[str, dict[str, int]] = {}
    for v in index.values():
        groups.setdefault(v["group"], {}).setdefault(v["split"], 0)
        groups[v["group"]][v["split"]] += 1
    return {"photos": len(index), **{s: len(split.get(s, [])) for s in ("train", "test", "test2") if s in split},
            "dropped": len(dropped), "test_names": split["test"], "groups": groups}


def degrade(hr: Image.Image, scale: int) -> Image.Image:
    """The low-resolution input: antialiased bicubic down-sampling by ``scale``."""
    return downsample(hr, scale)


def split_names(root: str | Path, split: str, exclude: set[str] = frozenset()) -> list[str]:
    """The names of the photographs in ``split`` ("train" or "test") of a built folder, without those
    whose index ``source`` ends with one of ``exclude`` (e.g. ``lddbm.data.realphotos.source_keys()``)."""
    root = Path(root)
    split_file = root / "split.json"
    if not split_file.is_file():
        raise DataError(f"{split_file} is missing: run `python -m lddbm build-data photos --out {root}`.")
    names = json.loads(split_file.read_text())[split]
    if not exclude:
        return names
    index = json.loads((root / "index.json").read_text())
    return [n for n in names if not any(str(index.get(n, {}).get("source", "")).endswith(key) for key in exclude)]


def load_split(root: str | Path, split: str) -> dict[str, Image.Image]:
    """name -> RGB image of the photographs in ``split`` ("train" or "test") of a built folder."""
    return {n: Image.open(Path(root) / "images" / f"{n}.png").convert("RGB") for n in split_names(root, split)}


def photo_arrays(root: str | Path, split: str, max_side: int = 512, exclude: set[str] = frozenset(),
                 drop: tuple[str, ...] = ()) -> list[np.ndarray]:
    """The photographs of ``split`` as (H, W, 3) uint8 arrays, downsized to at most ``max_side`` px
    (backgrounds for the 3D augmentation, the segmenter and the robustness benchmark), less ``exclude``
    (``split_names``) and the names matching a glob of ``drop``; the left-out ones are not decoded."""
    import fnmatch

    out = []
    for name in split_names(root, split, exclude):
        if any(fnmatch.fnmatch(name, pattern) for pattern in drop):
            continue
        with Image.open(Path(root) / "images" / f"{name}.png") as image:
            image = image.convert("RGB")
        image.thumbnail((max_side, max_side))
        out.append(np.asarray(image))
    return out


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> (3, H, W) float tensor in [-1, 1] (``lddbm.images.pil_to_tensor``)."""
    return pil_to_tensor(image, 3)


class PhotoCrops(Dataset):
    """Random ``hr_size`` crops (with flips) of the training photographs and their degraded inputs.

    Scale augmentation: half the crops cover a region of up to ``zoom`` x ``hr_size`` pixels,
    downsized (antialiased) to ``hr_size``, so the model sees textures at several scales.
    Items: {"source": (3, hr/scale, hr/scale), "target": (3, hr, hr)}, both in [-1, 1].
    ``crops_per_epoch`` sets the nominal length; every item is a fresh random crop (global RNG).
    ``degradation``: "bicubic" (antialiased bicubic down-sampling) or "realistic" (noise, blur,
    JPEG, ...: ``lddbm.data.degradations.realistic``, its draws seeded from the global RNG).
    """

    def __init__(self, root: str | Path, split: str = "train", hr_size: int = 128, scale: int = 4,
                 crops_per_epoch: int = 10_000, zoom: float = 1.0, degradation: str = "bicubic"):
        if hr_size % scale:
            raise ValueError(f"hr_size ({hr_size}) must be divisible by the scale factor ({scale}).")
        if degradation not in ("bicubic", "realistic"):
            raise ValueError(f"degradation must be 'bicubic' or 'realistic', got {degradation!r}.")
        self.degradation = degradation
        self.images = [np.asarray(im) for im in load_split(root, split).values()]
        self.hr_size, self.scale, self.length, self.zoom = hr_size, scale, crops_per_epoch, zoom

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        image = self.images[int(torch.randint(len(self.images), ()))]
        h, w = image.shape[:2]
        side = self.hr_size
        if self.zoom > 1 and torch.rand(()) < 0.5:
            side = int(self.hr_size * (1 + (self.zoom - 1) * float(torch.rand(()))))
            side = min(side, h, w)
        y = int(torch.randint(h - side + 1, ()))
        x = int(torch.randint(w - side + 1, ()))
        crop = image[y : y + side, x : x + side]
        if torch.rand(()) < 0.5:
            crop = crop[:, ::-1]
        hr = Image.fromarray(np.ascontiguousarray(crop))
        if side != self.hr_size:
            hr = hr.resize((self.hr_size, self.hr_size), Image.BICUBIC, reducing_gap=None)
        if self.degradation == "realistic":
            lr = realistic(hr, self.scale, np.random.default_rng(int(torch.randint(2**62, ()))))
        else:
            lr = degrade(hr, self.scale)
        return {"source": to_tensor(lr), "target": to_tensor(hr)}


def _busiest_crop(image: Image.Image, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` crop with the most local detail (gradient energy), on a
    coarse grid: examples should show what super-resolution does, not a patch of clear sky."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1]
    best, corner = -1.0, (0, 0)
    step = max(size // 4, 1)
    for y in range(0, image.height - size + 1, step):
        for x in range(0, image.width - size + 1, step):
            e = float(energy[y : y + size - 1, x : x + size - 1].mean())
            if e > best:
                best, corner = e, (x, y)
    return corner


def export_examples(root: str | Path, out: str | Path, split: str = "test", size: int = 512, scale: int = 4) -> list[str]:
    """Example inputs for the demo from the held-out photographs: per photo OUT/<name>/hr.png (a
    ``size`` crop), lr.png (its antialiased-bicubic ``scale`` down-sampling) and meta.json
    (source, licence, crop); plus OUT/ATTRIBUTION.md."""
    root, out = Path(root), Path(out)
    index = json.loads((root / "index.json").read_text())
    lines = ["# Example inputs (super-resolution)", "",
             f"Crops of the held-out **{split}** photographs (never trained on): `hr.png` is a {size}x{size} crop, "
             f"`lr.png` its x{scale} antialiased-bicubic down-sampling (the model's input). Made with "
             f"`python -m lddbm examples photos --data {root} --out {out}`.", ""]
    names = []
    for name, image in load_split(root, split).items():
        if min(image.size) < size:
            continue
        x, y = _busiest_crop(image, size)
        hr = image.crop((x, y, x + size, y + size))
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        hr.save(folder / "hr.png")
        degrade(hr, scale).save(folder / "lr.png")
        meta = {"name": name, "source": index[name]["source"], "license": index[name]["license"],
                "crop": [x, y, size, size], "scale": scale}
        (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        lines.append(f"- `{name}`: {meta['source']} (crop at {x},{y}) — {meta['license']}")
        names.append(name)
    (out / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")
    return names


# Photographs whose subject is one animal, person, flower or thing (checked by eye on the contact sheet
# of the training photographs): behind a pasted object they teach a segmenter that such a subject is
# background, which is what a person's photograph of their dog or cup then gets wrong (issue 35).
SUBJECT_PHOTOS = (
    "gcompris-erase-*", "gcompris-explore-farm-animals-*", "gcompris-explore-world-animals-*", "matplotlib-grace-hopper",
    "skimage-camera", "skimage-astronaut", "skimage-chelsea", "skimage-coffee", "sklearn-flower",
    "mate-backgrounds-elephants", "mate-backgrounds-ladybird", "mate-backgrounds-twowings", "mate-backgrounds-freshflower",
    "mate-backgrounds-yellowflower", "palapeli-data-european-honey-bee", "palapeli-gfdl-panther-chameleon-female",
    "lomiri-wallpapers-16-04-dragonfly-by-bolly", "lomiri-wallpapers-20-04-kleiber-by-lukas-baubkus",
    "lomiri-wallpapers-16-04-picture-0b-by-freespace", "lomiri-wallpapers-16-04-picture-1a-by-freespace",
    "lomiri-wallpapers-16-04-wine-by-jakkub-mede", "lxqt-themes-butterfly*",
)


def background_photos(root: str, exclude: set[str] = frozenset(), without_subjects: bool = False) -> list | None:
    """The training photographs of a built photos folder as arrays (at most 512 px), less ``exclude``
    (``photo_arrays``) and, with ``without_subjects``, less the photographs of one subject
    (``SUBJECT_PHOTOS``); None if absent."""
    if not root or not (Path(root) / "index.json").is_file():
        logger.warning("no photographs at %r: backgrounds will be solid colours and gradients only "
                       "(python -m lddbm build-data photos --out %s)", root, root or "data/photos")
        return None
    return photo_arrays(root, "train", exclude=exclude, drop=SUBJECT_PHOTOS if without_subjects else ())
