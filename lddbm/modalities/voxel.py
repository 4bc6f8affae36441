"""32^3 occupancy grids: a 3D convolutional autoencoder into the shared 2D latent.

The encoder reduces the grid [x, y, z] to (c3, g, g, g) features and folds the depth axis z into
channels, giving a (c3 * g, g, g) latent over the (x, y) plane; the decoder undoes the fold.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from .common import ResBlock, check_latent_layout, standardize_latent

__all__ = ["ConfigMixin", "ModelMixin", "VoxelDecoder", "VoxelEncoder"]


def _fold(x: torch.Tensor) -> torch.Tensor:
    """(B, c, X, Y, Z) -> (B, c * Z, X, Y)."""
    B, c, X, Y, Z = x.shape
    return x.permute(0, 1, 4, 2, 3).reshape(B, c * Z, X, Y)


def _unfold(z: torch.Tensor, c: int) -> torch.Tensor:
    """(B, c * Z, X, Y) -> (B, c, X, Y, Z)."""
    B, cz, X, Y = z.shape
    return z.reshape(B, c, cz // c, X, Y).permute(0, 1, 3, 4, 2)


def _layout(grid: int, latent_channels: int, latent_size: int) -> int:
    check_latent_layout(latent_channels, latent_size)
    if grid != 4 * latent_size:
        raise ValueError(f"The voxel autoencoder downsamples by 4: grid {grid} needs latent_size {grid // 4}.")
    if latent_channels % latent_size:
        raise ValueError(f"latent_channels ({latent_channels}) must be a multiple of latent_size ({latent_size}).")
    return latent_channels // latent_size


def voxel_shuffle(x: torch.Tensor) -> torch.Tensor:
    """(B, 8, X, Y, Z) -> (B, 1, 2X, 2Y, 2Z): channel (i, j, k) becomes sub-voxel (i, j, k).

    The last stage at full resolution is the costliest on a CPU; predicting the eight sub-voxels
    of each half-resolution cell (a 3D pixel shuffle) avoids it.
    """
    B, _, X, Y, Z = x.shape
    x = x.reshape(B, 2, 2, 2, X, Y, Z).permute(0, 4, 1, 5, 2, 6, 3)  # (B, X, 2, Y, 2, Z, 2)
    return x.reshape(B, 1, 2 * X, 2 * Y, 2 * Z)


class VoxelEncoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, grid: int = 32, latent_channels: int = 16, latent_size: int = 8, width: int = 16,
                 sigma_data: float = 0.5):
        super().__init__()
        c3 = _layout(grid, latent_channels, latent_size)
        self.net = nn.Sequential(
            nn.Conv3d(1, width, 4, stride=2, padding=1), ResBlock(width, dims=3),
            nn.Conv3d(width, 2 * width, 4, stride=2, padding=1), ResBlock(2 * width, dims=3),
            nn.GroupNorm(8, 2 * width), nn.SiLU(), nn.Conv3d(2 * width, c3, 3, padding=1),
        )

    def preprocess(self, inputs) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs) else inputs).float()
        g = self.config.grid
        if x.ndim == 3:
            x = x[None]
        if x.ndim == 4:
            x = x[:, None]
        if tuple(x.shape[1:]) != (1, g, g, g):
            raise ValueError(f"Expected occupancy grids of shape (B, {g}, {g}, {g}), got {tuple(x.shape)}.")
        return x.to(self.device, self.dtype)

    def forward(self, occupancy: torch.Tensor) -> torch.Tensor:
        """(B, 1, G, G, G) in {0, 1} -> (B, C, G/4, G/4)."""
        return standardize_latent(_fold(self.net(occupancy * 2 - 1)), self.config.sigma_data)


class VoxelDecoder(ModelMixin, ConfigMixin):
    # "pt"/"np": occupancy probabilities (B, G, G, G); "mesh": one trimesh.Trimesh per sample
    output_types = ("pt", "np", "mesh")
    mesh_threshold = 0.5  # occupancy probability of the "mesh" surface

    @register_to_config
    def __init__(self, grid: int = 32, latent_channels: int = 16, latent_size: int = 8, width: int = 16):
        super().__init__()
        self.c3 = _layout(grid, latent_channels, latent_size)
        self.net = nn.Sequential(
            nn.Conv3d(self.c3, 2 * width, 3, padding=1), ResBlock(2 * width, dims=3),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv3d(2 * width, width, 3, padding=1), ResBlock(width, dims=3),
            nn.GroupNorm(min(8, width), width), nn.SiLU(), nn.Conv3d(width, 8, 3, padding=1),  # 2x2x2 sub-voxels
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, G/4, G/4) -> occupancy logits (B, 1, G, G, G)."""
        return voxel_shuffle(self.net(_unfold(z, self.c3)))

    def reconstruction_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())

    def postprocess(self, logits: torch.Tensor, output_type: str = "pt"):
        """"pt": occupancy probabilities (B, G, G, G); "np": the same as a numpy array; "mesh": a
        watertight trimesh.Trimesh per sample (marching cubes at ``mesh_threshold``, in the cube
        [-0.5, 0.5]^3; an empty Trimesh where no voxel reaches it)."""
        probs = torch.sigmoid(logits.detach().float())[:, 0]
        if output_type == "pt":
            return probs
        if output_type == "np":
            return probs.cpu().numpy()
        if output_type == "mesh":
            return [_mesh(p, self.mesh_threshold) for p in probs.cpu().numpy()]
        raise ValueError(f"Unknown output_type {output_type!r}; use one of {self.output_types}.")


def _mesh(probability: np.ndarray, threshold: float):
    import trimesh

    from ..export import voxels_to_mesh

    if not (probability >= threshold).any():
        logging.getLogger(__name__).warning("empty shape: no voxel reaches occupancy %.2f", threshold)
        return trimesh.Trimesh()
    return voxels_to_mesh(probability, threshold=threshold)
