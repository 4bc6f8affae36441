"""How low-resolution inputs are made from high-resolution photographs, and a blockiness measure.

- ``bicubic``: antialiased bicubic down-sampling only (the clean setting of the SR literature).
- ``realistic`` (training): what phone photos and web images go through, in the spirit of
  Real-ESRGAN's and BSRGAN's pipelines but lighter: a down-sampling kernel drawn from bicubic,
  bilinear, box and Lanczos (sometimes after a Gaussian blur), then blur, sensor noise (colour or
  grey, Gaussian) and JPEG compression at a random quality, each with some probability and in a
  random order; one input in ten stays clean, so clean images are not "repaired" into mush.
- ``jpeg_noise`` (evaluation, fixed): antialiased bicubic down-sampling, Gaussian noise of
  standard deviation 4/255 per channel, then JPEG at a quality drawn uniformly from 30-70 per
  image; every draw is seeded by the image's name, so every run scores the same inputs.

``blockiness``: JPEG's 8x8 grid shows as steps at block borders. The measure is the mean absolute
luma difference across the borders of the input's 8-px blocks (``block`` px in the image scored,
8 x scale for an upscale) divided by the mean difference everywhere else: about 1 for an image
without a grid (the original photographs score 1.0-1.1), higher when blocks show.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["DEGRADATIONS", "blockiness", "degrade_for_eval", "downsample", "realistic"]

DEGRADATIONS = ("bicubic", "jpeg_noise")  # the evaluation's fixed settings
KERNELS = (Image.BICUBIC, Image.BILINEAR, Image.BOX, Image.LANCZOS)
EVAL_NOISE = 4.0  # jpeg_noise: Gaussian noise std, in 8-bit levels
EVAL_QUALITY = (30, 70)  # jpeg_noise: JPEG quality range (inclusive)


def downsample(hr: Image.Image, scale: int, kernel=Image.BICUBIC) -> Image.Image:
    """``hr`` down-sampled by ``scale`` (antialiased, PIL ``kernel``; bicubic: the clean SR input)."""
    w, h = hr.size
    if w % scale or h % scale:
        raise ValueError(f"Image size {w}x{h} is not divisible by the scale factor {scale}.")
    return hr.resize((w // scale, h // scale), kernel, reducing_gap=None)


def _noise(image: Image.Image, std: float, rng: np.random.Generator, grey: bool = False) -> Image.Image:
    a = np.asarray(image, dtype=np.float32)
    shape = a.shape[:2] + (1,) if grey else a.shape
    return Image.fromarray(np.clip(a + rng.normal(0.0, std, shape), 0, 255).round().astype(np.uint8))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(quality))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def realistic(hr: Image.Image, scale: int, rng: np.random.Generator) -> Image.Image:
    """A training input: ``hr`` (RGB) down-sampled by ``scale`` through a random degradation chain."""
    hr = hr.convert("RGB")
    if rng.random() < 0.2:  # optical softness before sampling
        hr = hr.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.6 * scale))))
    lr = downsample(hr, scale, KERNELS[int(rng.integers(len(KERNELS)))])
    if rng.random() < 0.1:
        return lr
    steps = []
    if rng.random() < 0.3:
        steps.append(lambda im: im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 1.0)))))
    if rng.random() < 0.6:
        std, grey = float(rng.uniform(1.0, 12.0)), bool(rng.random() < 0.4)
        steps.append(lambda im: _noise(im, std, rng, grey))
    if rng.random() < 0.8:
        quality = int(rng.integers(25, 96))
        steps.append(lambda im: _jpeg(im, quality))
    for i in rng.permutation(len(steps)):
        lr = steps[int(i)](lr)
    if steps and rng.random() < 0.3:  # a second save, as images passed around the web are
        lr = _jpeg(lr, int(rng.integers(40, 96)))
    return lr


def _name_seed(name: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{name}/{seed}".encode()).digest()[:8], "little")


def degrade_for_eval(hr: Image.Image, scale: int, how: str = "bicubic", name: str = "", seed: int = 0) -> Image.Image:
    """The evaluation's input for ``hr``: ``how`` is one of ``DEGRADATIONS`` (module docstring);
    ``name`` (the image's) and ``seed`` fix the random draws of "jpeg_noise"."""
    if how not in DEGRADATIONS:
        raise ValueError(f"Unknown degradation {how!r}; use one of {', '.join(DEGRADATIONS)}.")
    lr = downsample(hr.convert("RGB"), scale)
    if how == "bicubic":
        return lr
    rng = np.random.default_rng(_name_seed(name, seed))
    quality = int(rng.integers(EVAL_QUALITY[0], EVAL_QUALITY[1] + 1))
    return _jpeg(_noise(lr, EVAL_NOISE, rng), quality)


def blockiness(image: Image.Image | np.ndarray, block: int = 8, border: int = 0) -> float:
    """Mean |luma step| across ``block``-px grid lines over the mean step elsewhere (module docstring)."""
    a = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float64)
    y = a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114 if a.ndim == 3 else a
    ratios = []
    for axis in (0, 1):
        steps = np.abs(np.diff(y, axis=axis))  # steps[i] is between pixels i and i + 1 along the axis
        index = np.arange(steps.shape[axis])
        keep = (index >= border) & (index < steps.shape[axis] - border)
        on_grid = ((index + 1) % block == 0) & keep
        off_grid = ~on_grid & keep
        take = lambda mask: np.take(steps, np.flatnonzero(mask), axis=axis)  # noqa: E731
        if on_grid.any() and off_grid.any():
            ratios.append(take(on_grid).mean() / max(take(off_grid).mean(), 1e-6))
    return float(np.mean(ratios)) if ratios else 1.0
