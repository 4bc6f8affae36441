"""Training: the one place that owns the optimiser, EMA, accelerate, resuming and logging.

A run folder holds::

    preset.json      the full configuration (a resumed run reads it back)
    state/           the full training state: model, EMA, optimiser, LR schedule, step, RNG
    pipeline/        the slim export: an LDDBMPipeline folder with the EMA weights
    best/            the export that scored best on validation so far, by the task's ``selection_metric``
                     (``best/selection.json`` says which step and score); a resumed run keeps comparing with it
    log.jsonl        losses and evaluations, one JSON object per line

The same code runs on the CPU, one GPU, or several through ``accelerate launch``. With W processes,
process ``rank`` trains on global batches k*W+rank, DDP averages the gradients, and every sample's
bridge time and noise depend only on its position in the run: W processes with batch B train what one
process with batch W*B trains. After every step the processes agree whether to stop (train.max_minutes,
or SIGTERM / SIGINT received by any of them), so they stop at the same step and save together.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import logging
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Callable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from diffusers.training_utils import EMAModel
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from .denoiser import BridgeTransformer
from .errors import ConfigError, LDDBMError
from .losses import LDDBMObjective, LossWeights
from .pipeline import LDDBMPipeline
from .presets import SAMPLING_RENAMED, Preset, TrainConfig, save_preset
from .scheduler import BridgeScheduler
from .source_batches import batch_len, batch_to
from .tasks import SampleOptions, get_task

logger = logging.getLogger(__name__)
INIT_COMPONENTS = ("source_encoder", "target_encoder", "target_decoder", "denoiser")  # what --init-from loads


class RunFolderError(LDDBMError, RuntimeError):
    """A run folder that does not fit the request (e.g. --resume with nothing to resume)."""


@dataclass
class TrainProgress:
    """Checkpointed alongside the model so a resumed run knows where it is."""

    step: int = 0
    seconds: float = 0.0  # training wall time summed over all sessions of the run

    def state_dict(self) -> dict:
        return {"step": self.step, "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.seconds = int(state["step"]), float(state["seconds"])


class RunBatches(Sampler[list[int]]):
    """Batch k of a run is a slice of the seeded permutation of epoch k // batches_per_epoch.

    Batches are a pure function of (seed, k), so a resumed run continues with exactly the batches
    the interrupted one would have drawn. Process ``rank`` of ``world`` takes batches k*world+rank.

    ``on_epoch(epoch)`` (train() passes the dataset's ``set_epoch``, where it has one) is called
    before the first batch of each epoch, and before the first batch of a resumed run. It runs where
    the sampler runs, as the batch is requested: with ``DataLoader(num_workers=0)``, as in train(),
    right before that batch is fetched. Worker processes would not see it (they hold copies of the
    dataset), and prefetching would call it before the previous epoch's last batches are fetched.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1,
                 on_epoch: Callable[[int], None] | None = None):
        if n < batch_size:
            raise ValueError(f"The training set has {n} samples, fewer than one batch of {batch_size}.")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world
        self.on_epoch = on_epoch

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def __iter__(self):
        per_epoch = self.n // self.batch_size
        epoch, perm = -1, None
        for step in range(self.start, self.stop):
            k = step * self.world + self.rank
            if k // per_epoch != epoch:
                epoch = k // per_epoch
                perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
                if self.on_epoch is not None:
                    self.on_epoch(epoch)
            pos = k % per_epoch
            yield perm[pos * self.batch_size : (pos + 1) * self.batch_size].tolist()


def build_denoiser(preset: Preset) -> BridgeTransformer:
    d = preset.denoiser
    return BridgeTransformer(
        in_channels=preset.latent.channels,
        sample_size=preset.latent.size,
        patch_size=d.patch_size,
        hidden_size=d.hidden_size,
        depth=d.depth,
        encoder_depth=d.encoder_depth,
        num_heads=d.num_heads,
        mlp_ratio=d.mlp_ratio,
        num_mask_tokens=d.num_mask_tokens,
        num_classes=d.num_classes,
    )


