"""The quick CPU task: an 8-d vector -> a 16x16 image of a soft disc (``data.py``), about a minute on 2
cores. The smallest task, and the template of a new one: this package, a tab under ``app/tabs/`` and
tests are all it takes."""

from __future__ import annotations

import torch.nn as nn
from torch.utils.data import Dataset

from ...metrics import mse, psnr
from ...pipeline import LDDBMPipeline
from ...presets import DenoiserConfig, LatentConfig, LossConfig, Preset, TrainConfig
from ..base import SampleOptions, Task, translate
from .data import SyntheticData, SyntheticPairs


def synthetic() -> Preset:
    """The quick CPU task: about a minute on two cores.

    Small networks, and every loss on every step ("whole"): with only 600 steps, the paper's
    iterative schedule would train the autoencoder and alignment on 150 of them. A stronger
    contrastive weight than the default made the bridge pick up the source sooner in our runs.
    """
    return Preset(
        name="synthetic",
        latent=LatentConfig(channels=4, size=4, width=16),
        denoiser=DenoiserConfig(patch_size=1, hidden_size=96, depth=3, encoder_depth=1, num_heads=4),
        loss=LossConfig(strategy="whole", contrastive_weight=1.0),
        train=TrainConfig(steps=600, batch_size=64, lr=1e-3, eval_every=200, save_every=200),
    )


def _modalities(preset: Preset) -> dict[str, nn.Module]:
    from ...modalities import ImageDecoder, ImageEncoder, VectorEncoder

    d, lat, s0 = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size)
    return {
        "source_encoder": VectorEncoder(dim=d.source_dim, width=4 * lat.width, sigma_data=s0.sigma_data_end, **common),
        "target_encoder": ImageEncoder(in_channels=1, image_size=d.image_size, width=lat.width, sigma_data=s0.sigma_data, **common),
        "target_decoder": ImageDecoder(out_channels=1, image_size=d.image_size, width=lat.width, **common),
    }


def _dataset(preset: Preset, split: str) -> Dataset:
    return SyntheticPairs(preset.data, split)


def _evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions) -> dict:
    """Per-pixel MSE and PSNR of the translated images, against predicting the mean train image."""
    data = _dataset(preset, split)
    n = len(data) if limit is None else min(limit, len(data))
    target = data.target[:n]
    pred, nfe = translate(pipe, data.source[:n], opts)
    mean_image = _dataset(preset, "train").target.mean(dim=0, keepdim=True)
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


TASK = Task("synthetic", ("synthetic",), SyntheticData, {"synthetic": synthetic}, _modalities, _dataset, _evaluate,
            default_preset="synthetic", selection_metric="psnr")
