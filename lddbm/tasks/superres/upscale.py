"""Super-resolution with an LDDBM pipeline: whole images through overlapping tiles, and scoring
against bicubic interpolation (PSNR and SSIM, RGB and Y, border cropped by the scale)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ...data.degradations import blockiness, degrade_for_eval, downsample
from ...errors import ConfigError, DataError
from ...images import normalise_mode
from ...inputs import as_image
from ...metrics import SSIM_OPTIONS
from ...pipeline import LDDBMPipeline
from .tiling import MAX_INPUT_SIDE, upscale_image


@dataclass
class Upscaled:
    image: Image.Image  # the LDDBM upscale
    bicubic: Image.Image  # bicubic interpolation of the same input, for comparison
    scale: int  # the whole factor: the model's, times ``interpolated``
    tiles: int
    nfe: int  # network evaluations per tile
    seconds: float
    interpolated: int = 1  # the factor left to bicubic interpolation after the model (``upscale``'s ``scale``)
    precision: str = "float32"  # what the tiles were computed in ("float32" or "bfloat16")


def pipeline_scale(pipe: LDDBMPipeline) -> int:
    hr, lr = pipe.target_decoder.config.image_size, pipe.source_encoder.config.image_size
    if hr % lr:
        raise ConfigError(f"This pipeline maps {lr} px inputs to {hr} px outputs: not a super-resolution model "
                          "(use one such as checkpoints/sr4x).")
    return hr // lr


FITS = ("downscale", "crop")  # what to do with an input larger than the model's limit


def fit_to_limit(image: Image.Image, max_side: int = MAX_INPUT_SIDE, how: str = "downscale") -> tuple[Image.Image, str | None]:
    """An input no larger than ``max_side`` px on its longer side, and a note saying what was done
    (None when the image already fits): "downscale" resizes the whole image (Lanczos), "crop" keeps
    the central max_side x max_side region at full resolution."""
    if how not in FITS:
        raise ConfigError(f"Unknown way to fit a large image {how!r}; use one of {', '.join(FITS)}.")
    w, h = image.size
    if max(w, h) <= max_side:
        return image, None
    image = normalise_mode(image)  # 16-bit, palette: resampled as 8-bit RGB(A) or grey
    if how == "downscale":
        k = max_side / max(w, h)
        size = (max(1, round(w * k)), max(1, round(h * k)))
        return image.resize(size, Image.LANCZOS), (f"The image is {w}×{h}; it was downscaled to {size[0]}×{size[1]} "
                                                   f"to fit the model's {max_side}-px input limit.")
    cw, ch = min(w, max_side), min(h, max_side)
    left, top = (w - cw) // 2, (h - ch) // 2
    return image.crop((left, top, left + cw, top + ch)), (f"The image is {w}×{h}; its central {cw}×{ch} region was "
                                                          f"kept at full resolution (the model's input limit is {max_side} px).")


ENSEMBLE_SIZES = (1, 2, 4, 8)
BACK_PROJECTION = 2  # iterations for models of clean inputs (a third adds nothing on the test photographs)
PRECISIONS = ("auto", "float32", "bfloat16")


def native_bfloat16(device: torch.device | str) -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): there bfloat16 autocast makes the
    tiles ~35 % faster at no measurable cost; elsewhere it is emulated and slower."""
    if torch.device(device).type != "cpu":
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def checkpoint_back_projection(pipe: LDDBMPipeline) -> int:
    """The back-projection iterations the checkpoint asks for (its source encoder's ``back_projection``; 0 when
    its config predates the setting)."""
    return int(getattr(pipe.source_encoder.config, "back_projection", 0))


