"""Augmentation pools: every training view's augmented variants made once, kept on disk, drawn per step.

Profiling one ``objects3d`` step on 2 cores (benchmarks/train_profile.py) put a fifth of its time in
making the batch: 128 views composited on backgrounds, blurred, JPEG-compressed, given imperfect
masks and framed, every step, on the threads the networks need. A pool makes ``k`` such variants of
each (object, view) once (``augment_view_and_box``, the same function and distributions), in
parallel processes, into a memory-mapped file beside the data set; a step then draws one variant
per view. Rebuilt only when what it was made from changes (the objects, the size, the framing, k,
the seed, the photographs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
from pathlib import Path
from typing import Callable

import numpy as np

from .augment import augment_view_and_box

logger = logging.getLogger(__name__)

_WORK: dict = {}  # what forked workers read (copy-on-write): renders, masks, photos, settings


def pool_key(ids: list[str], size: int, ratio: float, k: int, seed: int, photos: list[np.ndarray] | None) -> str:
    """A short hash of everything a pool is made from."""
    h = hashlib.sha1(json.dumps([ids, size, ratio, k, seed]).encode())
    for photo in photos or []:
        h.update(hashlib.sha1(np.ascontiguousarray(photo[::16, ::16])).digest())
    return h.hexdigest()[:12]


def _make(task: tuple[int, int]) -> int:
    """Worker: fill objects first..stop of the memory-mapped pool; returns how many were made."""
    first, stop = task
    w = _WORK
    views = np.lib.format.open_memmap(w["views_path"], mode="r+")
    boxes = np.lib.format.open_memmap(w["boxes_path"], mode="r+")
    for i in range(first, stop):
        rng = np.random.default_rng([w["seed"], i])  # per object: the same pool whatever the process count
        for v in range(w["renders"].shape[1]):
            for j in range(w["k"]):
                views[i, v, j], boxes[i, v, j] = augment_view_and_box(
                    w["renders"][i, v], w["masks"][i, v], w["size"], rng, w["photos"], w["ratio"])
    views.flush()
    boxes.flush()
    return stop - first


def augmentation_pool(renders: Callable[[], tuple[np.ndarray, np.ndarray]], ids: list[str], size: int, ratio: float,
                      k: int, folder: str | Path, seed: int = 0, photos: list[np.ndarray] | None = None,
                      processes: int = 2, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(views (N, V, k, size, size, 3) uint8, boxes (N, V, k, 3) float32) for the objects ``ids``: loaded
    read-only from ``folder`` when a pool made from the same inputs is there, made (``processes`` forked
    workers) otherwise from ``renders()`` = (renders (N, V, S, S, 3), masks (N, V, S, S)), which is only
    called then (stacking every render costs gigabytes). ``boxes`` are the framing squares in render pixels."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = pool_key(ids, size, ratio, k, seed, photos)
    views_path, boxes_path = folder / f"pool_{key}_views.npy", folder / f"pool_{key}_boxes.npy"
    done = folder / f"pool_{key}.done"
    if not done.is_file():
        renders, masks = renders()
        n, v = renders.shape[:2]
        np.lib.format.open_memmap(views_path, mode="w+", dtype=np.uint8, shape=(n, v, k, size, size, 3)).flush()
        np.lib.format.open_memmap(boxes_path, mode="w+", dtype=np.float32, shape=(n, v, k, 3)).flush()
        _WORK.update(renders=renders, masks=masks, photos=photos, size=size, ratio=ratio, k=k, seed=seed,
                     views_path=str(views_path), boxes_path=str(boxes_path))
        chunks = [(a, min(a + 16, n)) for a in range(0, n, 16)]
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"augmentation pool ({k} per view)", disable=not progress)
        try:
            if processes > 1:
                with multiprocessing.get_context("fork").Pool(processes) as workers:
                    for made in workers.imap_unordered(_make, chunks):
                        bar.update(made)
            else:
                for chunk in chunks:
                    bar.update(_make(chunk))
        finally:
            bar.close()
            _WORK.clear()
        done.write_text(json.dumps({"objects": n, "views": v, "k": k, "size": size, "ratio": ratio, "seed": seed}))
        logger.info("augmentation pool written to %s", views_path)
    return np.load(views_path, mmap_mode="r"), np.load(boxes_path, mmap_mode="r")
