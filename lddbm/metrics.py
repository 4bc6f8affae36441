"""Pure tensor metrics. Each returns one value per sample (B,) unless said otherwise."""

from __future__ import annotations

import torch


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB; data_range is max - min of the signal (2 for [-1, 1])."""
    return 10 * torch.log10(data_range**2 / mse(pred, target).clamp_min(1e-12))
