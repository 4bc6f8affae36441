"""The shipped views -> 3D checkpoint loads and reproduces its model card's figure on the examples."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.metrics import iou
from lddbm.pipeline import LDDBMPipeline

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "multiview3d"
EXAMPLES = ROOT / "assets" / "multiview3d"
CARD_EXAMPLES_IOU = json.loads((CHECKPOINT / "card_metrics.json").read_text())["examples_iou_heun10"] \
    if (CHECKPOINT / "card_metrics.json").is_file() else None


@pytest.mark.skipif(CARD_EXAMPLES_IOU is None, reason="no multiview3d checkpoint with card_metrics.json")
def test_shipped_multiview3d_checkpoint_matches_its_card():
    pipe = LDDBMPipeline.load(CHECKPOINT)
    pipe.set_progress_bar_config(disable=True)
    assert sum(f.stat().st_size for f in CHECKPOINT.rglob("*") if f.is_file()) <= 25 * 2**20
    assert pipe.refiner is not None  # the shipped shapes are refined with the views' silhouettes
    scores = {True: [], False: []}
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        views = [Image.open(p) for p in sorted(folder.glob("view_*.png"))]
        truth = torch.from_numpy(np.load(folder / "voxels.npy")).float()[None]
        for refine in scores:
            out = pipe(views, num_inference_steps=10, sampler="heun", generator=torch.Generator().manual_seed(0),
                       refine=refine)
            scores[refine].append(iou(out.outputs, truth).item())
    assert len(scores[True]) >= 6
    assert np.mean(scores[True]) == pytest.approx(CARD_EXAMPLES_IOU, abs=0.01)
    card = json.loads((CHECKPOINT / "card_metrics.json").read_text())
    assert np.mean(scores[False]) == pytest.approx(card["examples_iou_heun10_unrefined"], abs=0.01)


def photo_example() -> Path:
    folders = sorted(EXAMPLES.glob("*-photo"))
    assert folders, "assets/multiview3d has no examples on photographs"
    return folders[0]


@pytest.mark.skipif(CARD_EXAMPLES_IOU is None, reason="no multiview3d checkpoint with card_metrics.json")
def test_sample_cli_on_a_photo_background_gives_the_shape(tmp_path, capsys):
    from lddbm.__main__ import main

    folder = photo_example()
    out = tmp_path / "shape.glb"
    assert main(["sample", "--checkpoint", str(CHECKPOINT), "--views", *map(str, sorted(folder.glob("view_*.png"))),
                 "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    predicted = torch.from_numpy(np.load(out.with_suffix(".npy"))).float()[None]
    truth = torch.from_numpy(np.load(folder / "voxels.npy")).float()[None]
    assert out.stat().st_size > 1000 and report["occupied"] > 0
    assert iou(predicted, truth).item() > 0.2  # the object's shape (0.32 when shipped), not an empty grid (before: 0.0-0.05)


@pytest.mark.skipif(CARD_EXAMPLES_IOU is None, reason="no multiview3d checkpoint with card_metrics.json")
def test_sample_cli_takes_the_views_in_turntable_order_unless_told_any(tmp_path, capsys):
    """The shipped checkpoint's default order is the turntable; --any-order reaches the encoder (another
    shape from the same views)."""
    from lddbm.__main__ import main

    folder = photo_example()
    views = [str(v) for v in sorted(folder.glob("view_*.png"))]
    assert json.loads((CHECKPOINT / "source_encoder" / "config.json").read_text())["view_order"] == "turntable"
    grids = {}
    for name, flags in (("turntable", []), ("any", ["--any-order"])):
        out = tmp_path / f"{name}.glb"
        assert main(["sample", "--checkpoint", str(CHECKPOINT), "--views", *views, "--out", str(out), *flags]) == 0
        grids[name] = torch.from_numpy(np.load(out.with_suffix(".npy"))).float()[None]
    capsys.readouterr()
    assert not torch.equal(grids["turntable"], grids["any"])
    truth = torch.from_numpy(np.load(folder / "voxels.npy")).float()[None]
    assert min(iou(g, truth).item() for g in grids.values()) > 0.2  # both the object (one object says no more:
    # which order scores better is measured over the test split, docs/multiview3d.md)


@pytest.mark.skipif(CARD_EXAMPLES_IOU is None, reason="no multiview3d checkpoint with card_metrics.json")
def test_app_handler_on_a_photo_background_gives_the_shape():
    from app.tabs import views3d

    views = [(str(p), None) for p in sorted(photo_example().glob("view_*.png"))]
    figure, downloads, info, *_ = views3d.views_to_3d(views, True, 0.75, 10, "heun", 1.0, 0.0, 0, False, 0.5, 1)
    assert [t.name for t in figure.data] == ["prediction", "ground truth"] and len(figure.data[0].x) > 100
