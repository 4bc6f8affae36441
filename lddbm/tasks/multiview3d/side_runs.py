"""The saved state of the task's own small trainings (``train-pose``, ``train-refiner``): one file, ``OUT/state.pt``,
holding the trained module, its optimizer and schedule, the step, the best validation score, the history
and the random state, so that ``--resume`` goes on where the run stopped."""

from __future__ import annotations

import time
from pathlib import Path

import torch


def resume_or_seed(state_file: Path, resume: bool, seed: int, module, optimizer, scheduler, best: float):
    """Load ``state_file`` into ``module``, ``optimizer`` and ``scheduler`` when ``resume`` and it exists
    (-> its step, best score and history), else seed the global RNG (-> 0, ``best``, [])."""
    if resume and state_file.is_file():
        saved = torch.load(state_file, weights_only=False)
        module.load_state_dict(saved["module"] if "module" in saved else saved["encoder"])  # train-pose's older files
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        return saved["step"], saved["best"], saved["history"]
    torch.manual_seed(seed)
    return 0, best, []


def save_state(state_file: Path, module, optimizer, scheduler, step: int, best: float, history: list) -> None:
    torch.save({"module": module.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "step": step, "best": best, "history": history, "rng": torch.get_rng_state()}, state_file)


def advance(bar, loss: float, step: int, steps: int, eval_every: int, t0: float, max_minutes: float):
    """After training step ``step`` (from 0): moves the progress ``bar`` -> (steps done, whether ``max_minutes``
    since ``t0`` are up, whether a validation is due: every ``eval_every`` steps, at the end, or on stopping)."""
    done = step + 1
    bar.update(1)
    bar.set_postfix(loss=f"{loss:.3f}")
    timed_out = max_minutes > 0 and time.time() - t0 > 60 * max_minutes
    return done, timed_out, done % eval_every == 0 or done == steps or timed_out
