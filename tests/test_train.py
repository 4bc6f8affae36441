import dataclasses
import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import Dataset

from lddbm import train as train_mod
from lddbm.__main__ import main as cli
from lddbm.presets import apply_overrides, get_preset
from lddbm.tasks import get_task
from lddbm.presets import TrainConfig
from lddbm.train import RunBatches, RunFolderError, StopSignals, bridge_draws, lr_factor, train

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


def test_run_batches_tell_each_epoch_before_its_first_batch():
    told = []
    for step, _ in zip(range(2, 9), RunBatches(12, 3, seed=1, start=2, stop=9, on_epoch=told.append)):
        assert told[-1] == step // 4  # 4 batches an epoch; a resumed run (start=2) is told its epoch first
    assert told == [0, 1, 2]
    told.clear()
    list(RunBatches(12, 3, seed=1, start=1, stop=5, rank=1, world=2, on_epoch=told.append))  # batches 3, 5, 7, 9
    assert told == [0, 1, 2]


def test_bridge_draws_depend_on_the_position_only():
    preset = tiny()
    t, noise = bridge_draws(preset, 32, 8, "cpu")
    halves = [bridge_draws(preset, 32, 4, "cpu"), bridge_draws(preset, 36, 4, "cpu")]
    assert torch.equal(t, torch.cat([h[0] for h in halves])) and torch.equal(noise, torch.cat([h[1] for h in halves]))
    assert noise.shape == (8, preset.latent.channels, preset.latent.size, preset.latent.size)
    assert len(set(t.tolist())) == 8


def test_the_learning_rate_warms_up_holds_then_cools_down_to_zero():
    constant = TrainConfig(steps=100, warmup_steps=10)
    assert [lr_factor(s, constant) for s in (0, 9, 50, 99)] == [0.1, 1.0, 1.0, 1.0]
    wsd = TrainConfig(steps=100, warmup_steps=10, decay_steps=40)
    assert lr_factor(59, wsd) == 1.0 and lr_factor(80, wsd) == pytest.approx(0.5)
    assert lr_factor(99, wsd) == pytest.approx(1 / 40) and lr_factor(100, wsd) == 0.0
    # a resumed run that raises steps and decay_steps anneals from where it stopped
    longer = dataclasses.replace(wsd, steps=200, decay_steps=150)
    assert lr_factor(50, longer) == 1.0 and lr_factor(125, longer) == pytest.approx(0.5)


def test_stop_signals_set_a_flag_and_restore_the_handlers():
    before = signal.getsignal(signal.SIGINT)
    with StopSignals() as signals:
        assert signal.getsignal(signal.SIGINT) is not before  # else the kill below would stop pytest
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt
        assert signals.received == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before


class EpochRecorder(Dataset):
    """The synthetic training set, recording the epochs it is told and the epoch of every fetch."""

    def __init__(self, dataset: Dataset):
        self.dataset, self.epoch, self.told, self.fetched = dataset, None, [], []

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.told.append(epoch)

    def __getitem__(self, i: int) -> dict:
        self.fetched.append((self.epoch, i))
        return self.dataset[i]


def record_epochs(monkeypatch) -> list[EpochRecorder]:
    """Make train() use an EpochRecorder for its training set; returns the recorders it makes."""
    made = []
    task = get_task(tiny())

    def dataset(preset, split):
        made.append(EpochRecorder(task.dataset(preset, split)))
        return made[-1]

    monkeypatch.setattr(train_mod, "get_task", lambda preset: dataclasses.replace(task, dataset=dataset))
    return made


def signal_at(monkeypatch, step: int, signum: int) -> None:
    """Send ``signum`` to this process while train() fetches the batch of ``step``."""
    original_iter = RunBatches.__iter__

    def iterate(self):
        for i, batch in enumerate(original_iter(self)):
            if self.start + i == step:
                os.kill(os.getpid(), signum)
            yield batch

    monkeypatch.setattr(RunBatches, "__iter__", iterate)


