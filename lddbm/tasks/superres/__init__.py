"""Super-resolution of photographs (x4, x4 for JPEG/noisy photos, x8): whole images by tiles.

``upscale`` (whole images, scores against bicubic), ``tiling`` (seamless overlapping tiles), ``peers``
(waifu2x, scored in the same run), ``presets``, ``cli`` (``upscale``, ``build-data photos``,
``examples photos``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch.nn as nn
from torch.utils.data import Dataset

from ...data.photos import load_split
from ...errors import ConfigError
from ...pipeline import LDDBMPipeline
from ...presets import Preset
from ..base import Option, SampleOptions, Task
from .cli import COMMANDS, DATA_BUILDERS, EXAMPLE_BUILDERS
from .peers import peers_by_name
from .presets import PRESETS, PhotoData
from .upscale import (BACK_PROJECTION, ENSEMBLE_SIZES, PRECISIONS, autoencoder_psnr, checkpoint_back_projection,
                      compute_dtype, evaluate_images, load_images, pipeline_scale)

logger = logging.getLogger(__name__)


def back_projection(data: PhotoData) -> int:
    """Back-projection iterations for a model of these inputs: only clean ones (bicubic down-sampling) agree with
    the original; pulling the output towards a JPEG or noisy input brings its flaws back (-0.4 to -0.5 dB, docs/superres.md)."""
    return BACK_PROJECTION if data.degradation == "bicubic" else 0


def modalities(preset: Preset) -> dict[str, nn.Module]:
    from ...modalities import AnchoredImageDecoder, AnchoredImageEncoder, LowResEncoder

    d, lat, b = preset.data, preset.latent, preset.bridge
    common = dict(latent_channels=lat.channels, latent_size=lat.size, width=lat.width, norm=d.norm)
    return {
        "source_encoder": LowResEncoder(image_size=d.hr_size // d.scale, sigma_data=b.sigma_data_end,
                                        anchor_blocks=d.anchor_blocks, back_projection=back_projection(d), **common),
        "target_encoder": AnchoredImageEncoder(image_size=d.hr_size, sigma_data=b.sigma_data, **common),
        "target_decoder": AnchoredImageDecoder(image_size=d.hr_size, refine_blocks=d.refine_blocks,
                                               anchor_projection=d.anchor_projection, **common),
    }


def dataset(preset: Preset, split: str) -> Dataset:
    from ...data.photos import PhotoCrops

    d = preset.data
    return PhotoCrops(d.root, split, hr_size=d.hr_size, scale=d.scale, crops_per_epoch=d.crops_per_epoch, zoom=d.zoom,
                      degradation=d.degradation)


def evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                    images: str | None = None, baseline: str | None = None, crop: int | None = None,
                    scale: int | None = None, degradation: str = "bicubic", peers: str | None = None,
                    ensemble: int | None = None, back_projection: int | None = None, precision: str | None = None,
                    second_pass: str | None = None) -> dict:
    """PSNR/SSIM of whole-image upscales against bicubic, and of the autoencoder's reconstruction.

    "val" (periodic evaluation while training) scores centre crops of ``data.eval_crop`` px of the
    *training* photographs: a fitting monitor, not a generalisation estimate; nothing is selected
    on it. "test" scores the whole held-out photographs (up to 2048 px at x4). ``images``: a folder
    of high-resolution originals to score instead of the data's split; ``baseline``: a second
    pipeline folder scored alongside with its own default sampling; ``crop``: centre crop (HR px);
    ``scale``: the factor (default the checkpoint's; a whole multiple of it upscales by the checkpoint, then
    bicubic interpolation for the rest, e.g. ×8 from a ×4 model); ``degradation``: how the
    inputs are made ("bicubic" or "jpeg_noise", ``lddbm.data.degradations``); ``peers``: comma-separated
    other upscalers scored on the same inputs (``waifu2x``, ``waifu2x-denoise2``, ...; ``lddbm.tasks.superres.peers``),
    each skipped with a note in the report when it cannot run here; ``ensemble``: the checkpoint's upscales average
    that many flips and turns (``upscale``'s ``ensemble``; the baseline and the peers get none); ``back_projection``:
    the checkpoint's iterations of back-projection onto the input (default its own; the baseline keeps its own);
    ``precision``: what every model's tiles are computed in (``upscale``'s; default "auto"); ``second_pass``: a clean
    model's folder that upscales the checkpoint's result again from its down-sampling (``upscale``'s).
    """
    d = preset.data
    factor = pipeline_scale(pipe)
    if scale is not None and (scale < factor or scale % factor):
        raise ConfigError(f"--scale {scale} does not suit the checkpoint, which upscales x{factor}: give x{factor} "
                          f"or a whole multiple of it (the rest done by bicubic interpolation of its output).")
    factor = scale or factor
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
    # the baseline samples with its own defaults
    second = None
    if second_pass:
        second = LDDBMPipeline.load(second_pass, device=pipe.device)
        second.set_progress_bar_config(disable=True)
    sampling = {"lddbm": {"steps": kwargs.pop("num_inference_steps"), "ensemble": ensemble or 1,
                          "back_projection": back_projection, "precision": precision or "auto", "second_pass": second,
                          **kwargs},
                "baseline": {"precision": precision or "auto"}}
    peer_models, skipped = peers_by_name(peers)
    report = evaluate_images(models, originals, factor, crop=crop, sampling=sampling, seed=opts.seed,
                             log=logger.info, degradation=degradation or "bicubic", peers=peer_models)
    used = back_projection if back_projection is not None else checkpoint_back_projection(pipe)
    computed_in = str(compute_dtype(pipe, precision or "auto")).removeprefix("torch.")
    report.update(peers_skipped=skipped, ensemble=ensemble or 1, back_projection=used, precision=computed_in,
                  second_pass=second_pass,
                  split=split, images_from=str(source), baseline=baseline,
                  nfe=report["nfe_per_tile"]["lddbm"], psnr_gain=report["gain_over_bicubic"]["lddbm"]["psnr_rgb"])
    folder = pipe.config.get("_name_or_path")  # set when loaded from a folder (not for a pipeline built in training)
    encoder_dir = Path(folder) / "target_encoder" if folder else None
    if (images or split != "val") and encoder_dir is not None and encoder_dir.is_dir():  # the autoencoder's reconstruction bounds what the bridge can reach
        from ...modalities import AnchoredImageEncoder

        encoder = AnchoredImageEncoder.from_pretrained(encoder_dir).to(pipe.device).float()
        report["autoencoder_psnr_rgb"] = autoencoder_psnr(encoder, pipe.target_decoder.float(), originals,
                                                          encoder.config.image_size, seed=opts.seed)
    return report


TASK = Task(
    "superres", ("photos",), PhotoData, PRESETS, modalities, dataset, evaluate,
    eval_options=(
        Option("images", "a folder of high-resolution originals (default: the data's split)"),
        Option("scale", "the upscaling factor: the checkpoint's (default) or a whole multiple of it, the rest by "
               "bicubic interpolation of its output (e.g. 8 with checkpoints/sr4x)", int),
        Option("baseline", "a second pipeline folder scored alongside (e.g. the regression baseline), sampled with its "
               "own defaults; the sampling options apply to --checkpoint"),
        Option("crop", "centre crop of each original, in HR pixels (default: the whole image, up to 512 * scale)", int),
        Option("degradation", "how inputs are made from the originals: bicubic down-sampling (default) or that plus "
               "noise (std 4/255) and JPEG at quality 30-70 (lddbm/data/degradations.py)",
               choices=("bicubic", "jpeg_noise")),
        Option("peers", "comma-separated peers scored in the same run: waifu2x (photo, no denoise), "
               "waifu2x-denoise0..3, each also with -tta (averaged over 8 flips and turns) (needs pip install '.[bench]'; "
               "skipped with a note otherwise)"),
        Option("ensemble", "average the checkpoint's upscales of the input flipped and turned: 1 (default), 2, 4 or 8 "
               "of its symmetries (the baseline and the peers get none)", int, choices=ENSEMBLE_SIZES),
        Option("back_projection", "iterations of back-projection of the checkpoint's output onto its input (default: the "
               "checkpoint's own, 2 for the clean models, 0 for sr4x_real; the baseline keeps its own)", int),
        Option("second_pass", "a clean model (e.g. checkpoints/sr4x) that upscales the checkpoint's result again from its "
               "own down-sampling (after sr4x_real on JPEG + noise inputs)"),
        Option("precision", "what the models' tiles are computed in: auto (default: bfloat16 on a CPU that has it "
               "natively, else float32), float32 or bfloat16", choices=PRECISIONS),
    ),
    aliases=("sr",), default_preset="sr4x", commands=COMMANDS, data_builders=DATA_BUILDERS,
    example_builders=EXAMPLE_BUILDERS,
)
