"""The novel-view task's command: ``examples novelview``."""

from __future__ import annotations

from ...cli import example_arguments, write_json
from ..base import Command


def _examples_arguments(p) -> None:
    example_arguments(p)
    p.add_argument("--views", type=int, default=4, help="input views per object")


def _examples(args) -> int:
    from .data import export_examples

    write_json(None, export_examples(args.data, args.out, split=args.split, count=args.count, views=args.views))
    return 0


EXAMPLE_BUILDERS = (Command("novelview", "input views and every other render of built objects, with their cameras",
                            _examples_arguments, _examples),)
