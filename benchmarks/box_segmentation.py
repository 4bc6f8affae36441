"""Mask IoU of cut-outs refined from a person's box, on the real-photo check set (assets/realphotos).

    OMP_NUM_THREADS=1 python benchmarks/box_segmentation.py \
        [--pipeline checkpoints/multiview3d] [--clicks 3] [--out results/box_segmentation.json]

The person's box is stood in for as in benchmarks/realphoto_segmentation.py: the hand-checked mask's
bounding box grown by 2 % of the photo's longest side. Methods, each against the hand-checked masks:

- ``grabcut_rect``: OpenCV GrabCut (5 iterations, ``GC_INIT_WITH_RECT``) on the whole photo
  (realphoto_segmentation.py's "grabcut_box");
- ``segment_with_box``: ``lddbm.framing.segment_with_box(rgb, box)``, what ``normalize_view`` and the
  demo use: GrabCut from the rectangle on the box's surroundings (box + 15 %, at most 384 px);
- ``segment_with_box_segmenter``: the same seeded by the pipeline's segmenter inside the box
  (``segment_with_box(rgb, box, segmenter=pipe.segmenter)``);
- ``segmenter_in_box``: the segmenter's own mask on the box's surroundings, kept inside the box;
- ``segment_with_box_click1..N``: ``segment_with_box`` plus N corrective clicks, each placed as
  interactive-segmentation benchmarks do (at the point deepest inside the largest error, on the object
  where it was missed, on the background where it was kept): what a person clicking on a wrong part adds.

Prints a per-photo table and writes per-photo IoU, means and seconds per photo as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lddbm.data.realphotos import DEFAULT_ROOT, mask_iou, real_photo_set  # noqa: E402


def person_box(truth: np.ndarray, margin: float = 0.02) -> tuple[int, int, int, int]:
    """The true mask's bounding box grown by ``margin`` of the longest side, clipped to the frame."""
    h, w = truth.shape
    ys, xs = np.nonzero(truth)
    pad = round(margin * max(h, w))
    return max(0, xs.min() - pad), max(0, ys.min() - pad), min(w, xs.max() + 1 + pad), min(h, ys.max() + 1 + pad)


def grabcut_rect(rgb: np.ndarray, box, iterations: int = 5) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    if (x1 - x0) * (y1 - y0) >= h * w:
        return np.ones((h, w), dtype=bool)
    labels = np.zeros((h, w), np.uint8)
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(rgb), labels, (int(x0), int(y0), int(x1 - x0), int(y1 - y0)),
                np.zeros((1, 65)), np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_RECT)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def segmenter_in_box(seg, rgb: np.ndarray, box) -> np.ndarray:
    from lddbm.framing import BOX_CONTEXT, clean_mask

    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    g = BOX_CONTEXT * max(x1 - x0, y1 - y0)
    rx0, ry0, rx1, ry1 = int(max(0, x0 - g)), int(max(0, y0 - g)), int(min(w, x1 + g)), int(min(h, y1 + g))
    p = np.zeros((h, w), np.float32)
    p[ry0:ry1, rx0:rx1] = seg.predict(rgb[ry0:ry1, rx0:rx1])
    inside = np.zeros((h, w), dtype=bool)
    inside[y0:y1, x0:x1] = True
    return clean_mask((p > 0.5) & inside)


def next_click(pred: np.ndarray, truth: np.ndarray):
    """(x, y, on_object) deepest inside the larger error region (missed object or kept background)."""
    import cv2

    best = None
    for error, on_object in ((truth & ~pred, True), (pred & ~truth, False)):
        if not error.any():
            continue
        depth = cv2.distanceTransform(np.pad(error, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        y, x = np.unravel_index(np.argmax(depth), depth.shape)
        if best is None or depth[y, x] > best[0]:
            best = (depth[y, x], int(x), int(y), on_object)
    return None if best is None else best[1:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--pipeline", default="checkpoints/multiview3d", help="pipeline folder whose segmenter is tested")
    ap.add_argument("--clicks", type=int, default=3, help="corrective clicks after the box (0: none)")
    ap.add_argument("--out", default="results/box_segmentation.json")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)

    import torch

    from lddbm.framing import segment_with_box
    from lddbm.segmentation import load_masknet

    torch.set_num_threads(args.threads)
    photos = real_photo_set(args.root)
    if not photos:
        print(f"no photos under {args.root}")
        return 1
    seg = load_masknet(Path(args.pipeline) / "segmenter") if (Path(args.pipeline) / "segmenter").is_dir() else None
    methods = {"grabcut_rect": grabcut_rect, "segment_with_box": segment_with_box}
    if seg is not None:
        methods["segment_with_box_segmenter"] = lambda rgb, box: segment_with_box(rgb, box, segmenter=seg)
        methods["segmenter_in_box"] = lambda rgb, box: segmenter_in_box(seg, rgb, box)
        seg.predict(photos[0][1])  # warm-up
    clicked = [f"segment_with_box_click{n}" for n in range(1, args.clicks + 1)]
    names = list(methods) + clicked
    per_photo: dict[str, dict] = {}
    seconds = {m: 0.0 for m in methods}
    print(f"{'photo':18s} " + " ".join(f"{m[-14:]:>14s}" for m in names))
    for name, rgb, truth in photos:
        box = person_box(truth)
        row = {"box": [int(v) for v in box]}
        for m, fn in methods.items():
            t = time.perf_counter()
            pred = fn(rgb, box)
            seconds[m] += time.perf_counter() - t
            row[m] = round(mask_iou(pred.astype(bool), truth), 4)
        pred, fg, bg = segment_with_box(rgb, box), [], []
        for m in clicked:
            click = next_click(pred, truth)
            if click is not None:
                (fg if click[2] else bg).append(click[:2])
                pred = segment_with_box(rgb, box, foreground=fg, background=bg)
            row[m] = round(mask_iou(pred, truth), 4)
        row["clicks"] = {"foreground": fg, "background": bg}
        per_photo[name] = row
        print(f"{name:18s} " + " ".join(f"{row[m]:14.3f}" for m in names), flush=True)
    mean = {m: round(float(np.mean([r[m] for r in per_photo.values()])), 4) for m in names}
    print(f"{'mean':18s} " + " ".join(f"{mean[m]:14.3f}" for m in names))
    result = {
        "set": str(args.root),
        "photos": len(photos),
        "pipeline": str(args.pipeline),
        "box": "the hand-checked mask's bounding box + 2 % of the photo's longest side (a person's box)",
        "methods": {
            "grabcut_rect": "cv2.grabCut(GC_INIT_WITH_RECT, 5 it.) on the whole photo",
            "segment_with_box": "lddbm.framing.segment_with_box(rgb, box)  (what normalize_view uses)",
            "segment_with_box_segmenter": "segment_with_box(rgb, box, segmenter=pipe.segmenter)",
            "segmenter_in_box": "pipe.segmenter on the box + 15 %, kept inside the box",
            "segment_with_box_clickN": "segment_with_box with N corrective clicks (deepest point of the largest error)",
        },
        "mean_iou": mean,
        "seconds_per_photo": {m: round(s / len(photos), 3) for m, s in seconds.items()},
        "per_photo": per_photo,
        "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}, shared with training",
        "command": "OMP_NUM_THREADS=1 python benchmarks/box_segmentation.py",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
