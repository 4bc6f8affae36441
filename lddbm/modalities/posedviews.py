"""Novel views' source: 1-V views of an object and the requested camera -> the source latent.

The camera enters on the source side, so the bridge still runs from the source latent to the
target view's latent: the camera is (Δazimuth, elevation) of the wanted view, Δazimuth relative
to the *first* view (the reference; the others are unposed helpers), in degrees, positive when the
camera moves to its right around the object; elevation is the wanted camera height above the
object's horizon. It is embedded by Fourier features and an MLP and enters two paths:

- global: the fused view features pooled to 4x4, concatenated with the camera embedding, through an
  MLP that writes a whole latent (as in Tatarchenko et al.'s view-synthesis networks): a camera
  change can move content anywhere in the image;
- volume (``volume_channels`` > 0): the fused features are lifted to a 3D feature volume (channels
  reshaped into depth, as in Olszewski et al.'s Transformable Bottleneck Networks), the volume is
  turned about the vertical axis by Δazimuth (trilinear resampling), and folded back into a 2D
  map aligned with the wanted view: a camera change moves the content where it should go, so
  the network cannot ignore it. Which depth slice is near the camera is learned, so the sign
  convention of the turn is absorbed by the lifting. Elevation is not turned explicitly (the
  reference view's own elevation is unknown): it enters by FiLM;
- spatial: the (turned) features, modulated (FiLM) by the camera at every residual block, for the
  detail a convolution can carry over from the views.

A first design with only the spatial path and the camera as FiLM plus a broadcast vector learned
to ignore the camera: after 750 steps its source latents varied 270 times more across objects than
across cameras, and its views were the same for every camera; adding the global path alone did
not change that in 2,300 steps (``benchmarks/novelview_supervised.py``), hence the volume.

Why not extra tokens in the denoiser: the transformer is shared by every task (domain-agnostic, as
in the paper) and conditioned only on the source latent and time; conditioning the source keeps it
so, and the regression baseline (one step from the same source latent) gets the same information.

Source batches are dicts ``{"views": (B, V, 3, S, S) in [-1, 1], "camera": (B, 2) degrees}``;
``lddbm.source_batches`` moves and slices them like tensors.
"""

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

from ..framing import NormalizedView
from .common import ResBlock, check_latent_layout, standardize_latent
from .multiview import views_tensor

__all__ = ["PosedViewsEncoder", "camera_features", "relative_azimuth", "turn_about_vertical"]

ELEVATION_RANGE = (-10.0, 70.0)  # accepted camera heights, degrees (training: 0-60)
CAMERA_FREQUENCIES = 4  # Fourier frequencies per camera angle (camera_features)


def relative_azimuth(target: torch.Tensor | float, reference: torch.Tensor | float):
    """Azimuth of ``target`` relative to ``reference`` in degrees, wrapped to [-180, 180)."""
    return (target - reference + 180.0) % 360.0 - 180.0


def camera_features(camera: torch.Tensor, frequencies: int = CAMERA_FREQUENCIES) -> torch.Tensor:
    """(B, 2) (Δazimuth, elevation) in degrees -> (B, 4 * frequencies) Fourier features.

    Azimuth is periodic, so only its sines and cosines enter (k = 1..F); elevation is mapped to
    [0, pi/2] over 0-90 degrees first (k = 1..F as well)."""
    az = torch.deg2rad(camera[:, 0:1].float())  # (B, 1)
    el = torch.deg2rad(camera[:, 1:2].float())
    k = torch.arange(1, frequencies + 1, device=camera.device, dtype=torch.float32)  # (F,)
    return torch.cat([torch.sin(az * k), torch.cos(az * k), torch.sin(el * k), torch.cos(el * k)], dim=1)


