"""Mask IoU of the foreground segmenters on the real-photo check set (assets/realphotos).

    OMP_NUM_THREADS=1 python benchmarks/realphoto_segmentation.py \
        [--pipeline checkpoints/multiview3d] [--out results/realphoto_segmentation.json]

Methods, each against the hand-checked masks (``lddbm.data.realphotos.real_photo_set``):

- ``grabcut_auto``: ``lddbm.framing.segment_foreground(rgb)`` (GrabCut seeded from the border colours;
  what the pipeline uses without a segmenter);
- ``masknet``: the pipeline's shipped segmenter, ``pipe.segmenter.segment(rgb, refine=False)``;
- ``masknet_refined``: the same with ``refine=True`` (GrabCut seeded by MaskNet's probability);
- ``grabcut_box``: OpenCV GrabCut (5 iterations, ``GC_INIT_WITH_RECT``) from one box per photo, the
  true mask's bounding box grown by 2 % of the longest side: a stand-in for a person drawing a box.

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


def grabcut_box(rgb: np.ndarray, truth: np.ndarray, iterations: int = 5) -> np.ndarray:
    """GrabCut from the truth's bounding box grown by 2 % of the longest side (clipped to the frame)."""
    import cv2

    h, w = truth.shape
    ys, xs = np.nonzero(truth)
    pad = round(0.02 * max(h, w))
    x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    x1, y1 = min(w, xs.max() + 1 + pad), min(h, ys.max() + 1 + pad)
    labels = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    if (x1 - x0) * (y1 - y0) >= h * w:  # the box is the whole frame: no sure background to learn from
        labels[:] = cv2.GC_PR_FGD
        return labels == cv2.GC_PR_FGD
    cv2.grabCut(np.ascontiguousarray(rgb), labels, (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), bgd, fgd,
                iterations, cv2.GC_INIT_WITH_RECT)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--pipeline", default="checkpoints/multiview3d", help="pipeline folder whose segmenter is tested")
    ap.add_argument("--out", default="results/realphoto_segmentation.json")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)

    import torch

    from lddbm.framing import segment_foreground
    from lddbm.pipeline import LDDBMPipeline

    torch.set_num_threads(args.threads)
    photos = real_photo_set(args.root)
    if not photos:
        print(f"no photos under {args.root}")
        return 1
    pipe = LDDBMPipeline.load(args.pipeline)
    seg = pipe.segmenter
    if seg is None:
        print(f"{args.pipeline} ships no segmenter")
        return 1
    methods = {
        "grabcut_auto": lambda rgb, truth: segment_foreground(rgb),
        "masknet": lambda rgb, truth: seg.segment(rgb, refine=False),
        "masknet_refined": lambda rgb, truth: seg.segment(rgb, refine=True),
        "grabcut_box": grabcut_box,
    }
    seg.predict(photos[0][1])  # warm-up
    per_photo: dict[str, dict] = {}
    seconds = {m: 0.0 for m in methods}
    print(f"{'photo':18s} {'size':>9s} {'fg':>5s} " + " ".join(f"{m:>15s}" for m in methods))
    for name, rgb, truth in photos:
        row = {"size": [int(rgb.shape[1]), int(rgb.shape[0])], "foreground": round(float(truth.mean()), 4)}
        for m, fn in methods.items():
            t = time.perf_counter()
            pred = fn(rgb, truth)
            seconds[m] += time.perf_counter() - t
            row[m] = round(mask_iou(pred.astype(bool), truth), 4)
        per_photo[name] = row
        print(f"{name:18s} {rgb.shape[1]:4d}x{rgb.shape[0]:<4d} {truth.mean():5.1%} "
              + " ".join(f"{row[m]:15.3f}" for m in methods))
    mean = {m: round(float(np.mean([r[m] for r in per_photo.values()])), 4) for m in methods}
    print(f"{'mean':18s} {'':9s} {'':5s} " + " ".join(f"{mean[m]:15.3f}" for m in methods))
    result = {
        "set": str(args.root),
        "photos": len(photos),
        "pipeline": str(args.pipeline),
        "methods": {
            "grabcut_auto": "lddbm.framing.segment_foreground(rgb)",
            "masknet": "pipe.segmenter.segment(rgb, refine=False)",
            "masknet_refined": "pipe.segmenter.segment(rgb, refine=True)",
            "grabcut_box": "cv2.grabCut(GC_INIT_WITH_RECT, 5 it.) from the true mask's bbox + 2 % of the longest side",
        },
        "mean_iou": mean,
        "seconds_per_photo": {m: round(s / len(photos), 3) for m, s in seconds.items()},
        "per_photo": per_photo,
        "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}",
        "command": "OMP_NUM_THREADS=1 python benchmarks/realphoto_segmentation.py",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
