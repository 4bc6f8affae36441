"""Write the demo-examples figure of a digits model card (``card_metrics.json``, checked by
tests/test_digits_checkpoint.py): the share of 4 samples per held-out example in assets/digits/<source>
that our classifier of the target modality reads as the example's digit, at the checkpoint's defaults, seed 0.

    python benchmarks/digits_card_metrics.py checkpoints/digits/h2p
"""

import argparse
from pathlib import Path

from cards import update_card_metrics

from lddbm.digits import DigitClassifier, example_coherence
from lddbm.pipeline import LDDBMPipeline
from lddbm.presets import load_preset

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--classifiers", default=str(ROOT / "checkpoints" / "digits" / "classifiers"))
    args = ap.parse_args()
    source, target = load_preset(Path(args.checkpoint) / "preset.json").data.direction.split("_to_")
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    judge = DigitClassifier.from_pretrained(Path(args.classifiers) / target).eval()
    examples = ROOT / "assets" / "digits" / source
    update_card_metrics(args.checkpoint, {
        "examples_coherence": example_coherence(pipe, judge, examples, source),
        "examples": f"assets/digits/{source}, 4 samples each, seed 0, the checkpoint's defaults"})


if __name__ == "__main__":
    main()