def compute_dtype(pipe: LDDBMPipeline, precision: str) -> torch.dtype:
    """The dtype the tiles are computed in for ``precision`` ("auto": bfloat16 on a CPU that has it natively)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if precision == "auto":
        return torch.bfloat16 if native_bfloat16(pipe.device) else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def symmetry(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The k-th of the square's 8 symmetries (0: identity, 1: mirrored left-right, 2-3: those two turned a
    half turn, 4-7: those four transposed, which makes the quarter turns) of (..., H, W) images (4-7 give
    (..., W, H)); ``inverse``: undone."""
    def forward(y: torch.Tensor) -> torch.Tensor:
        if k & 1:
            y = y.flip(-1)
        if k & 2:
            y = y.flip(-2, -1)
        return y.transpose(-2, -1) if k & 4 else y

    if not inverse:
        return forward(x)
    y = x.transpose(-2, -1) if k & 4 else x  # each step is its own inverse: undo them in reverse order
    if k & 2:
        y = y.flip(-2, -1)
    return y.flip(-1) if k & 1 else y


def channels_last(pipe: LDDBMPipeline) -> None:
    """Store the convolutional encoder's and decoder's weights channels-last (once): oneDNN's CPU
    convolutions run 10-25 % faster on these networks so, with identical outputs."""
    for module in (pipe.source_encoder, pipe.target_decoder):
        if not getattr(module, "_channels_last", False):
            module.to(memory_format=torch.channels_last)
            module._channels_last = True


def output_scale(pipe: LDDBMPipeline, scale: int | None) -> tuple[int, int]:
    """(the whole factor, the part of it left to bicubic interpolation) for a model asked to upscale by
    ``scale`` (None: its own factor). ``scale`` must be a whole multiple of the model's factor."""
    factor = pipeline_scale(pipe)
    if scale is None or scale == factor:
        return factor, 1
    if not isinstance(scale, int) or scale < factor or scale % factor:
        raise ConfigError(f"This model upscales ×{factor}; it can give ×{factor} or a whole multiple of it "
                          f"(the rest by bicubic interpolation), not ×{scale}.")
    return scale, scale // factor


def bicubic(image: Image.Image, scale: int) -> Image.Image:
    image = normalise_mode(image)
    return image.resize((image.width * scale, image.height * scale), Image.BICUBIC)


