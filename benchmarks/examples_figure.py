"""A picture of views -> 3D on the demo's examples: per example, its first view, the predicted shape and
the true shape, rendered from the same camera, with the IoU; and the figures as JSON.

    python benchmarks/examples_figure.py checkpoints/multiview3d --out docs/images/multiview3d_examples.png \
        --json results/multiview3d_examples.json

Needs the rendering extras (``pip install -e ".[render]"`` and Debian's libosmesa6). Every example
folder (assets/multiview3d/*/) is run through ``lddbm.tasks.multiview3d.prediction.predict_shape`` at the checkpoint's own
sampler settings, as the demo's "Views -> 3D" tab does with remove-background on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lddbm.data.render import Renderer, View  # noqa: E402
from lddbm.export import voxels_to_mesh  # noqa: E402
from lddbm.framing import normalize_views  # noqa: E402
from lddbm.inputs import open_views  # noqa: E402
import torch  # noqa: E402

from lddbm.metrics import iou as voxel_iou  # noqa: E402
from lddbm.pipeline import LDDBMPipeline  # noqa: E402
from lddbm.tasks.multiview3d.prediction import predict_shape  # noqa: E402

TILE = 160
CAMERA = View(35.0, 25.0, 2.2)  # the same for prediction and truth


def render(renderer: Renderer, voxels: np.ndarray) -> Image.Image:
    import trimesh

    try:
        mesh = voxels_to_mesh(voxels)
    except ValueError:  # empty
        return Image.new("RGB", (TILE, TILE), (245, 245, 245))
    mesh.visual.vertex_colors = np.array([150, 170, 200, 255], dtype=np.uint8)
    image, _ = renderer.render(trimesh.Scene(mesh), [CAMERA])
    return Image.fromarray(image[0])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--examples", default=str(ROOT / "assets" / "multiview3d"))
    ap.add_argument("--out", required=True, help="the PNG to write")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    renderer = Renderer(TILE)
    rows, report = [], {}
    for folder in sorted(p for p in Path(args.examples).iterdir() if (p / "voxels.npy").is_file()):
        views = sorted(folder.glob("view_*.png"))
        images, _ = open_views(views, pipe.source_encoder.config.max_views)
        framed = normalize_views(images, True, segmenter=pipe.segmenter)
        pred = predict_shape(pipe, framed, seed=0)
        truth = np.load(folder / "voxels.npy").astype(bool)
        iou = float(voxel_iou(torch.as_tensor(np.asarray(pred.probability))[None], torch.from_numpy(truth).float()[None]))
        report[folder.name] = {"views": len(views), "iou": round(iou, 4)}
        first = Image.open(views[0]).convert("RGB").resize((TILE, TILE), Image.BICUBIC)
        row = Image.new("RGB", (3 * TILE, TILE + 18), "white")
        for k, tile in enumerate((first, render(renderer, pred.probability >= 0.5), render(renderer, truth))):
            row.paste(tile, (k * TILE, 18))
        ImageDraw.Draw(row).text((4, 3), f"{folder.name[:44]}  IoU {iou:.2f}", fill=(0, 0, 0))
        rows.append(row)
    renderer.close()
    columns = 2
    height = (len(rows) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * 3 * TILE, 20 + height * (TILE + 18)), "white")
    ImageDraw.Draw(sheet).text((4, 4), "per example: first view | predicted shape | true shape", fill=(0, 0, 0))
    for i, row in enumerate(rows):
        sheet.paste(row, ((i % columns) * 3 * TILE, 20 + (i // columns) * (TILE + 18)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    report = {"checkpoint": args.checkpoint, "mean_iou": round(float(np.mean([r["iou"] for r in report.values()])), 4),
              "examples": report}
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