def test_the_dataset_learns_each_batch_epoch_and_sigterm_stops_resumably(tmp_path, monkeypatch):
    # 64 samples, batches of 16: epoch = step // 4
    preset = tiny(**{"data.train_size": 64, "train.steps": 10, "train.save_every": 100})
    recorders = record_epochs(monkeypatch)
    train(preset, tmp_path / "straight", progress=False)
    straight = recorders[-1]
    assert straight.told == [0, 1, 2]
    batches = RunBatches(64, 16, seed=0, start=0, stop=10)
    assert straight.fetched == [(step // 4, i) for step, batch in enumerate(batches) for i in batch]

    killed = tmp_path / "killed"
    with monkeypatch.context() as patch:
        signal_at(patch, 5, signal.SIGTERM)  # step 5 ends, then the run saves and raises
        with pytest.raises(KeyboardInterrupt):
            train(preset, killed, progress=False)
    state = torch.load(killed / "state" / "custom_checkpoint_1.pkl", weights_only=False)
    assert state["step"] == 6
    assert recorders[-1].fetched == straight.fetched[: 6 * 16]

    train(preset, killed, resume=True, progress=False)
    assert recorders[-1].told == [1, 2]  # the resumed run starts in the middle of epoch 1
    assert recorders[-1].fetched == straight.fetched[6 * 16 :]
    a, b = weights(tmp_path / "straight"), weights(killed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)


def test_max_minutes_stops_evaluates_and_saves(tmp_path):
    result = train(tiny(**{"train.max_minutes": 1e-9}), tmp_path, progress=False)
    assert result["step"] == 1 and result["eval"]
    assert torch.load(tmp_path / "state" / "custom_checkpoint_1.pkl", weights_only=False)["step"] == 1


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
    from lddbm.tasks import get_task
    from lddbm.train import build_denoiser

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


def test_init_from_starts_a_new_run_from_a_pipelines_weights(tmp_path):
    from lddbm.pipeline import LDDBMPipeline

    train(tiny(**{"train.steps": 4, "train.save_every": 4}), tmp_path / "a", progress=False)
    shipped = tmp_path / "a" / "pipeline"
    objective = train_mod.build_objective(tiny())
    train_mod.load_weights(objective, shipped)
    saved = LDDBMPipeline.load(shipped)
    for name in ("source_encoder", "denoiser", "target_decoder"):
        for key, value in getattr(saved, name).state_dict().items():
            torch.testing.assert_close(getattr(objective, name).state_dict()[key], value.float(), rtol=0, atol=0, msg=key)

    # a run from those weights starts where they are, not from a new model's initial weights
    fresh = train(tiny(**{"train.steps": 2}), tmp_path / "fresh", progress=False)
    tuned = train(tiny(**{"train.steps": 2}), tmp_path / "tuned", progress=False, init_from=shipped)
    assert fresh["step"] == tuned["step"] == 2
    log = [json.loads(line) for line in (tmp_path / "tuned" / "log.jsonl").read_text().splitlines()]
    assert log[0] == {"step": 0, "init_from": str(shipped)}
    assert not torch.equal(weights(tmp_path / "fresh")["denoiser.final.linear.weight"],
                           weights(tmp_path / "tuned")["denoiser.final.linear.weight"])

    with pytest.raises(RunFolderError, match="does not fit the preset's denoiser"):
        train(tiny(**{"denoiser.hidden_size": 16}), tmp_path / "wrong", progress=False, init_from=shipped)
    with pytest.raises(RunFolderError, match="Pass one of them"):
        train(tiny(), tmp_path / "tuned", resume=True, progress=False, init_from=shipped)
    # only some modules: a new source encoder beside the trained autoencoder and denoiser
    partial = train_mod.build_objective(tiny())
    train_mod.load_weights(partial, shipped, ("target_encoder", "target_decoder", "denoiser"))
    for key, value in saved.denoiser.state_dict().items():
        torch.testing.assert_close(partial.denoiser.state_dict()[key], value.float(), rtol=0, atol=0, msg=key)
    with pytest.raises(RunFolderError, match="takes some of"):
        train_mod.load_weights(partial, shipped, ("decoder",))
    (shipped / "target_encoder" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(RunFolderError, match="no target_encoder/ weights"):
        train(tiny(), tmp_path / "other", progress=False, init_from=shipped)


def test_a_run_keeps_its_best_validation_export(tmp_path):
    """best/ holds the export that scored highest on validation by the task's selection metric (synthetic:
    PSNR), with the step and score in best/selection.json; it loads like any pipeline folder."""
    from lddbm.pipeline import LDDBMPipeline

    train(tiny(**{"train.eval_every": 4}), tmp_path, progress=False)
    evals = [r for r in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines()) if "eval" in r]
    assert [r["step"] for r in evals] == [4, 8, 12]
    chosen = json.loads((tmp_path / "best" / "selection.json").read_text())
    top = max(evals, key=lambda r: r["eval"]["psnr"])
    assert chosen["metric"] == "psnr" and chosen["step"] == top["step"] and chosen["value"] == top["eval"]["psnr"]
    assert LDDBMPipeline.load(tmp_path / "best").denoiser is not None
