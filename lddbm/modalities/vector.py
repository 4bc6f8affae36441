"""A low-dimensional vector modality: an MLP encoder into the shared latent shape."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from .common import check_latent_layout, standardize_latent

__all__ = ["ConfigMixin", "ModelMixin", "VectorEncoder"]


class VectorEncoder(ModelMixin, ConfigMixin):
    """(B, dim) vectors -> (B, latent_channels, latent_size, latent_size) latents of std sigma_data."""

    @register_to_config
    def __init__(
        self,
        dim: int = 8,
        latent_channels: int = 4,
        latent_size: int = 4,
        width: int = 128,  # hidden units of the MLP
        sigma_data: float = 0.5,
    ):
        super().__init__()
        check_latent_layout(latent_channels, latent_size)
        out = latent_channels * latent_size * latent_size
        self.net = nn.Sequential(
            nn.Linear(dim, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, out)
        )

    def preprocess(self, inputs) -> torch.Tensor:
        """A (B, dim) or (dim,) array-like -> float tensor (B, dim) on this model's device."""
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float32)) if not torch.is_tensor(inputs) else inputs.float()
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.config.dim:
            raise ValueError(f"Expected vectors of shape (B, {self.config.dim}), got {tuple(x.shape)}.")
        if not torch.isfinite(x).all():
            raise ValueError("The input vectors contain NaN or infinite values.")
        return x.to(self.device, self.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, s = self.config.latent_channels, self.config.latent_size
        h = self.net(x).reshape(x.shape[0], c, s, s)  # (B, C, s, s)
        return standardize_latent(h, self.config.sigma_data)
