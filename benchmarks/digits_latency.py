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

import torch  # noqa: E402

from app import common  # noqa: E402
from app.tabs import digits  # noqa: E402


def timed(handler, modality: str, name: str) -> dict:
    common.pipeline(name)  # loaded once at start-up, not per click
    steps, sampler = common.checkpoint_steps(name), common.checkpoint_sampler(name)
    examples = digits.example_files(modality)
    handler(examples[0], samples=4, steps=steps, sampler=sampler)  # warm-up
    seconds = []
    for path in examples:
        start = time.perf_counter()
        handler(path, samples=4, steps=steps, sampler=sampler)
        seconds.append(time.perf_counter() - start)
    return {"examples": len(examples), "steps": steps, "sampler": sampler, "samples": 4,
            "candidates": common.checkpoint_candidates(name),
            "median_seconds": statistics.median(seconds), "max_seconds": max(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    models = digits.available_models()
    report = {"device": common.DEVICE, "torch_threads": torch.get_num_threads()}
    if "printed" in models:
        report["sketch_to_printed"] = timed(digits.sketch_to_printed, "handwritten", models["printed"])
    if "handwritten" in models:
        report["printed_to_handwritten"] = timed(digits.printed_to_handwritten, "printed", models["handwritten"])
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
