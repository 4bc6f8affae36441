"""The shipped x4 super-resolution checkpoint loads and reproduces its model card's figures on the
held-out examples (assets/sr4x: 128x128 inputs and their 512x512 originals)."""

import json
from pathlib import Path

import pytest

from lddbm.pipeline import LDDBMPipeline
from lddbm.tasks.superres.upscale import example_scores, pipeline_scale

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "sr4x"
EXAMPLES = ROOT / "assets" / "sr4x"
CARD = CHECKPOINT / "card_metrics.json"


@pytest.mark.skipif(not CARD.is_file(), reason="no sr4x checkpoint with card_metrics.json")
def test_shipped_sr4x_checkpoint_matches_its_card():
    pipe = LDDBMPipeline.load(CHECKPOINT)
    pipe.set_progress_bar_config(disable=True)
    assert sum(f.stat().st_size for f in CHECKPOINT.rglob("*") if f.is_file()) <= 25 * 2**20
    assert pipe.scheduler.config.sampler == "dbim" and pipe.scheduler.config.num_inference_steps == 1
    card = json.loads(CARD.read_text())
    scores = example_scores(pipe, EXAMPLES)  # clean bicubic x4 inputs
    assert scores["examples"] >= 4
    assert scores["examples_psnr_rgb"] == pytest.approx(card["examples_psnr_rgb"], abs=0.05)
    assert scores["examples_bicubic_psnr_rgb"] == pytest.approx(card["examples_bicubic_psnr_rgb"], abs=1e-6)
    assert scores["examples_psnr_rgb"] > scores["examples_bicubic_psnr_rgb"]


# The other shipped super-resolution models score on the same examples' originals, degraded as their
# card says: "sr4x_real" by the evaluation's fixed JPEG + noise chain, "sr8x" by bicubic x8.
OTHERS = {"sr4x_real": (4, "jpeg_noise"), "sr8x": (8, "bicubic")}


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_other_shipped_sr_checkpoints_match_their_cards(name):
    folder = ROOT / "checkpoints" / name
    if not (folder / "card_metrics.json").is_file():
        pytest.skip(f"no {name} checkpoint with card_metrics.json")
    scale, how = OTHERS[name]
    pipe = LDDBMPipeline.load(folder)
    pipe.set_progress_bar_config(disable=True)
    assert sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) <= 25 * 2**20
    card = json.loads((folder / "card_metrics.json").read_text())
    scores = example_scores(pipe, EXAMPLES, how)
    assert pipeline_scale(pipe) == scale
    for key, tolerance in (("examples_psnr_rgb", 0.05), ("examples_bicubic_psnr_rgb", 1e-6),
                           ("examples_blockiness_over_bicubic", 0.01)):
        assert scores[key] == pytest.approx(card[key], abs=tolerance), key
