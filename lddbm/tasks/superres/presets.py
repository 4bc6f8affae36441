"""The super-resolution presets and their data config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ...bridge import Bridge
from ...presets import DenoiserConfig, LatentConfig, LossConfig, Preset, SamplingConfig, TrainConfig, regression_baseline


@dataclass
class PhotoData:
    """Low-resolution -> high-resolution photographs (built by ``build-data photos``)."""

    kind: Literal["photos"] = "photos"
    root: str = "data/photos"
    scale: int = 4  # the LR tile is hr_size // scale pixels
    hr_size: int = 128  # side of the HR training crops (and of the model's output tile)
    zoom: float = 2.0  # scale augmentation: half the crops cover up to zoom * hr_size pixels, downsized
    crops_per_epoch: int = 8192
    eval_crop: int = 256  # periodic evaluation: centre crops (HR pixels) of the training photographs
    degradation: Literal["bicubic", "realistic"] = "bicubic"  # how training inputs are made (lddbm/data/degradations.py)
    anchor_blocks: int = 0  # the LR encoder's anchor correction (LowResEncoder); needed when the input is not the clean anchor
    refine_blocks: int = 0  # the HR decoder's second stage (AnchoredImageDecoder): it reads the first stage's image back
    norm: Literal["group", "none"] = "group"  # "none": the encoders' and decoder's conv trunks without GroupNorm
    anchor_projection: int = 0  # the HR decoder back-projects its image onto the anchor (AnchoredImageDecoder)


def sr4x() -> Preset:
    """32x32 -> 128x128 photographs (x4); latent (3 anchor + 16 detail, 32, 32); sized for CPU training.

    The default sampler (DBIM, eta = 0) is deterministic, so the output is the bridge's
    conditional-mean estimate, which is what PSNR rewards; raise eta for sampled detail.
    """
    return Preset(
        name="sr4x",
        data=PhotoData(scale=4),
        latent=LatentConfig(channels=19, size=32, width=64),
        bridge=Bridge(shared_channels=3),  # the anchor: identical at both ends at x4
        denoiser=DenoiserConfig(patch_size=4, hidden_size=192, depth=4, encoder_depth=2, num_heads=4),
        # 1 DBIM step: 1 and 2 steps tie on training-photo crops and on the test photos' centres (more score
        # lower), and 1 is what brings 512^2 -> 2048^2 under 4 s on 2 cores
        sampling=SamplingConfig(sampler="dbim", steps=1),
        loss=LossConfig(strategy="whole", contrastive_weight=0.1),
        # 2000 steps, the last 1000 a linear cool-down: the shipped run on the 52 training photos (model card)
        train=TrainConfig(steps=2000, batch_size=16, lr=5e-4, warmup_steps=200, decay_steps=1000, ema_decay=0.999,
                          eval_every=500, save_every=250, eval_size=4, eval_steps=4, export_dtype="float16"),
    )


def sr4x_regression() -> Preset:
    return regression_baseline(sr4x())


def sr4x_real() -> Preset:
    """x4 for photos as people have them: trained on inputs through the realistic degradation chain
    (random resampling kernel, blur, sensor noise, JPEG, in random order; lddbm/data/degradations.py).
    The input is no longer the clean down-sampling of the target, so the LR encoder learns a
    correction of the anchor it carries over (``anchor_blocks``; ``LowResEncoder``)."""
    p = sr4x()
    # the shipped run's schedule end: 3100 steps, cooling down from step 1455 (model card: how it got there)
    return dataclasses.replace(p, name="sr4x_real", data=dataclasses.replace(p.data, degradation="realistic", anchor_blocks=2),
                               train=dataclasses.replace(p.train, steps=3100, decay_steps=1645))


def sr8x() -> Preset:
    """The paper's factor: 16x16 -> 128x128. The LR encoder resizes its input to the 32x32 latent and
    learns a correction of that anchor (``anchor_blocks``), which the bridge carries over as at x4."""
    p = sr4x()
    # the shipped sr8x: 1005 constant-rate steps (a 45-minute budget), sampled with 2 DBIM steps (its card)
    return dataclasses.replace(p, name="sr8x", data=PhotoData(scale=8, anchor_blocks=2),
                               sampling=dataclasses.replace(p.sampling, steps=2),
                               train=dataclasses.replace(p.train, steps=3301, decay_steps=0))


PRESETS = {f.__name__: f for f in (sr4x, sr4x_regression, sr4x_real, sr8x)}
