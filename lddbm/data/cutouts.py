"""Photographed cut-outs: real objects with their own transparency, for training the segmenter (issue 35).

The renders teach the segmenter an object's outline, but every render looks rendered: a network that
only ever sees renders pasted on photographs can learn "rendered = object, photographed = background",
and then cuts a real cup or dog out of a real photograph as background (it was also shown the animal
photographs of ``data/photos`` as backgrounds). Tux Paint's stamps (Debian ``tuxpaint-stamps-default``,
GPL-2, Bill Kendrick and the Tux Paint contributors) hold a few hundred photographs of animals, food,
plants, household things, tools and vehicles cut out with an alpha channel: real objects with exact
masks, to paste wherever a render is pasted.

``build(out)`` keeps the stamps that are pictures of one object (not the ``symbols`` tree of letters,
signs and coins, not the ``cartoon`` folders of drawings; at least ``MIN_SIDE`` px on the shorter side;
at least ``MIN_COLOURS`` distinct colours, which leaves out flat clip art; the alpha covering 5-95 % of
the image), crops each to its alpha's box (longest side at most ``MAX_SIDE``) and writes::

    OUT/<split>/<name>.png   RGBA
    OUT/index.json           {"name": {"split", "source", "license", "size"}}

Split by file, a stable hash of the stamp's path: about one in eight is ``test`` (benchmarks only), the
rest ``train``. ``load_cutouts(root, split, size)`` gives each as a one-view object (the layout of
``lddbm.data.multiview.load_objects(masks=True)``) framed like a render.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from ..framing import DEFAULT_FOREGROUND_RATIO, TRAINING_BACKGROUND
from .debian import copyright_text, fetch_and_unpack, slug

logger = logging.getLogger(__name__)

PACKAGE = "tuxpaint-stamps-default"
STAMPS = "usr/share/tuxpaint/stamps"
MIN_SIDE = 72
MIN_COLOURS = 800
MAX_SIDE = 384
TEST_EVERY = 8  # about one stamp in TEST_EVERY is held out
LICENCE = "GPL-2 (Tux Paint stamps, Copyright 2002-2022 Bill Kendrick and contributors; debian/copyright)"


def _distinct_colours(rgb: np.ndarray, limit: int = 20000) -> int:
    step = max(1, len(rgb) // limit)
    return len(np.unique(rgb[::step], axis=0))


def keep_stamp(relative: str, rgba: np.ndarray) -> str:
    """'' if the stamp is a picture of one object to keep, else why not."""
    parts = relative.split("/")
    if parts[0] == "symbols":
        return "symbol"
    if "cartoon" in parts:
        return "drawing"
    if min(rgba.shape[:2]) < MIN_SIDE:
        return "small"
    alpha = rgba[..., 3] > 127
    if not 0.05 < alpha.mean() < 0.95:
        return "no cut-out"
    if _distinct_colours(rgba[..., :3][alpha]) < MIN_COLOURS:
        return "flat colours"
    return ""


def split_of(relative: str) -> str:
    digest = int(hashlib.sha1(relative.encode()).hexdigest()[:8], 16)
    return "test" if digest % TEST_EVERY == 0 else "train"


def build(out: str | Path, source: str | Path | None = None, progress: bool = True) -> dict:
    """Fetch the stamps package (or take its .deb from the folder ``source``), keep and crop the cut-outs."""
    from tqdm.auto import tqdm

    out = Path(out)
    work = out / "_sources"
    unpacked = fetch_and_unpack(PACKAGE, work, Path(source) if source else None)
    root = unpacked / STAMPS
    files = sorted(root.rglob("*.png"))
    if not files:
        raise RuntimeError(f"no stamps under {root}: is {PACKAGE} the right package?")
    licence = LICENCE if "GPL-2" in copyright_text(unpacked, PACKAGE) else "see the package's debian/copyright"
    index, skipped = {}, {}
    for f in tqdm(files, desc="cut-outs", disable=not progress):
        relative = str(f.relative_to(root))
        with Image.open(f) as im:
            rgba = np.asarray(im.convert("RGBA"))
        reason = keep_stamp(relative, rgba)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        rows, cols = np.nonzero(rgba[..., 3] > 127)
        crop = Image.fromarray(rgba[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1])
        crop.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
        name = slug(relative.removesuffix(".png"))
        split = split_of(relative)
        (out / split).mkdir(parents=True, exist_ok=True)
        crop.save(out / split / f"{name}.png")
        index[name] = {"split": split, "source": f"Debian package {PACKAGE}: /{STAMPS}/{relative}",
                       "license": licence, "size": list(crop.size)}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    summary = {"out": str(out), "kept": len(index), "skipped": skipped,
               "splits": {s: sum(v["split"] == s for v in index.values()) for s in ("train", "test")}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def frame_cutout(rgba: np.ndarray, size: int, fill: float = DEFAULT_FOREGROUND_RATIO,
                 background: int = TRAINING_BACKGROUND) -> tuple[np.ndarray, np.ndarray]:
    """An RGBA cut-out -> ((size, size, 3) uint8 view, (size, size) bool mask), its longer side ``fill`` of
    the frame (the framing rule's ratio), centred, on the renderer's grey (as a render is framed)."""
    h, w = rgba.shape[:2]
    k = fill * size / max(h, w)
    small = np.asarray(Image.fromarray(rgba, "RGBA").resize((max(1, round(w * k)), max(1, round(h * k))), Image.LANCZOS))
    canvas = np.zeros((size, size, 4), np.uint8)
    y0, x0 = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    mask = canvas[..., 3] > 127
    view = np.where(mask[..., None], canvas[..., :3], np.uint8(background)).astype(np.uint8)
    return view, mask


def cutout_names(root: str | Path, split: str = "train") -> list[str]:
    """The names of the split's cut-outs in a built folder's index, sorted; [] if the folder is not built."""
    index_file = Path(root) / "index.json"
    if not index_file.is_file():
        return []
    return sorted(name for name, entry in json.loads(index_file.read_text()).items() if entry["split"] == split)


def load_cutouts(root: str | Path, split: str = "train", size: int = 128) -> list[dict]:
    """The split's cut-outs as one-view objects: [{"id", "views": (1, S, S, 3) uint8, "masks": (1, S, S) bool}];
    [] if the folder is not built."""
    objects = []
    for name in cutout_names(root, split):
        with Image.open(Path(root) / split / f"{name}.png") as im:
            view, mask = frame_cutout(np.asarray(im.convert("RGBA")), size)
        objects.append({"id": name, "views": view[None], "masks": mask[None]})
    return objects
