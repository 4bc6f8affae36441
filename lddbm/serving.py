"""Bounded disk for a public demo: one folder for results, written atomically, swept by age and size.

A web demo saves what it hands out (meshes, upscaled PNGs) and receives uploads; on a hosted Space
the disk is small and shared by every visitor. ``ResultStore`` keeps all of it under one root:

- ``root/results/<request>/`` holds one request's files; Gradio's own cache (uploads, and what it
  serves) is pointed at ``root`` too (``GRADIO_TEMP_DIR``), so a file we save there is served
  without a second copy;
- every file is written under a temporary name and renamed into place, so a server killed
  mid-request leaves no half-written file that a later request could serve; leftovers of such
  writes (``.partial-*``) and empty files are removed by the next sweep;
- the byte cap holds at write time: ``save()`` makes room (oldest entries first) once the file is
  written, and ``reserve(n)`` admits an upload only when ``n`` more bytes fit beside what is stored
  and what other uploads in flight have reserved, so the folder never passes the cap by more than
  one file; a write that finds the disk itself full frees the oldest half and tries once more;
- ``sweep()`` removes entries older than ``max_age_s``, then the oldest entries until the total is
  under ``max_bytes``; a timer thread runs it every ``sweep_every_s``;
- a write that fails for lack of space (or any OSError) raises ``StorageFull``, a message for
  the user, and the server keeps serving;
- ``HeavyWork`` is the process-wide limit on concurrent model calls (a public demo on two cores
  runs two at once, whichever tabs they come from);
- Gradio's own cache writes of returned images are made atomic too (``atomic_gradio_image_cache``):
  Gradio 6.31 writes a returned PIL image straight onto a path named by the image's hash, so two
  visitors who get the same image (the same example, the same seed) truncate the file while the first
  is still downloading it, and that download breaks ("peer closed connection"; seen in the soak test).

Hand-written rather than a library: it is 200 lines and no maintained package does
"age + byte cap at write time + atomic rename" for a folder tree.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

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
                 sweep_every_s: float = 300.0, min_age_s: float = 60.0):
        self.root = Path(root)
        self.results = self.root / "results"
        self.max_bytes, self.max_age_s, self.sweep_every_s = int(max_bytes), float(max_age_s), float(sweep_every_s)
        self.min_age_s = float(min_age_s)  # making room removes entries younger than this last
        self.results.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._reserved = 0  # bytes held by uploads being received (reserve())
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self._pinned: set[Path] = set()  # entries the server made before serving (pin_existing): never removed

    def pin_existing(self) -> int:
        """Keep every entry present now for the server's life: what the app cached while it was built
        (example files, a blank canvas) is served by URL for as long as the page is, so sweeping it by
        age would break the page an hour after start. Returns how many entries were pinned."""
        with self._lock:
            self._pinned = set(self.entries())
        return len(self._pinned)

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
        only when complete, after the oldest other entries made room for it under the cap. StorageFull
        (and nothing left behind) when the write fails or the file alone is over the cap. A write that
        finds the disk full frees the oldest half of the store and is tried once more."""
        path = Path(path)
        tmp = path.with_name(PARTIAL + path.name)
        for attempt in (1, 2):
            try:
                write(tmp)
                size = tmp.stat().st_size
                if size == 0:
                    raise OSError(errno.EIO, "nothing was written")
                if not self.make_room(0, keep=self.entry_of(path)):
                    raise OSError(errno.EDQUOT, f"the result ({size / 2**20:.1f} MB) does not fit the server's "
                                                "result space")
                os.replace(tmp, path)
                return path
            except OSError as err:
                tmp.unlink(missing_ok=True)
                if attempt == 1 and err.errno == errno.ENOSPC and self.relieve(keep=self.entry_of(path)):
                    continue
                raise self._full(err) from err
        raise AssertionError("unreachable")

    def entry_of(self, path: Path) -> Path | None:
        """The top-level entry (request folder or Gradio cache folder) that ``path`` lies in."""
        try:
            rel = Path(path).resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        parts = rel.parts
        if not parts:
            return None
        return self.results / parts[1] if parts[0] == self.results.name and len(parts) > 1 else self.root / parts[0]

    # ---- the cap at write time -------------------------------------------------------------------------

    def make_room(self, nbytes: int, keep: Path | None = None) -> bool:
        """Remove the oldest entries (never ``keep``; one younger than ``min_age_s``, a result just handed
        out and perhaps still being downloaded, only when nothing older is left) until what is stored, what
        uploads in flight have reserved and ``nbytes`` more fit under max_bytes. False when that is
        impossible (the write is refused)."""
        with self._lock:
            return self._make_room(nbytes, keep)

    def _make_room(self, nbytes: int, keep: Path | None) -> bool:
        sized, now = self._sized_entries(), time.time()
        total = sum(size for _, size, _ in sized)
        # entries older than min_age_s first; a result just handed out (its visitor may still be downloading
        # it) only when nothing older is left
        ordered = sorted(sized, key=lambda e: (now - e[0] < self.min_age_s, e[0]))
        for _, size, entry in ordered:
            if total + self._reserved + nbytes <= self.max_bytes:
                break
            if keep is not None and entry == keep:
                continue
            self._remove(entry)
            total -= size
        return total + self._reserved + nbytes <= self.max_bytes

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the cap for a write in progress (an upload being received); StorageFull when
        they do not fit even after removing the oldest entries. Released when the block ends."""
        nbytes = max(int(nbytes), 0)
        with self._lock:
            if not self._make_room(nbytes, None):
                raise StorageFull(f"The server's upload space is full right now ({self.max_bytes / 2**20:.0f} MB for "
                                  "everyone's uploads and results). Please try again in a minute, or upload smaller "
                                  "images.")
            self._reserved += nbytes
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= nbytes

    def relieve(self, keep: Path | None = None) -> bool:
        """The disk itself is full (smaller than the cap, or shared): remove the oldest half of the
        entries now rather than at the next age-out. True when anything was removed."""
        with self._lock:
            sized = [e for e in self._sized_entries() if keep is None or e[2] != keep]
            victims = sized[: (len(sized) + 1) // 2]  # the oldest half, rounded up
            for _, _, entry in victims:
                self._remove(entry)
        if victims:
            logger.warning("disk full: removed the %d oldest result and upload folders", len(victims))
        return bool(victims)
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
        """Remove half-written, abandoned (upload temporaries over 10 minutes old) and empty files,
        entries older than max_age_s, then the oldest entries until the total is at most max_bytes.
        Returns what it did."""
        now = time.time() if now is None else now
        removed = freed = 0
        with self._lock:
            for dirpath, _, files in os.walk(self.root):
                for name in files:
                    f = Path(dirpath) / name
                    try:
                        age = now - f.stat().st_mtime
                        stale = name.startswith(PARTIAL) and age > 60
                        # Gradio receives uploads into tmp* files at the root; an interrupted or refused
                        # upload leaves its file there
                        stale = stale or (Path(dirpath) == self.root and name.startswith("tmp") and age > 600)
                        if stale or f.stat().st_size == 0:
                            f.unlink()
                            removed += 1
                    except OSError:
                        pass
            sized = self._sized_entries()
            total = sum(size for _, size, _ in sized)
            for mtime, size, entry in sized:
                if now - mtime > self.max_age_s or total > self.max_bytes:
                    self._remove(entry)
                    total -= size
                    freed += size
                    removed += 1
        return {"removed": removed, "freed_bytes": freed, "bytes": total}

    def _sized_entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, bytes, entry) of every entry, oldest first; not an upload being received (Gradio's
        ``tmp*`` file at the root, under 10 minutes old: its bytes are held by ``reserve``, and removing
        it would break the upload)."""
        sized, now = [], time.time()
        for entry in self.entries():
            if entry in self._pinned:
                continue
            try:
                mtime = entry.stat().st_mtime
                if entry.parent == self.root and entry.name.startswith("tmp") and now - mtime < 600 and entry.is_file():
                    continue
                sized.append((mtime, tree_bytes(entry), entry))
            except OSError:
                continue
        return sorted(sized, key=lambda e: e[0])

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


