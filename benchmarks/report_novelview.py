"""Markdown tables for the README's novel-view section from the JSON reports that
``python -m lddbm eval novelview ... --json`` and ``bench novelview ... --json`` write.

    python benchmarks/report_novelview.py results/novelview_test_1view.json results/novelview_test_4views.json ...
    python benchmarks/report_novelview.py --bench results/novelview_bench.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METHODS = {"copy": "nearest input view (copy)", "copy_framed": "nearest input view as the model sees it (framed, copy)",
           "baseline": "regression (t = T only)", "lddbm": "LDDBM"}


def cell(block: dict, bucket: str | None, key: str, fmt: str) -> str:
    source = block if bucket is None else block.get("per_bucket", {}).get(bucket, {})
    return format(source[key], fmt) if key in source else "—"


def eval_rows(report: dict, label: str = "") -> list[str]:
    rows = []
    for method, name in METHODS.items():
        if not isinstance(report.get(method), dict):  # "baseline" holds the folder name, or None without one
            continue
        b = report[method]
        nfe = report.get("nfe_per_method", {}).get(method, "")
        rows.append(f"| {report['views']} | {label}{name} | {nfe} | {cell(b, None, 'psnr', '.2f')} | "
                    + " | ".join(cell(b, k, "psnr", ".2f") for k in ("near", "side", "back"))
                    + f" | {cell(b, None, 'ssim', '.3f')} | {cell(b, None, 'gradient_energy_ratio', '.2f')} | "
                    f"{cell(b, None, 'kid', '.4f')} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="*", help="eval --json reports")
    ap.add_argument("--bench", help="a bench --json report: quality against NFE")
    args = ap.parse_args()
    if args.reports:
        print("| views | model | NFE | PSNR | near | side | back | SSIM | gradient-energy ratio | KID |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for path in args.reports:
            report = json.loads(Path(path).read_text())
            stochastic = report.get("churn") or report.get("eta")
            for line in eval_rows(report, f"(churn {report['churn']}) " if report.get("churn") else
                                  f"(eta {report['eta']}) " if stochastic else ""):
                print(line)
    if args.bench:
        rows = json.loads(Path(args.bench).read_text())["rows"]
        print("| sampler | steps | NFE | PSNR | SSIM | gradient-energy ratio | s / view |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            b = r["lddbm"]
            print(f"| {r['sampler']} | {r['steps']} | {r['nfe']} | {b['psnr']:.2f} | {b['ssim']:.3f} | "
                  f"{b['gradient_energy_ratio']:.2f} | {r['seconds_per_view']:.3f} |")


if __name__ == "__main__":
    main()
