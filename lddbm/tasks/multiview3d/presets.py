"""The views -> 3D presets and their data config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ...presets import (DenoiserConfig, LatentConfig, LossConfig, Preset, SamplingConfig, TrainConfig, diffusion_baseline,
                        regression_baseline)


@dataclass
class MultiViewData:
    """Views -> voxels: the furniture set built here, or ShapeNet in the 3D-R2N2 layout."""

    kind: Literal["furniture", "shapenet"] = "furniture"
    root: str = "data/furniture"  # built furniture folder, or the folder holding ShapeNetRendering/ShapeNetVox32
    split_file: str = ""  # shapenet: a Pix2Vox-style split json (furniture: ROOT/split.json)
    num_views: int = 4  # views per object in training and evaluation
    image_size: int = 64  # views are resized to this for the encoder
    grid: int = 32  # voxel resolution
    # furniture: frame every view like an upload (lddbm.framing) at this object-box / side ratio;
    # stored in the encoder's config, so the pipeline frames users' views the same way. None: raw renders
    foreground_ratio: float | None = 0.75
    augment: bool = True  # furniture train split: random backgrounds, colour, blur/JPEG, imperfect masks, framing jitter
    augment_pool: int = 0  # > 0: that many augmented variants per training view, made once and cached (speed)
    backgrounds: str = "data/photos"  # photographs (build-data photos; train split) used as backgrounds; "" = none
    # the source encoder: "pooled" (one vector per view, MultiViewEncoder) or "lifting" (per-view features
    # back-projected into a volume along estimated cameras, LiftingEncoder; trains a camera estimate)
    encoder: Literal["pooled", "lifting"] = "pooled"
    azimuth_bins: int = 0  # lifting: > 0 estimates each view's azimuth as a distribution over this many bins
    teacher_share: float = 0.5  # lifting, training: share of samples lifted along the true cameras (0: never)
    # lifting with azimuth_bins: how views that do not say are ordered (uploads, eval): "any", or "turntable"
    # (going round the object to the right, the first from the front: lddbm.modalities.lifting)
    view_order: Literal["any", "turntable"] = "any"
    turntable_share: float = 0.0  # lifting, training: share of samples drawn in turntable order (and marked so)
    # lifting: > 0 estimates the cameras with a network of their own this wide (PoseNet: a CNN per view and
    # pose_layers of self-attention across the views) instead of a head on the lifted features' small trunk
    pose_width: int = 0
    pose_layers: int = 2
    pose_regression_weight: float = 1.0  # lifting, training: the camera loss's weight on elevation and framing errors
    # lifting, training: each of those errors' own weight (elevation, log_scale, inverse_distance, u0, v0); None: all 1
    pose_part_weights: tuple[float, ...] | None = None
    # a segmenter folder (e.g. checkpoints/multiview3d/segmenter): validation also scores up to 64 objects as
    # uploads through it (clean, on photographs, on table tops; ``evaluation.uploads_report``) and the run keeps
    # best/ by their mean, "uploads_iou", instead of the clean IoU. "": clean validation only
    select_on_uploads: str = ""


def multiview3d() -> Preset:
    """4 views (64x64) -> 32^3 voxels on the furniture set; sized for CPU training."""
    return Preset(
        name="multiview3d",
        data=MultiViewData(),
        latent=LatentConfig(channels=16, size=8, width=16),
        denoiser=DenoiserConfig(patch_size=2, hidden_size=192, depth=4, encoder_depth=2, num_heads=4),
        sampling=SamplingConfig(sampler="heun", steps=10),
        loss=LossConfig(strategy="whole", contrastive_weight=0.5),
        # 3356 steps: the shipped run (105 min on one CPU thread, augmented views; validation IoU still rising)
        train=TrainConfig(steps=3356, batch_size=32, lr=5e-4, warmup_steps=200, ema_decay=0.999,
                          eval_every=500, save_every=250, eval_size=64, eval_steps=4, export_dtype="float16"),
    )


def objects3d() -> Preset:
    """4 views -> 32^3 voxels on the multi-source objects set (``build-data objects --studio random``):
    the multiview3d networks, trained with times drawn as the sampler visits them (``karras``): with
    uniform times only 0.6 % of training fell below t = 0.5, the denoiser was worse there than at
    t = T (benchmarks/denoiser_by_time.py), and every stochastic sample fell apart."""
    p = multiview3d()
    return dataclasses.replace(
        p, name="objects3d",
        data=dataclasses.replace(p.data, root="data/objects"),
        loss=dataclasses.replace(p.loss, t_sampling="karras"),
        train=dataclasses.replace(p.train, steps=20_000),
    )


def multiview3d_regression() -> Preset:
    return regression_baseline(multiview3d())


def multiview3d_diffusion() -> Preset:
    return diffusion_baseline(multiview3d())


def objects3d_lift() -> Preset:
    """``objects3d`` with the lifting source encoder (``lddbm.modalities.lifting``): per-view features
    back-projected into a 16^3 volume along cameras it estimates (trained against the renderer's), so
    the source latent lies cell by cell over the voxel latent. Trained for speed on 2 cores: augmented
    views from a pool of 4 per view (``lddbm.data.pool``) and bfloat16 autocast
    (benchmarks/train_profile.py)."""
    p = objects3d()
    return dataclasses.replace(
        p, name="objects3d_lift",
        data=dataclasses.replace(p.data, encoder="lifting", augment_pool=4),
        loss=dataclasses.replace(p.loss, pose_weight=1.0),
        train=dataclasses.replace(p.train, mixed_precision="bf16"),
    )


def objects3d_lift_bins() -> Preset:
    """``objects3d_lift`` with the azimuth as 36 classes, each view lifted along its four likeliest
    (weighted; ``LiftingEncoder``): a view of a symmetric object fits several azimuths, and a regressed
    angle averages them into one that fits none."""
    p = objects3d_lift()
    return dataclasses.replace(p, name="objects3d_lift_bins", data=dataclasses.replace(p.data, azimuth_bins=36))


def objects3d_turntable() -> Preset:
    """``objects3d_lift_bins`` told the capture order: uploads and evaluation take the views in turntable
    order (round the object to the right, the first from the front: ``LiftingEncoder``'s ``view_order``),
    which confines each view's azimuth to its sector. Half the training samples come in that order (and
    are marked so), half in any order, so ``view_order="any"`` still works. Fine-tuned from the shipped
    ``objects3d_lift_bins`` weights (``--init-from``) with a shorter, lower schedule."""
    p = objects3d_lift_bins()
    return dataclasses.replace(
        p, name="objects3d_turntable",
        data=dataclasses.replace(p.data, view_order="turntable", turntable_share=0.5),
        train=dataclasses.replace(p.train, steps=1600, lr=2.5e-4, warmup_steps=100, decay_steps=600, eval_every=400,
                                  eval_size=128, eval_steps=10),
    )


def objects3d_pose() -> Preset:
    """``objects3d_turntable`` with the cameras estimated by a network of their own (``PoseNet``: a CNN per
    view, two layers of self-attention across the views, 1.4 M parameters) instead of a head on the lifted
    features' small trunk, so one view's camera is read with the others'. That network is first trained
    alone (``python -m lddbm train-pose --init-from checkpoints/multiview3d --out runs/pose32``: the camera
    loss only, a fraction of a full step), then the whole model is fine-tuned from it (``--init-from
    runs/pose32/pipeline``) with the camera loss weighing elevation and framing as that run did."""
    p = objects3d_turntable()
    return dataclasses.replace(
        p, name="objects3d_pose",
        data=dataclasses.replace(p.data, pose_width=32, pose_layers=2, pose_regression_weight=20.0),
    )


def objects3d_regression() -> Preset:
    return regression_baseline(objects3d())


def objects3d_diffusion() -> Preset:
    return diffusion_baseline(objects3d())


def shapenet() -> Preset:
    """The paper's setting: ShapeNet (3D-R2N2 renderings and ShapeNetVox32, 13 classes), 4 views.

    Needs the data on disk (it cannot be downloaded here): --data.root DIR --data.split_file FILE.
    """
    p = multiview3d()
    return dataclasses.replace(
        p, name="shapenet",
        data=MultiViewData(kind="shapenet", root="data/ShapeNet", split_file="data/ShapeNet/ShapeNet.json",
                           num_views=4, image_size=128),
        latent=LatentConfig(channels=32, size=8, width=32),
        denoiser=DenoiserConfig(patch_size=1, hidden_size=384, depth=8, encoder_depth=4, num_heads=6),
        sampling=SamplingConfig(sampler="heun", steps=40),
        loss=LossConfig(strategy="iterative", every_k=4, contrastive_weight=0.1),
        train=dataclasses.replace(p.train, steps=200_000, batch_size=64, lr=1e-4, export_dtype="float16"),
    )


PRESETS = {f.__name__: f for f in (multiview3d, multiview3d_regression, multiview3d_diffusion, objects3d, objects3d_regression,
                                   objects3d_diffusion, objects3d_lift, objects3d_lift_bins, objects3d_turntable,
                                   objects3d_pose, shapenet)}
