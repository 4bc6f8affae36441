"""Helpers shared by the modality encoders and decoders."""

from __future__ import annotations

import torch


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
