"""The novel-view presets and their data config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...bridge import Bridge
from ...presets import DenoiserConfig, LatentConfig, LossConfig, Preset, SamplingConfig, TrainConfig, regression_baseline


@dataclass
class NovelViewData:
    """1-V views of an object + a requested camera -> the view from that camera (renders built by
    ``build-data furniture`` / ``objects``: 12 views per object with their cameras)."""

    kind: Literal["novelview"] = "novelview"
    root: str = "data/furniture"
    num_views: int = 4  # the most source views (the first is the reference the camera is relative to)
    image_size: int = 64  # source views and the target view, pixels
    foreground_ratio: float | None = 0.75  # source views framed like uploads (lddbm.framing); None: as rendered
    augment: bool = True  # train split: source views on random backgrounds, colour, blur/JPEG, imperfect masks
    backgrounds: str = "data/photos"  # photographs (build-data photos; train split) used as backgrounds; "" = none


def novelview() -> Preset:
    """Novel views: 1-4 views (64x64) + (Δazimuth, elevation) -> the 64x64 view from that camera.

    The target latent is an image autoencoder's (8, 16, 16); the camera enters through the source
    encoder (``PosedViewsEncoder``), so the bridge runs from the source latent as in every task.
    The bridge is the digits' short one (VE, sigma_max 1, uniform times, z0 a stop-gradient target):
    with the image default (sigma_max 80, Karras times) 1,644 steps gave the same grey blob for every
    camera, below the copy baseline (README, "Views -> new views")."""
    return Preset(
        name="novelview",
        data=NovelViewData(),
        latent=LatentConfig(channels=8, size=16, width=16),  # width 16: the autoencoder's 64-px stage dominates CPU time
        bridge=Bridge(sigma_max=1.0),
        denoiser=DenoiserConfig(patch_size=2, hidden_size=192, depth=4, encoder_depth=2, num_heads=4),
        sampling=SamplingConfig(sampler="dbim", steps=4, eta=0.0),
        loss=LossConfig(strategy="whole", contrastive_weight=0.1, t_sampling="uniform", detach_target=True),
        train=TrainConfig(steps=3000, batch_size=24, lr=5e-4, warmup_steps=200, decay_steps=800, ema_decay=0.999,
                          eval_every=500, save_every=250, eval_size=12, eval_steps=4, export_dtype="float16"),
    )


def novelview_regression() -> Preset:
    return regression_baseline(novelview())


PRESETS = {f.__name__: f for f in (novelview, novelview_regression)}
