"""The visual hull (lddbm.tasks.multiview3d.hull) on a built 3D data set: IoU with the true voxels at V views.

The views are the ones the model evaluation uses (evenly spread over the stored ones); the hull is
given their exact masks and cameras, which the models never see.

    python benchmarks/visual_hull.py --data data/furniture --split test --views 1 4 12 --json results/hull_furniture_test.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from lddbm.data.multiview import load_objects
    from lddbm.tasks.multiview3d.hull import visual_hull
    from lddbm.metrics import iou

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--views", type=int, nargs="+", default=[1, 4, 12])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json")
    args = ap.parse_args()
    ids, objects = load_objects(args.data, args.split, args.limit, masks=True)
    report = {"data": args.data, "split": args.split, "objects": len(ids), "given_cameras": True, "views": {}}
    for v in args.views:
        scores, by_source = [], defaultdict(list)
        for oid, obj in zip(ids, objects):
            picks = torch.linspace(0, len(obj["views"]), v + 1)[:-1].long().numpy()  # as MultiViewVoxels evaluates
            cameras = obj["cameras"][picks]
            if cameras.shape[1] == 3:  # builds before studios: the fixed 40 degree lens
                cameras = np.concatenate([cameras, np.full((len(cameras), 1), obj["meta"].get("fov", 40.0))], axis=1)
            hull = visual_hull(obj["masks"][picks], cameras, obj["voxels"].shape[0])
            score = float(iou(torch.from_numpy(hull).float()[None], torch.from_numpy(obj["voxels"]).float()[None]).mean())
            scores.append(score)
            by_source[obj["meta"].get("source", "sweethome3d")].append(score)
        report["views"][str(v)] = {"iou": float(np.mean(scores)),
                                   "per_source": {k: float(np.mean(s)) for k, s in sorted(by_source.items())}}
        print(json.dumps({"views": v, **report["views"][str(v)]}))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
