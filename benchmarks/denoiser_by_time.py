"""How good is the denoiser at each bridge time, on inputs drawn as in training?

For a views -> 3D pipeline folder (with its ``target_encoder``) and a data split: encode the views
(x_T) and the true voxels (x_0), draw x_t from the bridge marginal q(x_t | x_0, x_T) at a grid of
times t, decode D(x_t, t, x_T) and score its IoU with the truth. Also prints how much of training
(the preset's time sampling) falls below each t. A denoiser that is good at t = T and at the ODE's
(noise-free) inputs but poor on noisy x_t at mid and low t makes every stochastic sampler fail.

    python benchmarks/denoiser_by_time.py --checkpoint checkpoints/multiview3d --data data/furniture \
        --split val --limit 32 --json results/denoiser_by_time.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    from lddbm.metrics import iou
    from lddbm.modalities import VoxelEncoder
    from lddbm.pipeline import LDDBMPipeline
    from lddbm.presets import apply_overrides, load_preset
    from lddbm.tasks import get_task

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--times", default="0.01,0.05,0.2,0.5,1,2,5,10,20,40,60,79.9")
    ap.add_argument("--json")
    args = ap.parse_args()

    folder = Path(args.checkpoint)
    pipe = LDDBMPipeline.load(folder)
    preset = apply_overrides(load_preset(folder / "preset.json"), {"data.root": args.data, "data.num_views": str(args.views)})
    target_encoder = VoxelEncoder.from_pretrained(folder / "target_encoder").eval()
    data = get_task(preset).dataset(preset, args.split)
    items = [data[i] for i in range(min(args.limit, len(data)))]
    views = torch.stack([it["source"] for it in items])
    voxels = torch.stack([it["target"] for it in items])  # (N, 1, G, G, G)
    bridge = pipe.scheduler.bridge
    g = torch.Generator().manual_seed(args.seed)
    rows = []
    with torch.no_grad():
        xT = pipe.encode_source(views)
        x0 = target_encoder(voxels)
        train_t = bridge.sample_t(100_000, preset.loss.t_sampling, preset.sampling.rho, generator=torch.Generator().manual_seed(0))
        for t in [float(v) for v in args.times.split(",")]:
            noise = torch.randn(x0.shape, generator=g)
            x_t = bridge.sample_marginal(x0, xT, t, noise)
            denoised = bridge.denoise(pipe.denoiser, x_t, t, xT)
            score = iou(pipe.target_decoder(denoised)[:, 0], voxels[:, 0]).mean().item()
            _, _, c = bridge.marginal_coefficients(t)
            rows.append({"t": t, "noise_std": float(c), "iou_of_D": score,
                         "latent_mse": float((denoised - x0).pow(2).mean()),
                         "share_of_training_below_t": float((train_t < t).double().mean())})
            print(json.dumps(rows[-1]))
        rows.append({"reconstruction_iou": iou(pipe.target_decoder(x0)[:, 0], voxels[:, 0]).mean().item()})
        print(json.dumps(rows[-1]))
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": str(folder), "split": args.split, "objects": len(items),
                                               "t_sampling": preset.loss.t_sampling, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
