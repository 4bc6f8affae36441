"""Is the novel-view model underfit or overfit? The same fixed requests (each object's view 0 as the
reference, every other view a target; ``lddbm.tasks.novelview.data.evaluation_requests``) on objects it was
trained on and on held-out ones, beside copying the nearest input view.

    python benchmarks/novelview_fit.py checkpoints/novelview --data data/furniture --json results/novelview_fit.json

Training objects scoring about as held-out ones means underfit (the model has not learnt even what it
saw: more steps or capacity are what it lacks); far above them means it memorised (more objects are).
Needs the train split built (``build-data furniture --splits train``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lddbm.source_batches import batch_stack
from lddbm.tasks.novelview.data import NovelViews, evaluation_requests
from lddbm.metrics import psnr
from lddbm.pipeline import LDDBMPipeline
from lddbm.presets import load_preset
from lddbm.tasks import SampleOptions, translate


def score(pipe: LDDBMPipeline, data: NovelViews, seed: int) -> dict:
    items = [data[i] for i in range(len(data))]
    target = torch.stack([it["target"] for it in items])
    predicted, _ = translate(pipe, batch_stack([it["source"] for it in items]), SampleOptions(seed=seed))
    copy = torch.stack([it["nearest"] for it in items])
    ours, theirs = float(psnr(predicted, target).mean()), float(psnr(copy, target).mean())
    return {"objects": len(data.ids), "requests": len(items), "psnr": ours, "copy_psnr": theirs, "gain_over_copy": ours - theirs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--data", default="data/furniture")
    ap.add_argument("--objects", type=int, help="the first N objects of each split (default: all; the splits' first objects "
                    "are not a fair sample: ids sort by source)")
    ap.add_argument("--views", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    d = load_preset(Path(args.checkpoint) / "preset.json").data
    report = {"checkpoint": args.checkpoint, "views": args.views}
    for split in ("train", "test"):
        data = NovelViews(args.data, split, num_views=args.views, image_size=d.image_size,
                          foreground_ratio=d.foreground_ratio, augment=False, limit_objects=args.objects)
        # the evaluation's fixed requests on every split (a train split draws random ones per item otherwise)
        data.requests = [(i, *r) for i in range(len(data.ids)) for r in evaluation_requests(data.cameras[0], args.views)]
        report[split] = score(pipe, data, args.seed)
        print(f"{split}: {report[split]['objects']} objects, PSNR {report[split]['psnr']:.2f} dB, "
              f"copy {report[split]['copy_psnr']:.2f} dB, gain {report[split]['gain_over_copy']:+.2f} dB")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
