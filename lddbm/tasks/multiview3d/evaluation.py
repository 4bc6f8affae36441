"""Scoring views -> 3D models: shape metrics per object, the set's 1-NNA, per-category IoU, speed,
and what K stochastic samples per object add."""

from __future__ import annotations

import time

import torch

from ...errors import ConfigError
from ...metrics import disagreement_auroc, iou
from ...modalities.lifting import takes_view_order
from ...pipeline import LDDBMPipeline
from ...presets import Preset
from ..base import SampleOptions, translate
from .build import dataset


def evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                        samples: int | None = None, view_order: str | None = None) -> dict:
    """IoU@0.5, F-score@1%, Chamfer-L1 and EMD per object, 1-NNA of the set (paired and unpaired),
    per-category IoU, speed; with ``samples`` K > 1 also what K stochastic samples per object give
    (mean IoU per sample, best of K, the mean shape the demo shows, disagreement -> error AUROC).
    ``view_order`` ("any" or "turntable"; a lifting encoder with azimuth classes): how the views are taken,
    None for the checkpoint's own setting; the data's views always come in the builder's turntable order."""
    from ...metrics import chamfer_l1, emd, fscore, iou, one_nna, surface_points

    data = dataset(preset, split)
    n = len(data) if limit is None else min(limit, len(data))
    items = [data[i] for i in range(n)]
    sources = torch.stack([it["source"] for it in items])  # (N, V, 3, S, S)
    targets = torch.stack([it["target"][0] for it in items])  # (N, G, G, G)
    if view_order and not takes_view_order(pipe.source_encoder):
        raise ConfigError(f"--view-order applies to a lifting model with azimuth classes; {type(pipe.source_encoder).__name__} "
                          "takes the views as a set: leave --view-order out.")
    order = view_order or getattr(pipe.source_encoder.config, "view_order", None)
    extra = {"preprocess_kwargs": {"view_order": view_order}} if view_order else {}
    k = samples or 1
    if k < 1:
        raise ConfigError(f"--samples must be at least 1, got {k}.")
    start = time.perf_counter()
    drawn, nfe = translate(pipe, sources, opts, num_samples=k, **extra)
    seconds = (time.perf_counter() - start) / n
    drawn = drawn.reshape(n, k, *drawn.shape[1:])  # (N, K, G, G, G)
    probs = drawn[:, 0]  # the first sample: what one call returns
    ious = iou(probs, targets)
    gen = torch.Generator().manual_seed(opts.seed)
    f_scores, chamfers, emds, clouds_pred, clouds_true = [], [], [], [], []
    for p, t in zip(probs, targets):
        pp, tp = surface_points(p, 2048, generator=gen), surface_points(t, 2048, generator=gen)
        f_scores.append(fscore(pp, tp, 0.01))
        chamfers.append(chamfer_l1(pp, tp))
        emds.append(emd(pp[:1024], tp[:1024]))  # the points come in random order
        clouds_pred.append(pp[:512])
        clouds_true.append(tp[:512])
    single = []
    for _ in range(3):  # latency of one object, as the demo sees it
        t0 = time.perf_counter()
        translate(pipe, sources[:1], opts, **extra)
        single.append(time.perf_counter() - t0)
    categories = [it["category"] for it in items]
    per_category = {
        c: {"objects": sum(k == c for k in categories),
            "iou": float(torch.stack([ious[i] for i, k in enumerate(categories) if k == c]).mean())}
        for c in sorted(set(categories))
    }
    report = {
        "split": split,
        "objects": n,
        "views": int(sources.shape[1]),
        **({"view_order": order} if order else {}),
        "nfe": nfe,
        "iou": float(ious.mean()),
        "fscore@1%": float(sum(f_scores) / n),
        "chamfer_l1": float(sum(chamfers) / n),
        "emd": float(sum(emds) / n),
        # generated from the even-numbered objects against the odd-numbered ones' ground truth: two
        # sets of different objects, as a generative model is judged (see metrics.one_nna)
        "1-nna_unpaired": float(one_nna(clouds_pred[0::2], clouds_true[1::2])) if n > 1 else float("nan"),
        "1-nna": float(one_nna(clouds_pred, clouds_true)),  # paired: each prediction with its own truth in the set
        "seconds_per_object": seconds,  # batched, all samples
        "latency_seconds": sorted(single)[1],  # one object alone (median of 3)
        "per_category": per_category,
    }
    if k > 1:
        # the same sampler without its randomness (churn / eta 0): what the samples are set against
        deterministic, _ = translate(pipe, sources, opts.without_randomness(), **extra)
        report["stochastic"] = stochastic_report(drawn, targets, deterministic)
    segmenter = preset.data.select_on_uploads
    if segmenter and split == "val":
        report.update(uploads_report(pipe, preset, segmenter, n, opts))
    return report


