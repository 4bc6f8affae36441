"""Training: the one place that owns the optimiser, EMA, accelerate, resuming and logging.

A run folder holds::

    preset.json      the full configuration (a resumed run reads it back)
    state/           the full training state: model, EMA, optimiser, LR schedule, step, RNG
    pipeline/        the slim export: an LDDBMPipeline folder with the EMA weights
    log.jsonl        losses and evaluations, one JSON object per line

The same code runs on the CPU, one GPU, or several through ``accelerate launch``.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from .errors import LDDBMError
from .losses import LDDBMObjective, LossWeights
from .pipeline import LDDBMPipeline
from .presets import Preset, save_preset
from .tasks import SampleOptions, build_denoiser, build_scheduler, get_task

logger = logging.getLogger(__name__)


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
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1):
        if n < batch_size:
            raise ValueError(f"The training set has {n} samples, fewer than one batch of {batch_size}.")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world

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
            pos = k % per_epoch
            yield perm[pos * self.batch_size : (pos + 1) * self.batch_size].tolist()


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
    return LDDBMPipeline(model.source_encoder, model.denoiser, build_scheduler(preset), model.target_decoder)


def export(pipe: LDDBMPipeline, preset: Preset, folder: Path, target_encoder: torch.nn.Module | None = None) -> None:
    """Write the slim pipeline folder, with the preset that made it (data settings included).

    ``target_encoder`` (optional) is saved in ``target_encoder/`` beside the components: inference
    never needs it, but it lets evaluation measure the autoencoder's own reconstruction."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if preset.train.export_dtype == "float16":
        pipe = copy.deepcopy(pipe).to(torch.float16)
        target_encoder = copy.deepcopy(target_encoder).to(torch.float16) if target_encoder is not None else None
    pipe.save_pretrained(tmp, safe_serialization=True)
    if target_encoder is not None:
        target_encoder.save_pretrained(tmp / "target_encoder", safe_serialization=True)
    save_preset(preset, tmp / "preset.json")
    _replace_dir(tmp, folder)


