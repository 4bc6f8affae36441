"""ShapeNet in the public 3D-R2N2 layout: V renderings of an object -> its 32^3 voxel grid.

The layout (as distributed with 3D-R2N2 and used by Pix2Vox)::

    ROOT/ShapeNetRendering/<taxonomy_id>/<object_id>/rendering/00.png ... 23.png   137x137 RGBA
    ROOT/ShapeNetRendering/<taxonomy_id>/<object_id>/rendering/rendering_metadata.txt
    ROOT/ShapeNetVox32/<taxonomy_id>/<object_id>/model.binvox                      32^3 binvox
    SPLIT.json: [{"taxonomy_id": "02691156", "taxonomy_name": "aeroplane",
                  "train": [ids], "val": [ids], "test": [ids]}, ...]

Voxel grids use the project convention: ``grid[x, y, z]`` with x to the right, y up and z towards
a viewer who faces the front of the object (a right-handed frame, as in OpenGL).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import DataError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
NUM_RENDERINGS = 24  # views per object in ShapeNetRendering
VOXEL_SIZE = 32  # ShapeNetVox32
LAYOUT = (
    "ROOT/ShapeNetRendering/<taxonomy_id>/<object_id>/rendering/00.png ... 23.png and "
    "ROOT/ShapeNetVox32/<taxonomy_id>/<object_id>/model.binvox (the public 3D-R2N2 layout)"
)

# ---------------------------------------------------------------------------------------------
# binvox I/O
#
# Format (https://www.patrickmin.com/binvox/binvox.html): an ASCII header
#     #binvox 1
#     dim D D D
#     translate tx ty tz
#     scale s
#     data
# then the voxels as (value, count) byte pairs, count in 1..255 (run-length encoding). Voxel
# ordering: "the y-coordinate runs fastest, then the z-coordinate, then the x-coordinate", i.e.
# the flat index of voxel (x, y, z) is x * D*D + z * D + y. Reshaped to (D, D, D) the body is
# therefore indexed [x, z, y]; read_binvox / write_binvox swap the last two axes so that callers
# see grid[x, y, z] in binvox's own (= the voxelised mesh's) axes.
# ---------------------------------------------------------------------------------------------

MAX_RUN = 255  # a count is one byte


def read_binvox(path: str | os.PathLike) -> np.ndarray:
    """Read a .binvox file into a bool array ``grid[x, y, z]`` of shape (D, D, D), in the file's
    own axes (for ShapeNet: the model's axes; see :func:`shapenet_to_project`).

    Raises ``ValueError`` naming the file when the header or the run-length body is malformed.
    """
    path = Path(path)

    def bad(why: str) -> ValueError:
        return ValueError(f"Malformed binvox file {path}: {why}.")

    with open(path, "rb") as f:
        magic = f.readline(64).strip()
        if magic not in (b"#binvox 1", b"#binvox 2"):  # version 2: values above 1 (occupied) too
            raise bad(f"the first line must be '#binvox 1', got {magic[:32]!r}")
        dims = None
        for _ in range(16):  # dim, translate, scale (any order), then data
            line = f.readline(256).strip()
            if line == b"data":
                break
            if line.startswith(b"dim"):
                try:
                    dims = tuple(int(v) for v in line.split()[1:])
                except ValueError:
                    raise bad(f"cannot parse {line.decode(errors='replace')!r}") from None
        else:
            raise bad("no 'data' line ends the header")
        body = f.read()
    if dims is None:
        raise bad("the header has no 'dim' line")
    if len(dims) != 3 or len(set(dims)) != 1 or dims[0] <= 0:
        raise bad(f"'dim' must give three equal positive sizes, got {dims}")
    d = dims[0]
    if len(body) % 2:
        raise bad(f"the body has an odd number of bytes ({len(body)}); it must be (value, count) pairs")
    pairs = np.frombuffer(body, dtype=np.uint8).reshape(-1, 2)
    counts = pairs[:, 1].astype(np.int64)
    if counts.sum() != d**3:
        raise bad(f"the runs cover {counts.sum()} voxels, but dim {d} needs {d**3}")
    flat = np.repeat(pairs[:, 0] > 0, counts)  # file order: x slowest, then z, then y
    return np.ascontiguousarray(flat.reshape(d, d, d).transpose(0, 2, 1))  # [x, z, y] -> [x, y, z]


def write_binvox(
    path: str | os.PathLike,
    grid: np.ndarray,
    translate: Sequence[float] = (0.0, 0.0, 0.0),
    scale: float = 1.0,
) -> None:
    """Write a (D, D, D) grid indexed ``[x, y, z]`` (nonzero = occupied) as a binvox file; the
    inverse of :func:`read_binvox`. ``translate`` and ``scale`` map the unit cube back to the
    mesh's coordinates (binvox header fields)."""
    grid = np.asarray(grid)
    if grid.ndim != 3 or len(set(grid.shape)) != 1 or grid.shape[0] == 0:
        raise ValueError(f"binvox needs a cubic (D, D, D) grid with D > 0, got shape {grid.shape}.")
    d = grid.shape[0]
    flat = np.ascontiguousarray((grid != 0).transpose(0, 2, 1)).ravel()  # [x, z, y]: y fastest
    starts = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1])
    lengths = np.diff(np.append(starts, flat.size))
    pieces = -(-lengths // MAX_RUN)  # runs longer than 255 become several pairs
    values = np.repeat(flat[starts], pieces).astype(np.uint8)
    counts = np.full(int(pieces.sum()), MAX_RUN, dtype=np.int64)
    counts[np.cumsum(pieces) - 1] = lengths - MAX_RUN * (pieces - 1)  # the last piece of each run
    header = (
        f"#binvox 1\ndim {d} {d} {d}\n"
        f"translate {' '.join(repr(float(t)) for t in translate)}\nscale {float(scale)!r}\ndata\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.stack([values, counts.astype(np.uint8)], axis=1).tobytes())


# ---------------------------------------------------------------------------------------------
# Orientation: ShapeNet model axes -> project axes
#
# Facts used:
# 1. The 3D-R2N2 voxels were made with binvox from the ShapeNetCore v1 OBJ files (3D-R2N2 rendered
#    ShapeNetCore v1), and binvox keeps the mesh's axes: voxel (i, j, k) lies at mesh point
#    translate + scale * ((i, j, k) + 0.5) / D. Mesh R-CNN / PyTorch3D's R2N2 loader rely on
#    this: they map binvox (x, y, z) to the mesh vertices' (x, y, z) by a per-axis positive scale
#    and shift (align_bbox), no swap and no flip, and then project them with the renderings' cameras.
# 2. ShapeNetCore v1 README: "The OBJ files have been pre-aligned so that the up direction is the
#    +Y axis, and the front is the +X axis" (X-Y is the bilateral symmetry plane).
# So grid[X, Y, Z] from read_binvox has +Y up and +X pointing out of the object's front. For a
# viewer facing that front (looking along -X with +Y up) the right-hand side is
# (-X) x (+Y) = -Z. The project frame (x right, y up, z towards the viewer) is therefore
#     x = -Z,  y = +Y,  z = +X,   i.e.  out[i, j, k] = grid[k, j, D - 1 - i],
# a proper rotation by -90 degrees about the up axis (no mirroring), so a front rendering and the
# grid keep the same handedness.
# Certain: the binvox ordering (spec) and +Y up. Well supported: +X front (v1 README). The sign
# of the left-right axis rests on keeping the frame right-handed; ShapeNetCore v1 has known
# left-right flips against the real objects, which affect renderings and voxels alike.
# ---------------------------------------------------------------------------------------------

# For each project axis (x right, y up, z towards the viewer): the signed ShapeNet model axis.
SHAPENET_TO_PROJECT_AXES = ("-z", "+y", "+x")


def shapenet_to_project(grid: np.ndarray, axes: Sequence[str] = SHAPENET_TO_PROJECT_AXES) -> np.ndarray:
    """Re-index a ShapeNet-frame grid ``[X, Y, Z]`` (from :func:`read_binvox`) into the project
    frame ``[x, y, z]``: ``axes[i]`` names the signed source axis that becomes project axis i."""
    source = [("xyz".index(a[1]), a[0] == "-") for a in axes]
    if len(source) != 3 or sorted(s for s, _ in source) != [0, 1, 2]:
        raise ValueError(f"axes must be a signed permutation of x, y, z such as ('-z', '+y', '+x'), got {axes}.")
    out = np.transpose(grid, [s for s, _ in source])
    for i, (_, flip) in enumerate(source):
        if flip:
            out = np.flip(out, axis=i)
    return np.ascontiguousarray(out)


def load_voxels(path: str | os.PathLike) -> torch.Tensor:
    """A ShapeNetVox32 binvox file -> (1, 32, 32, 32) float tensor in {0, 1}, project frame."""
    grid = read_binvox(path)
    if grid.shape != (VOXEL_SIZE,) * 3:
        raise ValueError(f"Voxel file {path} is {grid.shape[0]}^3; ShapeNetVox32 grids are {VOXEL_SIZE}^3.")
    return torch.from_numpy(shapenet_to_project(grid)).float()[None]


# ---------------------------------------------------------------------------------------------
# Renderings
# ---------------------------------------------------------------------------------------------


def load_rendering(path: str | os.PathLike, image_size: int) -> torch.Tensor:
    """An RGBA rendering -> (3, S, S) float tensor in [-1, 1], prepared exactly as the encoder's
    own inputs (``load_views``: composited on white, so transparent pixels become +1.0, then
    resized with antialiasing)."""
    from ..modalities.multiview import load_views

    with Image.open(path) as img:
        img.load()
        return load_views([img], image_size)[0]


def _view_index(name: str) -> int | None:
    """'07.png' -> 7; None for any other file name (the loader opens f"{index:02d}.png")."""
    stem = name[:-4] if name.endswith(".png") else ""
    return int(stem) if stem.isascii() and stem.isdigit() and name == f"{int(stem):02d}.png" else None


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------


class ShapeNetR2N2(Dataset):
    """Multi-view renderings -> voxel grid pairs from the 3D-R2N2 layout and a Pix2Vox split file.

    Items: ``{"source": (V, 3, S, S) in [-1, 1], "target": (1, 32, 32, 32) in {0, 1},
    "category": taxonomy name, "object_id": str, "views": (V,) indices of the renderings used}``.

    Views: with ``random_views`` (the default for the train split) each access draws a random
    subset of V of the object's renderings from a generator seeded by (seed, epoch, index), so call
    :meth:`set_epoch` once per epoch (before creating the DataLoader iterator; persistent workers
    keep the epoch they were started with). Otherwise the V views are evenly spaced over the
    available ones (0, 6, 12, 18 of 24 for V = 4). 3D-R2N2 draws each view's azimuth at random,
    so this spacing is a fixed choice, not an even spread of angles.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split_file: str | os.PathLike,
        split: str = "train",
        image_size: int = 128,
        num_views: int = 4,
        random_views: bool | None = None,
        categories: str | Iterable[str] | None = None,
        seed: int = 0,
    ):
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; use one of {list(SPLITS)}.")
        if not 1 <= num_views <= NUM_RENDERINGS:
            raise ValueError(f"num_views must be in 1..{NUM_RENDERINGS}, got {num_views}.")
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}.")
        self.root = Path(root).expanduser()
        self.split = split
        self.image_size = image_size
        self.num_views = num_views
        self.random_views = split == "train" if random_views is None else bool(random_views)
        self.seed = seed
        self.epoch = 0

        if not self.root.is_dir():
            raise DataError(f"ShapeNet root {self.root} is not a directory. Expected {LAYOUT}.")
        taxonomies = _select(_read_split_file(Path(split_file).expanduser(), split), categories)

        self.items: list[tuple[str, str, str, tuple[int, ...]]] = []  # (tax_id, name, obj_id, views)
        missing, listed = [], 0
        for tax in taxonomies:
            for object_id in tax[split]:
                listed += 1
                views = self._available_views(tax["taxonomy_id"], object_id)
                if len(views) >= num_views and self._voxel_path(tax["taxonomy_id"], object_id).is_file():
                    self.items.append((tax["taxonomy_id"], tax["taxonomy_name"], object_id, views))
                else:
                    missing.append(f"{tax['taxonomy_id']}/{object_id}")
        if missing:
            logger.warning(
                "Skipped %d of %d objects of split %r that are missing on disk (no model.binvox or fewer "
                "than %d renderings) under %s, e.g. %s.",
                len(missing), listed, split, num_views, self.root, ", ".join(missing[:3]),
            )
        if not self.items:
            raise DataError(
                f"None of the {listed} objects of split {split!r} in {split_file} were found under "
                f"{self.root}. Expected {LAYOUT}."
            )
        self.categories = sorted({name for _, name, _, _ in self.items})

    def _voxel_path(self, taxonomy_id: str, object_id: str) -> Path:
        return self.root / "ShapeNetVox32" / taxonomy_id / object_id / "model.binvox"

    def _rendering_dir(self, taxonomy_id: str, object_id: str) -> Path:
        return self.root / "ShapeNetRendering" / taxonomy_id / object_id / "rendering"

    def _available_views(self, taxonomy_id: str, object_id: str) -> tuple[int, ...]:
        try:
            names = os.listdir(self._rendering_dir(taxonomy_id, object_id))
        except OSError:
            return ()
        return tuple(sorted({i for i in map(_view_index, names) if i is not None}))

    def set_epoch(self, epoch: int) -> None:
        """Choose the random views of this epoch (only used with ``random_views``)."""
        self.epoch = int(epoch)

    def view_indices(self, index: int) -> list[int]:
        """The rendering indices item ``index`` uses now (depends on the epoch if random)."""
        available = self.items[index][3]
        n = len(available)
        if self.random_views:
            state = np.random.SeedSequence([self.seed, self.epoch, index % len(self)]).generate_state(2)
            g = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
            picks = sorted(torch.randperm(n, generator=g)[: self.num_views].tolist())
        else:
            picks = [k * n // self.num_views for k in range(self.num_views)]
        return [available[p] for p in picks]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        taxonomy_id, name, object_id, _ = self.items[index]
        views = self.view_indices(index)
        folder = self._rendering_dir(taxonomy_id, object_id)
        source = torch.stack([load_rendering(folder / f"{v:02d}.png", self.image_size) for v in views])
        return {
            "source": source,  # (V, 3, S, S)
            "target": load_voxels(self._voxel_path(taxonomy_id, object_id)),  # (1, 32, 32, 32)
            "category": name,
            "object_id": object_id,
            "views": torch.tensor(views),  # (V,)
        }


def _read_split_file(path: Path, split: str) -> list[dict]:
    """The Pix2Vox split file, checked: a list of taxonomies with ids, names and the split."""
    if not path.is_file():
        raise DataError(f"Split file {path} not found (a Pix2Vox-style ShapeNet.json).")
    try:
        taxonomies = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"Split file {path} is not valid JSON: {e}.") from None
    keys = ("taxonomy_id", "taxonomy_name", split)
    if not isinstance(taxonomies, list) or not all(
        isinstance(t, dict) and all(k in t for k in keys) and isinstance(t[split], list) for t in taxonomies
    ):
        raise ValueError(
            f"Split file {path} must be a list of {{'taxonomy_id', 'taxonomy_name', 'train', 'val', 'test'}} "
            f"objects with a list under {split!r}."
        )
    return taxonomies


def _select(taxonomies: list[dict], categories: str | Iterable[str] | None) -> list[dict]:
    """Keep the taxonomies named in ``categories`` (taxonomy names, case-insensitive, or ids)."""
    if categories is None:
        return taxonomies
    wanted = {categories} if isinstance(categories, str) else set(categories)
    keys = {t["taxonomy_id"] for t in taxonomies} | {t["taxonomy_name"].lower() for t in taxonomies}
    unknown = sorted(c for c in wanted if c not in keys and c.lower() not in keys)
    if unknown:
        known = ", ".join(f"{t['taxonomy_name']} ({t['taxonomy_id']})" for t in taxonomies)
        raise ValueError(f"Unknown categories {unknown}; the split file has: {known}.")
    lowered = {c.lower() for c in wanted}
    return [t for t in taxonomies if t["taxonomy_id"] in wanted or t["taxonomy_name"].lower() in lowered]
