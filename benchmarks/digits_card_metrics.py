"""Write the demo-examples figure of a digits model card (``card_metrics.json``, checked by
tests/test_digits_checkpoint.py): the share of 4 samples per held-out example in assets/digits/<source>
that our classifier of the target modality reads as the example's digit, at the checkpoint's defaults, seed 0;
with ``--test-report``, also the test-split figures of an ``eval digits --json`` report of the same checkpoint;
with ``--seeds N``, also the examples' figure at seeds 0..N-1 and its mean (40 draws move by 2.5 points each).

    python benchmarks/digits_card_metrics.py checkpoints/digits/h2p [--test-report results/....json] [--seeds 8]
"""

import argparse
import json
from pathlib import Path

from cards import update_card_metrics

from lddbm.tasks.digits.judges import DigitClassifier, example_coherence
from lddbm.pipeline import LDDBMPipeline
from lddbm.presets import load_preset

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--classifiers", default=str(ROOT / "checkpoints" / "digits" / "classifiers"))
    ap.add_argument("--test-report", help="an `eval digits --split test --json` report of this checkpoint")
    ap.add_argument("--seeds", type=int, default=1, help="also score the examples at seeds 0..N-1 (N > 1)")
    args = ap.parse_args()
    source, target = load_preset(Path(args.checkpoint) / "preset.json").data.direction.split("_to_")
    pipe = LDDBMPipeline.load(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    judge = DigitClassifier.from_pretrained(Path(args.classifiers) / target).eval()
    examples = ROOT / "assets" / "digits" / source
    fields = {"examples_coherence": example_coherence(pipe, judge, examples, source),
              "examples": f"assets/digits/{source}, 4 samples each, seed 0, the checkpoint's defaults"}
    if args.seeds > 1:
        per_seed = [example_coherence(pipe, judge, examples, source, seed=s) for s in range(args.seeds)]
        fields["examples_coherence_seeds"] = {"seeds": args.seeds, "mean": sum(per_seed) / len(per_seed),
                                              "per_seed": per_seed}
    if args.test_report:
        fields.update(card_test_figures(args.test_report))
    update_card_metrics(args.checkpoint, fields)


def card_test_figures(path: str) -> dict:
    """The card's "test" and "test_with_labels" records from an eval report (which must be of the test split)."""
    report = json.loads(Path(path).read_text())
    if report.get("split") != "test":
        raise SystemExit(f"{path} scores the {report.get('split')!r} split; the card records the test split.")
    keys = ("images", "nfe", "source_scale", "candidates", "cross_coherence", "kid", "single_draw",
            "linear_probe_accuracy")
    fields = {"test": {"report": path, **{k: report[k] for k in keys if k in report}}}
    if "with_labels" in report:
        fields["test_with_labels"] = report["with_labels"]
    return fields


if __name__ == "__main__":
    main()
