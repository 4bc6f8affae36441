"""The shipped x4 super-resolution checkpoint loads and reproduces its model card's figures on the
held-out examples (assets/sr4x: 128x128 inputs and their 512x512 originals)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lddbm.pipeline import LDDBMPipeline
from lddbm.superres import image_metrics, upscale

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "sr4x"
EXAMPLES = ROOT / "assets" / "sr4x"
CARD = CHECKPOINT / "card_metrics.json"


def examples_psnr(pipe: LDDBMPipeline) -> tuple[float, float]:
    """Mean RGB PSNR of LDDBM and of bicubic over the examples, at the checkpoint's defaults."""
    ours, bicubic = [], []
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        hr = Image.open(folder / "hr.png").convert("RGB")
        result = upscale(pipe, Image.open(folder / "lr.png"), seed=0)
        ours.append(image_metrics(result.image, hr, border=4)["psnr_rgb"])
        bicubic.append(image_metrics(result.bicubic, hr, border=4)["psnr_rgb"])
    assert len(ours) >= 4
    return float(np.mean(ours)), float(np.mean(bicubic))


@pytest.mark.skipif(not CARD.is_file(), reason="no sr4x checkpoint with card_metrics.json")
def test_shipped_sr4x_checkpoint_matches_its_card():
    pipe = LDDBMPipeline.load(CHECKPOINT)
    pipe.set_progress_bar_config(disable=True)
    assert sum(f.stat().st_size for f in CHECKPOINT.rglob("*") if f.is_file()) <= 25 * 2**20
    assert pipe.scheduler.config.sampler == "dbim" and pipe.scheduler.config.num_inference_steps == 2
    card = json.loads(CARD.read_text())
    ours, bicubic = examples_psnr(pipe)
    assert ours == pytest.approx(card["examples_psnr_rgb"], abs=0.05)
    assert bicubic == pytest.approx(card["examples_bicubic_psnr_rgb"], abs=1e-6)
    assert ours > bicubic


# The other shipped super-resolution models score on the same examples' originals, degraded as their
# card says: "sr4x_real" by the evaluation's fixed JPEG + noise chain, "sr8x" by bicubic x8.
OTHERS = {"sr4x_real": (4, "jpeg_noise"), "sr8x": (8, "bicubic")}


def degraded_examples_psnr(pipe: LDDBMPipeline, scale: int, how: str) -> tuple[float, float, float]:
    """Mean RGB PSNR of LDDBM and bicubic over the examples' originals degraded ``how``; and LDDBM's
    mean blockiness over bicubic's (1 when no worse)."""
    from lddbm.data.degradations import blockiness, degrade_for_eval

    ours, bicubic, blocks = [], [], []
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        hr = Image.open(folder / "hr.png").convert("RGB")
        result = upscale(pipe, degrade_for_eval(hr, scale, how, name=folder.name), seed=0)
        ours.append(image_metrics(result.image, hr, border=scale)["psnr_rgb"])
        bicubic.append(image_metrics(result.bicubic, hr, border=scale)["psnr_rgb"])
        blocks.append(blockiness(result.image, 8 * scale, scale) / blockiness(result.bicubic, 8 * scale, scale))
    return float(np.mean(ours)), float(np.mean(bicubic)), float(np.mean(blocks))


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
    ours, bicubic, blocks = degraded_examples_psnr(pipe, scale, how)
    assert ours == pytest.approx(card["examples_psnr_rgb"], abs=0.05)
    assert bicubic == pytest.approx(card["examples_bicubic_psnr_rgb"], abs=1e-6)
    assert blocks == pytest.approx(card["examples_blockiness_over_bicubic"], abs=0.01)
