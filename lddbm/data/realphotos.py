"""The real-photo check set: real photographs of single objects with hand-checked foreground masks.

Layout (``assets/realphotos``; see its README.md for sources, licences and how each mask was made)::

    <name>/photo.jpg     the photograph, RGB, longest side at most 640 px
    <name>/mask.png      8-bit, 255 = object
    <name>/prompts.json  the photo's source, and the GrabCut box and hand-drawn strokes the mask was
                         made from (``mask_from_prompts`` rebuilds it; benchmarks/make_realphoto_masks.py)

``real_photo_set()`` loads it for segmentation benchmarks: a list of (name, rgb uint8 HxWx3, mask bool HxW).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = "assets/realphotos"


def _resolve(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_absolute() and not root.is_dir() and (REPO_ROOT / root).is_dir():
        return REPO_ROOT / root  # run from another folder: the repo's own copy
    return root


def photo_folders(root: str | Path = DEFAULT_ROOT) -> list[Path]:
    """The set's photo folders (those holding a photo.jpg or photo.png), sorted by name."""
    root = _resolve(root)
    return sorted(p for p in root.iterdir() if p.is_dir() and _photo_path(p) is not None) if root.is_dir() else []


def _photo_path(folder: Path) -> Path | None:
    for name in ("photo.jpg", "photo.png"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_photo(folder: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a photo folder (decoded with Pillow, as the masks were made)."""
    from PIL import Image

    path = _photo_path(Path(folder))
    if path is None:
        raise FileNotFoundError(f"no photo.jpg or photo.png in {folder}")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def load_mask(folder: str | Path) -> np.ndarray:
    """(H, W) bool foreground mask of a photo folder (mask.png > 127)."""
    from PIL import Image

    with Image.open(Path(folder) / "mask.png") as im:
        return np.asarray(im.convert("L")) > 127


def load_prompts(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "prompts.json").read_text())


def real_photo_set(root: str | Path = DEFAULT_ROOT) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every photo of the set as (name, rgb uint8 HxWx3, mask bool HxW), sorted by name."""
    return [(f.name, load_photo(f), load_mask(f)) for f in photo_folders(root)]


def _draw(canvas: np.ndarray, shapes: list[dict], value: int) -> None:
    """Draw prompt shapes into a GrabCut label map: {"line": [[x, y], ...], "width": px} (a stroke),
    {"polygon": [[x, y], ...]} (filled) or {"ellipse": [cx, cy, rx, ry]} (filled)."""
    import cv2

    for shape in shapes:
        if "line" in shape:
            pts = np.round(np.asarray(shape["line"], dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [pts], False, int(value), max(1, int(shape.get("width", 3))))
        elif "polygon" in shape:
            pts = np.round(np.asarray(shape["polygon"], dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(canvas, [pts], int(value))
        elif "ellipse" in shape:
            cx, cy, rx, ry = (int(round(v)) for v in shape["ellipse"])
            cv2.ellipse(canvas, (cx, cy), (rx, ry), 0, 0, 360, int(value), -1)
        else:
            raise ValueError(f"unknown prompt shape {shape}")


def prompt_labels(shape: tuple[int, int], prompts: dict) -> np.ndarray:
    """The GrabCut label map (cv2.GC_BGD / GC_FGD / GC_PR_BGD / GC_PR_FGD) that the prompts set before
    GrabCut runs: ``rect`` [x0, y0, x1, y1] (outside: sure background, inside: probable foreground);
    each ``outline`` ({"polygon": [[x, y], ...], "band": px}: a hand-traced outline) makes its inside,
    shrunk by ``band``, sure foreground and everything outside all outlines, grown by ``band``, sure
    background, so that GrabCut only places the edge within the band; then the ``pr_bg``, ``pr_fg``
    (probable) and ``bg``, ``fg`` (sure) shapes, drawn in that order. (H, W) uint8."""
    import cv2

    h, w = shape
    labels = np.full((h, w), cv2.GC_BGD, dtype=np.uint8)
    x0, y0, x1, y1 = (int(v) for v in prompts.get("rect", [0, 0, w, h]))
    labels[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)] = cv2.GC_PR_FGD
    if prompts.get("outline"):
        inside, outside = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
        for outline in prompts["outline"]:
            band = max(1, int(outline.get("band", 5)))
            filled = np.zeros((h, w), np.uint8)
            _draw(filled, [{"polygon": outline["polygon"]}], 1)
            disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
            inside |= cv2.erode(filled, disk, borderType=cv2.BORDER_REPLICATE)
            outside |= cv2.dilate(filled, disk)
        labels[outside == 0] = cv2.GC_BGD
        labels[(inside == 1) & (labels == cv2.GC_PR_FGD)] = cv2.GC_FGD
    for key, value in (("pr_bg", cv2.GC_PR_BGD), ("pr_fg", cv2.GC_PR_FGD), ("bg", cv2.GC_BGD), ("fg", cv2.GC_FGD)):
        _draw(labels, prompts.get(key, []), value)
    return labels


def mask_from_prompts(rgb: np.ndarray, prompts: dict) -> np.ndarray:
    """Rebuild a mask from its stored prompts: OpenCV GrabCut (RNG seeded with ``seed``, default 0, so
    it repeats) from ``prompt_labels`` for ``iterations`` (default 5); then components under
    ``min_component`` (default 0.05) of the largest are dropped and, with ``fill_holes``, enclosed
    holes filled. (H, W) bool."""
    import cv2

    labels = prompt_labels(rgb.shape[:2], prompts)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(int(prompts.get("seed", 0)))
    cv2.grabCut(np.ascontiguousarray(rgb[..., :3]), labels, None, bgd, fgd, int(prompts.get("iterations", 5)),
                cv2.GC_INIT_WITH_MASK)
    mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        mask = np.isin(comp, np.flatnonzero(areas >= float(prompts.get("min_component", 0.05)) * areas.max()) + 1)
    if prompts.get("fill_holes", False):
        count, comp, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
        edge = np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
        mask = mask | ((comp > 0) & ~np.isin(comp, edge))
    return mask


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def source_keys(root: str | Path = DEFAULT_ROOT) -> set[str]:
    """Where the check set's photographs come from, as path tails ("skimage/data/astronaut.png",
    "gcompris/src/.../dog.webp") that a built photos folder's index names in its ``source``: what a
    segmenter trained on backgrounds must not see (``lddbm.data.photos.photo_arrays(exclude=...)``)."""
    keys = set()
    for folder in photo_folders(root):
        path = str(load_prompts(folder).get("source", {}).get("path", ""))
        tail = path.split(" : ")[-1].strip().lstrip("/")
        if tail:
            keys.add(tail)
    return keys
