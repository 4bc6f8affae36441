"""How well a lifting encoder (lddbm.modalities.lifting) estimates the cameras of framed views it was
never told: median azimuth and elevation errors in degrees, and the framing numbers' errors, on clean
renders of a split; beside them, what always guessing the training mean would score.

    python benchmarks/lifting_pose.py runs/objects3d_lift/pipeline --data data/objects --split val --limit 200 \
        --json results/lifting_pose_val.json

``--iou`` also scores the shapes (IoU, Heun 10 steps, as ``eval`` does) lifted along the estimated
cameras, along the true ones (an oracle the pipeline never has) and along the estimated azimuth with
the true rest: how much each part of the camera estimate costs. ``--each`` adds, for every part of
the camera (azimuth, elevation, scale, inverse distance, offset), the estimate with only that part
made true: what fixing it alone would gain; and two that fix only what the views share: the offsets'
error that one 3D shift of the object's centre explains (``true_object_centre``: least squares over the
views, through the true cameras) and the log-scales' mean error, the object's size (``true_object_size``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lddbm.data.multiview import MultiViewVoxels  # noqa: E402
from lddbm.metrics import iou  # noqa: E402
from lddbm.modalities.lifting import _rotation  # noqa: E402
from lddbm.pipeline import LDDBMPipeline  # noqa: E402
from lddbm.tasks.multiview3d.pose import camera_errors  # noqa: E402


PARTS = {"azimuth": slice(0, 2), "elevation": slice(2, 3), "log_scale": slice(3, 4), "inverse_distance": slice(4, 5),
         "offset": slice(5, 7)}  # the pose vector's parts (lddbm.modalities.lifting.POSE)


def _shared_offset_removed(estimated: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """``estimated`` (B, V, 7) less the part of its offset error (u0, v0) that one shift ``c`` of the object's
    centre explains: a point c projects (to first order) to scale (right . c, -up . c) through the true
    cameras; c is fitted by least squares over each object's views."""
    right, up, _ = _rotation(true)
    scale = true[..., 3:4].exp()
    A = torch.cat([scale * right, -scale * up], 1)  # (B, 2V, 3)
    error = torch.cat([estimated[..., 5] - true[..., 5], estimated[..., 6] - true[..., 6]], 1)[..., None]
    shared = (A @ torch.linalg.lstsq(A, error).solution)[..., 0]  # (B, 2V)
    V = estimated.shape[1]
    pose = estimated.clone()
    pose[..., 5] -= shared[:, :V]
    pose[..., 6] -= shared[:, V:]
    return pose


def object_batches(encoder, data: MultiViewVoxels, n: int, view_order: str | None = None, batch: int = 32):
    """The first ``n`` objects of ``data``, ``batch`` at a time, as (views (B, V, 3, S, S), the encoder's inputs
    taken in ``view_order`` (None: the model's), true cameras (B, V, 7), target voxels, estimated cameras (B, V, 7))."""
    for start in range(0, n, batch):
        items = [data[i] for i in range(start, min(start + batch, n))]
        views = torch.stack([it["source"]["views"] for it in items])
        inputs = encoder.preprocess(views, view_order=view_order)  # {"views", "turntable"}
        with torch.no_grad():
            encoder(inputs)
        yield (views, inputs, torch.stack([it["source"]["pose"] for it in items]),
               torch.stack([it["target"] for it in items]), encoder.last_pose.clone())


def iou_along(pipe: LDDBMPipeline, inputs: dict, target: torch.Tensor, pose: torch.Tensor | None = None) -> torch.Tensor:
    """IoU per object of the shapes made from ``inputs`` with the views lifted along cameras ``pose`` (B, V, 7)
    (None: the encoder's own estimate); Heun 10 steps, seed 0, as ``eval`` does."""
    encoder = pipe.source_encoder
    plain = encoder.forward
    if pose is not None:
        encoder.forward = lambda v: plain({**v, "pose": pose})
    try:
        out = pipe(inputs, num_inference_steps=10, sampler="heun", generator=torch.Generator().manual_seed(0))
    finally:
        encoder.forward = plain
    return iou(out.outputs.float().reshape(target.shape), target)


def camera_ious(pipe: LDDBMPipeline, data: MultiViewVoxels, n: int, view_order: str | None = None,
                each: bool = False) -> dict[str, float]:
    """Mean IoU of the first ``n`` objects lifted along the estimated cameras (the views taken in
    ``view_order``; None: the model's), the true ones, and the estimated azimuth with the true
    elevation and framing; with ``each``, also the estimate with one part made true (``true_<part>``)."""
    scores: dict[str, list[torch.Tensor]] = {"estimated": [], "true_cameras": [], "estimated_azimuth_only": []}
    if each:
        scores.update({f"true_{part}": [] for part in (*PARTS, "object_centre", "object_size")})
    for _, inputs, true, target, estimated in object_batches(pipe.source_encoder, data, n, view_order):
        for name in scores:
            pose = None if name == "estimated" else true.clone()
            if name == "estimated_azimuth_only":
                pose[..., :2] = estimated[..., :2]
            elif name.startswith("true_") and name[5:] in PARTS:
                pose = estimated.clone()
                pose[..., PARTS[name[5:]]] = true[..., PARTS[name[5:]]]
            elif name == "true_object_centre":
                pose = _shared_offset_removed(estimated, true)
            elif name == "true_object_size":
                pose = estimated.clone()
                pose[..., 3] -= (estimated[..., 3] - true[..., 3]).mean(1, keepdim=True)
            scores[name].append(iou_along(pipe, inputs, target, pose))
    return {name: float(torch.cat(v).mean()) for name, v in scores.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pipeline")
    ap.add_argument("--data", default="data/objects")
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--iou", action="store_true", help="also IoU with estimated / true / half-true cameras")
    ap.add_argument("--each", action="store_true", help="with --iou: also each camera part made true alone")
    ap.add_argument("--view-order", choices=("any", "turntable"),
                    help="how the views are taken (the built data's are in turntable order); default: the model's")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    pipe = LDDBMPipeline.load(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    encoder = pipe.source_encoder.float().eval()
    data = MultiViewVoxels(args.data, args.split, num_views=args.views, image_size=encoder.config.image_size,
                           foreground_ratio=encoder.config.foreground_ratio, poses=True)
    n = min(args.limit, len(data))
    report = {"pipeline": args.pipeline, "split": args.split, **camera_errors(encoder, data, n, args.view_order)}
    if args.iou:
        report["iou_heun10"] = camera_ious(pipe, data, n, args.view_order, args.each)
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