def turn_about_vertical(volume: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """(B, C, D, H, W) feature volumes turned about their vertical (H) axis by ``degrees`` (B,):
    trilinear resampling; what turns out of the cube is dropped and what turns in is zero."""
    a = torch.deg2rad(degrees.float())
    cos, sin, zero, one = torch.cos(a), torch.sin(a), torch.zeros_like(a), torch.ones_like(a)
    theta = torch.stack([torch.stack([cos, zero, sin, zero], 1),  # x_in = cos x + sin z (x: W, y: H, z: D)
                         torch.stack([zero, one, zero, zero], 1),
                         torch.stack([-sin, zero, cos, zero], 1)], 1)  # (B, 3, 4)
    grid = F.affine_grid(theta.to(volume.dtype), list(volume.shape), align_corners=False)  # (B, D, H, W, 3)
    return F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class FiLMResBlock(nn.Module):
    """A residual block whose features are scaled and shifted by the camera embedding."""

    def __init__(self, ch: int, cond: int):
        super().__init__()
        self.block = ResBlock(ch)
        self.modulation = nn.Linear(cond, 2 * ch)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(c)[:, :, None, None].chunk(2, dim=1)  # (B, ch, 1, 1) each
        return self.block(x * (1 + scale) + shift)


class PosedViewsEncoder(ModelMixin, ConfigMixin):
    """{"views": (B, V, 3, S, S), "camera": (B, 2)} -> (B, C, h, h) latent of std sigma_data."""

    @register_to_config
    def __init__(
        self,
        image_size: int = 64,
        max_views: int = 4,  # the most views preprocess accepts (the first is the reference)
        latent_channels: int = 16,
        latent_size: int = 8,
        width: int = 32,  # channels of the first convolution; the view features have twice as many
        num_blocks: int = 3,  # camera-modulated residual blocks after fusion
        camera_dim: int = 128,
        global_dim: int = 1024,  # hidden width of the global path's MLP
        volume_channels: int = 16,  # channels of the turned 3D feature volume (depth = latent_size); 0: no volume path
        view_dropout: float = 0.5,  # training only: each helper view dropped with this probability
        sigma_data: float = 0.5,
        foreground_ratio: float | None = 0.75,  # framing of the source views (lddbm.framing); None: as given
    ):
        super().__init__()
        check_latent_layout(latent_channels, latent_size)
        ratio = image_size // latent_size
        if image_size % latent_size or ratio & (ratio - 1) or ratio < 2:
            raise ValueError(f"image_size / latent_size must be a power of two >= 2, got {image_size} / {latent_size}.")
        # per view (B*V images a step, so light): strided convolutions, residual blocks at the latent grid only
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1)]
        ch = width
        for _ in range(int(math.log2(ratio))):
            layers += [nn.GroupNorm(min(8, ch), ch), nn.SiLU(), nn.Conv2d(ch, 2 * width, 4, stride=2, padding=1)]
            ch = 2 * width
        self.view_net = nn.Sequential(*layers, ResBlock(ch), ResBlock(ch))  # (3, S, S) -> (E, h, h), E = 2 * width
        self.ref_embed = nn.Parameter(torch.zeros(1, ch, 1, 1))  # marks the reference view before pooling
        self.camera_mlp = nn.Sequential(nn.Linear(4 * CAMERA_FREQUENCIES, camera_dim), nn.SiLU(), nn.Linear(camera_dim, camera_dim))
        self.fuse = nn.Conv2d(3 * ch, ch, 1)  # [reference, mean, max over views]
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.global_mlp = nn.Sequential(
            nn.Linear(16 * ch + camera_dim, global_dim), nn.SiLU(), nn.Linear(global_dim, global_dim), nn.SiLU(),
            nn.Linear(global_dim, latent_channels * latent_size * latent_size))
        if volume_channels:
            depth = latent_size
            self.to_volume = nn.Conv2d(ch, volume_channels * depth, 3, padding=1)  # (E, h, h) -> (C3 * D, h, h)
            self.volume_net = nn.Sequential(nn.SiLU(), nn.Conv3d(volume_channels, volume_channels, 3, padding=1), nn.SiLU())
            self.from_volume = nn.Conv2d(volume_channels * depth, ch, 1)
        self.blocks = nn.ModuleList(FiLMResBlock(ch, camera_dim) for _ in range(num_blocks))
        self.out = nn.Sequential(nn.GroupNorm(min(8, ch), ch), nn.SiLU(), nn.Conv2d(ch, latent_channels, 3, padding=1))

    # ---- user inputs -> a source batch ---------------------------------------------------------------

    def preprocess(self, inputs, azimuth: float | list[float] = 0.0, elevation: float | list[float] = 20.0,
                   remove_background: bool = True, foreground_ratio: float | None = None, segmenter=None) -> dict:
        """Views of one object (PIL images, file paths or ``NormalizedView``s; the first is the
        reference), and the wanted camera(s): ``azimuth`` relative to the first view and
        ``elevation``, in degrees; a list of cameras makes a batch of that many requests for the same
        views (an orbit). A ready source dict passes through (moved to this device).

        Views are framed like the training views (``lddbm.framing``) when the model was trained so.
        """
        cfg = self.config
        if isinstance(inputs, dict):
            return self._checked(inputs)
        if isinstance(inputs, (Image.Image, str, os.PathLike, NormalizedView)):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ValueError(f"No views given: provide 1 to {cfg.max_views} images of the object.")
        if not 1 <= len(inputs) <= cfg.max_views:
            raise ValueError(f"Give 1 to {cfg.max_views} views of the object, got {len(inputs)}.")
        azimuths = [float(a) for a in np.atleast_1d(np.asarray(azimuth, dtype=np.float64))]
        elevations = [float(e) for e in np.atleast_1d(np.asarray(elevation, dtype=np.float64))]
        if len(elevations) == 1:
            elevations = elevations * len(azimuths)
        if len(azimuths) == 1:
            azimuths = azimuths * len(elevations)
        if len(azimuths) != len(elevations):
            raise ValueError(f"Got {len(azimuths)} azimuths and {len(elevations)} elevations; give one of each per view wanted.")
        views = views_tensor(list(inputs), cfg.image_size, remove_background, foreground_ratio or cfg.foreground_ratio,
                             segmenter)
        camera = torch.tensor([[relative_azimuth(a, 0.0), e] for a, e in zip(azimuths, elevations)], dtype=torch.float32)
        return self._checked({"views": views[None].expand(len(camera), *views.shape), "camera": camera})

    def _checked(self, source: dict) -> dict:
        cfg = self.config
        views, camera = torch.as_tensor(source["views"]).float(), torch.as_tensor(source["camera"]).float()
        if views.ndim == 4:
            views, camera = views[None], camera.reshape(1, 2)
        if views.ndim != 5 or views.shape[2:] != (3, cfg.image_size, cfg.image_size):
            raise ValueError(f"Expected views of shape (B, V, 3, {cfg.image_size}, {cfg.image_size}), got {tuple(views.shape)}.")
        if not 1 <= views.shape[1] <= cfg.max_views:
            raise ValueError(f"Give 1 to {cfg.max_views} views of the object, got {views.shape[1]}.")
        if camera.shape != (views.shape[0], 2):
            raise ValueError(f"Expected one (azimuth, elevation) per request, shape ({views.shape[0]}, 2); got {tuple(camera.shape)}.")
        if not torch.isfinite(camera).all():
            raise ValueError("The camera's azimuth and elevation must be finite numbers.")
        low, high = ELEVATION_RANGE
        if ((camera[:, 1] < low) | (camera[:, 1] > high)).any():
            raise ValueError(f"Elevation must be between {low:g} and {high:g} degrees (the model was trained on 0-60).")
        return {"views": views.to(self.device, self.dtype), "camera": camera.to(self.device)}

    # ---- the network ---------------------------------------------------------------------------------

    def forward(self, source: dict) -> torch.Tensor:
        views, camera = source["views"], source["camera"]
        B, V = views.shape[:2]
        feats = self.view_net(views.flatten(0, 1).to(self.dtype))  # (B*V, E, h, h)
        feats = feats.reshape(B, V, *feats.shape[1:])  # (B, V, E, h, h)
        keep = torch.ones(B, V, device=views.device, dtype=torch.bool)
        if self.training and self.config.view_dropout > 0 and V > 1:
            keep = torch.rand(B, V, device=views.device) >= self.config.view_dropout
            keep[:, 0] = True  # the reference view is the one the camera is relative to
        keep = keep[:, :, None, None, None]
        ref = feats[:, 0] + self.ref_embed  # (B, E, h, h)
        mean = (feats * keep).sum(dim=1) / keep.sum(dim=1)  # (B, E, h, h)
        peak = feats.masked_fill(~keep, float("-inf")).amax(dim=1)  # (B, E, h, h)
        c = self.camera_mlp(camera_features(camera.float()).to(self.dtype))  # (B, D)
        h = self.fuse(torch.cat([ref, mean, peak], dim=1))  # (B, E, h, h)
        cfg = self.config
        whole = self.global_mlp(torch.cat([self.pool(h).flatten(1), c], dim=1))  # (B, C*h*h)
        if cfg.volume_channels:
            n = h.shape[-1]
            volume = self.to_volume(h).reshape(B, cfg.volume_channels, cfg.latent_size, n, n)  # (B, C3, D, h, h)
            volume = self.volume_net(turn_about_vertical(volume, camera[:, 0]))  # in the wanted view's frame
            h = self.from_volume(volume.flatten(1, 2))  # (B, E, h, h)
        for block in self.blocks:
            h = block(h, c)
        z = self.out(h) + whole.reshape(B, cfg.latent_channels, cfg.latent_size, cfg.latent_size)  # (B, C, h, h)
        return standardize_latent(z, cfg.sigma_data)