def upscale(
    pipe: LDDBMPipeline,
    image: Image.Image | str | os.PathLike,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    overlap: int | None = None,
    batch_size: int = 64,
    max_side: int = MAX_INPUT_SIDE,
    progress: Callable[[int, int], None] | None = None,
    ensemble: int = 1,
    scale: int | None = None,
    back_projection: int | None = None,
    precision: str = "auto",
    second_pass: LDDBMPipeline | None = None,
    **sampler_options: float | None,
) -> Upscaled:
    """Upscale a whole image (a PIL image of any mode, or a file path; see tiling.upscale_image) by
    the pipeline's factor.

    ``overlap``: LR pixels shared by neighbouring tiles (default an eighth of the tile, at least 4 px or a quarter of a small tile: 4 px of
    the x4 models' 32-px tiles, where 8 px take 1.3x the tiles for +0.004 dB on the test photos' central 384-px
    crops; 4 px of the x8 model's 16-px tiles, as before, where 2 px cost 0.03 dB on the test photos:
    results/sr8x_test_overlap2_not_default.json).
    ``ensemble``: 1 (default), 2, 4 or 8 -- each tile is also upscaled flipped and turned (the first
    ``ensemble`` of the square's 8 symmetries, ``symmetry``), turned back, and the results averaged:
    ``ensemble`` times the work for a sharper mean estimate (geometric self-ensemble, as in EDSR+).
    ``scale``: the whole factor, when more than the model's: a whole multiple of it, the rest done by
    bicubic interpolation of the model's output (×8 as the ×4 model then bicubic ×2 scores +1.24 dB over
    bicubic on the 10 test photographs, where the ×8 model scores +0.98, at a seventh of its time:
    docs/superres.md). ``back_projection``: iterations of back-projection of the model's output onto the input
    (``tiling.back_project``; before any bicubic interpolation); default the checkpoint's (its source encoder's
    ``back_projection``: 2 for the clean models, +0.05 dB on the test photographs for 0.15 s at 512 -> 2048 px;
    0 for ``sr4x_real``, whose inputs are JPEG and noisy). ``precision``: "auto" (default) computes the tiles under
    bfloat16 autocast on a CPU with native bfloat16 (``native_bfloat16``; 512 -> 2048 px in 3.5 s against 6.0 s, the
    same PSNR to 0.001 dB on the test photographs), in float32 elsewhere; "float32" or "bfloat16" force one.
    ``second_pass``: a pipeline of clean inputs (``sr4x``) that upscales the result again from its own antialiased
    bicubic down-sampling (the cleaned input), with that pipeline's defaults: for ``sr4x_real``, the JPEG model cleans and
    the clean model adds detail, +0.10 dB on JPEG + noise inputs of both held-out groups (docs/superres.md) for twice
    the time. ``progress(done, total)`` counts tiles. ``sampler_options``: the sampler's own (``eta`` for
    dbim; ``guidance``, ``churn`` for heun). Seeded, so the same call gives the same image.
    """
    start = time.perf_counter()
    image = as_image(image)
    (scale, interpolated), tile = output_scale(pipe, scale), pipe.source_encoder.config.image_size
    factor = scale // interpolated
    overlap = max(tile // 8, min(4, tile // 4)) if overlap is None else overlap
    if ensemble not in ENSEMBLE_SIZES:
        raise ConfigError(f"ensemble must be one of {', '.join(map(str, ENSEMBLE_SIZES))}; got {ensemble!r}.")
    generator = torch.Generator(device=pipe.device).manual_seed(seed)
    counts = {"tiles": 0, "nfe": 0}
    dtype = compute_dtype(pipe, precision)

    channels_last(pipe)

    def model(tiles: torch.Tensor) -> torch.Tensor:
        n = len(tiles)
        tiles = torch.cat([symmetry(tiles, k) for k in range(ensemble)])
        tiles = tiles.contiguous(memory_format=torch.channels_last)
        with torch.autocast(pipe.device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            out = pipe(tiles, num_inference_steps=steps, sampler=sampler, generator=generator, **sampler_options)
        counts["tiles"] += n
        counts["nfe"] = out.nfe
        return torch.stack([symmetry(o.float(), k, inverse=True) for k, o in enumerate(out.outputs.split(n))]).mean(0)

    if back_projection is None:
        back_projection = checkpoint_back_projection(pipe)
    if back_projection < 0:
        raise ConfigError(f"back_projection counts iterations: 0 or more, not {back_projection}.")
    result = upscale_image(image, model, factor, tile, overlap, max_side=max_side, batch_size=batch_size, progress=progress,
                           back_projection=back_projection)
    if second_pass is not None:
        if pipeline_scale(second_pass) != factor:
            raise ConfigError(f"The second pass must upscale ×{factor} like the first; it upscales ×{pipeline_scale(second_pass)}.")
        cleaned = downsample(result, factor)  # the first pass's answer to "what was the clean input?"
        again = upscale(second_pass, cleaned, seed=seed, overlap=overlap, batch_size=batch_size, max_side=max(cleaned.size),
                        progress=progress, precision=precision)
        result = again.image
        counts["tiles"] += again.tiles
    if interpolated > 1:
        result = bicubic(result, interpolated)
    return Upscaled(result, bicubic(image, scale), scale, counts["tiles"], counts["nfe"], time.perf_counter() - start,
                    interpolated, str(dtype).removeprefix("torch."))


# ---- metrics -------------------------------------------------------------------------------------


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 Y (16..235) of an RGB uint8-range array, as in the SR literature's Y-channel scores."""
    rgb = rgb.astype(np.float64)
    return 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255


def image_metrics(pred: Image.Image, target: Image.Image, border: int) -> dict[str, float]:
    """PSNR (dB) and SSIM on RGB and on Y, ignoring ``border`` pixels at each edge."""
    if pred.size != target.size:
        raise ValueError(f"Sizes differ: {pred.size} vs {target.size}.")
    a = np.asarray(pred.convert("RGB"), dtype=np.float64)
    b = np.asarray(target.convert("RGB"), dtype=np.float64)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    ssim = dict(data_range=255, **SSIM_OPTIONS)
    ya, yb = luma(a), luma(b)
    return {
        "psnr_rgb": float(peak_signal_noise_ratio(b, a, data_range=255)),
        "ssim_rgb": float(structural_similarity(b, a, channel_axis=-1, **ssim)),
        "psnr_y": float(peak_signal_noise_ratio(yb, ya, data_range=255)),
        "ssim_y": float(structural_similarity(yb, ya, **ssim)),
    }


def centre_crop(image: Image.Image, size: int, multiple: int) -> Image.Image:
    """The central crop of at most ``size`` x ``size`` pixels, sides rounded down to ``multiple``."""
    w, h = (min(image.width, size) // multiple * multiple, min(image.height, size) // multiple * multiple)
    left, top = (image.width - w) // 2, (image.height - h) // 2
    return image.crop((left, top, left + w, top + h))


def evaluate_images(
    models: dict[str, LDDBMPipeline],
    images: dict[str, Image.Image],
    scale: int,
    crop: int | None = None,
    sampling: dict[str, dict] | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    degradation: str = "bicubic",
    peers: dict[str, Callable[[Image.Image, int], Image.Image]] | None = None,
) -> dict:
    """Score each model, each peer and bicubic on ``images`` (the high-resolution originals).

    Each original is centre-cropped to at most ``crop`` px (default: the whole image, up to what
    the input size limit allows, ``MAX_INPUT_SIDE * scale``; sides rounded down to a multiple of
    ``scale``), degraded (``degradation``: "bicubic" or "jpeg_noise", ``lddbm.data.degradations``),
    upscaled again and compared with the original. ``sampling`` maps a model's name to ``upscale``
    keywords (steps, sampler, eta, ...); a model not named samples with its checkpoint's defaults.
    ``peers``: other upscalers, ``peer(lr_image, scale) -> image`` (``lddbm.tasks.superres.peers``). Returns
    per-image and mean metrics per method (PSNR, SSIM, blockiness on the input's 8-px JPEG grid),
    and each method's gain over bicubic.
    """
    sampling, peers = sampling or {}, peers or {}
    for name, pipe in models.items():
        if scale % pipeline_scale(pipe):
            raise ValueError(f"Model {name!r} upscales x{pipeline_scale(pipe)}, which does not divide --scale {scale}.")
    crop = crop or MAX_INPUT_SIDE * scale
    per_image: dict[str, dict] = {}
    methods = ["bicubic", *models, *peers]
    seconds: dict[str, float] = {name: 0.0 for name in methods[1:]}
    nfe: dict[str, int] = {}

    def score(image: Image.Image, hr: Image.Image) -> dict:
        return {**image_metrics(image, hr, scale), "blockiness": blockiness(image, 8 * scale, border=scale)}

    for image_name, original in images.items():
        hr = centre_crop(original.convert("RGB"), crop, scale)
        lr = degrade_for_eval(hr, scale, degradation, name=image_name, seed=seed)
        row = {"size": list(hr.size), "original_blockiness": blockiness(hr, 8 * scale, border=scale),
               "bicubic": score(bicubic(lr, scale), hr)}
        for name, pipe in models.items():
            up = upscale(pipe, lr, seed=seed, max_side=max(lr.size), scale=scale, **sampling.get(name, {}))
            row[name] = {**score(up.image, hr), "seconds": round(up.seconds, 3), "nfe_per_tile": up.nfe}
            seconds[name] += up.seconds
            nfe[name] = up.nfe
        for name, peer in peers.items():
            start = time.perf_counter()
            image = peer(lr, scale)
            row[name] = {**score(image, hr), "seconds": round(time.perf_counter() - start, 3)}
            seconds[name] += row[name]["seconds"]
        per_image[image_name] = row
        if log is not None:
            log(f"{image_name}: " + "  ".join(f"{m} {row[m]['psnr_rgb']:.2f} dB / {row[m]['ssim_rgb']:.3f}" for m in methods))
    keys = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "blockiness")
    mean = {m: {k: float(np.mean([r[m][k] for r in per_image.values()])) for k in keys} for m in methods}
    gain = {m: {k: mean[m][k] - mean["bicubic"][k] for k in keys} for m in methods[1:]}
    return {"images": len(per_image), "scale": scale, "crop": crop, "degradation": degradation, "mean": mean,
            "original_blockiness": float(np.mean([r["original_blockiness"] for r in per_image.values()])),
            "gain_over_bicubic": gain, "seconds_per_image": {m: seconds[m] / max(len(per_image), 1) for m in seconds},
            "nfe_per_tile": nfe, "per_image": per_image}


def autoencoder_psnr(encoder: torch.nn.Module, decoder: torch.nn.Module, images: dict[str, Image.Image],
                     size: int, crops_per_image: int = 8, seed: int = 0) -> float:
    """Mean PSNR (RGB, dB) of HR crops encoded and decoded by the target autoencoder: what the bridge
    could reach if it predicted the target latent exactly."""
    from ...data.photos import to_tensor

    rng = np.random.default_rng(seed)
    crops = []
    for image in images.values():
        if min(image.size) < size:
            continue
        for _ in range(crops_per_image):
            x, y = int(rng.integers(image.width - size + 1)), int(rng.integers(image.height - size + 1))
            crops.append(to_tensor(image.crop((x, y, x + size, y + size))))
    if not crops:
        raise ValueError(f"No image is at least {size} px on each side; the autoencoder works on {size}-px crops.")
    batch = torch.stack(crops).to(decoder.device, decoder.dtype)
    with torch.no_grad():
        decoded = decoder(encoder(batch)).float().clamp(-1, 1)
    mse = (decoded - batch.float()).pow(2).flatten(1).mean(dim=1)
    return float((10 * torch.log10(4 / mse.clamp_min(1e-12))).mean())


def load_images(folder: str | Path) -> dict[str, Image.Image]:
    """Every PNG/JPEG/WebP/BMP/TIFF image in a folder, by file stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of images.")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"))
    if not files:
        raise DataError(f"No images (.png, .jpg, ...) in {folder}.")
    return {f.stem: Image.open(f).convert("RGB") for f in files}


def example_scores(pipe: LDDBMPipeline, examples: str | Path, how: str = "bicubic") -> dict[str, float]:
    """The demo examples' figure of a model card (``card_metrics.json``): each example folder's ``hr.png``
    degraded ``how`` (``degrade_for_eval`` at the pipeline's factor) and upscaled at the checkpoint's defaults
    (seed 0); mean RGB PSNR of LDDBM and bicubic (border = the factor), and LDDBM's blockiness over bicubic's."""
    scale = pipeline_scale(pipe)
    ours, plain, blocks = [], [], []
    folders = sorted(p for p in Path(examples).iterdir() if (p / "hr.png").is_file())
    if not folders:
        raise DataError(f"No example folders with an hr.png in {examples}.")
    for folder in folders:
        hr = Image.open(folder / "hr.png").convert("RGB")
        result = upscale(pipe, degrade_for_eval(hr, scale, how, name=folder.name), seed=0)
        ours.append(image_metrics(result.image, hr, border=scale)["psnr_rgb"])
        plain.append(image_metrics(result.bicubic, hr, border=scale)["psnr_rgb"])
        blocks.append(blockiness(result.image, 8 * scale, scale) / blockiness(result.bicubic, 8 * scale, scale))
    return {"examples": len(folders), "examples_psnr_rgb": float(np.mean(ours)),
            "examples_bicubic_psnr_rgb": float(np.mean(plain)), "examples_blockiness_over_bicubic": float(np.mean(blocks))}
