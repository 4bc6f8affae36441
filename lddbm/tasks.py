"""The task registry: each task names its modalities, its data and its evaluation.

Training, ``eval``, ``bench`` and the command line read ``TASKS``; a new task (e.g. novel views)
is one ``Task`` registered here whose modules follow ``lddbm.modalities.base``. A preset picks its
task through ``preset.data.kind``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from .batch import batch_len, batch_slice
from .denoiser import BridgeTransformer
from .errors import ConfigError
from .metrics import mse, psnr
from .pipeline import LDDBMPipeline
from .presets import Preset
from .scheduler import BridgeScheduler


@dataclass(frozen=True)
class SampleOptions:
    steps: int | None = None  # None: the scheduler's default
    sampler: str | None = None  # a name in lddbm.samplers.SAMPLERS
    guidance: float | None = None  # heun
    churn: float | None = None  # heun
    eta: float | None = None  # dbim
    batch_size: int = 256
    seed: int = 0

    def sampler_kwargs(self) -> dict:
        """The pipeline's sampling keywords (None: the checkpoint's default)."""
        return dict(num_inference_steps=self.steps, sampler=self.sampler, guidance=self.guidance, churn=self.churn,
                    eta=self.eta)


@dataclass(frozen=True)
class Task:
    name: str  # what `eval NAME` and `bench NAME` accept (besides the preset's own name)
    data_kinds: tuple[str, ...]  # the preset.data.kind values this task trains and evaluates on
    build_modalities: Callable[[Preset], dict[str, nn.Module]]  # source_encoder, target_encoder, target_decoder
    dataset: Callable[[Preset, str], Dataset]
    # evaluate(pipe, preset, split, limit, opts, **options); options: only those named in eval_options
    evaluate: Callable[..., dict]
    eval_options: tuple[str, ...] = ()  # task-specific options of `eval` (e.g. "images" for super-resolution)
    aliases: tuple[str, ...] = ()  # older or shorter names `eval` accepts
    default_preset: str = ""  # the preset `eval NAME` assumes for a pipeline folder saved without its preset.json


def build_denoiser(preset: Preset) -> BridgeTransformer:
    d = preset.denoiser
    return BridgeTransformer(
        in_channels=preset.latent.channels,
        sample_size=preset.latent.size,
        patch_size=d.patch_size,
        hidden_size=d.hidden_size,
        depth=d.depth,
        encoder_depth=d.encoder_depth,
        num_heads=d.num_heads,
        mlp_ratio=d.mlp_ratio,
        num_mask_tokens=d.num_mask_tokens,
        num_classes=d.num_classes,
    )


def build_scheduler(preset: Preset) -> BridgeScheduler:
    s = preset.sampling
    return BridgeScheduler(
        bridge=dataclasses.asdict(preset.bridge),
        sampler=s.sampler,
        num_inference_steps=s.steps,
        guidance=s.guidance,
        churn=s.churn,
        eta=s.eta,
        source_scale=s.source_scale,
        num_candidates=s.num_candidates,
        rho=s.rho,
        t_max_offset=s.t_max_offset,
    )


def translate(pipe: LDDBMPipeline, sources: torch.Tensor | None, opts: SampleOptions, num_samples: int = 1,
              class_labels: torch.Tensor | None = None, **guidance) -> tuple[torch.Tensor, int]:
    """Run the pipeline over ``sources`` in batches; returns decoded outputs ("pt", ``num_samples``
    per source, source-major) and NFE. ``class_labels`` (one per source) and ``guidance``
    (``source_scale``, ``label_scale``) go to a label-conditioned pipeline; ``sources=None`` with
    labels generates from the labels alone."""
    generator = torch.Generator(device=pipe.device).manual_seed(opts.seed)
    outs, nfe = [], 0
    step = max(1, opts.batch_size // num_samples)
    total = batch_len(sources) if sources is not None else len(class_labels)
    for i in range(0, total, step):
        extra = dict(guidance)
        if class_labels is not None:
            extra["class_labels"] = class_labels[i : i + step].tolist()
        batch = batch_slice(sources, i, i + step) if sources is not None else None
        out = pipe(batch, generator=generator, num_samples=num_samples, **opts.sampler_kwargs(), **extra)
        outs.append(out.outputs.cpu())
        nfe = out.nfe
    return torch.cat(outs), nfe


# ---- synthetic: vector -> disc image ---------------------------------------------------------------


def _synthetic_modalities(preset: Preset) -> dict[str, nn.Module]:
    from .modalities import ImageDecoder, ImageEncoder, VectorEncoder

    d, lat, s0 = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size)
    return {
        "source_encoder": VectorEncoder(dim=d.source_dim, width=4 * lat.width, sigma_data=s0.sigma_data_end, **common),
        "target_encoder": ImageEncoder(in_channels=1, image_size=d.image_size, width=lat.width, sigma_data=s0.sigma_data, **common),
        "target_decoder": ImageDecoder(out_channels=1, image_size=d.image_size, width=lat.width, **common),
    }


def _synthetic_dataset(preset: Preset, split: str) -> Dataset:
    from .data.synthetic import SyntheticPairs

    return SyntheticPairs(preset.data, split)


def _synthetic_evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions) -> dict:
    """Per-pixel MSE and PSNR of the translated images, against predicting the mean train image."""
    data = _synthetic_dataset(preset, split)
    n = len(data) if limit is None else min(limit, len(data))
    target = data.target[:n]
    pred, nfe = translate(pipe, data.source[:n], opts)
    mean_image = _synthetic_dataset(preset, "train").target.mean(dim=0, keepdim=True)
    baseline = mean_image.expand_as(target)
    lddbm_mse, base_mse = mse(pred, target).mean().item(), mse(baseline, target).mean().item()
    return {
        "split": split,
        "samples": n,
        "nfe": nfe,
        "mse": lddbm_mse,
        "psnr": psnr(pred, target).mean().item(),
        "mean_baseline_mse": base_mse,
        "mean_baseline_psnr": psnr(baseline, target).mean().item(),
        "mse_ratio_to_baseline": lddbm_mse / base_mse,
    }


# ---- multi-view images -> 32^3 voxels ---------------------------------------------------------------


def _multiview_modalities(preset: Preset) -> dict[str, nn.Module]:
    from .modalities import LiftingEncoder, MultiViewEncoder, VoxelDecoder, VoxelEncoder

    d, lat, b = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size)
    encoder = {"pooled": MultiViewEncoder, "lifting": LiftingEncoder}[d.encoder]
    return {
        "source_encoder": encoder(image_size=d.image_size, width=lat.width, sigma_data=b.sigma_data_end,
                                  foreground_ratio=d.foreground_ratio if d.kind == "furniture" else None, **common),
        "target_encoder": VoxelEncoder(grid=d.grid, width=lat.width, sigma_data=b.sigma_data, **common),
        "target_decoder": VoxelDecoder(grid=d.grid, width=lat.width, **common),
    }


def _multiview_dataset(preset: Preset, split: str) -> Dataset:
    d = preset.data
    if d.kind == "shapenet":
        from .data.shapenet import ShapeNetR2N2

        return ShapeNetR2N2(d.root, d.split_file, split=split, image_size=d.image_size, num_views=d.num_views)
    from .data.furniture import MultiViewVoxels

    augment = d.augment and split == "train" and d.foreground_ratio is not None
    return MultiViewVoxels(d.root, split, num_views=d.num_views, image_size=d.image_size,
                           foreground_ratio=d.foreground_ratio, augment=augment,
                           photos=background_photos(d.backgrounds) if augment else None,
                           poses=d.encoder == "lifting" and split == "train", pool=d.augment_pool,
                           pool_seed=preset.train.seed)


def background_photos(root: str) -> list | None:
    """The training photographs of a built photos folder as arrays (at most 512 px); None if absent."""
    import logging
    from pathlib import Path

    from .data.photos import photo_arrays

    if not root or not (Path(root) / "index.json").is_file():
        logging.getLogger(__name__).warning("no photographs at %r: backgrounds will be solid colours and gradients "
                                            "only (python -m lddbm build-data photos --out %s)", root, root or "data/photos")
        return None
    return photo_arrays(root, "train")


def _multiview_evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                        samples: int | None = None) -> dict:
    """IoU@0.5, F-score@1%, Chamfer-L1 and EMD per object, 1-NNA of the set (paired and unpaired),
    per-category IoU, speed; with ``samples`` K > 1 also what K stochastic samples per object give
    (mean IoU per sample, best of K, the mean shape the demo shows, disagreement -> error AUROC)."""
    import time

    from .metrics import chamfer_l1, emd, fscore, iou, one_nna, surface_points

    data = _multiview_dataset(preset, split)
    n = len(data) if limit is None else min(limit, len(data))
    items = [data[i] for i in range(n)]
    sources = torch.stack([it["source"] for it in items])  # (N, V, 3, S, S)
    targets = torch.stack([it["target"][0] for it in items])  # (N, G, G, G)
    k = samples or 1
    if k < 1:
        raise ConfigError(f"--samples must be at least 1, got {k}.")
    start = time.perf_counter()
    drawn, nfe = translate(pipe, sources, opts, num_samples=k)
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
        translate(pipe, sources[:1], opts)
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
        plain = dataclasses.replace(opts, churn=0.0 if opts.churn else opts.churn, eta=0.0 if opts.eta else opts.eta)
        deterministic, _ = translate(pipe, sources, plain)
        report["stochastic"] = stochastic_report(drawn, targets, deterministic)
    return report


def stochastic_report(drawn: torch.Tensor, targets: torch.Tensor, deterministic: torch.Tensor | None = None) -> dict:
    """K samples per object (N, K, G, G, G) against the truth (N, G, G, G); with the
    deterministic answer (N, G, G, G) also its IoU and how well the samples' disagreement
    predicts *its* errors."""
    from .metrics import disagreement_auroc, iou

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


# ---- low-resolution -> high-resolution photographs --------------------------------------------------


def _photo_modalities(preset: Preset) -> dict[str, nn.Module]:
    from .modalities import AnchoredImageDecoder, AnchoredImageEncoder, LowResEncoder

    d, lat, b = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size, width=lat.width)
    return {
        "source_encoder": LowResEncoder(image_size=d.hr_size // d.scale, sigma_data=b.sigma_data_end,
                                        anchor_blocks=d.anchor_blocks, **common),
        "target_encoder": AnchoredImageEncoder(image_size=d.hr_size, sigma_data=b.sigma_data, **common),
        "target_decoder": AnchoredImageDecoder(image_size=d.hr_size, **common),
    }


def _photo_dataset(preset: Preset, split: str) -> Dataset:
    from .data.photos import PhotoCrops

    d = preset.data
    return PhotoCrops(d.root, split, hr_size=d.hr_size, scale=d.scale, crops_per_epoch=d.crops_per_epoch, zoom=d.zoom,
                      degradation=d.degradation)


def _photo_evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                    images: str | None = None, baseline: str | None = None, crop: int | None = None,
                    scale: int | None = None, degradation: str = "bicubic", peers: str | None = None) -> dict:
    """PSNR/SSIM of whole-image upscales against bicubic, and of the autoencoder's reconstruction.

    "val" (periodic evaluation while training) scores centre crops of ``data.eval_crop`` px of the
    *training* photographs: a fitting monitor, not a generalisation estimate; nothing is selected
    on it. "test" scores the whole held-out photographs (up to 2048 px at x4). ``images``: a folder
    of high-resolution originals to score instead of the data's split; ``baseline``: a second
    pipeline folder scored alongside with its own default sampling; ``crop``: centre crop (HR px);
    ``scale``: the expected factor (an error if the checkpoint's differs); ``degradation``: how the
    inputs are made ("bicubic" or "jpeg_noise", ``lddbm.data.degradations``); ``peers``: comma-separated
    other upscalers scored on the same inputs (``waifu2x``, ``waifu2x-denoise2``, ...; ``lddbm.peers``),
    each skipped with a note in the report when it cannot run here.
    """
    from .data.photos import load_split
    from .superres import autoencoder_psnr, evaluate_images, load_images, pipeline_scale

    d = preset.data
    factor = pipeline_scale(pipe)
    if scale is not None and scale != factor:
        raise ConfigError(f"--scale {scale} does not match the checkpoint, which upscales x{factor}.")
    source = images or f"{d.root} ({'train' if split == 'val' else split} split)"
    if images:
        originals = load_images(images)
    else:
        originals = load_split(d.root, "train" if split == "val" else split)
        crop = crop or (d.eval_crop if split == "val" else None)
    if limit is not None:
        originals = dict(list(originals.items())[:limit])
    models = {"lddbm": pipe}
    if baseline:
        models["baseline"] = LDDBMPipeline.load(baseline, device=pipe.device)
        models["baseline"].set_progress_bar_config(disable=True)
    kwargs = opts.sampler_kwargs()
    sampling = {"lddbm": {"steps": kwargs.pop("num_inference_steps"), **kwargs}}  # the baseline: its own defaults
    from .peers import peers_by_name

    peer_models, skipped = peers_by_name(peers)
    report = evaluate_images(models, originals, factor, crop=crop, sampling=sampling, seed=opts.seed,
                             log=logging.getLogger(__name__).info, degradation=degradation or "bicubic", peers=peer_models)
    report.update(peers_skipped=skipped, split=split, images_from=str(source), baseline=baseline, nfe=report["nfe_per_tile"]["lddbm"],
                  psnr_gain=report["gain_over_bicubic"]["lddbm"]["psnr_rgb"])
    folder = pipe.config.get("_name_or_path")  # set when loaded from a folder (not for a pipeline built in training)
    encoder_dir = Path(folder) / "target_encoder" if folder else None
    if (images or split != "val") and encoder_dir is not None and encoder_dir.is_dir():  # the autoencoder's reconstruction bounds what the bridge can reach
        from .modalities import AnchoredImageEncoder

        encoder = AnchoredImageEncoder.from_pretrained(encoder_dir).to(pipe.device).float()
        report["autoencoder_psnr_rgb"] = autoencoder_psnr(encoder, pipe.target_decoder.float(), originals,
                                                          encoder.config.image_size, seed=opts.seed)
    return report


# ---- views + camera -> a new view -------------------------------------------------------------------


def _novelview_modalities(preset: Preset) -> dict[str, nn.Module]:
    from .modalities import ImageDecoder, ImageEncoder, PosedViewsEncoder

    d, lat, b = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size, width=lat.width)
    return {
        "source_encoder": PosedViewsEncoder(image_size=d.image_size, max_views=d.num_views, sigma_data=b.sigma_data_end,
                                            foreground_ratio=d.foreground_ratio, **common),
        "target_encoder": ImageEncoder(in_channels=3, image_size=d.image_size, sigma_data=b.sigma_data, **common),
        "target_decoder": ImageDecoder(out_channels=3, image_size=d.image_size, **common),
    }


def _novelview_dataset(preset: Preset, split: str) -> Dataset:
    from .data.novelview import NovelViews

    d = preset.data
    augment = d.augment and split == "train" and d.foreground_ratio is not None
    return NovelViews(d.root, split, num_views=d.num_views, image_size=d.image_size, foreground_ratio=d.foreground_ratio,
                      augment=augment, photos=background_photos(d.backgrounds) if augment else None)


def _novelview_evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                        features: str | None = None, baseline: str | None = None, candidates: int | None = None) -> dict:
    """PSNR, SSIM, gradient-energy ratio and KID per Δazimuth bucket against the copy baseline
    (``lddbm.novelview.evaluate_novelview``); ``limit``: the first N objects."""
    from .novelview import evaluate_novelview

    return evaluate_novelview(pipe, preset, split, limit, opts, features=features, baseline=baseline,
                              candidates=candidates)


# ---- digits: handwritten <-> printed ----------------------------------------------------------------


def _digit_modalities_of(preset: Preset) -> tuple[str, str]:
    source, _, target = preset.data.direction.partition("_to_")
    return source, target


def _digits_modalities(preset: Preset) -> dict[str, nn.Module]:
    from .digits import MODALITIES
    from .modalities import ImageDecoder, ImageEncoder

    lat, b = preset.latent, preset.bridge
    source, target = _digit_modalities_of(preset)
    common = dict(image_size=32, latent_channels=lat.channels, latent_size=lat.size, width=lat.width)
    return {
        "source_encoder": ImageEncoder(in_channels=MODALITIES[source], sigma_data=b.sigma_data_end, **common),
        "target_encoder": ImageEncoder(in_channels=MODALITIES[target], sigma_data=b.sigma_data, **common),
        "target_decoder": ImageDecoder(out_channels=MODALITIES[target], **common),
    }


def _digits_dataset(preset: Preset, split: str) -> Dataset:
    from .data.digits import DigitPairs

    return DigitPairs(preset.data.root, split, direction=preset.data.direction)


def _digits_evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                     classifiers: str | None = None, source_scale: float | None = None,
                     candidates: int | None = None) -> dict:
    """Cross coherence and KID (judged by our classifiers, when trained: ``classifiers`` or the preset's
    data.classifiers folder) of one translation per source image of ``split``, and the latent linear
    probe on 2,000 training source latents (``lddbm.digits``). ``source_scale``: the source's guidance
    weight (lambda_sketch, ``lddbm.guidance``; default: the checkpoint's). ``candidates``: bridge samples
    per translation, the best aligned with its source kept (the pipeline's ``num_candidates``; default:
    the checkpoint's); "single_draw" scores one draw each as well when it is above 1."""
    from .digits import cross_coherence, latent_probe, load_images, load_judge, quality_kid

    source, target = _digit_modalities_of(preset)
    x, y = load_images(preset.data.root, source, split)
    if limit is not None:  # a seeded subset: the images are stored class by class
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(opts.seed))[:limit]
        x, y = x[pick], y[pick]
    lam = pipe.default_source_scale if source_scale is None else source_scale
    k = pipe.default_num_candidates if candidates is None else candidates
    translated, nfe = translate(pipe, x, opts, source_scale=lam, num_candidates=k)
    report = {"split": split, "direction": preset.data.direction, "images": len(x), "nfe": nfe, "source_scale": lam,
              "candidates": k}
    folder = Path(classifiers or preset.data.classifiers) / target
    judge = load_judge(folder)
    if judge is not None:
        real, _ = load_images(preset.data.root, target, split)
        report["cross_coherence"] = cross_coherence(judge[0], translated, y)
        report["kid"] = quality_kid(judge[0], translated, real)
        report["classifier"] = {"folder": str(folder), **judge[1]}
        if k > 1:  # the same model without re-ranking: one bridge sample per source
            single, single_nfe = translate(pipe, x, opts, source_scale=lam, num_candidates=1)
            report["single_draw"] = {"cross_coherence": cross_coherence(judge[0], single, y),
                                     "kid": quality_kid(judge[0], single, real), "nfe": single_nfe}
        if getattr(pipe.denoiser.config, "num_classes", 0):  # label-conditioned: the true digit as the label too
            report["with_labels"] = {
                f"{source}+label ({lam:g}, {w:g})" if x_in is not None else f"label only ({w:g})":
                    cross_coherence(judge[0], translate(pipe, x_in, opts, class_labels=y, source_scale=lam,
                                                        label_scale=w, num_candidates=k if x_in is not None else 1)[0], y)
                for x_in in (x, None) for w in (1.0, 3.0)}
    else:
        report["classifier"] = f"none in {folder}: train them with python -m lddbm digits-classifiers"
    encoder = pipe.source_encoder
    report["linear_probe_accuracy"] = latent_probe(lambda images: encoder(images.to(pipe.device, encoder.dtype)),
                                                   preset.data.root, source, x, y, seed=opts.seed)
    return report


TASKS: dict[str, Task] = {task.name: task for task in (
    Task("synthetic", ("synthetic",), _synthetic_modalities, _synthetic_dataset, _synthetic_evaluate,
         default_preset="synthetic"),
    Task("multiview3d", ("furniture", "shapenet"), _multiview_modalities, _multiview_dataset, _multiview_evaluate,
         eval_options=("views", "samples"), aliases=("shapenet",), default_preset="multiview3d"),
    Task("superres", ("photos",), _photo_modalities, _photo_dataset, _photo_evaluate,
         eval_options=("images", "baseline", "crop", "scale", "degradation", "peers"), aliases=("sr",),
         default_preset="sr4x"),
    Task("novelview", ("novelview",), _novelview_modalities, _novelview_dataset, _novelview_evaluate,
         eval_options=("views", "features", "baseline", "candidates"), aliases=("novelviews",), default_preset="novelview"),
    Task("digits", ("digits",), _digits_modalities, _digits_dataset, _digits_evaluate,
         eval_options=("classifiers", "source_scale", "candidates"), default_preset="digits_h2p"),
)}


def get_task(preset: Preset) -> Task:
    """The task a preset trains and evaluates (by its data kind)."""
    for task in TASKS.values():
        if preset.data.kind in task.data_kinds:
            return task
    raise ConfigError(f"No task for data kind {preset.data.kind!r}; known: "
                      f"{', '.join(k for t in TASKS.values() for k in t.data_kinds)}.")


def preset_for_name(name: str) -> str:
    """A preset name for what the user typed: a preset's own name, or a task's (its default preset)."""
    for task in TASKS.values():
        if name in (task.name, *task.aliases):
            return task.default_preset
    return name


def check_task_name(name: str, preset: Preset) -> Task:
    """The checkpoint's task, when ``name`` (what the user typed) names it or its preset; else a
    ConfigError: a checkpoint is never silently scored as another task."""
    task = get_task(preset)
    accepted = {task.name, *task.aliases, preset.name}
    if name not in accepted:
        raise ConfigError(f"The checkpoint is a {preset.name!r} model (task {task.name!r}), not {name!r}; "
                          f"run `eval {task.name} ...` or pass a {name} checkpoint.")
    return task