def build_scheduler(preset: Preset) -> BridgeScheduler:
    """The scheduler a preset exports: its bridge, and its sampling section as the scheduler's defaults
    (SamplingConfig's fields are BridgeScheduler's sampling arguments, ``steps`` for ``num_inference_steps``)."""
    renamed = {v: k for k, v in SAMPLING_RENAMED.items()}
    sampling = {renamed.get(k, k): v for k, v in dataclasses.asdict(preset.sampling).items()}
    return BridgeScheduler(bridge=dataclasses.asdict(preset.bridge), **sampling)


def bridge_draws(preset: Preset, first: int, n: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Training times (n,) and noise (n, C, h, w) of the samples at positions first..first+n-1 of the run.

    A sample's draws depend only on (train.seed, its position), not on how the global batch is split
    over processes nor on where a run was resumed. Global batch k holds positions k*B..k*B+B-1.
    """
    lat, seed = preset.latent, preset.train.seed
    times, noises = [], []
    for position in range(first, first + n):
        # torch's CPU generator keeps 32 bits of its seed: hash (seed, position) into them
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed % 2**64, position]).generate_state(1)[0]))
        times.append(preset.bridge.sample_t(1, preset.loss.t_sampling, preset.sampling.rho, generator=g))
        noises.append(torch.randn(lat.channels, lat.size, lat.size, generator=g))
    return torch.cat(times).to(device), torch.stack(noises).to(device)


def condition_draws(preset: Preset, first: int, labels: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Condition dropout (loss.source_dropout / label_dropout) for the samples at positions first.. of the
    run: (the labels the denoiser sees, with the null index where dropped, or None for a denoiser without
    labels; drop_source (n,) bool, or None). Position-seeded like bridge_draws, from a stream of its own."""
    n, loss, seed = len(labels), preset.loss, preset.train.seed
    if preset.denoiser.num_classes == 0 and loss.source_dropout == 0:
        return None, None
    u = torch.stack([torch.rand(2, generator=torch.Generator().manual_seed(
        int(np.random.SeedSequence([seed % 2**64, position, 1]).generate_state(1)[0]))) for position in range(first, first + n)])
    drop_source = (u[:, 0] < loss.source_dropout).to(labels.device) if loss.source_dropout > 0 else None
    if preset.denoiser.num_classes == 0:
        return None, drop_source
    null = torch.full_like(labels, preset.denoiser.num_classes)
    return torch.where((u[:, 1] < loss.label_dropout).to(labels.device), null, labels), drop_source


class Stop(enum.Enum):
    """Why a run stops before train.steps."""

    TIME_LIMIT = "train.max_minutes"
    SIGNAL = "a signal"


class StopSignals:
    """While active, SIGTERM and SIGINT (Ctrl-C) only set ``received``; the training loop reads it
    between steps. Installed in the main thread only (Python delivers signals there).

    A second signal does not interrupt at once either: ``accelerate launch`` (torchrun) forwards the
    signal it receives, so a worker sees Ctrl-C twice. The launcher kills workers still running 30 s
    later (TORCH_ELASTIC_SHUTDOWN_TIMEOUT): enough to finish a step and save, unless an evaluation runs.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                previous = signal.getsignal(signum)
                if previous is not None:  # None: installed outside Python, and could not be restored
                    self._previous[signum] = signal.signal(signum, self._receive)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum


def _replace_dir(tmp: Path, final: Path) -> None:
    """Swap a fully written folder into place, so a kill never leaves half of one."""
    old = final.with_name(final.name + ".old")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _state_dir(run: Path) -> Path | None:
    for candidate in (run / "state", run / "state.old"):  # .old survives a kill mid-swap
        if candidate.is_dir():
            return candidate
    return None


def ema_copy(objective: LDDBMObjective, ema: EMAModel) -> LDDBMObjective:
    """A copy of every module with the EMA weights (the training modules stay untouched)."""
    model = copy.deepcopy(objective)
    ema.copy_to(model.parameters())
    return model


def pipeline_of(model: LDDBMObjective, preset: Preset) -> LDDBMPipeline:
    """The trained modules as a pipeline; the target encoder goes with them (it ranks candidates,
    ``num_candidates``, and lets evaluation measure the autoencoder's own reconstruction)."""
    return LDDBMPipeline(model.source_encoder, model.denoiser, build_scheduler(preset), model.target_decoder,
                         target_encoder=model.target_encoder)


def export(pipe: LDDBMPipeline, preset: Preset, folder: Path) -> None:
    """Write the slim pipeline folder, with the preset that made it (data settings included)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if preset.train.export_dtype == "float16":
        pipe = copy.deepcopy(pipe).to(torch.float16)
    pipe.save_pretrained(tmp, safe_serialization=True)
    save_preset(preset, tmp / "preset.json")
    _replace_dir(tmp, folder)


def train(preset: Preset, run_dir: str | Path, resume: bool = False, progress: bool = True,
          init_from: str | Path | None = None, init_components: tuple[str, ...] = INIT_COMPONENTS) -> dict:
    """Train ``preset`` into ``run_dir``; returns the final step, wall time and evaluation.

    ``init_from``: a pipeline folder (a shipped checkpoint or a run's ``pipeline/``, with its
    ``target_encoder/``) whose weights the modules start from, to fine-tune a model whose training
    state is gone; the optimiser, EMA and step count start fresh. ``init_components``: only those
    modules start from it (the others from the preset's initialisation).

    SIGTERM or SIGINT, received by any process, stops every process after the current step; they
    save the training state, then raise KeyboardInterrupt (``--resume`` continues).
    """
    if resume and init_from is not None:
        raise RunFolderError("--resume continues a run from its own state; --init-from starts a new run. Pass one of them.")
    run = Path(run_dir)
    _check_run_folder(run, resume)
    session = _Session(preset, run, init_from, init_components)
    session.start(resume)
    with StopSignals() as signals:
        session.fit(signals, progress)
    return session.result()


def _check_run_folder(run: Path, resume: bool) -> None:
    if not resume and _state_dir(run) is not None:
        raise RunFolderError(f"{run} already holds a training state: pass --resume, or choose another --output.")
    if resume and _state_dir(run) is None:
        raise RunFolderError(f"Nothing to resume in {run}: no state/ folder. Start without --resume.")


def build_objective(preset: Preset) -> LDDBMObjective:
    """Every trained module (the task's modalities and the denoiser) with the preset's losses."""
    loss_cfg = preset.loss
    return LDDBMObjective(
        **get_task(preset).build_modalities(preset),
        denoiser=build_denoiser(preset),
        bridge=preset.bridge,
        weights=LossWeights(
            loss_cfg.bridge_weight, loss_cfg.contrastive_weight, loss_cfg.predictive_weight, loss_cfg.reconstruction_weight,
            loss_cfg.pose_weight,
        ),
        temperature=loss_cfg.temperature,
        weighting=loss_cfg.weighting,
        detach_target=loss_cfg.detach_target,
    )


def load_weights(objective: LDDBMObjective, folder: str | Path, components: tuple[str, ...] = INIT_COMPONENTS) -> None:
    """Copy a pipeline folder's weights (any stored dtype) into ``objective``'s modules, in place: all of
    them, or only ``components`` (a new source encoder beside a trained voxel autoencoder, say)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    unknown = set(components) - set(INIT_COMPONENTS)
    if unknown or not components:
        raise RunFolderError(f"--init-components takes some of {', '.join(INIT_COMPONENTS)}; got {', '.join(components)}.")
    for name in components:
        file = folder / name / SAFETENSORS_WEIGHTS_NAME
        if not file.is_file():
            hint = " (only a run's pipeline/ or a checkpoint exported with it holds target_encoder/)" \
                if name == "target_encoder" else ""
            raise RunFolderError(f"{folder} has no {name}/ weights to start from{hint}.")
        module = getattr(objective, name)
        dtype = next(module.parameters()).dtype
        state = {k: v.to(dtype) for k, v in load_file(str(file)).items()}
        try:
            missing, unexpected = module.load_state_dict(state, strict=False)
            if unexpected:
                raise RuntimeError(f"Unexpected key(s) in state_dict: {', '.join(unexpected)}")
            if missing:  # a part the preset adds (e.g. a new head) starts from its initialisation
                logger.warning("%s/%s has no weights for %s: they start fresh", folder, name, ", ".join(missing))
        except RuntimeError as e:
            raise RunFolderError(f"{folder}/{name} does not fit the preset's {name} (train with the preset that made "
                                 f"it, e.g. --preset from its preset.json): {str(e).splitlines()[0]}") from e


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """train.lr's multiplier at a step: a linear warm-up, constant, then (train.decay_steps > 0) a linear
    cool-down that reaches zero at train.steps. A function of the step only, so a resumed run takes
    the same rates as an uninterrupted one."""
    warm = min(1.0, (step + 1) / max(cfg.warmup_steps, 1))
    if cfg.decay_steps <= 0:
        return warm
    return warm * min(1.0, max(0.0, (cfg.steps - step) / cfg.decay_steps))


def build_optimizer(objective: LDDBMObjective, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, LRScheduler]:
    """AdamW with the rates of lr_factor (warm-up, constant, optional linear cool-down)."""
    optimizer = torch.optim.AdamW(objective.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    return optimizer, lr_schedule


class _Session:
    """One session of a run: the prepared modules, EMA and progress, and the steps train() takes."""

    def __init__(self, preset: Preset, run: Path, init_from: str | Path | None = None,
                 init_components: tuple[str, ...] = INIT_COMPONENTS):
        self.preset, self.run, self.cfg, self.init_from = preset, run, preset.train, init_from
        self.init_components = tuple(init_components)
        self.accelerator = Accelerator(
            mixed_precision=self.cfg.mixed_precision,
            step_scheduler_with_optimizer=False,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],  # aux losses skip modules
        )
        set_seed(self.cfg.seed)  # identical initial weights on every process
        self.task = get_task(preset)
        objective = build_objective(preset)
        if init_from is not None:
            load_weights(objective, init_from, self.init_components)
        optimizer, lr_schedule = build_optimizer(objective, self.cfg)
        self.objective, self.optimizer, self.lr_schedule = self.accelerator.prepare(objective, optimizer, lr_schedule)
        self.raw = self.accelerator.unwrap_model(self.objective)
        self.ema = EMAModel(self.raw.parameters(), decay=self.cfg.ema_decay)
        self.ema.to(self.accelerator.device)
        self.progress = TrainProgress()
        self.accelerator.register_for_checkpointing(self.ema, self.progress)
        self.metrics: dict = {}

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def start(self, resume: bool) -> None:
        """Load the saved state, or give each process its own random stream (data augmentation)."""
        if resume:
            self.accelerator.load_state(str(_state_dir(self.run)))
            logger.info("Resumed %s at step %d", self.run, self.progress.step)
        else:
            set_seed(self.cfg.seed + self.accelerator.process_index)
        if self.is_main:
            self.run.mkdir(parents=True, exist_ok=True)
            save_preset(self.preset, self.run / "preset.json")
            if self.init_from is not None:
                record = {"step": 0, "init_from": str(self.init_from)}
                if self.init_components != INIT_COMPONENTS:
                    record["init_components"] = list(self.init_components)
                self.log(record)

    def fit(self, signals: StopSignals, progress: bool) -> None:
        """Train from the current step to train.steps, or until the processes agree to stop."""
        cfg, state = self.cfg, self.progress
        bar = tqdm(total=cfg.steps, initial=state.step, disable=not (progress and self.is_main),
                   desc=f"train {self.preset.name}")
        session_start, session_base = time.perf_counter(), state.seconds
        stop = None
        self.objective.train()
        try:
            for step, batch in zip(range(state.step, cfg.steps), self.batches()):
                losses = self.train_step(step, batch)
                state.seconds = session_base + time.perf_counter() - session_start
                bar.update(1)
                if state.step % cfg.log_every == 0 or state.step == cfg.steps:
                    values = self.log_losses(losses)
                    bar.set_postfix({k: f"{v:.4f}" for k, v in values.items() if k != "total"})
                stop = self.agree_to_stop(signals.received is not None)
                self.evaluate_and_save(stop)
                if stop is not None:
                    break
        except KeyboardInterrupt:
            # raised by code, not by a signal: the other processes wait in a collective op and would not join a save
            if self.accelerator.num_processes == 1:
                logger.warning("Interrupted at step %d; saving the training state so --resume can continue.", state.step)
                self.save()
            raise
        finally:
            bar.close()
        if stop is not None and state.step < cfg.steps:
            logger.warning("Stopped by %s at step %d; the training state is saved (--resume continues).",
                           stop.value, state.step)
            if stop is Stop.SIGNAL:
                raise KeyboardInterrupt(f"signal {signals.received}" if signals.received else "a signal to another process")

    def evaluate_and_save(self, stop: Stop | None) -> None:
        """Evaluate and save when due: every eval_every / save_every steps, at the end, and on a stop
        (no evaluation on a signal: save before the launcher's grace period ends)."""
        step, cfg = self.progress.step, self.cfg
        finished = step == cfg.steps
        if finished or stop is Stop.TIME_LIMIT or (stop is None and step % cfg.eval_every == 0):
            self.evaluate()
        if finished or stop is not None or step % cfg.save_every == 0:
            self.save()

    def batches(self) -> DataLoader:
        """This process's batches from the current step on; tells the dataset each batch's epoch."""
        acc, cfg = self.accelerator, self.cfg
        dataset = self.task.dataset(self.preset, "train")
        sampler = RunBatches(len(dataset), cfg.batch_size, cfg.seed, self.progress.step, cfg.steps,
                             acc.process_index, acc.num_processes, on_epoch=getattr(dataset, "set_epoch", None))
        return DataLoader(dataset, batch_sampler=sampler, generator=torch.Generator())  # keeps the global RNG for resume

    def train_step(self, step: int, batch: dict) -> dict[str, torch.Tensor]:
        """One optimiser and EMA step on this process's share of global step ``step``; returns its losses."""
        acc, cfg, dev = self.accelerator, self.cfg, self.accelerator.device
        source, target = batch_to(batch["source"], dev), batch["target"].to(dev)
        first = (step * acc.num_processes + acc.process_index) * cfg.batch_size
        t, noise = bridge_draws(self.preset, first, batch_len(source), dev)
        auxiliary = self.preset.loss.strategy == "whole" or step % self.preset.loss.every_k == 0
        conditions = {}
        if self.preset.denoiser.num_classes or self.preset.loss.source_dropout:
            if "label" not in batch and self.preset.denoiser.num_classes:
                raise ConfigError(f"denoiser.num_classes is set but the {self.preset.data.kind} data has no labels.")
            labels, drop_source = condition_draws(self.preset, first, batch.get("label", torch.zeros(batch_len(source))).long().to(dev))
            conditions = {"labels": labels, "drop_source": drop_source}
        with acc.autocast():
            losses = self.objective(source, target, t, noise, auxiliary, **conditions)
        if not torch.isfinite(losses["total"]):
            raise FloatingPointError(f"Non-finite loss at step {step}: {({k: v.item() for k, v in losses.items()})}. "
                                     "Lower --train.lr.")
        acc.backward(losses["total"])
        if cfg.grad_clip > 0:
            acc.clip_grad_norm_(self.objective.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.lr_schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.step(self.raw.parameters())
        self.progress.step = step + 1
        return losses

    def log_losses(self, losses: dict[str, torch.Tensor]) -> dict[str, float]:
        """Log the losses averaged over the processes (collective: every process calls it at the same steps)."""
        mean = self.accelerator.reduce(torch.stack([v.detach().float() for v in losses.values()]), reduction="mean")
        values = {k: round(v, 5) for k, v in zip(losses, mean.tolist())}
        state, lr = self.progress, self.lr_schedule.get_last_lr()[0]
        self.log({"step": state.step, "seconds": round(state.seconds, 1), "lr": lr, **values})
        return values

    def agree_to_stop(self, signalled: bool) -> Stop | None:
        """Whether to stop after this step: each process reads its own clock and receives its own
        signals, and one all-reduce gives all of them the same answer, so they stop at the same step."""
        cfg = self.cfg
        out_of_time = cfg.max_minutes > 0 and self.progress.seconds >= 60 * cfg.max_minutes
        flags = torch.tensor([signalled, out_of_time], dtype=torch.float32, device=self.accelerator.device)
        anyone_signalled, anyone_out_of_time = (self.accelerator.reduce(flags, reduction="sum") > 0).tolist()
        if anyone_signalled:
            return Stop.SIGNAL
        return Stop.TIME_LIMIT if anyone_out_of_time else None

    def evaluate(self) -> None:
        """Score the EMA weights on the validation split (main process; the others go on)."""
        if not self.is_main:
            return
        cfg = self.cfg
        pipe = pipeline_of(ema_copy(self.raw, self.ema), self.preset)
        pipe.set_progress_bar_config(disable=True)
        self.metrics = self.task.evaluate(pipe, self.preset, "val", cfg.eval_size,
                                          SampleOptions(steps=cfg.eval_steps, batch_size=cfg.batch_size))
        self.log({"step": self.progress.step, "eval": self.metrics})
        logger.info("step %d eval %s", self.progress.step, self.metrics)
        self.keep_best(pipe)

    def keep_best(self, pipe: LDDBMPipeline) -> None:
        """Export ``pipe`` to ``best/`` when this evaluation beats every earlier one of the run (higher is
        better) by the task's ``selection_metric`` (or the one the evaluation names, ``"selection_metric"`` in its
        report: multi-view 3D's uploads_iou); a task without one keeps no ``best/``."""
        key = self.metrics.get("selection_metric") or self.task.selection_metric
        value = self.metrics.get(key) if key else None
        if not isinstance(value, (int, float)):
            return
        record = self.run / "best" / "selection.json"
        kept = json.loads(record.read_text()) if record.is_file() else {}
        # a best/ chosen by another metric (the run resumed with another setting) is replaced by the first score
        best = kept["value"] if kept and kept.get("metric", key) == key else float("-inf")
        if value <= best:
            return
        tmp = self.run / "best.new"
        export(pipe, self.preset, tmp)
        (tmp / "selection.json").write_text(json.dumps({"step": self.progress.step, "metric": key, "value": value,
                                                         "split": "val", "objects": self.cfg.eval_size}) + "\n")
        _replace_dir(tmp, self.run / "best")
        logger.info("step %d: best %s so far (%.4f), exported to %s", self.progress.step, key, value, self.run / "best")

    def save(self) -> None:
        """Write state/ and the pipeline/ export (collective: no process leaves before both are in place)."""
        acc, tmp = self.accelerator, self.run / "state.tmp"
        if self.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))
        acc.wait_for_everyone()
        if self.is_main:
            _replace_dir(tmp, self.run / "state")
            model = ema_copy(self.raw, self.ema)
            export(pipeline_of(model, self.preset), self.preset, self.run / "pipeline")
        acc.wait_for_everyone()

    def log(self, record: dict) -> None:
        if self.is_main:
            with (self.run / "log.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")

    def result(self) -> dict:
        state = self.progress
        return {"step": state.step, "seconds": state.seconds, "eval": self.metrics, "pipeline": str(self.run / "pipeline")}
