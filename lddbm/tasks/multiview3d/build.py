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
    lifting = {"azimuth_bins": d.azimuth_bins, "teacher_share": d.teacher_share, "view_order": d.view_order,
               "pose_width": d.pose_width, "pose_layers": d.pose_layers, "pose_regression_weight": d.pose_regression_weight,
               "pose_part_weights": list(d.pose_part_weights) if d.pose_part_weights is not None else None}
    if d.encoder != "lifting" and any(v != getattr(MultiViewData, k) for k, v in
                                      {**lifting, "turntable_share": d.turntable_share}.items()):
        raise ConfigError(f"data.{', data.'.join(lifting)} and data.turntable_share are settings of the lifting "
                          "encoder: set data.encoder to lifting.")
    extra = lifting if d.encoder == "lifting" else {}
    if (d.view_order == "turntable" or d.turntable_share > 0) and not d.azimuth_bins:
        raise ConfigError("The turntable view order (data.view_order, data.turntable_share) needs data.azimuth_bins > 0.")
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
                           pool_seed=preset.train.seed, turntable_share=d.turntable_share)
