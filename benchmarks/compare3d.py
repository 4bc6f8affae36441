"""The paper's comparison on our 3D data: LDDBM vs conditional diffusion vs regression, with seeds.

Trains each method (same networks, data, batch and steps: the ``objects3d`` preset and its
``_diffusion`` and ``_regression`` baselines) for ``--steps`` steps per seed, then scores the test
split: at 4 views IoU, F-score@1%, Chamfer-L1, EMD and unpaired 1-NNA (each method with its own
default sampler: the bridge and the diffusion with Heun, the regression in one step); at 1 view
``--samples`` stochastic samples per object (churn 0.33), whose best-of-N IoU is set against the
regression's single answer. Writes one JSON per run and a summary (mean and std over seeds), and
prints the Markdown table.

Resumable: finished runs and scores are kept; an unfinished run continues from its saved state.
``--stop-after-minutes`` bounds this call's training time (the rest waits for the next call):

    python benchmarks/compare3d.py --steps 3000 --seeds 0 1 2 --stop-after-minutes 150 \
        --eval-data data/objects_fixed --out results/compare3d
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

METHODS = {"lddbm": "objects3d", "diffusion": "objects3d_diffusion", "regression": "objects3d_regression"}
METRICS_4 = ("iou", "fscore@1%", "chamfer_l1", "emd", "1-nna_unpaired")


def trained_minutes(run: Path) -> float:
    """Training wall time a run folder has logged so far (0 for a new run)."""
    log = run / "log.jsonl"
    if not log.is_file():
        return 0.0
    seconds = [json.loads(line).get("seconds", 0.0) for line in log.read_text().splitlines() if line.strip()]
    return max(seconds, default=0.0) / 60


def train_run(method: str, seed: int, args, deadline: float) -> Path | None:
    """The run's pipeline folder once it has trained ``args.steps`` steps; None if time ran out."""
    from lddbm.presets import apply_overrides, get_preset
    from lddbm.train import train

    run = Path(args.runs) / f"{method}_seed{seed}"
    done = run / "done.json"
    if done.is_file() and json.loads(done.read_text())["steps"] == args.steps:
        return run / "pipeline"
    left = (deadline - time.time()) / 60
    if left < 1:
        return None
    preset = apply_overrides(get_preset(METHODS[method]), {
        **dict(kv.split("=", 1) for kv in args.set),  # e.g. train.batch_size=16 for every method alike
        "data.root": args.data, "train.steps": str(args.steps), "train.seed": str(seed),
        "train.max_minutes": f"{trained_minutes(run) + left:.2f}", "train.eval_every": str(args.steps),
    })
    resume = (run / "state").is_dir()
    print(f"[compare3d] training {method} seed {seed} ({'resuming' if resume else 'new'}; {left:.0f} min left)",
          flush=True)
    result = train(preset, run, resume=resume, progress=not args.no_progress)
    if result["step"] < args.steps:
        return None
    done.write_text(json.dumps({"steps": result["step"], "minutes": result["seconds"] / 60}) + "\n")
    return run / "pipeline"


def score_run(method: str, seed: int, pipeline: Path, args) -> dict:
    """Test-split scores of one trained run (cached in OUT/METHOD_seedS.json)."""
    from lddbm.pipeline import LDDBMPipeline
    from lddbm.presets import apply_overrides, load_preset
    from lddbm.tasks import SampleOptions, get_task

    path = Path(args.out) / f"{method}_seed{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    pipe = LDDBMPipeline.load(pipeline)
    pipe.set_progress_bar_config(disable=True)
    base = apply_overrides(load_preset(pipeline / "preset.json"), {"data.root": args.eval_data})
    task = get_task(base)
    report = {"method": method, "preset": METHODS[method], "seed": seed, "steps": args.steps,
              "train_minutes": json.loads((pipeline.parent / "done.json").read_text())["minutes"]}
    four = apply_overrides(base, {"data.num_views": "4"})
    report["views4"] = task.evaluate(pipe, four, args.split, args.limit, SampleOptions(seed=seed))
    one = apply_overrides(base, {"data.num_views": "1"})
    stochastic = method != "regression"  # the regression answers in one deterministic step
    opts = SampleOptions(seed=seed, options={"churn": 0.33} if stochastic else {})
    report["views1"] = task.evaluate(pipe, one, args.split, args.limit, opts,
                                     samples=args.samples if stochastic else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def summarise(reports: list[dict], samples: int) -> dict:
    def mean_std(values: list[float]) -> list[float]:
        values = [v for v in values if not math.isnan(v)]
        return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0]

    summary = {}
    for method in METHODS:
        runs = [r for r in reports if r["method"] == method]
        if not runs:
            continue
        row = {"seeds": [r["seed"] for r in runs], "steps": runs[0]["steps"],
               "train_minutes": mean_std([r["train_minutes"] for r in runs])}
        row.update({f"{m}@4": mean_std([r["views4"][m] for r in runs]) for m in METRICS_4})
        row["iou@1"] = mean_std([r["views1"]["iou"] for r in runs])
        if "stochastic" in runs[0]["views1"]:
            row[f"best_of_{samples}_iou@1"] = mean_std([r["views1"]["stochastic"][f"iou_best_of_{samples}"] for r in runs])
        summary[method] = row
    return summary


def markdown(summary: dict, samples: int) -> str:
    cols = [f"{m}@4" for m in METRICS_4] + ["iou@1", f"best_of_{samples}_iou@1"]
    lines = ["| method | seeds | steps | " + " | ".join(cols) + " |", "|---" * (len(cols) + 3) + "|"]
    for method, row in summary.items():
        cells = [f"{row[c][0]:.3f} ± {row[c][1]:.3f}" if c in row else "—" for c in cols]
        lines.append(f"| {method} | {len(row['seeds'])} | {row['steps']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, required=True, help="training steps per run (the same for every method)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    ap.add_argument("--data", default="data/objects", help="training data (randomised studios)")
    ap.add_argument("--eval-data", default="data/objects", help="scored data (e.g. data/objects_fixed)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, help="score the first N test objects only")
    ap.add_argument("--samples", type=int, default=5, help="stochastic samples per object at 1 view (best of N)")
    ap.add_argument("--runs", default="runs/compare3d")
    ap.add_argument("--out", default="results/compare3d")
    ap.add_argument("--stop-after-minutes", type=float, default=0.0, help="training time for this call (0: no limit)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="preset overrides applied to every method alike, e.g. train.batch_size=16 train.warmup_steps=100")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    if any("=" not in kv for kv in args.set):
        ap.error("--set takes KEY=VALUE pairs, e.g. train.batch_size=16")

    deadline = time.time() + 60 * args.stop_after_minutes if args.stop_after_minutes > 0 else math.inf
    reports, pending = [], []
    for seed in args.seeds:  # seed-major: a partial result already holds every method once
        for method in args.methods:
            pipeline = train_run(method, seed, args, deadline)
            if pipeline is None:
                pending.append(f"{method} seed {seed}")
                continue
            reports.append(score_run(method, seed, pipeline, args))
    summary = summarise(reports, args.samples)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"summary": summary, "pending": pending, "split": args.split,
                                                  "eval_data": args.eval_data, "limit": args.limit}, indent=2) + "\n")
    print(markdown(summary, args.samples))
    if pending:
        print(f"[compare3d] not finished yet (run again to continue): {', '.join(pending)}")


if __name__ == "__main__":
    main()
