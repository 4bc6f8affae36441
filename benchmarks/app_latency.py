"""Time the demo's handlers on the shipped examples at default settings.

    python benchmarks/app_latency.py [--json OUT]

Views -> 3D: the handler's wall time per example (model, marching cubes, Plotly figure, GLB/OBJ/STL
files): what a click on an example costs before the browser draws the figure. Super-resolution:
the wall time of each example's 128x128 -> 512x512 upscale (tiles, PNG file, PSNR/SSIM).
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
from app.tabs import superres, views3d  # noqa: E402
from lddbm.framing import DEFAULT_FOREGROUND_RATIO  # noqa: E402


def time_3d() -> dict:
    common.pipeline("multiview3d")  # loading happens once at start-up, not per click
    sets = views3d.example_sets()

    def run(paths):  # the demo's defaults: background removal on, the shipped framing, 10 Heun steps, 1 sample
        return views3d.views_to_3d(paths, True, DEFAULT_FOREGROUND_RATIO, 10, "heun", 1.0, 0.0, 0, False, 0.5, 1,
                                   progress=lambda *a, **k: None)

    run(sets[0][1])  # warm-up
    rows = []
    for name, paths in sets:
        start = time.perf_counter()
        _figure, _downloads, info, _seen, _frames = run(paths)
        rows.append({"example": name, "seconds": time.perf_counter() - start, "info": info})
    return summary(rows)


def time_sr() -> dict:
    common.pipeline("sr4x")
    examples = superres.example_files()

    def run(path):
        return superres.super_resolve(path, "×4", common.checkpoint_steps("sr4x"), common.checkpoint_sampler("sr4x"),
                                      1.0, 0.0, 0, False, progress=lambda *a, **k: None)

    run(examples[0])  # warm-up
    rows = []
    for path in examples:
        start = time.perf_counter()
        _, _, info = run(path)
        rows.append({"example": Path(path).parent.name, "seconds": time.perf_counter() - start, "info": info})
    return summary(rows)


def summary(rows: list[dict]) -> dict:
    seconds = [r["seconds"] for r in rows]
    return {"examples": rows, "median_seconds": statistics.median(seconds), "max_seconds": max(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    report = {"device": common.DEVICE, "torch_threads": torch.get_num_threads(), "views_to_3d": time_3d()}
    if superres.available_scales():
        report["super_resolution"] = time_sr()
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
