"""Write the demo-examples figure of a super-resolution model card (``card_metrics.json``, checked by
tests/test_sr4x_checkpoint.py): the assets/sr4x originals degraded as the model's card says, upscaled
at the checkpoint's defaults.

    python benchmarks/sr_card_metrics.py checkpoints/sr4x_real --degradation jpeg_noise
"""

import argparse
from pathlib import Path

from cards import update_card_metrics

from lddbm.pipeline import LDDBMPipeline
from lddbm.tasks.superres.upscale import example_scores

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--examples", default=str(ROOT / "assets" / "sr4x"))
    ap.add_argument("--degradation", default="bicubic", choices=["bicubic", "jpeg_noise"])
    args = ap.parse_args()
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    scores = example_scores(pipe, args.examples, args.degradation)
    update_card_metrics(args.checkpoint, {k: v for k, v in scores.items() if k != "examples"})


if __name__ == "__main__":
    main()
