"""Rebuild the real-photo check set's masks from their stored prompts (assets/realphotos/*/prompts.json).

    OMP_NUM_THREADS=1 python benchmarks/make_realphoto_masks.py                 # rewrite every mask.png
    OMP_NUM_THREADS=1 python benchmarks/make_realphoto_masks.py --check         # compare, write nothing
    OMP_NUM_THREADS=1 python benchmarks/make_realphoto_masks.py --only cup,dog --overlays /tmp/overlays

Each mask is OpenCV GrabCut from a hand-chosen box plus hand-drawn foreground/background strokes and
polygons (``lddbm.data.realphotos.mask_from_prompts``); every result was looked at as an overlay
(``--overlays``: the photo with the background darkened and tinted, and the mask's outline in green)
and the prompts edited until the mask was right by eye.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lddbm.data.realphotos import (DEFAULT_ROOT, load_mask, load_photo, load_prompts, mask_from_prompts,  # noqa: E402
                                   mask_iou, photo_folders)


def overlay(rgb: np.ndarray, mask: np.ndarray, prompts: dict | None = None) -> Image.Image:
    """The photo with its background darkened and tinted blue, the mask's outline in green and, with
    ``prompts``, the box (yellow), strokes (fg white, bg red) and traced outlines (magenta) drawn on top."""
    import cv2

    out = rgb.astype(np.float32)
    out[~mask] = out[~mask] * 0.35 + np.array([20, 40, 140], np.float32) * 0.65
    out = out.clip(0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (0, 255, 0), 1)
    if prompts is not None:
        x0, y0, x1, y1 = (int(v) for v in prompts.get("rect", [0, 0, rgb.shape[1], rgb.shape[0]]))
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 0), 1)
        for key, colour in (("fg", (255, 255, 255)), ("pr_fg", (200, 200, 200)), ("bg", (255, 0, 0)), ("pr_bg", (255, 128, 0))):
            for shape in prompts.get(key, []):
                pts = np.asarray(shape.get("line", shape.get("polygon", [])), np.int32).reshape(-1, 1, 2)
                if len(pts):
                    cv2.polylines(out, [pts], "polygon" in shape, colour, 1)
                if "ellipse" in shape:
                    cx, cy, rx, ry = (int(v) for v in shape["ellipse"])
                    cv2.ellipse(out, (cx, cy), (rx, ry), 0, 0, 360, colour, 1)
        for shape in prompts.get("outline", []):
            cv2.polylines(out, [np.asarray(shape["polygon"], np.int32).reshape(-1, 1, 2)], True, (255, 0, 255), 1)
    return Image.fromarray(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--only", default="", help="comma-separated photo names (default: all)")
    ap.add_argument("--check", action="store_true", help="compare with the stored masks; write nothing")
    ap.add_argument("--overlays", default="", help="also write <name>.png overlays (mask, box, strokes) here")
    args = ap.parse_args(argv)

    only = {n for n in args.only.split(",") if n}
    folders = [f for f in photo_folders(args.root) if not only or f.name in only]
    if not folders:
        print(f"no photos under {args.root}" + (f" named {sorted(only)}" if only else ""))
        return 1
    if args.overlays:
        Path(args.overlays).mkdir(parents=True, exist_ok=True)
    worst = 1.0
    for folder in folders:
        rgb, prompts = load_photo(folder), load_prompts(folder)
        t = time.perf_counter()
        mask = mask_from_prompts(rgb, prompts)
        dt = time.perf_counter() - t
        line = f"{folder.name:18s} {rgb.shape[1]}x{rgb.shape[0]}  foreground {mask.mean():5.1%}  {dt:.2f}s"
        if (folder / "mask.png").is_file():
            iou = mask_iou(mask, load_mask(folder))
            worst = min(worst, iou)
            line += f"  IoU vs stored {iou:.4f}"
        if not args.check:
            Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "mask.png")
        if args.overlays:
            overlay(rgb, mask, prompts).save(Path(args.overlays) / f"{folder.name}.png")
        print(line)
    if args.check:
        print(json.dumps({"photos": len(folders), "worst_iou_vs_stored": round(worst, 4)}))
        return 0 if worst >= 0.98 else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