# ---- one limit on model calls ----------------------------------------------------------------------------


class HeavyWork:
    """The process-wide limit on concurrent model calls: ``with heavy.slot("views_to_3d"): ...`` waits
    for one of ``limit`` slots. Gradio's concurrency limits count per event (or per concurrency group),
    and a preview handler, an example's follow-up event and an API call are separate events: this one
    semaphore holds whichever way the work arrives. ``running`` and ``peak`` are what the soak reads
    (each start is logged with them)."""

    def __init__(self, limit: int = 2):
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}.")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.running = self.peak = 0

    @contextmanager
    def slot(self, what: str) -> Iterator[None]:
        with self._slots:
            with self._lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
                running, peak = self.running, self.peak
            logger.info("heavy work started: %s (running %d, peak %d)", what, running, peak)
            try:
                yield
            finally:
                with self._lock:
                    self.running -= 1


# ---- Gradio's cache ---------------------------------------------------------------------------------


def write_once(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` unless a file is already there (for content-addressed paths: the same
    bytes), through a temporary file and a rename, so a reader never sees a truncated or partial file."""
    try:
        if path.stat().st_size == len(data):
            # a reused copy counts as fresh: Gradio's delete_cache ages files, ResultStore ages the folder
            # (the entry) it lies in, so an old folder handed out again is not the first one a full disk
            # removes while the new visitor downloads it (the soak test's 403 on a repeated example)
            os.utime(path)
            os.utime(path.parent)
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


def atomic_gradio_image_cache(store: ResultStore | None = None) -> None:
    """Make Gradio save returned images (``gr.Image``, ``gr.Gallery``, ``gr.ImageSlider``:
    ``processing_utils.save_pil_to_cache``, which ``save_img_array_to_cache`` calls too) with
    :func:`write_once`; same paths and names. The image's metadata is not written (Gradio copies a PIL
    image's ``info``, an upload's text chunks included, into the PNG it serves). With ``store``, the
    write counts against its cap (oldest entries make room; a full disk frees the oldest half) and a
    failed write is a message for the visitor (``gradio.Error``), not a bare "Error". Idempotent: a
    second call only changes the store. Upstream's function is kept as ``.original``."""
    from gradio import Error, processing_utils

    current = processing_utils.save_pil_to_cache
    if getattr(current, "original", None) is not None:
        current.store = store
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        if img.info:  # Gradio's encoder writes the info's text chunks, EXIF and comments into the file
            img = img.copy()
            img.info = {}
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        path = (folder / f"{name}.{format}").resolve()
        room = save_pil_to_cache.store
        for attempt in (1, 2):
            try:
                folder.mkdir(exist_ok=True, parents=True)
                write_once(path, data)
                if room is not None and not room.make_room(0, keep=room.entry_of(path)):
                    raise OSError(errno.EDQUOT, "over the result space")
                return str(path)
            except OSError as err:
                if attempt == 1 and room is not None and err.errno == errno.ENOSPC and room.relieve(keep=room.entry_of(path)):
                    continue
                raise Error(str(ResultStore._full(err))) from err
        raise AssertionError("unreachable")

    save_pil_to_cache.original = current
    save_pil_to_cache.store = store
    processing_utils.save_pil_to_cache = save_pil_to_cache
