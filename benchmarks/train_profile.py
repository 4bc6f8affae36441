"""Where a training step's time goes: batch assembly (loading, framing, augmentation), each network's
forward, the backward pass and the optimiser, for any preset; samples per second at the end.

    python benchmarks/train_profile.py --preset objects3d --steps 12 --json results/train_profile_objects3d.json
    python benchmarks/train_profile.py --preset objects3d_lift --steps 12 --threads 2

The first ``--warmup`` steps are not counted. Forward times come from hooks on the objective's modules
(the target decoder runs twice a step: predictive and reconstruction losses); "other forward" is the
bridge and loss arithmetic. Extra ``--SECTION.FIELD VALUE`` options override the preset, as in train.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lddbm.source_batches import batch_len  # noqa: E402
from lddbm.__main__ import _overrides  # noqa: E402
from lddbm.presets import apply_overrides, get_preset  # noqa: E402
from lddbm.tasks import get_task  # noqa: E402
from lddbm.train import bridge_draws, build_objective, build_optimizer  # noqa: E402

MODULES = ("source_encoder", "target_encoder", "target_decoder", "denoiser")


def timed_modules(objective, totals: dict) -> None:
    """Accumulate each module's forward seconds into ``totals`` (hooks)."""
    for name in MODULES:
        module = getattr(objective, name)
        module.register_forward_pre_hook(lambda m, a, name=name: totals.__setitem__(f"_{name}", time.perf_counter()))
        module.register_forward_hook(lambda m, a, o, name=name: totals.__setitem__(
            name, totals[name] + time.perf_counter() - totals[f"_{name}"]))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="objects3d")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--bf16", action="store_true", help="forward under CPU autocast to bfloat16 (train.mixed_precision bf16)")
    ap.add_argument("--json")
    args, extra = ap.parse_known_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = apply_overrides(get_preset(args.preset), _overrides(extra))
    torch.manual_seed(0)
    task = get_task(preset)
    start = time.perf_counter()
    dataset = task.dataset(preset, "train")
    setup_s = time.perf_counter() - start
    objective = build_objective(preset).train()
    optimizer, _ = build_optimizer(objective, preset.train)
    totals: dict = defaultdict(float)
    timed_modules(objective, totals)
    batch_size = preset.train.batch_size
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            totals.clear()
        t0 = time.perf_counter()
        indices = torch.randint(len(dataset), (batch_size,)).tolist()
        batch = torch.utils.data.default_collate([dataset[i] for i in indices])
        t1 = time.perf_counter()
        source, target = batch["source"], batch["target"]
        t, noise = bridge_draws(preset, step * batch_size, batch_len(source), "cpu")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            losses = objective(source, target, t, noise, auxiliary=True)
        t2 = time.perf_counter()
        losses["total"].backward()
        t3 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        for key, value in (("batch", t1 - t0), ("forward", t2 - t1), ("backward", t3 - t2), ("optimizer", t4 - t3)):
            totals[key] += value
    n = args.steps
    per_step = {k: round(v / n, 4) for k, v in totals.items() if not k.startswith("_")}
    per_step["other forward"] = round(per_step["forward"] - sum(per_step.get(m, 0) for m in MODULES), 4)
    step_s = per_step["batch"] + per_step["forward"] + per_step["backward"] + per_step["optimizer"]
    report = {"preset": preset.name, "bf16": args.bf16, "batch_size": batch_size, "threads": torch.get_num_threads(), "steps": n,
              "dataset_setup_seconds": round(setup_s, 1), "seconds_per_step": round(step_s, 3),
              "samples_per_second": round(batch_size / step_s, 2), "per_step_seconds": per_step,
              "parameters_m": {m: round(sum(p.numel() for p in getattr(objective, m).parameters()) / 1e6, 3)
                               for m in MODULES}}
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
