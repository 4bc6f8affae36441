"""Helpers shared by the modality encoders and decoders."""

from __future__ import annotations

import torch
import torch.nn as nn


def standardize_latent(h: torch.Tensor, sigma_data: float, eps: float = 1e-5) -> torch.Tensor:
    """Rescale each sample to zero mean and std sigma_data over all its latent coordinates.

    The bridge's preconditioning assumes latents of std sigma_data; fixing it here also stops the
    jointly trained encoders from shrinking both latents towards zero, which would make the
    bridge loss trivially small without translating anything.
    """
    dims = tuple(range(1, h.ndim))
    h = h - h.mean(dim=dims, keepdim=True)
    return sigma_data * h / (h.pow(2).mean(dim=dims, keepdim=True) + eps).sqrt()


def check_latent_layout(latent_channels: int, latent_size: int) -> None:
    if latent_channels < 1 or latent_size < 1:
        raise ValueError(f"Latent shape must be positive, got ({latent_channels}, {latent_size}, {latent_size}).")


def group_norm(ch: int, norm: bool = True) -> nn.Module:
    """GroupNorm over up to 8 groups, or nothing (``norm=False``)."""
    return nn.GroupNorm(min(8, ch), ch) if norm else nn.Identity()


class ResBlock(nn.Module):
    """Pre-activation residual block (GroupNorm, SiLU, 3x3 conv, twice) over 2D or 3D feature maps.

    ``norm=False`` leaves the GroupNorms out (EDSR-style, as super-resolution networks do: a
    normalisation over the tile rescales its features by the tile's own statistics)."""

    def __init__(self, ch: int, dims: int = 2, norm: bool = True):
        super().__init__()
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[dims]
        self.block = nn.Sequential(
            group_norm(ch, norm), nn.SiLU(), conv(ch, ch, 3, padding=1),
            group_norm(ch, norm), nn.SiLU(), conv(ch, ch, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)