UPLOAD_CONDITIONS = ("clean", "photo", "tabletop")  # lddbm.data.augment.CORRUPTIONS


def uploads_report(pipe: LDDBMPipeline, preset: Preset, segmenter: str, limit: int, opts: SampleOptions) -> dict:
    """The first ``limit`` (at most 64) validation objects *as uploads*: each view through ``segmenter`` (a
    MaskNet folder) and the framing, as the renders (clean), pasted on photographs and standing on table tops
    (``robustness.robustness_benchmark``; backgrounds: the held-out photographs of ``data.backgrounds``).
    Returns the IoU per condition and their mean, ``uploads_iou``, which then selects the run's best/
    (``selection_metric``): clean validation IoU chose a checkpoint that was worse on uploads (docs/multiview3d.md)."""
    from ...segmentation import load_masknet
    from .robustness import robustness_benchmark

    masknet = load_masknet(segmenter).to(pipe.device)
    report = robustness_benchmark(pipe, preset.data.root, preset.data.backgrounds, split="val", views=preset.data.num_views,
                                  corruptions=UPLOAD_CONDITIONS, limit=min(limit, 64), steps=opts.steps,
                                  sampler=opts.sampler, seed=opts.seed, preprocess_kwargs={"segmenter": masknet})
    per_condition = {c: r["iou"] for c, r in report["corruptions"].items()}
    return {"uploads": per_condition, "uploads_iou": sum(per_condition.values()) / len(per_condition),
            "selection_metric": "uploads_iou"}


def stochastic_report(drawn: torch.Tensor, targets: torch.Tensor, deterministic: torch.Tensor | None = None) -> dict:
    """K samples per object (N, K, G, G, G) against the truth (N, G, G, G); with the
    deterministic answer (N, G, G, G) also its IoU and how well the samples' disagreement
    predicts *its* errors."""
    n, k = drawn.shape[:2]
    per_sample = iou(drawn.flatten(0, 1), targets.repeat_interleave(k, dim=0)).reshape(n, k)  # (N, K)
    share = (drawn >= 0.5).float().mean(dim=1)  # (N, G, G, G): share of samples that occupy each voxel
    occupied_somewhere = (drawn >= 0.5).any(dim=1) | (targets >= 0.5)
    samples_first = drawn.transpose(0, 1)  # (K, N, G, G, G)
    report = {
        "samples": k,
        "iou_per_sample": float(per_sample.mean()),
        "iou_per_sample_std_within_object": float(per_sample.std(dim=1).mean()),
        f"iou_best_of_{k}": float(per_sample.amax(dim=1).mean()),
        "iou_mean_probability": float(iou(drawn.mean(dim=1), targets).mean()),  # the shape the demo shows
        "voxels_disagreeing": float(((share > 0) & (share < 1)).float().mean()),
        # error = the mean shape differs from the truth; score = share of samples that disagree
        "disagreement_auroc": disagreement_auroc(samples_first, targets),
        "disagreement_auroc_occupied": disagreement_auroc(samples_first, targets, mask=occupied_somewhere),
    }
    if deterministic is not None:
        report["iou_deterministic"] = float(iou(deterministic, targets).mean())
        report["disagreement_auroc_deterministic"] = disagreement_auroc(samples_first, targets, shown=deterministic)
    return report
