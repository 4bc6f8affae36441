"""Markdown tables for the README from the JSON reports in results/ (written by eval / bench).

    python benchmarks/report_3d.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def row(label: str, r: dict, extra: str = "") -> str:
    return (f"| {label} | {extra}{r['sampler']} {r['steps']} | {r['nfe']} | {r['iou']:.3f} | {r['fscore@1%']:.3f} | "
            f"{r['chamfer_l1']:.4f} | {r['1-nna']:.3f} | {r['latency_seconds']:.3f} |")


def main() -> None:
    head = ("| model | sampler, steps | NFE | IoU | F-score@1% | Chamfer-L1 | 1-NNA | s / object |\n"
            "|---|---|---|---|---|---|---|---|")
    print(head)
    for label, name in [("LDDBM, 42 min", "multiview3d_42min_test.json"),
                        ("deterministic baseline (t = T only), 42 min", "regression_42min_test.json"),
                        ("LDDBM shipped, 4 views", "multiview3d_test_4views.json"),
                        ("LDDBM shipped, 1 view", "multiview3d_test_1view.json")]:
        r = load(name)
        if r:
            print(row(label, r))
    shipped = load("multiview3d_test_4views.json")
    if shipped:
        print("\n| category | objects | IoU |\n|---|---|---|")
        for cat, v in shipped["per_category"].items():
            print(f"| {cat} | {v['objects']} | {v['iou']:.3f} |")
    bench = load("multiview3d_bench.json")
    if bench:
        print("\n| sampler | steps | NFE | IoU | 1-NNA | s / object (1 object) |\n|---|---|---|---|---|---|")
        for r in bench["rows"]:
            print(f"| {r['sampler']} | {r['steps']} | {r['nfe']} | {r['iou']:.3f} | {r['1-nna']:.3f} | {r['latency_seconds']:.3f} |")


if __name__ == "__main__":
    main()
