"""Novel views from the built furniture/objects renders (``build-data furniture|objects``).

Each item: 1-V source views of one object (the first is the reference) and the camera of a target
view — Δazimuth relative to the reference and the target's elevation (``lddbm.modalities.posedviews``)
— and that target view as the translation's target. The split is the data set's object-level
split, so test objects are never trained on.

- Train: per item a random reference, a random other view as target, and V-1 helpers drawn from
  the remaining views (the encoder drops helpers at random, so one model serves 1..V views).
  Source views are framed like uploads (``lddbm.framing``) and, with ``augment``, put on random
  backgrounds and degraded like the views -> 3D training views, but not re-coloured (the target
  keeps the object's colours); the target is the render resized.
- Val/test: fixed requests: each object's view 0 as reference, every other view as a target,
  and helpers spread evenly in azimuth among the views that are not the target.

Besides "source" and "target", items carry "delta_azimuth" (degrees), "category" and "nearest": the
render of the source view whose viewing direction is nearest the target's (``view_angle``; the copy
baseline: it uses the source views' true cameras, which the model is not told), and "nearest_source",
that view's index among the source views (the framed copy: the same view as the model receives it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ...data.augment import augment_view, frame_clean
from ...data.furniture import one_per_category_first
from ...data.multiview import built_ids, load_object
from ...images import to_unit
from ...modalities.posedviews import relative_azimuth

__all__ = ["NovelViews", "evaluation_requests", "export_examples", "view_angle"]


def view_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two cameras' directions from the object, each (azimuth, elevation)."""
    def direction(c):
        az, el = np.radians(c[0]), np.radians(c[1])
        return np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
    return float(np.degrees(np.arccos(np.clip(direction(a) @ direction(b), -1.0, 1.0))))


def evaluation_requests(cameras: np.ndarray, num_views: int) -> list[tuple[int, int, list[int]]]:
    """(target, reference, helpers) for every target view of one object: reference view 0, and
    ``num_views - 1`` helpers spread evenly in azimuth among the other non-target views."""
    total = len(cameras)
    requests = []
    for target in range(1, total):
        others = [k for k in range(1, total) if k != target]
        count = min(num_views - 1, len(others))
        picks = [others[int(round(j * len(others) / (count + 1)))] for j in range(1, count + 1)] if count else []
        requests.append((target, 0, picks))
    return requests


