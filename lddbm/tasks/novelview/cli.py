"""The novel-view task's command: ``examples novelview``."""

from __future__ import annotations

import json

from ..base import Command


def _examples_arguments(p) -> None:
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--views", type=int, default=4, help="input views per object")


def _examples(args) -> int:
    from .data import export_examples

    chosen = export_examples(args.data, args.out, split=args.split, count=args.count, views=args.views)
    print(json.dumps(chosen, indent=2))
    return 0


EXAMPLE_BUILDERS = (Command("novelview", "input views and every other render of built objects, with their cameras",
                            _examples_arguments, _examples),)
