"""Built multi-view objects (``build-data objects|furniture``) as training and evaluation data.

``load_object`` reads one object's views, masks, voxels and cameras; ``MultiViewVoxels`` serves
{"source": views, "target": voxels, "category"} items, framed like uploads and augmented in training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..images import to_unit
from .meshes import GRID

__all__ = ["MultiViewVoxels", "built_ids", "load_object", "load_objects"]


def load_object(path: Path) -> dict:
    """One built object: views (V,S,S,3) uint8, masks (V,S,S) bool or None (older builds),
    voxels (G,G,G) bool, cameras (V,3), meta dict."""
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        grid = meta.get("grid", GRID)
        voxels = np.unpackbits(f["voxels"])[: grid**3].reshape(grid, grid, grid).astype(bool)
        views = f["views"]
        masks = np.unpackbits(f["masks"], axis=-1)[..., : views.shape[2]].astype(bool) if "masks" in f else None
        studio = f["studio"] if "studio" in f else None  # (V, 8) lights; absent in builds before studios
        return {"views": views, "masks": masks, "voxels": voxels, "cameras": f["cameras"], "studio": studio, "meta": meta}


def load_objects(root: str | Path, split: str, limit: int | None = None, masks: bool = False) -> tuple[list[str], list[dict]]:
    """The ids and built objects (``load_object``) of ``split``; ``masks``: require the renders' masks."""
    root = Path(root)
    ids = json.loads((root / "split.json").read_text())[split][: limit or None]
    objects = [load_object(root / "objects" / f"{i}.npz") for i in ids]
    if masks and any(o["masks"] is None for o in objects):
        raise ValueError(f"{root} was built without masks; rebuild it with python -m lddbm build-data furniture --out {root}.")
    return ids, objects


def built_ids(root: Path, split: str) -> list[str]:
    """The ids of ``split`` whose objects are built under ``root``; a clear error when there are none."""
    split_file = root / "split.json"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} is missing: build the data set first with "
                                f"`python -m lddbm build-data furniture --out {root}`.")
    ids = json.loads(split_file.read_text()).get(split)
    if ids is None:
        raise ValueError(f"Unknown split {split!r} in {split_file}.")
    ids = [i for i in ids if (root / "objects" / f"{i}.npz").is_file()]
    if not ids:
        raise FileNotFoundError(f"No built objects of split {split!r} under {root / 'objects'}.")
    return ids


