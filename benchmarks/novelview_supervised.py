"""A diagnostic for the novel-view task without the bridge: train the source encoder and the image
decoder of the ``novelview`` preset directly on the target views (plain MSE, 1 source view, no
augmentation) and print, every 100 steps, the training loss, the validation MSE and how much the
predictions vary across cameras within an object (the truth: ~0.042 on the random-studio furniture).

    python benchmarks/novelview_supervised.py --data data/furniture_random --steps 800 --paths both
    python benchmarks/novelview_supervised.py --paths global   # the spatial path switched off
    python benchmarks/novelview_supervised.py --data data/furniture --volume-channels 0   # no turned volume

If this does not learn to use the camera, the bridge will not either: the difficulty is the mapping.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.data import DataLoader

from lddbm.source_batches import batch_stack
from lddbm.presets import apply_overrides, get_preset
from lddbm.tasks import get_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/furniture_random")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--paths", choices=["both", "global"], default="both", help="global: the spatial path's output zeroed")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--val-objects", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--volume-channels", type=int, default=None, help="the encoder's volume_channels (default: its own)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    preset = apply_overrides(get_preset("novelview"), {"data.root": args.data, "data.augment": "false",
                                                      "data.num_views": "1"})
    task = get_task(preset)
    modules = task.build_modalities(preset)
    if args.volume_channels is not None:
        from lddbm.modalities import PosedViewsEncoder

        config = dict(modules["source_encoder"].config)
        config["volume_channels"] = args.volume_channels
        modules["source_encoder"] = PosedViewsEncoder(**{k: v for k, v in config.items() if not k.startswith("_")})
    encoder, decoder = modules["source_encoder"], modules["target_decoder"]
    if args.paths == "global":
        for p in encoder.out.parameters():
            p.data.zero_()
            p.requires_grad_(False)
    params = [p for p in (*encoder.parameters(), *decoder.parameters()) if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    loader = DataLoader(task.dataset(preset, "train"), batch_size=args.batch_size, shuffle=True)
    val = task.dataset(preset, "val")
    per_object = val.total_views - 1
    items = [val[i] for i in range(min(len(val), args.val_objects * per_object))]
    source, truth = batch_stack([it["source"] for it in items]), torch.stack([it["target"] for it in items])
    copy_mse = float((torch.stack([it["nearest"] for it in items]) - truth).pow(2).mean())
    truth_variance = float(truth.reshape(-1, per_object, *truth.shape[1:]).var(1).mean())
    start, step = time.perf_counter(), 0
    while step < args.steps:
        for batch in loader:
            loss = (decoder(encoder(batch["source"])) - batch["target"]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 100 == 0 or step == args.steps:
                encoder.eval()
                with torch.no_grad():
                    pred = decoder(encoder(source))
                encoder.train()
                print(json.dumps({
                    "step": step, "seconds": round(time.perf_counter() - start), "train_mse": round(loss.item(), 4),
                    "val_mse": round(float((pred - truth).pow(2).mean()), 4),
                    "val_mse_mean_image": round(float((truth.mean(0, keepdim=True) - truth).pow(2).mean()), 4),
                    "val_mse_copy": round(copy_mse, 4),
                    "prediction_variance_across_cameras": round(float(pred.reshape(-1, per_object, *pred.shape[1:]).var(1).mean()), 5),
                    "truth_variance_across_cameras": round(truth_variance, 5),
                }), flush=True)
            if step >= args.steps:
                break


if __name__ == "__main__":
    main()
