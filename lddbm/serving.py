"""Bounded disk for a public demo: one folder for results, written atomically, swept by age and size.

A web demo saves what it hands out (meshes, upscaled PNGs) and receives uploads; on a hosted Space
the disk is small and shared by every visitor. ``ResultStore`` keeps all of it under one root:

- ``root/results/<request>/`` holds one request's files; Gradio's own cache (uploads, and what it
  serves) is pointed at ``root`` too (``GRADIO_TEMP_DIR``), so a file we save there is served
  without a second copy;
- every file is written under a temporary name and renamed into place, so a server killed
  mid-request leaves no half-written file that a later request could serve; leftovers of such
  writes (``.partial-*``) and empty files are removed by the next sweep;
- ``sweep()`` removes entries older than ``max_age_s``, then the oldest entries until the total is
  under ``max_bytes``; a timer thread runs it every ``sweep_every_s``;
- a write that fails for lack of space (or any OSError) raises ``StorageFull``, a message for
  the user, and the server keeps serving;
- Gradio's own cache writes of returned images are made atomic too (``atomic_gradio_image_cache``):
  Gradio 6.31 writes a returned PIL image straight onto a path named by the image's hash, so two
  visitors who get the same image (the same example, the same seed) truncate the file while the first
  is still downloading it, and that download breaks ("peer closed connection"; seen in the soak test).

Hand-written rather than a library: it is 100 lines and no maintained package does
"age + byte cap + atomic rename" for a folder tree.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from .errors import LDDBMError

logger = logging.getLogger(__name__)

PARTIAL = ".partial-"  # prefix of a file being written (the suffix stays, so writers can pick the format by it)


class StorageFull(LDDBMError, OSError):
    """A result could not be written (disk full, quota, read-only); the message is for the user."""


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass  # removed meanwhile
    return total


class ResultStore:
    """One folder tree for a server's results and uploads, bounded in age and bytes."""

    def __init__(self, root: str | Path, max_bytes: int = 1 << 30, max_age_s: float = 3600.0,
                 sweep_every_s: float = 300.0):
        self.root = Path(root)
        self.results = self.root / "results"
        self.max_bytes, self.max_age_s, self.sweep_every_s = int(max_bytes), float(max_age_s), float(sweep_every_s)
        self.results.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()

    # ---- writing ----------------------------------------------------------------------------------

    def new_folder(self) -> Path:
        """A fresh folder for one request's files."""
        folder = self.results / uuid.uuid4().hex
        try:
            folder.mkdir(parents=True)
        except OSError as err:
            raise self._full(err) from err
        return folder

    def save(self, path: Path, write: Callable[[Path], None]) -> Path:
        """``write(tmp)`` writes the file at a temporary name beside ``path``; it is renamed into place
        only when complete. StorageFull (and nothing left behind) when the write fails."""
        path = Path(path)
        tmp = path.with_name(PARTIAL + path.name)
        try:
            write(tmp)
            if tmp.stat().st_size == 0:
                raise OSError(errno.EIO, "nothing was written")
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise self._full(err) from err
        return path

    @staticmethod
    def _full(err: OSError) -> StorageFull:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull("The server's disk is full, so the result could not be saved. Please try again in a "
                               "few minutes (old results are being cleared).")
        return StorageFull(f"The result could not be saved on the server ({err.strerror or err}). Please try again; "
                           "if it keeps failing, the server needs attention.")

    # ---- sweeping ----------------------------------------------------------------------------------

    def entries(self) -> list[Path]:
        """What the sweep removes as units: each request folder, and each top-level entry of Gradio's cache."""
        out = [p for p in self.results.iterdir()] if self.results.is_dir() else []
        out += [p for p in self.root.iterdir() if p != self.results] if self.root.is_dir() else []
        return out

    def usage(self) -> int:
        return tree_bytes(self.root) if self.root.exists() else 0

    def sweep(self, now: float | None = None) -> dict:
        """Remove half-written and empty files, entries older than max_age_s, then the oldest entries
        until the total is at most max_bytes. Returns what it did."""
        now = time.time() if now is None else now
        removed = freed = 0
        with self._lock:
            for dirpath, _, files in os.walk(self.root):
                for name in files:
                    f = Path(dirpath) / name
                    try:
                        stale = name.startswith(PARTIAL) and now - f.stat().st_mtime > 60
                        if stale or f.stat().st_size == 0:
                            f.unlink()
                            removed += 1
                    except OSError:
                        pass
            sized = []
            for entry in self.entries():
                try:
                    sized.append((entry.stat().st_mtime, tree_bytes(entry), entry))
                except OSError:
                    continue
            sized.sort(key=lambda e: e[0])
            total = sum(size for _, size, _ in sized)
            for mtime, size, entry in sized:
                if now - mtime > self.max_age_s or total > self.max_bytes:
                    self._remove(entry)
                    total -= size
                    freed += size
                    removed += 1
        return {"removed": removed, "freed_bytes": freed, "bytes": total}

    @staticmethod
    def _remove(entry: Path) -> None:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)

    def start_sweeper(self) -> None:
        """Sweep now and then every sweep_every_s seconds on a daemon thread (once per store)."""
        if self._timer is not None:
            return

        def loop() -> None:
            while True:
                try:
                    self.sweep()
                except Exception:  # a sweep must never take the server down
                    logger.exception("result sweep failed")
                if self._stop.wait(self.sweep_every_s):
                    return

        self._timer = threading.Thread(target=loop, name="lddbm-result-sweeper", daemon=True)
        self._timer.start()

    def stop_sweeper(self) -> None:
        self._stop.set()


# ---- Gradio's cache ---------------------------------------------------------------------------------


def write_once(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` unless a file is already there (for content-addressed paths: the same
    bytes), through a temporary file and a rename, so a reader never sees a truncated or partial file."""
    try:
        if path.stat().st_size == len(data):
            os.utime(path)  # Gradio's delete_cache ages files by time: a reused copy counts as fresh
            return
    except OSError:
        pass  # not there (or swept meanwhile): write it
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=PARTIAL)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_gradio_image_cache() -> None:
    """Make Gradio save returned images (``gr.Image``, ``gr.Gallery``: ``processing_utils.save_pil_to_cache``,
    which ``save_img_array_to_cache`` calls too) with :func:`write_once`; same paths, names and bytes.
    Idempotent. Upstream's function is kept as ``.original`` on the replacement."""
    from gradio import processing_utils

    current = processing_utils.save_pil_to_cache
    if getattr(current, "original", None) is not None:
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        write_once(path, data)
        return str(path)

    save_pil_to_cache.original = current
    processing_utils.save_pil_to_cache = save_pil_to_cache
