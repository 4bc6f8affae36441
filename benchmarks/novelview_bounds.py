"""How far above the copy baseline can a novel view get? Reference answers for 1 source view.

    python benchmarks/novelview_bounds.py --data data/furniture --split val --objects 40 [--json OUT]

Requests as ``eval novelview --views 1`` makes them (each object's view 0 as the reference, every other
view as a target, 64 px). Besides the copy baseline (the input view's render) and the mean image of
the split, two answers that are told what no model is told — the object's true 32^3 shape and both
cameras — drawn in the renderer's frame by casting a ray per pixel into the occupancy grid:

- ``true_shape_flat``: the true shape's silhouette from the new camera, filled with the input view's
  mean object colour, on the studio background;
- ``true_shape_colours``: the same, with the input view's colours where it sees the surface (depth
  test against its own depth map) and the mean colour elsewhere;
- ``predicted_shape_flat``: as ``true_shape_flat`` with the shape the shipped views -> 3D model
  predicts from the one input view (``--shape-model``), still with the true cameras;
- ``copy_of_model_input``: the input as the novel-view model sees it (framed like an upload), copied.

A model that learns the new view's silhouette perfectly and paints it flat scores like
``true_shape_flat``; the issue's target (copy + 2 dB) has to be read against it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from lddbm.data.augment import frame_clean
from lddbm.data.multiview import built_ids, load_object
from lddbm.data.render import camera_position, look_at
from lddbm.metrics import psnr

BACKGROUND = 245 / 255  # the fixed studio's background grey


def camera_frame(camera):
    pose = torch.from_numpy(look_at(camera_position(*(float(v) for v in camera[:3])))).float()
    return pose[:3, 3], pose[:3, :3], 1.0 / math.tan(math.radians(float(camera[3])) / 2)


def occupancy_at(grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear occupancy of an [x, y, z]-indexed grid over [-0.5, 0.5]^3 (lddbm.tasks.multiview3d.hull) at world points."""
    volume = grid.float().permute(2, 1, 0)[None, None]  # grid_sample reads (x, y, z) as (W, H, D)
    values = F.grid_sample(volume, (points * 2).reshape(1, 1, 1, -1, 3), align_corners=False)
    return values.reshape(points.shape[:-1])


def cast(grid: torch.Tensor, camera, size: int, samples: int = 96):
    """Per pixel: hit (bool), camera depth of the first crossing of occupancy 0.5, the world point."""
    eye, rot, f = camera_frame(camera)
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    d = torch.stack([c[None, :].expand(size, size) / f, -c[:, None].expand(size, size) / f,
                     -torch.ones(size, size)], dim=-1) @ rot.T  # camera space z = -1: the ray parameter is depth
    t = torch.linspace(float(eye.norm()) - 0.87, float(eye.norm()) + 0.87, samples)
    points = eye + d[:, :, None] * t[None, None, :, None]
    above = occupancy_at(grid, points) >= 0.5
    first = above.float().argmax(-1)
    return above.any(-1), t[first], points.gather(2, first[..., None, None].expand(size, size, 1, 3))[:, :, 0]


def project(points: torch.Tensor, camera, size: int):
    eye, rot, f = camera_frame(camera)
    p = (points - eye) @ rot
    depth = -p[..., 2]
    return (1 - f * p[..., 1] / depth) / 2 * size, (f * p[..., 0] / depth + 1) / 2 * size, depth


def render(grid, source, source_camera, camera, size, colour, reproject: bool) -> torch.Tensor:
    """(3, size, size) in [0, 1]: the grid from ``camera``, flat ``colour`` or the source's colours where it sees."""
    hit, _, points = cast(grid, camera, size)
    image = torch.where(hit[None], colour[:, None, None].expand(3, size, size), torch.full((3, size, size), BACKGROUND))
    if reproject:
        _, own_depth, _ = cast(grid, source_camera, size)
        rows, cols, depth = project(points, source_camera, size)
        r, c = rows.long().clamp(0, size - 1), cols.long().clamp(0, size - 1)
        seen = hit & ((depth - own_depth[r, c]).abs() < 0.06)
        xy = torch.stack([cols / size * 2 - 1, rows / size * 2 - 1], -1)[None]
        colours = F.grid_sample(source[None], xy, padding_mode="border", align_corners=False)[0]
        image = torch.where(seen[None], colours, image)
    return image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/furniture")
    ap.add_argument("--split", default="val")
    ap.add_argument("--objects", type=int, default=40)
    ap.add_argument("--shape-model", default="checkpoints/multiview3d", help="a views -> 3D pipeline; '' to skip")
    ap.add_argument("--json")
    args = ap.parse_args()
    from lddbm.tasks.novelview.presets import NovelViewData

    size, ratio = 64, NovelViewData().foreground_ratio  # the novel-view model's input size and framing
    ids = built_ids(Path(args.data), args.split)[: args.objects]
    objects = [load_object(Path(args.data) / "objects" / f"{i}.npz") for i in ids]
    predicted = None
    if args.shape_model:
        from lddbm.pipeline import LDDBMPipeline

        pipe = LDDBMPipeline.load(args.shape_model)
        pipe.set_progress_bar_config(disable=True)
        predicted = pipe([[Image.fromarray(o["views"][0])] for o in objects], output_type="pt",
                         generator=torch.Generator().manual_seed(0)).outputs.float()
    to01 = lambda v: torch.from_numpy(np.array(Image.fromarray(v).resize((size, size), Image.BICUBIC))).permute(2, 0, 1).float() / 255  # noqa: E731
    answers: dict[str, list[torch.Tensor]] = {k: [] for k in ("copy", "copy_of_model_input", "mean_image", "true_shape_flat",
                                                             "true_shape_colours", "predicted_shape_flat")}
    truths = []
    for n, obj in enumerate(objects):
        source = to01(obj["views"][0])
        mask = obj["masks"][0]
        model_input = torch.from_numpy(frame_clean(obj["views"][0], mask, size, ratio)).permute(2, 0, 1).float() / 255
        colour = torch.from_numpy(obj["views"][0][mask].mean(0) / 255).float() if mask.any() else torch.full((3,), 0.5)
        grid = torch.from_numpy(obj["voxels"])
        for k in range(1, len(obj["views"])):
            truths.append(to01(obj["views"][k]))
            answers["copy"].append(source)
            answers["copy_of_model_input"].append(model_input)
            cams = obj["cameras"][0], obj["cameras"][k]
            answers["true_shape_flat"].append(render(grid, source, *cams, size, colour, reproject=False))
            answers["true_shape_colours"].append(render(grid, source, *cams, size, colour, reproject=True))
            if predicted is not None:
                answers["predicted_shape_flat"].append(render(predicted[n], source, *cams, size, colour, reproject=False))
    truth = torch.stack(truths)
    answers["mean_image"] = [truth.mean(0)] * len(truth)
    report = {"split": args.split, "objects": len(objects), "requests": len(truth), "image_size": size,
              "psnr": {name: float(psnr(torch.stack(v) * 2 - 1, truth * 2 - 1).mean()) for name, v in answers.items() if v}}
    report["gain_over_copy_db"] = {k: v - report["psnr"]["copy"] for k, v in report["psnr"].items()}
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
