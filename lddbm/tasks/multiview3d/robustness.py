"""Benchmarks for what people upload: foreground segmentation, and views -> 3D under corruptions.

Both use held-out data only: test-split furniture renders (with their exact masks) on the test
photographs of ``build-data photos``, uniform colours and gradients (``lddbm.data.augment``); the
segmentation benchmark also scores the real photographs of ``assets/realphotos`` (hand-checked masks).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ...data.augment import CORRUPTIONS, composite, corrupt_view, on_card
from ...data.backgrounds import gradient_background, random_photo_crop, solid_background
from ...data.multiview import load_objects
from ...data.tabletop import tabletop_scene
from ...errors import DataError
from ...framing import normalize_view

BACKGROUNDS = ("light", "photo", "solid", "gradient", "tabletop", "card")


def held_out_photos(root: str | Path) -> list[np.ndarray]:
    """The test photographs of a built photos folder as RGB arrays (at most 1024 px)."""
    from ...data.photos import photo_arrays

    out = photo_arrays(root, "test", max_side=1024)
    if not out:
        raise DataError(f"No test photographs in {root}; run python -m lddbm build-data photos --out {root}.")
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (two empty masks: 1), by the same ``lddbm.metrics.iou`` as the voxels."""
    from ...metrics import iou

    return float(iou(torch.from_numpy(np.asarray(a))[None].float(), torch.from_numpy(np.asarray(b))[None]))


def segmentation_benchmark(segmenters: dict[str, Callable[[np.ndarray], np.ndarray]], data_root: str | Path,
                           photos_root: str | Path, split: str = "test", limit: int | None = None,
                           upload_size: int = 512, seed: int = 0, log: Callable[[str], None] | None = None,
                           objects: list[dict] | None = None) -> dict:
    """Mask IoU of each segmenter (rgb -> bool mask) on held-out composites, per background kind.

    Each object gives one view per background (views 0, 3, 6, 9 in turn), up-sampled to
    ``upload_size`` as an upload would be; masks are compared at the render's resolution. Also
    times the whole normaliser (segmentation + framing) per ``upload_size``² view. ``objects``
    (``load_objects``' layout, e.g. ``lddbm.data.cutouts.load_cutouts``) replaces the data set's.
    """
    photos = held_out_photos(photos_root)
    if objects is None:
        _, objects = load_objects(data_root, split, limit, masks=True)
    elif limit:
        objects = objects[:limit]
    scores = {name: {kind: [] for kind in BACKGROUNDS} for name in segmenters}
    seconds = {name: [] for name in segmenters}
    for n, obj in enumerate(objects):
        for k, kind in enumerate(BACKGROUNDS):
            rng = np.random.default_rng([seed, n, k])
            v = (3 * k + n) % len(obj["views"])
            view, mask = obj["views"][v], obj["masks"][v]
            if kind == "tabletop":  # standing on a surface with shadows; the object is moved, so is its mask
                scene, mask = tabletop_scene(view, mask, rng, photos, scale=(0.55, 0.85))
            elif kind == "card":  # on a sheet of paper or card lying on a photograph; moved and shrunk too
                scene, mask = on_card(view, mask, rng, photos)
            else:
                background = {"light": lambda: np.full_like(view, 245),
                              "photo": lambda: random_photo_crop(photos, view.shape[0], rng),
                              "solid": lambda: solid_background(view.shape[0], rng),
                              "gradient": lambda: gradient_background(view.shape[0], rng)}[kind]()
                scene = composite(view, mask, background)
            upload = np.asarray(Image.fromarray(scene).resize((upload_size,) * 2, Image.BICUBIC))
            for name, segment in segmenters.items():
                start = time.perf_counter()
                predicted = segment(upload)
                seconds[name].append(time.perf_counter() - start)
                small = np.asarray(Image.fromarray(predicted.astype(np.uint8) * 255).resize(mask.shape[::-1], Image.BILINEAR)) > 127
                scores[name][kind].append(mask_iou(small, mask))
        if log and (n + 1) % 20 == 0:
            log(f"segmentation: {n + 1}/{len(objects)} objects")
    report = {"split": split, "objects": len(objects), "upload_size": upload_size, "methods": {}}
    for name in segmenters:
        per_kind = {kind: float(np.mean(v)) for kind, v in scores[name].items()}
        report["methods"][name] = {"mask_iou": per_kind, "mask_iou_mean": float(np.mean(list(per_kind.values()))),
                                   "mask_iou_p10": {kind: float(np.percentile(v, 10)) for kind, v in scores[name].items()},
                                   "segment_seconds_median": float(np.median(seconds[name]))}
    return report