class NovelViews(Dataset):
    def __init__(self, root: str | Path, split: str = "train", num_views: int = 4, image_size: int = 64,
                 foreground_ratio: float | None = 0.75, augment: bool = False, photos: list[np.ndarray] | None = None,
                 limit_objects: int | None = None):
        root = Path(root)
        ids = built_ids(root, split)[: limit_objects or None]
        if num_views < 1:
            raise ValueError(f"num_views must be at least 1, got {num_views}.")
        self.split, self.num_views, self.size = split, num_views, image_size
        self.ratio, self.photos = foreground_ratio, photos
        objects = [load_object(root / "objects" / f"{i}.npz") for i in ids]
        if foreground_ratio is not None and any(o["masks"] is None for o in objects):
            raise ValueError(f"{root} was built without masks; rebuild it or set data.foreground_ratio to null.")
        self.ids = ids
        self.categories_of = [o["meta"]["category"] for o in objects]
        self.cameras = np.stack([o["cameras"][:, :2] for o in objects]).astype(np.float32)  # (N, V_all, 2) az, el
        self.total_views = self.cameras.shape[1]
        self.augment = augment and split == "train" and foreground_ratio is not None
        resize = lambda v: np.asarray(Image.fromarray(v).resize((image_size, image_size), Image.BICUBIC))  # noqa: E731
        self.renders = torch.from_numpy(np.stack([[resize(v) for v in o["views"]] for o in objects]))  # (N, V_all, S, S, 3)
        if self.augment:  # full-size renders and masks kept; source views are made per item
            self.full, self.masks = np.stack([o["views"] for o in objects]), np.stack([o["masks"] for o in objects])
        elif foreground_ratio is not None:
            self.framed = torch.from_numpy(np.stack([[frame_clean(v, m, image_size, foreground_ratio)
                                                      for v, m in zip(o["views"], o["masks"])] for o in objects]))
        else:
            self.framed = self.renders
        if split == "train":
            self.requests = None
        else:
            per_object = evaluation_requests(self.cameras[0], num_views)  # view indices, the same for every object
            self.requests = [(i, *r) for i in range(len(ids)) for r in per_object]

    def __len__(self) -> int:
        return len(self.ids) if self.requests is None else len(self.requests)

    def request(self, i: int) -> tuple[int, int, int, list[int]]:
        """(object, target view, reference view, helper views) of item ``i``."""
        if self.requests is not None:
            return self.requests[i]
        order = torch.randperm(self.total_views).tolist()  # the global RNG: seeded and restored by the trainer
        return i, order[1], order[0], order[2 : 2 + self.num_views - 1]

    def __getitem__(self, i: int) -> dict:
        obj, target, reference, helpers = self.request(i)
        picks = [reference, *helpers]
        if self.augment:
            rng = np.random.default_rng(int(torch.randint(2**62, ())))
            # no colour jitter: the new view shows the object's own colours, which the source views must carry
            views = torch.from_numpy(np.stack([augment_view(self.full[obj, k], self.masks[obj, k], self.size, rng,
                                                            self.photos, self.ratio, colour=False) for k in picks]))
        else:
            views = self.framed[obj, picks]
        az, el = self.cameras[obj, :, 0], self.cameras[obj, :, 1]
        delta = float(relative_azimuth(az[target], az[reference]))
        nearest = min(picks, key=lambda k: view_angle(self.cameras[obj, target], self.cameras[obj, k]))
        return {
            "source": {"views": to_unit(views).permute(0, 3, 1, 2),  # (V, 3, S, S) in [-1, 1]
                       "camera": torch.tensor([delta, el[target]], dtype=torch.float32)},
            "target": to_unit(self.renders[obj, target]).permute(2, 0, 1),  # (3, S, S)
            "nearest": to_unit(self.renders[obj, nearest]).permute(2, 0, 1),
            "nearest_source": picks.index(nearest),  # that view's place among the source views
            "delta_azimuth": delta,
            "category": self.categories_of[obj],
        }


def export_examples(root: str | Path, out: str | Path, split: str = "test", count: int = 4, views: int = 4) -> list[str]:
    """Copy ``count`` objects of ``split`` (one per category first) as the novel-view tab's examples.

    Each becomes OUT/<object_id>/: view_<k>.png, the ``views`` inputs (view 0 and views spread
    evenly after it), truth_<k>.png, every render (the ground truth shown for a camera near one), and
    meta.json: name, category, creator, licence, the input order ("views") and each file's camera
    ("cameras" for inputs, "truth" for renders: absolute azimuth and elevation, degrees)."""
    root, out = Path(root), Path(out)
    ids = json.loads((root / "split.json").read_text())[split]
    index = json.loads((root / "index.json").read_text())
    chosen = one_per_category_first(ids, {oid: index[oid]["category"] for oid in ids}, count)
    for oid in chosen:
        obj = load_object(root / "objects" / f"{oid}.npz")
        folder = out / oid
        folder.mkdir(parents=True, exist_ok=True)
        total = len(obj["views"])
        picks = [0, *np.linspace(0, total, views, endpoint=False).astype(int)[1:]]
        meta = {k: obj["meta"].get(k, "") for k in ("object_id", "name", "category", "source", "creator", "license")}
        meta.update(views=[], cameras={}, truth={})
        for k, v in enumerate(picks):
            name = f"view_{k}.png"
            Image.fromarray(obj["views"][v]).save(folder / name)
            meta["views"].append(name)
            meta["cameras"][name] = [float(x) for x in obj["cameras"][v, :2]]
        for v in range(total):
            if v in picks:
                continue
            name = f"truth_{v:02d}.png"
            Image.fromarray(obj["views"][v]).save(folder / name)
            meta["truth"][name] = [float(x) for x in obj["cameras"][v, :2]]
        (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return chosen
