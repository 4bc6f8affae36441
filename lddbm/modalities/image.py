"""An image modality: convolutional encoder and decoder between (B, C, S, S) images in [-1, 1]
and the shared (B, latent_channels, latent_size, latent_size) latent."""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from PIL import Image

from ..images import pil_to_tensor, tensor_to_pil
from ..inputs import as_image
from .common import ResBlock, check_latent_layout, standardize_latent

__all__ = ["IMAGE_OUTPUT_TYPES", "ConfigMixin", "ImageDecoder", "ImageEncoder", "ModelMixin", "images_to_tensor",
           "postprocess_images"]

IMAGE_OUTPUT_TYPES = ("pt", "np", "pil")  # (B, C, S, S) in [-1, 1]; (B, S, S, C) in [0, 1]; PIL images


def _num_stages(image_size: int, latent_size: int) -> int:
    ratio = image_size // latent_size
    if image_size % latent_size or ratio & (ratio - 1):
        raise ValueError(f"image_size / latent_size must be a power of two, got {image_size} / {latent_size}.")
    return int(math.log2(ratio))


def images_to_tensor(inputs, channels: int, size: int) -> torch.Tensor:
    """PIL images or image file paths (one or a list), or arrays/tensors (B, C, S, S) in [-1, 1]
    -> float tensor (B, channels, size, size). Files are opened safely (``lddbm.inputs.open_image``)."""
    if isinstance(inputs, (Image.Image, str, os.PathLike)):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], (Image.Image, str, os.PathLike)):
        x = torch.stack([pil_to_tensor(as_image(im), channels) for im in inputs])
    else:
        x = inputs.float() if torch.is_tensor(inputs) else torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    if x.ndim != 4 or tuple(x.shape[1:]) != (channels, size, size):
        raise ValueError(f"Expected images of shape (B, {channels}, {size}, {size}), got {tuple(x.shape)}.")
    return x


def postprocess_images(decoded: torch.Tensor, output_type: str = "pt"):
    """Decoded (B, C, S, S) in [-1, 1] -> "pt": clamped tensor; "np": float array (B, S, S, C) in
    [0, 1]; "pil": PIL images."""
    x = decoded.detach().float().clamp(-1, 1)
    if output_type == "pt":
        return x
    if output_type == "np":
        return ((x + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
    if output_type == "pil":
        return [tensor_to_pil(im) for im in x]
    raise ValueError(f"Unknown output_type {output_type!r}; use one of {IMAGE_OUTPUT_TYPES}.")


class ImageEncoder(ModelMixin, ConfigMixin):
    """Strided convolutions down to the latent grid, then per-sample standardisation."""

    @register_to_config
    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 16,
        latent_channels: int = 4,
        latent_size: int = 4,
        width: int = 32,  # channels of the first stage, doubled per down-sampling (max 4x)
        sigma_data: float = 0.5,
    ):
        super().__init__()
        check_latent_layout(latent_channels, latent_size)
        stages = _num_stages(image_size, latent_size)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1)]
        ch = width
        for i in range(stages):
            nxt = width * min(2 ** (i + 1), 4)
            layers += [ResBlock(ch), nn.Conv2d(ch, nxt, 4, stride=2, padding=1)]
            ch = nxt
        layers += [ResBlock(ch), nn.GroupNorm(min(8, ch), ch), nn.SiLU(), nn.Conv2d(ch, latent_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def preprocess(self, inputs) -> torch.Tensor:
        """PIL images, or arrays/tensors (B, C, S, S) in [-1, 1] -> float tensor on this device."""
        c, s = self.config.in_channels, self.config.image_size
        return images_to_tensor(inputs, c, s).to(self.device, self.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return standardize_latent(self.net(x), self.config.sigma_data)


class ImageDecoder(ModelMixin, ConfigMixin):
    """Latent grid -> image in [-1, 1] (unbounded output, clamped only in postprocess)."""

    output_types = IMAGE_OUTPUT_TYPES

    @register_to_config
    def __init__(
        self,
        out_channels: int = 1,
        image_size: int = 16,
        latent_channels: int = 4,
        latent_size: int = 4,
        width: int = 32,
    ):
        super().__init__()
        check_latent_layout(latent_channels, latent_size)
        stages = _num_stages(image_size, latent_size)
        ch = width * min(2**stages, 4)
        layers: list[nn.Module] = [nn.Conv2d(latent_channels, ch, 3, padding=1), ResBlock(ch)]
        for i in reversed(range(stages)):
            nxt = width * min(2**i, 4)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, nxt, 3, padding=1), ResBlock(nxt)]
            ch = nxt
        layers += [nn.GroupNorm(min(8, ch), ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def reconstruction_loss(self, decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(decoded.float(), target.float())

    def postprocess(self, decoded: torch.Tensor, output_type: str = "pt"):
        return postprocess_images(decoded, output_type)
