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
    robustness = [(label, load(name)) for label, name in [
        ("before (42 min, renders only)", "multiview3d_robustness_before.json"),
        ("LDDBM shipped (augmented, MaskNet)", "multiview3d_robustness.json"),
        ("deterministic baseline (augmented, MaskNet)", "regression_robustness.json")]]
    robustness = [(label, r) for label, r in robustness if r]
    if robustness:
        corruptions = list(robustness[0][1]["views_4"]["corruptions"])
        print("\n| model | views | " + " | ".join(corruptions) + " |\n|---|---|" + "---|" * len(corruptions))
        for label, r in robustness:
            for key in [k for k in r if k.startswith("views_")]:
                c = r[key]["corruptions"]
                print(f"| {label} | {r[key]['views']} | " + " | ".join(f"{c[k]['iou']:.3f}" if k in c else "–" for k in corruptions) + " |")
    seg = load("segmentation_test.json")
    if seg:
        kinds = list(next(iter(seg["methods"].values()))["mask_iou"])
        print("\n| segmenter | " + " | ".join(kinds) + " | mean | seconds / view |\n|---|" + "---|" * (len(kinds) + 2))
        for name, m in seg["methods"].items():
            print(f"| {name} | " + " | ".join(f"{m['mask_iou'][k]:.3f}" for k in kinds) +
                  f" | {m['mask_iou_mean']:.3f} | {m['segment_seconds_median']:.3f} |")


if __name__ == "__main__":
    main()
