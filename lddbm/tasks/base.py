"""What a task is: its modalities, data, evaluation, presets and command-line pieces.

A task lives in its own package under ``lddbm/tasks/`` whose ``TASK`` is one ``Task``; the registry
(``lddbm.tasks``) finds it, and training, ``eval``, ``bench``, ``build-data``, ``examples`` and the
task's own commands read it from there, so a new task edits no other file.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from ..pipeline import LDDBMPipeline
from ..samplers import SAMPLERS
from ..source_batches import batch_len, batch_slice

__all__ = ["Command", "Option", "SampleOptions", "Task", "translate"]


@dataclass(frozen=True)
class SampleOptions:
    steps: int | None = None  # None: the scheduler's default
    sampler: str | None = None  # a name in lddbm.samplers.SAMPLERS
    options: dict[str, float] = field(default_factory=dict)  # the sampler's own (lddbm.samplers.OPTIONS): guidance, churn, eta
    batch_size: int = 256
    seed: int = 0

    def sampler_kwargs(self) -> dict:
        """The pipeline's sampling keywords (None: the checkpoint's default)."""
        return dict(num_inference_steps=self.steps, sampler=self.sampler, **self.options)

    def without_randomness(self) -> "SampleOptions":
        """The same sampling with every stochastic option given set to 0 (the deterministic counterpart)."""
        stochastic = {sampler.stochastic_option for sampler in SAMPLERS.values()}
        return dataclasses.replace(self, options={k: 0.0 if k in stochastic and v else v for k, v in self.options.items()})


@dataclass(frozen=True)
class Option:
    """A task's own option of ``eval`` and ``bench`` (``--NAME`` with dashes), handed to its ``evaluate`` by
    name. Tasks may share a name when they mean the same type (their help texts are joined)."""

    name: str
    help: str
    type: Callable[[str], Any] = str
    choices: tuple | None = None


@dataclass(frozen=True)
class Command:
    """A command a task adds: ``python -m lddbm NAME`` (``Task.commands``), ``build-data NAME``
    (``Task.data_builders``) or ``examples NAME`` (``Task.example_builders``). ``run(args)`` returns the
    exit code; problems the user can fix are ``lddbm.errors.LDDBMError``s."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Task:
    name: str  # what `eval NAME` and `bench NAME` accept (besides the preset's own name)
    data_kinds: tuple[str, ...]  # the preset.data.kind values this task trains and evaluates on
    data_config: type  # the dataclass of preset.data for those kinds
    presets: dict[str, Callable[[], Any]]  # name -> a function returning a lddbm.presets.Preset
    build_modalities: Callable[[Any], dict[str, nn.Module]]  # source_encoder, target_encoder, target_decoder
    dataset: Callable[[Any, str], Dataset]
    # evaluate(pipe, preset, split, limit, opts, **options); options: only those named in eval_options
    evaluate: Callable[..., dict]
    eval_options: tuple[Option, ...] = ()  # task-specific options of `eval` (e.g. --images for super-resolution)
    aliases: tuple[str, ...] = ()  # older or shorter names `eval` accepts
    default_preset: str = ""  # the preset `eval NAME` assumes for a pipeline folder saved without its preset.json
    commands: tuple[Command, ...] = ()  # its own commands (e.g. `sample`, `upscale`)
    data_builders: tuple[Command, ...] = ()  # `build-data NAME`
    example_builders: tuple[Command, ...] = ()  # `examples NAME`
    selection_metric: str = ""  # the evaluation's number (higher is better) a run keeps its best/ export by


def translate(pipe: LDDBMPipeline, sources: torch.Tensor | None, opts: SampleOptions, num_samples: int = 1,
              class_labels: torch.Tensor | None = None, **guidance) -> tuple[torch.Tensor, int]:
    """Run the pipeline over ``sources`` in batches; returns decoded outputs ("pt", ``num_samples``
    per source, source-major) and NFE. ``class_labels`` (one per source) and ``guidance``
    (``source_scale``, ``label_scale``) go to a label-conditioned pipeline; ``sources=None`` with
    labels generates from the labels alone. Other keywords (e.g. ``preprocess_kwargs``) go to the pipeline too."""
    generator = torch.Generator(device=pipe.device).manual_seed(opts.seed)
    outs, nfe = [], 0
    step = max(1, opts.batch_size // num_samples)
    total = batch_len(sources) if sources is not None else len(class_labels)
    for i in range(0, total, step):
        extra = dict(guidance)
        if class_labels is not None:
            extra["class_labels"] = class_labels[i : i + step].tolist()
        batch = batch_slice(sources, i, i + step) if sources is not None else None
        out = pipe(batch, generator=generator, num_samples=num_samples, **opts.sampler_kwargs(), **extra)
        outs.append(out.outputs.cpu())
        nfe = out.nfe
    return torch.cat(outs), nfe
