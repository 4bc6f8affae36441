"""Write the demo-examples figure of the novel-view model card (``card_metrics.json``, checked by
tests/test_novelview_checkpoint.py): the mean PSNR of the views generated for every true render of
each held-out example in assets/novelview, at the checkpoint's sampling defaults, seed 0.

    python benchmarks/novelview_card_metrics.py checkpoints/novelview
"""

import argparse
from pathlib import Path

import numpy as np

from cards import update_card_metrics

from lddbm.tasks.novelview.evaluation import score_examples
from lddbm.pipeline import LDDBMPipeline

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--examples", default=str(ROOT / "assets" / "novelview"))
    args = ap.parse_args()
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    scores = score_examples(pipe, args.examples)
    update_card_metrics(args.checkpoint, {
        "examples_psnr": float(np.mean(list(scores.values()))), "examples_psnr_each": scores,
        "examples": "assets/novelview: every true render of each example from its input views, the checkpoint's "
                    "defaults, seed 0"})


if __name__ == "__main__":
    main()
