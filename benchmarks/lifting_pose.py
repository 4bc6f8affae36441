"""How well a lifting encoder (lddbm.modalities.lifting) estimates the cameras of framed views it was
never told: median azimuth and elevation errors in degrees, and the framing numbers' errors, on clean
renders of a split; beside them, what always guessing the training mean would score.

    python benchmarks/lifting_pose.py runs/objects3d_lift/pipeline --data data/objects --split val --limit 200 \
        --json results/lifting_pose_val.json

``--iou`` also scores the shapes (IoU, Heun 10 steps, as ``eval`` does) lifted along the estimated
cameras, along the true ones (an oracle the pipeline never has) and along the estimated azimuth with
the true rest: how much each part of the camera estimate costs. ``--each`` adds, for every part of
the camera (azimuth, elevation, scale, inverse distance, offset), the estimate with only that part
made true: what fixing it alone would gain.
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
from lddbm.pipeline import LDDBMPipeline  # noqa: E402
from lddbm.tasks.multiview3d.pose import camera_errors  # noqa: E402


PARTS = {"azimuth": slice(0, 2), "elevation": slice(2, 3), "log_scale": slice(3, 4), "inverse_distance": slice(4, 5),
         "offset": slice(5, 7)}  # the pose vector's parts (lddbm.modalities.lifting.POSE)


def camera_ious(pipe: LDDBMPipeline, data: MultiViewVoxels, n: int, view_order: str | None = None,
                each: bool = False) -> dict[str, float]:
    """Mean IoU of the first ``n`` objects lifted along the estimated cameras (the views taken in
    ``view_order``; None: the model's), the true ones, and the estimated azimuth with the true
    elevation and framing; with ``each``, also the estimate with one part made true (``true_<part>``)."""
    encoder, plain = pipe.source_encoder, pipe.source_encoder.forward
    scores: dict[str, list[torch.Tensor]] = {"estimated": [], "true_cameras": [], "estimated_azimuth_only": []}
    if each:
        scores.update({f"true_{part}": [] for part in PARTS})
    try:
        for start in range(0, n, 32):
            items = [data[i] for i in range(start, min(start + 32, n))]
            views = torch.stack([it["source"]["views"] for it in items])
            true = torch.stack([it["source"]["pose"] for it in items])
            target = torch.stack([it["target"] for it in items])
            views = encoder.preprocess(views, view_order=view_order)  # {"views", "turntable"}
            with torch.no_grad():
                plain(views)
            estimated = encoder.last_pose.clone()
            for name in scores:
                pose = None if name == "estimated" else true.clone()
                if name == "estimated_azimuth_only":
                    pose[..., :2] = estimated[..., :2]
                elif name.startswith("true_") and name[5:] in PARTS:
                    pose = estimated.clone()
                    pose[..., PARTS[name[5:]]] = true[..., PARTS[name[5:]]]
                encoder.forward = plain if pose is None else (lambda v, pose=pose: plain({**v, "pose": pose}))
                out = pipe(views, num_inference_steps=10, sampler="heun", generator=torch.Generator().manual_seed(0))
                scores[name].append(iou(out.outputs.float().reshape(target.shape), target))
    finally:
        encoder.forward = plain
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
