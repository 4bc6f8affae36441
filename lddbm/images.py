"""Image <-> tensor conversion: the one place that maps pixels to the models' [-1, 1] range and back.

Every path (3D views, super-resolution, segmentation, data sets, the demo) goes through these, so a
16-bit, palette, grey or alpha image means the same picture everywhere:

    normalise_mode(image)      any PIL mode -> the same picture in RGB, RGBA, L or LA (8 bits)
    to_unit(uint8)             uint8 array/tensor (..., values 0..255) -> float tensor in [-1, 1]
    from_unit(x)               float tensor in [-1, 1] -> uint8 tensor (rounded, clamped)
    pil_to_tensor(image, c)    PIL image -> (c, H, W) float in [-1, 1] (c = 3: RGB, 1: grey)
    tensor_to_pil(x)           (C, H, W) float in [-1, 1] -> PIL image (RGB or L)
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

__all__ = ["HIGH_BIT_MODES", "from_unit", "normalise_mode", "pil_to_tensor", "tensor_to_pil", "to_unit"]

HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I", "F")  # 16-bit, 32-bit integer and float images


def normalise_mode(image: Image.Image) -> Image.Image:
    """Any PIL image -> the same picture in mode RGB, RGBA, L or LA.

    16-bit images map 0..65535 to 0..255; 32-bit integer and float images are read as 16-bit
    when any value exceeds 255, else as 8-bit values. Palettes become RGB, or RGBA when they
    carry transparency; 1-bit becomes L; CMYK, YCbCr, LAB, HSV become RGB.
    """
    if image.mode in HIGH_BIT_MODES:
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or np.nanmax(arr, initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(np.nan_to_num(arr) / top * 255, 0, 255).round().astype(np.uint8), "L")
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        return image.convert("RGB")
    return image


def to_unit(pixels) -> torch.Tensor:
    """uint8-range pixels (numpy array or tensor, any shape) -> float32 tensor in [-1, 1]."""
    x = pixels.float() if torch.is_tensor(pixels) else torch.from_numpy(np.asarray(pixels).astype(np.float32))
    return x / 127.5 - 1


def from_unit(x: torch.Tensor) -> torch.Tensor:
    """Float tensor in [-1, 1] (any shape) -> uint8 tensor in 0..255 (clamped, rounded)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def pil_to_tensor(image: Image.Image, channels: int = 3) -> torch.Tensor:
    """Any PIL image -> (channels, H, W) float32 in [-1, 1]; channels 3 (RGB) or 1 (grey).
    Alpha is dropped (composite first if the background matters)."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}.")
    arr = np.asarray(normalise_mode(image).convert("L" if channels == 1 else "RGB"))
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return to_unit(arr)


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """(C, H, W) float in [-1, 1] with C = 1 or 3 -> PIL image in mode L or RGB."""
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"Expected a (1 or 3, H, W) image tensor, got shape {tuple(x.shape)}.")
    u8 = from_unit(x).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(u8[..., 0] if u8.shape[-1] == 1 else u8)
