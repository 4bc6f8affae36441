"""Time the demo's digits handlers on the held-out examples at the tab's default settings (4 samples,
the checkpoint's steps, sampler and candidates per sample): what a click costs, model and captions included.

    python benchmarks/digits_latency.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app  # noqa: E402
import torch  # noqa: E402


def timed(handler, modality: str, name: str) -> dict:
    app.pipeline(name)  # loaded once at start-up, not per click
    steps, sampler = app.checkpoint_steps(name), app.checkpoint_sampler(name)
    examples = app.digit_examples(modality)
    handler(examples[0], samples=4, steps=steps, sampler=sampler)  # warm-up
    seconds = []
    for path in examples:
        start = time.perf_counter()
        handler(path, samples=4, steps=steps, sampler=sampler)
        seconds.append(time.perf_counter() - start)
    return {"examples": len(examples), "steps": steps, "sampler": sampler, "samples": 4,
            "candidates": app.checkpoint_candidates(name),
            "median_seconds": statistics.median(seconds), "max_seconds": max(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    models = app.digit_models()
    report = {"device": app.DEVICE, "torch_threads": torch.get_num_threads()}
    if "printed" in models:
        report["sketch_to_printed"] = timed(app.sketch_to_printed, "handwritten", models["printed"])
    if "handwritten" in models:
        report["printed_to_handwritten"] = timed(app.printed_to_handwritten, "printed", models["handwritten"])
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
