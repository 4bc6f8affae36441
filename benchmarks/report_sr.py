"""Markdown tables for the README and model card from an ``eval sr`` JSON report.

    python benchmarks/report_sr.py results/sr4x_test.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {"bicubic": "bicubic", "lddbm": "LDDBM", "baseline": "second model (--baseline)", "waifu2x": "waifu2x photo",
          "waifu2x-denoise2": "waifu2x photo, denoise 2"}


def tables(report: dict) -> str:
    methods = list(report["mean"])
    seconds = report.get("seconds_per_image", {})
    lines = [f"Inputs: {report.get('degradation', 'bicubic')} x{report['scale']}, {report['images']} images; blockiness of "
             f"the originals {report['original_blockiness']:.3f}" if "original_blockiness" in report else "",
             "| method | PSNR RGB (dB) | SSIM RGB | PSNR Y (dB) | SSIM Y | gain over bicubic (PSNR / SSIM, RGB) | blockiness | s / image |",
             "|---|---|---|---|---|---|---|---|"]
    for m in methods:
        r = report["mean"][m]
        g = report["gain_over_bicubic"].get(m)
        gain = f"{g['psnr_rgb']:+.2f} dB / {g['ssim_rgb']:+.4f}" if g else "–"
        block = f"{r['blockiness']:.3f}" if "blockiness" in r else "–"
        secs = f"{seconds[m]:.1f}" if m in seconds else "–"
        lines.append(f"| {LABELS.get(m, m)} | {r['psnr_rgb']:.2f} | {r['ssim_rgb']:.4f} | {r['psnr_y']:.2f} | "
                     f"{r['ssim_y']:.4f} | {gain} | {block} | {secs} |")
    for name, why in report.get("peers_skipped", {}).items():
        lines.append(f"| {LABELS.get(name, name)} | skipped: {why} | | | | | | |")
    lines += ["", "| image (HR size) | " + " | ".join(f"{LABELS.get(m, m)} PSNR / SSIM" for m in methods) + " |",
              "|---|" + "---|" * len(methods)]
    for name, row in report["per_image"].items():
        cells = " | ".join(f"{row[m]['psnr_rgb']:.2f} / {row[m]['ssim_rgb']:.3f}" for m in methods)
        lines.append(f"| {name} ({row['size'][0]}×{row['size'][1]}) | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(tables(json.loads(Path(sys.argv[1]).read_text())))
