"""Novel views: 1-4 views of an object + a camera -> the view from that camera.

``data`` (requests built from the views -> 3D renders), ``evaluation`` (scores per Δazimuth bucket,
the orbit helper), ``presets``, ``cli`` (``examples novelview``).
"""

from __future__ import annotations

import torch.nn as nn
from torch.utils.data import Dataset

from ...data.photos import background_photos
from ...pipeline import LDDBMPipeline
from ...presets import Preset
from ..base import Option, SampleOptions, Task
from .cli import EXAMPLE_BUILDERS
from .data import NovelViews
from .evaluation import evaluate_novelview
from .presets import PRESETS, NovelViewData


def modalities(preset: Preset) -> dict[str, nn.Module]:
    from ...modalities import ImageDecoder, ImageEncoder, PosedViewsEncoder

    d, lat, b = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size, width=lat.width)
    return {
        "source_encoder": PosedViewsEncoder(image_size=d.image_size, max_views=d.num_views, sigma_data=b.sigma_data_end,
                                            foreground_ratio=d.foreground_ratio, **common),
        "target_encoder": ImageEncoder(in_channels=3, image_size=d.image_size, sigma_data=b.sigma_data, **common),
        "target_decoder": ImageDecoder(out_channels=3, image_size=d.image_size, **common),
    }


def dataset(preset: Preset, split: str) -> Dataset:
    d = preset.data
    augment = d.augment and split == "train" and d.foreground_ratio is not None
    return NovelViews(d.root, split, num_views=d.num_views, image_size=d.image_size, foreground_ratio=d.foreground_ratio,
                      augment=augment, photos=background_photos(d.backgrounds) if augment else None)


def evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                        features: str | None = None, baseline: str | None = None, candidates: int | None = None) -> dict:
    """PSNR, SSIM, gradient-energy ratio and KID per Δazimuth bucket against the copy baseline
    (``lddbm.tasks.novelview.evaluation.evaluate_novelview``); ``limit``: the first N objects."""
    return evaluate_novelview(pipe, preset, split, limit, opts, features=features, baseline=baseline,
                              candidates=candidates)


TASK = Task(
    "novelview", ("novelview",), NovelViewData, PRESETS, modalities, dataset, evaluate,
    eval_options=(
        Option("views", "views per object (multi-view tasks)", int),
        Option("features", "a views -> 3D pipeline folder (e.g. checkpoints/multiview3d) whose view CNN embeds the "
               "images for KID (default: no KID)"),
        Option("baseline", "a second pipeline folder scored alongside (e.g. the regression baseline), sampled with its "
               "own defaults; the sampling options apply to --checkpoint"),
        Option("candidates", "bridge samples per translation, the one best aligned with its source in the contrastive "
               "space kept (default: the checkpoint's; 1 = one draw)", int),
    ),
    aliases=("novelviews",), default_preset="novelview", example_builders=EXAMPLE_BUILDERS,
)