class MultiViewVoxels(Dataset):
    """Built furniture objects as {"source": (V,3,S,S) in [-1,1], "target": (1,G,G,G), "category"}.

    Train split: a random subset of ``num_views`` views per item. Other splits: a fixed, evenly
    spread subset. With ``foreground_ratio`` set (and masks in the build), every view is framed by
    the upload normaliser's rule (``lddbm.framing``) from its exact mask; ``augment`` (train only)
    also puts objects on random backgrounds (``photos``: photographs as (H, W, 3) uint8 arrays),
    jitters colour and framing, blurs, compresses and spoils the mask (``lddbm.data.augment``).
    Without ``foreground_ratio`` the views are the renders, resized. ``pool`` k > 0 draws each augmented
    view from k variants made once (``lddbm.data.pool``, cached under ROOT/_pools) instead of per item;
    ``poses`` adds each view's camera (``lddbm.modalities.lifting.pose_targets``) to the source, and
    whether the views come in the builder's turntable order (``"turntable"``: the evenly spread subset,
    in order, as other splits always are; on the train split a ``turntable_share`` of items).
    """

    def __init__(self, root: str | Path, split: str = "train", num_views: int = 4, image_size: int = 64,
                 random_views: bool | None = None, foreground_ratio: float | None = None, augment: bool = False,
                 photos: list[np.ndarray] | None = None, poses: bool = False, pool: int = 0, pool_seed: int = 0,
                 turntable_share: float = 0.0):
        from .augment import frame_clean_and_box

        root = Path(root)
        self.ids = built_ids(root, split)
        self.num_views, self.image_size = num_views, image_size
        self.random_views = split == "train" if random_views is None else random_views
        self.turntable_share = turntable_share
        self.foreground_ratio, self.photos = foreground_ratio, photos
        objects = [load_object(root / "objects" / f"{i}.npz") for i in self.ids]
        if foreground_ratio is not None and any(o["masks"] is None for o in objects):
            raise ValueError(f"{root} was built without masks; rebuild it (`python -m lddbm build-data furniture "
                             f"--out {root}`) or set data.foreground_ratio to null.")
        self.augment = augment and foreground_ratio is not None
        self.pool = None
        if self.augment and pool > 0:  # k augmented variants per view, made once (lddbm.data.pool)
            from .pool import augmentation_pool

            self.pool, self.pool_boxes = augmentation_pool(
                lambda: (np.stack([o["views"] for o in objects]), np.stack([o["masks"] for o in objects])), self.ids,
                image_size, foreground_ratio, pool, root / "_pools", seed=pool_seed, photos=photos)
        elif self.augment:  # keep the renders and masks; views are made per item
            self.renders = np.stack([o["views"] for o in objects])  # (N, V_all, S0, S0, 3) uint8
            self.masks = np.stack([o["masks"] for o in objects])  # (N, V_all, S0, S0) bool
        elif foreground_ratio is not None:
            framed = [[frame_clean_and_box(v, m, image_size, foreground_ratio) for v, m in zip(o["views"], o["masks"])]
                      for o in objects]
            views = [torch.from_numpy(np.stack([f for f, _ in obj])).permute(0, 3, 1, 2).contiguous() for obj in framed]
            self.boxes = np.array([[box for _, box in obj] for obj in framed], dtype=np.float32)  # (N, V_all, 3)
        else:
            views = [_resize_views(o["views"], image_size) for o in objects]
        if not self.augment:
            self.views = torch.stack(views)  # (N, V_all, 3, S, S) uint8
        self.voxels = torch.stack([torch.from_numpy(o["voxels"]) for o in objects])  # (N, G, G, G) bool
        self.categories_of = [o["meta"]["category"] for o in objects]
        self.categories = sorted(set(self.categories_of))
        self.total_views = len(objects[0]["views"])
        # poses: the source carries each view's camera as the lifting encoder estimates it (training signal)
        self.poses = poses and foreground_ratio is not None
        if self.poses:
            if any(o["cameras"].shape[-1] < 4 for o in objects):
                raise ValueError(f"{root} stores no field of view per camera; rebuild it to train a camera estimate.")
            self.cameras = np.stack([o["cameras"][:, :4] for o in objects])  # (N, V_all, 4)
            self.render_size = objects[0]["views"].shape[1]
        if num_views > self.total_views:
            raise ValueError(f"num_views={num_views} but the objects have {self.total_views} views.")

    def view_indices(self, i: int) -> torch.Tensor:
        return self._pick_views()[0]

    def _pick_views(self) -> tuple[torch.Tensor, bool]:
        """The views of an item and whether they are in turntable order (the builder's, evenly spread)."""
        total = self.total_views
        # the global RNG: seeded, and restored on resume, by the trainer
        if self.random_views and not (self.turntable_share and float(torch.rand(())) < self.turntable_share):
            return torch.randperm(total)[: self.num_views], False
        # evenly spread azimuths, in order: a turntable sequence when they are exactly evenly spread
        return torch.linspace(0, total, self.num_views + 1)[:-1].long(), total % self.num_views == 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        picks, turntable = self._pick_views()
        boxes = None
        if self.pool is not None:
            k = picks.numpy()
            j = torch.randint(self.pool.shape[2], (len(k),)).numpy()  # the trainer's seeded global RNG
            views = torch.from_numpy(np.ascontiguousarray(self.pool[i, k, j])).permute(0, 3, 1, 2)
            boxes = self.pool_boxes[i, k, j]
        elif self.augment:
            from .augment import augment_view_and_box

            rng = np.random.default_rng(int(torch.randint(2**62, ())))  # from the trainer's seeded global RNG
            made = [augment_view_and_box(self.renders[i, k], self.masks[i, k], self.image_size, rng, self.photos,
                                         self.foreground_ratio) for k in picks.tolist()]
            views = torch.from_numpy(np.stack([v for v, _ in made])).permute(0, 3, 1, 2)
            boxes = [b for _, b in made]
        else:
            views = self.views[i, picks]
            if self.poses:
                boxes = self.boxes[i, picks.numpy()]
        source = to_unit(views)  # (V, 3, S, S) in [-1, 1]
        if self.poses:
            from ..modalities.lifting import pose_targets

            cameras = self.cameras[i, picks.numpy()]
            pose = np.stack([pose_targets(c, b, self.render_size) for c, b in zip(cameras, boxes)])
            # pose (V, 7): lddbm.modalities.lifting.POSE
            source = {"views": source, "pose": torch.from_numpy(pose), "turntable": torch.tensor(turntable)}
        return {"source": source, "target": self.voxels[i][None].float(), "category": self.categories_of[i]}


def _resize_views(views: np.ndarray, size: int) -> torch.Tensor:
    """(V, S0, S0, 3) uint8 -> (V, 3, size, size) uint8, antialiased."""
    from PIL import Image

    if views.shape[1] != size:
        views = np.stack([np.asarray(Image.fromarray(v).resize((size, size), Image.BICUBIC)) for v in views])
    return torch.from_numpy(np.ascontiguousarray(views)).permute(0, 3, 1, 2).contiguous()
