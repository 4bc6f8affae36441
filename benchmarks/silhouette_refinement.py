"""Can the silhouettes themselves correct the camera network's estimate at test time? (Tried; not shipped.)

Each framed view's silhouette (its pixels that are not the renderer's grey) is a cone in 3D. Along the
true cameras the four cones meet in a visual hull whose projection covers every silhouette; along cameras
with errors they carve each other away. This benchmark searches, view by view, small changes of a
camera (its offsets u0, v0; with ``--parts all`` also its elevation and log-scale) that make the
hull's projection cover more of every silhouette (coordinate search over a 5 x 5 grid, step 0.03 then 0.015 then
0.007; a 24^3 hull splatted at 32^2), then removes what the views cannot tell apart: one 3D shift of
the object (least squares over the offsets' changes, as ``lifting_pose._shared_offset_removed``) and
one shared change of scale. That shared centre error is two thirds of what the offsets cost
(``lifting_pose.py --each``) and no silhouette consistency can see it: moving every camera together
moves the hull, not its fit.

    python benchmarks/silhouette_refinement.py checkpoints/multiview3d --limit 128 --parts offsets all \\
        --json results/silhouette_refinement_val128.json

Prints and writes mean IoU (Heun 10, seed 0) along the estimate and along each refinement, the
offsets' mean absolute error before and after, and the seconds a refinement takes per object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from lifting_pose import _shared_offset_removed, iou_along, object_batches  # noqa: E402

from lddbm.cli import write_json  # noqa: E402
from lddbm.data.multiview import MultiViewVoxels  # noqa: E402
from lddbm.modalities.lifting import _cube, project_to_frame  # noqa: E402
from lddbm.modalities.refiner import silhouettes  # noqa: E402
from lddbm.pipeline import LDDBMPipeline  # noqa: E402

CELLS = _cube(24)
PARTS = {"offsets": [(5, 6)], "all": [(5, 6), (2, 3)]}  # pose indices searched together (lifting.POSE)


def coverage(pose: torch.Tensor, masks: torch.Tensor, res: int = 32) -> torch.Tensor:
    """Candidate cameras (K, V, 7) of one object, its silhouettes (V, S, S) -> (K,) the mean share of each
    silhouette (at res^2) that the soft visual hull's projection covers."""
    K, V = pose.shape[:2]
    proj = project_to_frame(CELLS, pose.reshape(K * V, 7)).reshape(K, V, -1, 2)
    inside = F.grid_sample(masks[None].expand(K, -1, -1, -1).reshape(K * V, 1, *masks.shape[-2:]),
                           proj.reshape(K * V, 1, -1, 2), align_corners=False).reshape(K, V, -1)
    hull = inside.prod(1)  # (K, cells)
    pixel = ((proj + 1) / 2 * res).floor().long().clamp(0, res - 1)
    splat = torch.zeros(K, V, res * res).scatter_reduce(2, pixel[..., 1] * res + pixel[..., 0],
                                                        hull[:, None].expand(-1, V, -1), "amax")
    target = F.adaptive_avg_pool2d(masks, res).reshape(1, V, -1)
    return (torch.minimum(splat, target).sum(-1) / target.sum(-1).clamp_min(1)).mean(1)


def refine(pose: torch.Tensor, masks: torch.Tensor, groups, steps=(0.03, 0.015, 0.007)) -> torch.Tensor:
    """One object's cameras (V, 7) moved view by view, each ``groups`` pair of numbers over a 5 x 5 grid
    (elevation and log-scale at twice the step), keeping the best coverage; shared scale and shift removed."""
    p = pose.clone()
    for step in steps:
        for parts in groups if step > steps[-1] else groups[:1]:
            g = torch.arange(-2, 3) * step * (2 if parts == (2, 3) else 1)
            grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
            for k in range(p.shape[0]):
                candidates = p[None].repeat(len(grid), 1, 1)
                candidates[:, k, parts[0]] += grid[:, 0]
                candidates[:, k, parts[1]] += grid[:, 1]
                p = candidates[coverage(candidates, masks).argmax()]
    p[:, 3] -= (p[:, 3] - pose[:, 3]).mean()
    return _shared_offset_removed(p[None], pose[None])[0]  # the changes less one 3D shift of the object


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pipeline")
    ap.add_argument("--data", default="data/objects")
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=128)
    ap.add_argument("--parts", nargs="+", choices=sorted(PARTS), default=["offsets"])
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    pipe = LDDBMPipeline.load(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    encoder = pipe.source_encoder.float().eval()
    data = MultiViewVoxels(args.data, args.split, num_views=4, image_size=encoder.config.image_size,
                           foreground_ratio=encoder.config.foreground_ratio, poses=True)
    n = min(args.limit, len(data))
    scores = {"estimated": [], **{f"refined_{p}": [] for p in args.parts}}
    offset_mae = {name: [] for name in scores}
    seconds = {p: 0.0 for p in args.parts}
    done = 0
    for views, inputs, true, target, estimated in object_batches(encoder, data, n, "turntable"):
        masks = silhouettes(views)
        for name in scores:
            pose = estimated
            if name != "estimated":
                t0 = time.perf_counter()
                pose = torch.stack([refine(estimated[i], masks[i], PARTS[name[8:]]) for i in range(len(views))])
                seconds[name[8:]] += time.perf_counter() - t0
            scores[name].append(iou_along(pipe, inputs, target, pose))
            offset_mae[name].append((pose[..., 5:7] - true[..., 5:7]).abs().mean((1, 2)))
        done += len(views)
        print(f"{done}/{n}: " + ", ".join(f"{k} {float(torch.cat(v).mean()):.4f}" for k, v in scores.items()), flush=True)
    report = {"pipeline": args.pipeline, "split": args.split, "objects": n, "view_order": "turntable",
              "iou_heun10": {k: float(torch.cat(v).mean()) for k, v in scores.items()},
              "offset_mae": {k: float(torch.cat(v).mean()) for k, v in offset_mae.items()},
              "seconds_per_object": {k: v / n for k, v in seconds.items()}, "threads": torch.get_num_threads(),
              "command": "python benchmarks/silhouette_refinement.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
