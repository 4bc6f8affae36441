"""The task registry: every package under ``lddbm/tasks/`` with a ``TASK`` is a task.

Training, ``eval``, ``bench``, ``build-data``, ``examples`` and the demo read ``TASKS``; a preset picks
its task through ``preset.data.kind``. Registering a task also registers its presets and its data
config with ``lddbm.presets``, so ``--preset NAME`` and saved ``preset.json`` files find them.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from ..presets import register_presets
from .base import Command, Option, SampleOptions, Task, translate

__all__ = ["TASKS", "Command", "Option", "SampleOptions", "Task", "check_task_name", "get_task", "preset_for_name",
           "register", "translate"]

TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task (and its presets and data config) to the registry; a second task of the same name or
    data kind is an error."""
    if task.name in TASKS:
        raise ConfigError(f"Two tasks are named {task.name!r}.")
    taken = {kind for t in TASKS.values() for kind in t.data_kinds} & set(task.data_kinds)
    if taken:
        raise ConfigError(f"Task {task.name!r} claims data kind(s) {', '.join(sorted(taken))} of another task.")
    TASKS[task.name] = task
    register_presets(task.presets, {kind: task.data_config for kind in task.data_kinds})
    return task


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.ispkg:
            module = importlib.import_module(f"{__name__}.{info.name}")
            if hasattr(module, "TASK"):
                register(module.TASK)


def get_task(preset) -> Task:
    """The task a preset trains and evaluates (by its data kind)."""
    for task in TASKS.values():
        if preset.data.kind in task.data_kinds:
            return task
    raise ConfigError(f"No task for data kind {preset.data.kind!r}; known: "
                      f"{', '.join(k for t in TASKS.values() for k in t.data_kinds)}.")


def preset_for_name(name: str) -> str:
    """A preset name for what the user typed: a preset's own name, or a task's (its default preset)."""
    for task in TASKS.values():
        if name in (task.name, *task.aliases):
            return task.default_preset
    return name


def check_task_name(name: str, preset) -> Task:
    """The checkpoint's task, when ``name`` (what the user typed) names it or its preset; else a
    ConfigError: a checkpoint is never silently scored as another task."""
    task = get_task(preset)
    accepted = {task.name, *task.aliases, preset.name}
    if name not in accepted:
        raise ConfigError(f"The checkpoint is a {preset.name!r} model (task {task.name!r}), not {name!r}; "
                          f"run `eval {task.name} ...` or pass a {name} checkpoint.")
    return task


_discover()
