"""The shipped novel-view checkpoint loads, fits the size budget, answers the camera, and reproduces
its model card's figure on the shipped examples."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lddbm.tasks.novelview.evaluation import score_examples, synthesize_views
from lddbm.pipeline import LDDBMPipeline

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "novelview"
EXAMPLES = ROOT / "assets" / "novelview"
CARD = json.loads((CHECKPOINT / "card_metrics.json").read_text()) if (CHECKPOINT / "card_metrics.json").is_file() else None


@pytest.mark.skipif(CARD is None, reason="no novelview checkpoint with card_metrics.json")
def test_shipped_novelview_checkpoint_matches_its_card():
    pipe = LDDBMPipeline.load(CHECKPOINT)
    pipe.set_progress_bar_config(disable=True)
    assert sum(f.stat().st_size for f in CHECKPOINT.rglob("*") if f.is_file()) <= 25 * 2**20
    scores = score_examples(pipe, EXAMPLES)  # the checkpoint's own sampling defaults
    assert len(scores) >= 4
    assert np.mean(list(scores.values())) == pytest.approx(CARD["examples_psnr"], abs=0.05)
    views = [Image.open(p) for p in sorted(next(EXAMPLES.glob("*/")).glob("view_*.png"))]
    (left, right), _, _ = synthesize_views(pipe, views, [-90.0, 90.0], 25.0)
    assert np.abs(np.asarray(left, np.float32) - np.asarray(right, np.float32)).mean() > 1.0  # the camera matters
