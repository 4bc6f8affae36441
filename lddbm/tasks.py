"""Each task names its modalities, its data and its evaluation; training and the CLI are generic."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from .denoiser import BridgeTransformer
from .metrics import mse, psnr
from .pipeline import LDDBMPipeline
from .presets import Preset
from .scheduler import BridgeScheduler


@dataclass(frozen=True)
class SampleOptions:
    steps: int | None = None  # None: the scheduler's default
    sampler: str | None = None
    guidance: float | None = None
    churn: float | None = None
    batch_size: int = 256
    seed: int = 0


@dataclass(frozen=True)
class Task:
    build_modalities: Callable[[Preset], dict[str, nn.Module]]  # source_encoder, target_encoder, target_decoder
    dataset: Callable[[Preset, str], Dataset]
    evaluate: Callable[[LDDBMPipeline, Preset, str, int | None, SampleOptions], dict]


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
    )


def build_scheduler(preset: Preset) -> BridgeScheduler:
    s = preset.sampling
    return BridgeScheduler(
        **dataclasses.asdict(preset.bridge),
        rho=s.rho,
        sampler=s.sampler,
        num_inference_steps=s.steps,
        guidance=s.guidance,
        churn=s.churn,
        t_max_offset=s.t_max_offset,
    )


def translate(pipe: LDDBMPipeline, sources: torch.Tensor, opts: SampleOptions) -> tuple[torch.Tensor, int]:
    """Run the pipeline over ``sources`` in batches; returns decoded outputs ("pt") and NFE."""
    generator = torch.Generator(device=pipe.device).manual_seed(opts.seed)
    outs, nfe = [], 0
    for i in range(0, len(sources), opts.batch_size):
        out = pipe(
            sources[i : i + opts.batch_size],
            num_inference_steps=opts.steps,
            sampler=opts.sampler,
            guidance=opts.guidance,
            churn=opts.churn,
            generator=generator,
        )
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


TASKS: dict[str, Task] = {
    "synthetic": Task(_synthetic_modalities, _synthetic_dataset, _synthetic_evaluate),
}


def get_task(preset: Preset) -> Task:
    kind = preset.data.kind
    if kind not in TASKS:
        raise ValueError(f"No task for data kind {kind!r}; known: {', '.join(TASKS)}.")
    return TASKS[kind]
