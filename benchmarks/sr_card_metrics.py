"""Write the demo-examples figure of a super-resolution model card (``card_metrics.json``, checked by
tests/test_sr4x_checkpoint.py): the assets/sr4x originals degraded as the model's card says, upscaled
at the checkpoint's defaults.

    python benchmarks/sr_card_metrics.py checkpoints/sr4x_real --degradation jpeg_noise
"""

import argparse
import json
from pathlib import Path

from lddbm.pipeline import LDDBMPipeline
from lddbm.superres import example_scores

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
    card = Path(args.checkpoint) / "card_metrics.json"
    kept = json.loads(card.read_text()) if card.is_file() else {}  # e.g. the "training" record
    kept.update({k: v for k, v in scores.items() if k != "examples"})
    card.write_text(json.dumps(kept, indent=1) + "\n")
    print(json.dumps(kept, indent=1))


if __name__ == "__main__":
    main()
