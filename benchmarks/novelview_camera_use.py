"""Does a novel-view model use the camera? Variances within and across objects, and MSE against the
copy and mean-image baselines, on the first N objects of a split (1 source view, every other view
as a target). Prints JSON.

    python benchmarks/novelview_camera_use.py --checkpoint runs/novelview/pipeline --data data/furniture_random

A model that answers the camera has a prediction variance across cameras (within an object) of the
order of the truth's; one that ignores it has almost none, whatever its PSNR.
"""

from __future__ import annotations

import argparse
import json

import torch

from lddbm.source_batches import batch_stack
from lddbm.tasks.novelview.data import NovelViews
from lddbm.pipeline import LDDBMPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", default="data/furniture_random")
    ap.add_argument("--split", default="val")
    ap.add_argument("--objects", type=int, default=6)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--sampler", default="heun")
    args = ap.parse_args()

    pipe = LDDBMPipeline.load(args.checkpoint).to(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    size = pipe.target_decoder.config.image_size
    data = NovelViews(args.data, args.split, num_views=1, image_size=size, limit_objects=args.objects)
    items = [data[i] for i in range(len(data))]
    source = batch_stack([it["source"] for it in items])
    truth = torch.stack([it["target"] for it in items])
    copy = torch.stack([it["nearest"] for it in items])
    with torch.no_grad():
        pred = pipe(source, num_inference_steps=args.steps, sampler=args.sampler,
                    generator=torch.Generator().manual_seed(0)).outputs
        latent = pipe.source_encoder(source)
    n = len(data.ids)
    per = lambda x: x.reshape(n, len(items) // n, *x.shape[1:])  # noqa: E731  (objects, cameras, ...)
    report = {
        "checkpoint": args.checkpoint, "split": args.split, "objects": n, "requests": len(items),
        "sampler": args.sampler, "steps": args.steps,
        "prediction_variance_across_cameras": float(per(pred).var(1).mean()),
        "truth_variance_across_cameras": float(per(truth).var(1).mean()),
        "source_latent_variance_across_cameras": float(per(latent).var(1).mean()),
        "source_latent_variance_across_objects": float(per(latent).mean(1).var(0).mean()),
        "mse": float((pred - truth).pow(2).mean()),
        "mse_copy": float((copy - truth).pow(2).mean()),
        "mse_mean_image": float((truth.mean(0, keepdim=True) - truth).pow(2).mean()),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
