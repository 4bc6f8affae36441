"""Multi-view images: a shared per-view CNN and permutation-invariant fusion into the latent.

Accepts any number of views from 1 to V in any order: each view is embedded by the same network,
the embeddings are pooled (masked mean and max over views), and an MLP maps the pooled vector to
the (latent_channels, latent_size, latent_size) latent. In training, each view is dropped with
probability ``view_dropout`` (at least one kept), so one model serves every view count.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn as nn
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from PIL import Image

from ..framing import NormalizedView, normalize_view
from ..images import normalise_mode, pil_to_tensor, to_unit
from ..inputs import as_image
from .common import ResBlock, check_latent_layout, standardize_latent

__all__ = ["ConfigMixin", "ModelMixin", "MultiViewEncoder", "load_views", "views_tensor"]


def load_views(images, image_size: int, background: float = 1.0) -> torch.Tensor:
    """PIL images (any mode) -> (V, 3, S, S) float in [-1, 1]: alpha composited on a light background.

    Centre-crops to a square and resizes with antialiasing, like the training renders.
    """
    out = []
    for im in images:
        im = normalise_mode(im).convert("RGBA")
        canvas = Image.new("RGBA", im.size, (int(background * 255),) * 3 + (255,))
        im = Image.alpha_composite(canvas, im).convert("RGB")
        w, h = im.size
        side = min(w, h)
        im = im.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        im = im.resize((image_size, image_size), Image.BICUBIC)
        out.append(pil_to_tensor(im, 3))
    return torch.stack(out)


def views_tensor(views: list, size: int, remove_background: bool = True, ratio: float | None = None,
                 segmenter=None) -> torch.Tensor:
    """One object's views (PIL images, file paths or ``NormalizedView``s) -> (V, 3, size, size) in
    [-1, 1], as the view encoders see them: framed by ``lddbm.framing`` at ``ratio`` (at FRAME_SIZE like
    the demo's and the CLI's previews, then resized: every caller sees the same), or with ``ratio``
    None and no framed view given, centre-cropped on the light background (``load_views``)."""
    views = [as_image(v) for v in views]  # file paths opened; images and NormalizedViews as they are
    if ratio is None and not any(isinstance(v, NormalizedView) for v in views):
        return load_views(views, size)  # a model trained on unframed renders
    framed = [v if isinstance(v, NormalizedView) else normalize_view(v, remove_background, ratio, segmenter=segmenter)
              for v in views]
    arrays = [np.asarray(v.on_background().resize((size, size), Image.BICUBIC)) for v in framed]
    return to_unit(np.stack(arrays)).permute(0, 3, 1, 2)


class MultiViewEncoder(ModelMixin, ConfigMixin):
    """(B, V, 3, S, S) views in [-1, 1] -> (B, C, h, h) latent of std sigma_data."""

    @register_to_config
    def __init__(
        self,
        image_size: int = 64,
        max_views: int = 12,  # the most views preprocess accepts
        latent_channels: int = 16,
        latent_size: int = 8,
        width: int = 16,  # channels of the first stage, doubled per stage (4 stride-2 stages)
        embed_dim: int = 512,
        view_dropout: float = 0.25,  # training only
        sigma_data: float = 0.5,
        # framing of the training views (lddbm.framing): uploads are segmented and framed to this
        # object-box / side ratio. None: views are centre-cropped as they are (older checkpoints)
        foreground_ratio: float | None = None,
    ):
        super().__init__()
        check_latent_layout(latent_channels, latent_size)
        if image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, got {image_size}.")
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1)]
        ch = width
        for stage in range(4):  # strided convolutions; residual blocks only at the coarse stages (CPU cost)
            layers += [nn.GroupNorm(min(8, ch), ch), nn.SiLU(), nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1)]
            ch *= 2
            if stage >= 2:
                layers.append(ResBlock(ch))
        layers += [nn.GroupNorm(8, ch), nn.SiLU(), nn.Flatten(), nn.Linear(ch * (image_size // 16) ** 2, embed_dim)]
        self.view_net = nn.Sequential(*layers)
        out = latent_channels * latent_size * latent_size
        self.head = nn.Sequential(nn.SiLU(), nn.Linear(2 * embed_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, out))

    def preprocess(self, inputs, remove_background: bool = True, foreground_ratio: float | None = None,
                   segmenter=None) -> torch.Tensor:
        """Views of one object (PIL images, file paths or ``NormalizedView``s), a list of such lists,
        or a (B, V, 3, S, S) tensor (used as it is).

        Images are framed by ``lddbm.framing`` when the model was trained that way (config
        ``foreground_ratio``): the background is removed (``remove_background``; an image's own
        transparency always counts), the object centred and scaled to ``foreground_ratio``
        (default: the training framing); ``segmenter`` is a ``lddbm.segmentation.MaskNet`` (the
        pipeline passes its own) or None for the classical GrabCut segmentation.
        """
        cfg = self.config
        if isinstance(inputs, (Image.Image, str, os.PathLike, NormalizedView)):
            inputs = [inputs]
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise ValueError("No views given: provide 1 to %d images of the object." % cfg.max_views)
            single = isinstance(inputs[0], (Image.Image, str, os.PathLike, NormalizedView))
            groups = [list(inputs)] if single else [list(g) for g in inputs]
            sizes = {len(g) for g in groups}
            if len(sizes) != 1:
                raise ValueError("Every object of a batch needs the same number of views.")
            ratio = foreground_ratio or cfg.foreground_ratio
            x = torch.stack([self._views_tensor(g, remove_background, ratio, segmenter) for g in groups])
        else:
            x = torch.as_tensor(inputs).float()
            if x.ndim == 4:
                x = x[None]
        if x.ndim != 5 or x.shape[2:] != (3, cfg.image_size, cfg.image_size):
            raise ValueError(f"Expected views of shape (B, V, 3, {cfg.image_size}, {cfg.image_size}), got {tuple(x.shape)}.")
        if not 1 <= x.shape[1] <= cfg.max_views:
            raise ValueError(f"Give 1 to {cfg.max_views} views of the object, got {x.shape[1]}.")
        return x.to(self.device, self.dtype)

    def _views_tensor(self, views: list, remove_background: bool, ratio: float | None, segmenter) -> torch.Tensor:
        """One object's views -> (V, 3, S, S) in [-1, 1]."""
        return views_tensor(views, self.config.image_size, remove_background, ratio, segmenter)

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        B, V = views.shape[:2]
        emb = self.view_net(views.flatten(0, 1)).reshape(B, V, -1)  # (B, V, E)
        keep = torch.ones(B, V, 1, device=views.device, dtype=torch.bool)
        if self.training and self.config.view_dropout > 0 and V > 1:
            keep = torch.rand(B, V, 1, device=views.device) >= self.config.view_dropout
            keep[torch.arange(B), torch.randint(V, (B,), device=views.device)] = True  # at least one view
        count = keep.sum(dim=1).clamp_min(1)
        mean = (emb * keep).sum(dim=1) / count  # (B, E)
        peak = emb.masked_fill(~keep, float("-inf")).amax(dim=1)  # (B, E)
        c, s = self.config.latent_channels, self.config.latent_size
        h = self.head(torch.cat([mean, peak], dim=1)).reshape(B, c, s, s)
        return standardize_latent(h, self.config.sigma_data)
