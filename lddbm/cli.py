"""Pieces the command line's parsers share (``lddbm.__main__`` and the tasks' own commands)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import ConfigError

__all__ = ["checkpoint_preset", "example_arguments", "given_sampler_options", "load_pipeline", "sampler_name",
           "sampling_options", "write_json"]


def sampler_name(value: str) -> str:
    """argparse type: a sampler of the registry (deprecated names accepted with a warning)."""
    from .samplers import canonical_name

    try:
        return canonical_name(value)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def sampling_options(p: argparse.ArgumentParser, sampler: bool = True) -> None:
    """--sampler and every sampler option of the registry (each applies to the samplers that read it)."""
    from .samplers import OPTIONS, SAMPLERS

    if sampler:
        p.add_argument("--sampler", type=sampler_name, metavar="SAMPLER", help="; ".join(
            f"{name}: {cls.summary}" for name, cls in SAMPLERS.items()) + " (default: the checkpoint's)")
    for name, option in OPTIONS.items():
        p.add_argument(f"--{name}", type=float, help=f"{option.help}; range [{option.low:g}, {option.high:g}]")


def given_sampler_options(args: argparse.Namespace) -> dict[str, float]:
    """The sampler options (``sampling_options``' flags) the user gave, by name: the pipeline's keywords."""
    from .samplers import OPTIONS

    return {name: getattr(args, name) for name in OPTIONS if getattr(args, name, None) is not None}


def example_arguments(p: argparse.ArgumentParser, count: bool = True) -> None:
    """What every ``examples NAME`` takes: the built data, the output folder, the split (and how many)."""
    p.add_argument("--data", required=True, help="a built data set")
    p.add_argument("--out", required=True, help="the examples folder (e.g. assets/NAME)")
    p.add_argument("--split", default="test")
    if count:
        p.add_argument("--count", type=int, default=8)


def checkpoint_preset(checkpoint: str | Path, name: str, overrides: dict[str, str] | None = None):
    """A pipeline folder's own preset (``preset.json``; for a folder saved without one, the preset ``name``
    stands for: a preset's or a task's name) with ``overrides`` applied."""
    from .presets import apply_overrides, get_preset, load_preset
    from .tasks import preset_for_name

    saved = Path(checkpoint) / "preset.json"
    base = load_preset(saved) if saved.is_file() else get_preset(preset_for_name(name))
    return apply_overrides(base, overrides or {})


def load_pipeline(checkpoint: str | Path, device: str | None = None):
    """The pipeline in a folder (a path, or a name under ``LDDBM_CHECKPOINTS``), its progress bar off."""
    from .pipeline import LDDBMPipeline

    pipe = LDDBMPipeline.load(checkpoint, device=device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def write_json(path: str | None, payload) -> None:
    """Print ``payload`` as JSON, and write it to ``path`` too when given."""
    text = json.dumps(payload, indent=2)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
    print(text)
