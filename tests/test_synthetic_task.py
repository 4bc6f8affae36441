"""The quick synthetic task: it trains on the CPU and translates far better than the mean."""

from pathlib import Path

import pytest

from lddbm.pipeline import LDDBMPipeline
from lddbm.presets import apply_overrides, get_preset, load_preset
from lddbm.tasks import SampleOptions, get_task
from lddbm.train import train

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "synthetic"


@pytest.mark.slow  # trains end to end: ~40 s on two idle cores
def test_synthetic_task_trains_and_beats_the_mean_baseline(tmp_path):
    # A small network on the short bridge (sigma_max 1, the digits' and novel views' setting) learns the task in
    # 100 steps: mse ratio 0.13-0.17 over seeds 0-2, where the preset's sigma_max 80 is still at 0.59 after 200.
    preset = apply_overrides(get_preset("synthetic"), {
        "bridge.sigma_max": "1", "denoiser.hidden_size": "64", "denoiser.depth": "2",
        "train.steps": "100", "train.batch_size": "32", "train.warmup_steps": "20",
        "train.eval_every": "100", "train.save_every": "100", "train.eval_size": "128",
    })
    result = train(preset, tmp_path, progress=False)
    report = result["eval"]
    assert report["samples"] == 128
    assert report["mse_ratio_to_baseline"] < 0.5, report


@pytest.mark.parametrize("sampler, steps, card_ratio", [("heun", 10, 0.024), ("dbim", 10, 0.019)])
def test_shipped_checkpoint_reproduces_its_model_card(sampler, steps, card_ratio):
    pipe = LDDBMPipeline.load(CHECKPOINT)
    pipe.set_progress_bar_config(disable=True)
    preset = load_preset(CHECKPOINT / "preset.json")
    report = get_task(preset).evaluate(pipe, preset, "test", None, SampleOptions(steps=steps, sampler=sampler))
    assert report["samples"] == 512
    assert report["mse_ratio_to_baseline"] == pytest.approx(card_ratio, abs=0.001)


def test_bench_runs_a_grid_of_samplers_and_steps(tmp_path):
    import json

    from lddbm.__main__ import main as cli

    out = tmp_path / "bench.json"
    assert cli(["bench", "synthetic", "--checkpoint", str(CHECKPOINT), "--limit", "16", "--samplers", "dbim", "heun",
                "--steps", "1", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["sampler"], r["steps"]) for r in rows] == [("dbim", 1), ("dbim", 2), ("heun", 1), ("heun", 2)]
    assert all(r["nfe"] >= 1 for r in rows)
