"""Source batches that are a tensor or a dict of tensors (e.g. novel views: views + camera).

The trainer, ``tasks.translate`` and the benchmarks move, count, slice and stack sources through
these three functions, so a task whose source has several parts needs no special case elsewhere.
"""

from __future__ import annotations

import torch

__all__ = ["batch_len", "batch_slice", "batch_stack", "batch_to"]


def batch_to(x, device):
    """``x`` (a tensor or a dict of tensors) on ``device``."""
    if isinstance(x, dict):
        return {k: v.to(device) for k, v in x.items()}
    return x.to(device)


def batch_len(x) -> int:
    """The batch size (the first dimension; every part of a dict has the same)."""
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def batch_slice(x, start: int, stop: int):
    """Items ``start:stop`` of a batch."""
    if isinstance(x, dict):
        return {k: v[start:stop] for k, v in x.items()}
    return x[start:stop]


def batch_stack(items: list):
    """Single items (tensors, or dicts of tensors) -> one batch."""
    if isinstance(items[0], dict):
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}
    return torch.stack(items)