def train(preset: Preset, run_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train ``preset`` into ``run_dir``; returns the final step, wall time and evaluation."""
    run = Path(run_dir)
    cfg, loss_cfg = preset.train, preset.loss
    if not resume and _state_dir(run) is not None:
        raise RunFolderError(f"{run} already holds a training state: pass --resume, or choose another --output.")
    if resume and _state_dir(run) is None:
        raise RunFolderError(f"Nothing to resume in {run}: no state/ folder. Start without --resume.")

    accelerator = Accelerator(
        mixed_precision=cfg.mixed_precision,
        step_scheduler_with_optimizer=False,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],  # aux losses skip modules
    )
    main = accelerator.is_main_process
    set_seed(cfg.seed)  # identical initial weights on every process
    task = get_task(preset)
    objective = LDDBMObjective(
        **task.build_modalities(preset),
        denoiser=build_denoiser(preset),
        bridge=preset.bridge,
        weights=LossWeights(
            loss_cfg.bridge_weight, loss_cfg.contrastive_weight, loss_cfg.predictive_weight, loss_cfg.reconstruction_weight
        ),
        temperature=loss_cfg.temperature,
        weighting=loss_cfg.weighting,
    )
    optimizer = torch.optim.AdamW(objective.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(cfg.warmup_steps, 1)))
    objective, optimizer, lr_schedule = accelerator.prepare(objective, optimizer, lr_schedule)
    raw = accelerator.unwrap_model(objective)
    ema = EMAModel(raw.parameters(), decay=cfg.ema_decay)
    ema.to(accelerator.device)
    state = TrainProgress()
    accelerator.register_for_checkpointing(ema, state)

    if resume:
        accelerator.load_state(str(_state_dir(run)))
        logger.info("Resumed %s at step %d", run, state.step)
    else:
        set_seed(cfg.seed + accelerator.process_index)  # distinct noise per process
    if main:
        run.mkdir(parents=True, exist_ok=True)
        save_preset(preset, run / "preset.json")

    dataset = task.dataset(preset, "train")
    batches = RunBatches(len(dataset), cfg.batch_size, cfg.seed, state.step, cfg.steps,
                         accelerator.process_index, accelerator.num_processes)
    loader = DataLoader(dataset, batch_sampler=batches, generator=torch.Generator())  # keeps the global RNG for resume
    lat, dev = preset.latent, accelerator.device
    log_file = run / "log.jsonl"

    def log(record: dict) -> None:
        if main:
            with log_file.open("a") as f:
                f.write(json.dumps(record) + "\n")

    def save() -> None:
        tmp = run / "state.tmp"
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if main:
            _replace_dir(tmp, run / "state")
            model = ema_copy(raw, ema)
            export(pipeline_of(model, preset), preset, run / "pipeline", target_encoder=model.target_encoder)

    def evaluate() -> dict:
        pipe = pipeline_of(ema_copy(raw, ema), preset)
        pipe.set_progress_bar_config(disable=True)
        return task.evaluate(pipe, preset, "val", cfg.eval_size, SampleOptions(steps=cfg.eval_steps, batch_size=cfg.batch_size))

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    if main and previous_handler is not None:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    bar = tqdm(total=cfg.steps, initial=state.step, disable=not (progress and main), desc=f"train {preset.name}")
    session_start, session_base = time.perf_counter(), state.seconds
    metrics: dict = {}
    objective.train()
    try:
        for step, batch in zip(range(state.step, cfg.steps), loader):
            source, target = batch["source"].to(dev), batch["target"].to(dev)
            n = len(source)
            t = preset.bridge.sample_t(n, loss_cfg.t_sampling, preset.sampling.rho, device=dev)
            noise = torch.randn(n, lat.channels, lat.size, lat.size, device=dev)
            auxiliary = loss_cfg.strategy == "whole" or step % loss_cfg.every_k == 0
            with accelerator.autocast():
                losses = objective(source, target, t, noise, auxiliary)
            if not torch.isfinite(losses["total"]):
                raise FloatingPointError(f"Non-finite loss at step {step}: {({k: v.item() for k, v in losses.items()})}. Lower --train.lr.")
            accelerator.backward(losses["total"])
            if cfg.grad_clip > 0:
                accelerator.clip_grad_norm_(objective.parameters(), cfg.grad_clip)
            optimizer.step()
            lr_schedule.step()
            optimizer.zero_grad(set_to_none=True)
            ema.step(raw.parameters())
            state.step = step + 1
            state.seconds = session_base + time.perf_counter() - session_start
            bar.update(1)
            if state.step % cfg.log_every == 0 or state.step == cfg.steps:
                values = {k: round(v.item(), 5) for k, v in losses.items()}
                bar.set_postfix({k: f"{v:.4f}" for k, v in values.items() if k != "total"})
                log({"step": state.step, "seconds": round(state.seconds, 1), "lr": lr_schedule.get_last_lr()[0], **values})
            out_of_time = cfg.max_minutes > 0 and state.seconds >= 60 * cfg.max_minutes
            last = state.step == cfg.steps or out_of_time
            if main and (state.step % cfg.eval_every == 0 or last):
                metrics = evaluate()
                log({"step": state.step, "eval": metrics})
                logger.info("step %d eval %s", state.step, metrics)
            if state.step % cfg.save_every == 0 or last:
                save()
            if out_of_time:
                logger.info("Reached train.max_minutes=%g at step %d; stopping.", cfg.max_minutes, state.step)
                break
    except KeyboardInterrupt:
        logger.warning("Interrupted at step %d; saving the training state so --resume can continue.", state.step)
        save()
        raise
    finally:
        bar.close()
        if main and previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    return {"step": state.step, "seconds": state.seconds, "eval": metrics, "pipeline": str(run / "pipeline")}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")

