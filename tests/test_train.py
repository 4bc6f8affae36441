import json

import pytest
import torch
from safetensors.torch import load_file

from lddbm import train as train_mod
from lddbm.__main__ import main as cli
from lddbm.presets import apply_overrides, get_preset
from lddbm.train import RunBatches, RunFolderError, train

TINY = {
    "latent.width": "8", "denoiser.hidden_size": "32", "denoiser.depth": "1", "denoiser.encoder_depth": "1",
    "denoiser.num_heads": "2", "train.batch_size": "16", "data.train_size": "128", "data.val_size": "32",
    "train.eval_size": "16", "train.eval_steps": "2", "train.eval_every": "1000", "train.log_every": "2",
    "train.steps": "12", "train.save_every": "6", "loss.strategy": "iterative", "loss.every_k": "3",
}


def tiny(**extra):
    return apply_overrides(get_preset("synthetic"), {**TINY, **{k: str(v) for k, v in extra.items()}})


def weights(run):
    return load_file(str(run / "state" / "model.safetensors"))


def test_run_batches_are_a_function_of_the_step():
    full = list(RunBatches(10, 3, seed=1, start=0, stop=7))
    assert list(RunBatches(10, 3, seed=1, start=4, stop=7)) == full[4:]
    assert all(len(b) == 3 for b in full)
    assert sorted(sum(full[:3], [])) == sorted(set(sum(full[:3], [])))  # an epoch has no repeats
    shards = [list(RunBatches(10, 3, seed=1, start=0, stop=3, rank=r, world=2)) for r in (0, 1)]
    assert shards[0][1] == list(RunBatches(10, 3, seed=1, start=0, stop=6))[2]


def test_resume_after_interruption_continues_and_matches(tmp_path, monkeypatch):
    straight = tmp_path / "straight"
    result = train(tiny(), straight, progress=False)
    assert result["step"] == 12
    assert (straight / "pipeline" / "model_index.json").is_file()

    # kill the second run while it fetches the batch of step 8: it saves its state and re-raises
    original_iter = RunBatches.__iter__

    def interrupted(self):
        for i, batch in enumerate(original_iter(self)):
            if self.start + i == 8:
                raise KeyboardInterrupt
            yield batch

    killed = tmp_path / "killed"
    monkeypatch.setattr(RunBatches, "__iter__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(), killed, progress=False)
    monkeypatch.setattr(RunBatches, "__iter__", original_iter)
    state = torch.load(killed / "state" / "custom_checkpoint_1.pkl", weights_only=False)
    assert state["step"] == 8

    with pytest.raises(RunFolderError, match="--resume"):
        train(tiny(), killed, progress=False)
    resumed = train(tiny(), killed, resume=True, progress=False)
    assert resumed["step"] == 12
    a, b = weights(straight), weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    steps = [json.loads(line)["step"] for line in (killed / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 12


def test_resume_without_state_is_a_clear_error(tmp_path):
    with pytest.raises(RunFolderError, match="Nothing to resume"):
        train(tiny(), tmp_path / "empty", resume=True, progress=False)


def test_exported_pipeline_holds_the_ema_weights(tmp_path):
    train(tiny(**{"train.steps": 4, "train.save_every": 4, "train.ema_decay": 0.5}), tmp_path, progress=False)
    from lddbm.pipeline import LDDBMPipeline

    raw = weights(tmp_path)
    pipe = LDDBMPipeline.load(tmp_path / "pipeline")
    exported = pipe.denoiser.state_dict()
    ema = torch.load(tmp_path / "state" / "custom_checkpoint_0.pkl", weights_only=False)
    key = "final.linear.weight"  # zero at init, so raw and EMA weights differ after a few steps
    assert not torch.equal(exported[key], raw[f"denoiser.{key}"])
    names = [n for n, _ in train_mod.LDDBMObjective.named_parameters(_objective_like(tmp_path))]
    assert torch.equal(exported[key], ema["shadow_params"][names.index(f"denoiser.{key}")])


def _objective_like(run):
    from lddbm.losses import LDDBMObjective, LossWeights
    from lddbm.presets import load_preset
    from lddbm.tasks import build_denoiser, get_task

    preset = load_preset(run / "preset.json")
    return LDDBMObjective(**get_task(preset).build_modalities(preset), denoiser=build_denoiser(preset),
                          bridge=preset.bridge, weights=LossWeights(1, 1, 1, 1), temperature=0.07, weighting="karras")


def test_cli_train_and_eval(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--preset", "synthetic", "--output", str(run), "--no-progress"]
    for key, value in {**TINY, "train.steps": "3", "train.save_every": "3"}.items():
        args += [f"--{key}", value]
    assert cli(args) == 0
    assert cli(["eval", "synthetic", "--checkpoint", str(run / "pipeline"), "--limit", "8", "--steps", "2",
                "--json", str(tmp_path / "r.json")] + [f"--{k}={v}" for k, v in TINY.items() if k.startswith("data.")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["samples"] == 8 and report["nfe"] == 3 and report["mse"] > 0
    assert cli(["train", "--preset", "synthetic", "--output", str(run), "--train.stepz", "1"]) == 2
    assert "Unknown option --train.stepz" in capsys.readouterr().err