def real_photo_benchmark(segmenters: dict[str, Callable[[np.ndarray], np.ndarray]],
                         root: str | Path = "assets/realphotos") -> dict:
    """Mask IoU of each segmenter (rgb -> bool mask) on the real-photo check set (``lddbm.data.realphotos``:
    photographs of single objects with hand-checked masks), per photo and mean; {} when the set is absent."""
    from ...data.realphotos import real_photo_set

    photos = real_photo_set(root)
    if not photos:
        return {}
    report = {"photos": len(photos), "root": str(root), "methods": {}}
    for name, segment in segmenters.items():
        per_photo = {photo: mask_iou(segment(rgb), mask) for photo, rgb, mask in photos}
        report["methods"][name] = {"mask_iou_mean": float(np.mean(list(per_photo.values()))), "per_photo": per_photo}
    return report


def normaliser_seconds(segmenter, upload_size: int = 512, repeats: int = 10, seed: int = 0) -> float:
    """Median seconds of ``normalize_view`` (segmentation + framing) on a ``upload_size``² photo-like view."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:upload_size, 0:upload_size]
    image = (rng.integers(0, 255, (upload_size, upload_size, 3)) * 0.3 + 120).astype(np.uint8)
    blob = (yy - upload_size / 2) ** 2 / 3 + (xx - upload_size / 2) ** 2 < (upload_size / 4) ** 2
    image[blob] = (200, 60, 40)
    pil = Image.fromarray(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        normalize_view(pil, segmenter=segmenter)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def robustness_benchmark(pipe, data_root: str | Path, photos_root: str | Path, split: str = "test", views: int = 4,
                         corruptions: tuple[str, ...] = CORRUPTIONS, limit: int | None = None,
                         steps: int | None = None, sampler: str | None = None, seed: int = 0, batch_size: int = 16,
                         log: Callable[[str], None] | None = None, preprocess_kwargs: dict | None = None) -> dict:
    """IoU@0.5 of views -> 3D on the split, clean and under each corruption, through the pipeline's
    own preprocessing (segmentation and framing included), as an upload would go. ``preprocess_kwargs``
    go to the pipeline's preprocessing (e.g. ``segmenter`` for a pipeline that has none of its own)."""
    from ...metrics import iou

    photos = held_out_photos(photos_root)
    ids, objects = load_objects(data_root, split, limit, masks=True)
    targets = torch.stack([torch.from_numpy(o["voxels"]).float() for o in objects])
    total = len(objects[0]["views"])
    picks = np.linspace(0, total, views, endpoint=False).astype(int)  # evenly spread, as in eval
    report = {"split": split, "objects": len(objects), "views": views, "corruptions": {}}
    for c, corruption in enumerate(corruptions):
        uploads = []
        for n, obj in enumerate(objects):
            rng = np.random.default_rng([seed, n, c])
            uploads.append([corrupt_view(obj["views"][v], obj["masks"][v], corruption, rng, photos) for v in picks])
        start = time.perf_counter()
        probs = []
        for i in range(0, len(uploads), batch_size):
            generator = torch.Generator(device=pipe.device).manual_seed(seed + i)
            out = pipe(uploads[i : i + batch_size], num_inference_steps=steps, sampler=sampler, generator=generator,
                       preprocess_kwargs=preprocess_kwargs)
            probs.append(out.outputs.float().cpu())
        ious = iou(torch.cat(probs), targets)
        report["corruptions"][corruption] = {"iou": float(ious.mean()), "empty": int((torch.cat(probs) >= 0.5).flatten(1).sum(1).eq(0).sum()),
                                             "seconds": round(time.perf_counter() - start, 1)}
        if log:
            log(f"{corruption:>17}: IoU {float(ious.mean()):.3f}")
    clean = report["corruptions"].get("clean", {}).get("iou")
    if clean is not None:
        for r in report["corruptions"].values():
            r["drop_from_clean"] = round(clean - r["iou"], 4)
    return report
