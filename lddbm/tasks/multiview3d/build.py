"""What a views -> 3D preset builds: its encoders and decoder, and its data set."""

from __future__ import annotations

import torch.nn as nn
from torch.utils.data import Dataset

from ...data.photos import background_photos
from ...errors import ConfigError
from ...presets import Preset
from .presets import MultiViewData


def modalities(preset: Preset) -> dict[str, nn.Module]:
    from ...modalities import LiftingEncoder, MultiViewEncoder, VoxelDecoder, VoxelEncoder

    d, lat, b = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size)
    encoder = {"pooled": MultiViewEncoder, "lifting": LiftingEncoder}[d.encoder]
    extra = {"azimuth_bins": d.azimuth_bins, "teacher_share": d.teacher_share} if d.encoder == "lifting" else {}
    if d.encoder != "lifting" and (d.azimuth_bins or d.teacher_share != MultiViewData.teacher_share):
        raise ConfigError("data.azimuth_bins and data.teacher_share are settings of the lifting encoder: "
                          "set data.encoder to lifting.")
    return {
        "source_encoder": encoder(image_size=d.image_size, width=lat.width, sigma_data=b.sigma_data_end,
                                  foreground_ratio=d.foreground_ratio if d.kind == "furniture" else None, **common,
                                  **extra),
        "target_encoder": VoxelEncoder(grid=d.grid, width=lat.width, sigma_data=b.sigma_data, **common),
        "target_decoder": VoxelDecoder(grid=d.grid, width=lat.width, **common),
    }


def dataset(preset: Preset, split: str) -> Dataset:
    d = preset.data
    if d.kind == "shapenet":
        from ...data.shapenet import ShapeNetR2N2

        return ShapeNetR2N2(d.root, d.split_file, split=split, image_size=d.image_size, num_views=d.num_views)
    from ...data.multiview import MultiViewVoxels

    augment = d.augment and split == "train" and d.foreground_ratio is not None
    return MultiViewVoxels(d.root, split, num_views=d.num_views, image_size=d.image_size,
                           foreground_ratio=d.foreground_ratio, augment=augment,
                           photos=background_photos(d.backgrounds) if augment else None,
                           poses=d.encoder == "lifting" and split == "train", pool=d.augment_pool,
                           pool_seed=preset.train.seed)
