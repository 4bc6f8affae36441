"""A picture of "what the model sees" on the real-photo check set: per photograph, the photo with the hand-checked
mask's outline (green) and the automatic one's (red), then the view as the pipeline frames it (the demo's "what the
model sees": removed background as a checkerboard), captioned with the automatic cut-out's mask IoU.

    python benchmarks/realphoto_figure.py checkpoints/multiview3d --out docs/images/realphotos_seen.jpg \
        [--json results/realphoto_seen.json]

The cut-out is the pipeline's own (``lddbm.framing.normalize_view``'s steps with its segmenter, as ``sample`` and the demo
do with "remove the background" on); the IoU is the segmenter's mask against ``assets/realphotos``' mask.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.common import on_checkerboard  # noqa: E402
from lddbm.data.realphotos import DEFAULT_ROOT, mask_iou, real_photo_set  # noqa: E402
from lddbm.framing import cut_out, frame_cut_out  # noqa: E402

CELL = 160  # each picture's side
CAPTION = 16


def outline(mask: np.ndarray) -> np.ndarray:
    m = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(m.filter(ImageFilter.MaxFilter(3))) != np.asarray(m.filter(ImageFilter.MinFilter(3)))


def photo_with_outlines(rgb: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> Image.Image:
    """The photo fitted into CELL², the true outline green and the predicted one red (drawn at full size, thickened)."""
    out = rgb.copy()
    k = max(1, round(max(rgb.shape[:2]) / CELL))
    for mask, colour in ((truth, (40, 220, 60)), (predicted, (240, 40, 40))):
        line = outline(mask)
        if k > 1:
            line = np.asarray(Image.fromarray(line.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * (k // 2) + 1))) > 0
        out[line] = colour
    image = Image.fromarray(out)
    image.thumbnail((CELL, CELL), Image.LANCZOS)
    canvas = Image.new("RGB", (CELL, CELL), (255, 255, 255))
    canvas.paste(image, ((CELL - image.width) // 2, (CELL - image.height) // 2))
    return canvas


def main(argv: list[str] | None = None) -> int:
    from lddbm.pipeline import LDDBMPipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pipeline", help="a views -> 3D pipeline folder with a segmenter, e.g. checkpoints/multiview3d")
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--out", default="docs/images/realphotos_seen.jpg")
    ap.add_argument("--json", help="also write the per-photo IoU here")
    ap.add_argument("--columns", type=int, default=4, help="photographs per row")
    args = ap.parse_args(argv)

    segmenter = LDDBMPipeline.load(args.pipeline).segmenter
    if segmenter is None:
        raise SystemExit(f"{args.pipeline} has no segmenter: attach one first (python -m lddbm attach-segmenter)")
    photos = real_photo_set(args.root)
    cells, scores = [], {}
    for name, rgb, truth in photos:
        # normalize_view's two steps, so the cut-out is made once: the photos are under WORK_SIDE, so its mask is
        # the segmenter's mask of the photo itself
        rgba, source = cut_out(Image.fromarray(rgb), segmenter=segmenter)
        predicted = rgba[..., 3] > 127
        scores[name] = mask_iou(predicted, truth)
        seen = on_checkerboard(frame_cut_out(rgba.copy(), source), size=CELL)
        cell = Image.new("RGB", (2 * CELL + 4, CELL + CAPTION), (255, 255, 255))
        cell.paste(photo_with_outlines(rgb, truth, predicted), (0, CAPTION))
        cell.paste(seen.convert("RGB").resize((CELL, CELL)), (CELL + 4, CAPTION))
        ImageDraw.Draw(cell).text((2, 2), f"{name}: mask IoU {scores[name]:.2f}", fill=(0, 0, 0))
        cells.append(cell)
    cols = args.columns
    rows = (len(cells) + cols - 1) // cols
    w, h = cells[0].size
    sheet = Image.new("RGB", (cols * (w + 8), rows * (h + 8)), (255, 255, 255))
    for i, cell in enumerate(cells):
        sheet.paste(cell, ((i % cols) * (w + 8), (i // cols) * (h + 8)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True, **({"quality": 85} if args.out.lower().endswith((".jpg", ".jpeg")) else {}))
    report = {"pipeline": args.pipeline, "photos": len(photos), "mask_iou_mean": float(np.mean(list(scores.values()))),
              "per_photo": scores, "figure": args.out}
    print(json.dumps({k: v for k, v in report.items() if k != "per_photo"}))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
