"""The demo's tabs: one module per tab, found here, so a new tab is one new file.

A tab module defines

    TITLE    the tab's label
    ORDER    its place among the tabs (lower first)
    MODELS   the checkpoint folders it uses, under app.common.CHECKPOINTS (preloaded before serving)
    build()  lays out the tab's widgets and wires their events (called inside its gr.Tab)

and optionally ``available()`` (whether to show the tab; default: when any of MODELS is here),
``preload()`` (load anything else it needs before serving; SystemExit with a message when it cannot)
and ``CSS`` (style rules for its widgets, addressed by their elem_id).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from app import common


def all_tabs() -> list[ModuleType]:
    """Every tab module in this package, in ORDER."""
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
               if not info.name.startswith("_")]
    return sorted(modules, key=lambda tab: tab.ORDER)


def is_shown(tab: ModuleType) -> bool:
    """Whether ``tab`` is shown: its own ``available()``, else whether any of its checkpoints is here."""
    if hasattr(tab, "available"):
        return tab.available()
    return any(common.has_checkpoint(name) for name in tab.MODELS)


def css() -> str:
    """The tabs' style rules (Gradio 6 takes them at launch)."""
    return "\n".join(tab.CSS for tab in all_tabs() if hasattr(tab, "CSS"))
