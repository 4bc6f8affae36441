"""Time the demo's views -> 3D handler on the shipped examples at default settings.

    python benchmarks/app_latency.py [--json OUT]

Reports the handler's wall time per example (model, marching cubes, Plotly figure, GLB/OBJ/STL
files): what a click on an example costs before the browser draws the figure.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    app.pipeline("multiview3d")  # loading happens once at start-up, not per click
    sets = app.example_sets()
    app.views_to_3d(sets[0][1], 10, "heun", 1.0, 0.0, 0, False, 0.5, 1)  # warm-up
    rows = []
    for name, paths in sets:
        start = time.perf_counter()
        *_, info, _frames, _slider, _gallery = app.views_to_3d(paths, 10, "heun", 1.0, 0.0, 0, False, 0.5, 1)
        rows.append({"example": name, "seconds": time.perf_counter() - start, "info": info})
    seconds = [r["seconds"] for r in rows]
    report = {"device": app.DEVICE, "examples": rows, "median_seconds": statistics.median(seconds), "max_seconds": max(seconds)}
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
