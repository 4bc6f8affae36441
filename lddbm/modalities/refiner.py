"""The bridge's shape, refined with the views' own silhouettes (``SilhouetteRefiner``).

The bridge decodes a shape from a 16 x 8 x 8 latent; the silhouettes of the views it was given hold
more than it keeps (the visual hull carved along the renderer's true cameras scores 0.62-0.68 IoU, the
model 0.59). At test time the cameras are the lifting encoder's own estimate, and the hull carved along
them is rougher (0.53: a pixel's error in one view carves a thin leg away in all), so neither answer is
the better one everywhere. The refiner is a small 3D U-Net that takes, at every voxel, the decoded
occupancy logit and three numbers of the *soft visual hull along the estimated cameras* (``silhouette_hull``:
how much of the cell's projection falls inside the silhouette, in the least-covered view, in the next
least-covered one (the hull that survives one view's camera error) and on average over the views), and returns the refined logit (a residual: at initialisation it returns its input).

It is trained after the rest of the model, on the pipeline's own predictions for the training objects
(``lddbm.tasks.multiview3d.refiner``), with a soft-IoU term beside the cross-entropy so that its 0.5
threshold is the one IoU is read at. The pipeline applies it when it has one (``LDDBMPipeline(refiner=...)``,
``refine=False`` to compare); it sees no cameras but those the encoder estimated.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from ..framing import TRAINING_BACKGROUND
from .common import ResBlock
from .lifting import _cube, project_to_frame

__all__ = ["SilhouetteRefiner", "estimated_hull", "silhouette_hull", "silhouettes"]

BACKGROUND = TRAINING_BACKGROUND / 127.5 - 1  # the framing's grey in the views' [-1, 1] range


def silhouettes(views: torch.Tensor) -> torch.Tensor:
    """(..., 3, S, S) framed views in [-1, 1] -> (..., S, S) float: the pixels that are not the framing's grey
    (the upload normaliser paints everything outside the object's mask that grey)."""
    return ((views.float() - BACKGROUND).abs().amax(-3) > 0.04).float()


def silhouette_hull(views: torch.Tensor, pose: torch.Tensor, grid: int = 32) -> torch.Tensor:
    """The soft visual hull of framed views (B, V, 3, S, S) along cameras ``pose`` (B, V, 7; ``lifting.POSE``)
    on the [x, y, z]-indexed grid^3 over the object's cube -> (B, 3, grid, grid, grid): each cell centre's
    silhouette value (bilinear) in the view that covers it least, in the next least-covering view (the
    same for one view), and its mean over the views."""
    B, V = pose.shape[:2]
    points = project_to_frame(_cube(grid).to(pose.device), pose.float().flatten(0, 1))  # (B*V, grid^3, 2)
    masks = silhouettes(views).flatten(0, 1)[:, None]  # (B*V, 1, S, S)
    inside = F.grid_sample(masks, points[:, None], align_corners=False).reshape(B, V, grid, grid, grid)
    ranked = inside.sort(dim=1).values
    return torch.stack([ranked[:, 0], ranked[:, min(1, V - 1)], inside.mean(1)], dim=1)


@torch.no_grad()
def estimated_hull(encoder, prepared: dict, grid: int = 32) -> torch.Tensor:
    """The soft hull (B, 3, grid, grid, grid) of a lifting ``encoder``'s ``prepared`` inputs ({"views": (B, V, 3, S, S),
    "turntable"}) along the cameras that encoder estimates for them: what the refiner reads."""
    views = prepared["views"]
    pose = encoder.estimate_pose(views.to(encoder.dtype), prepared.get("turntable"))[0]
    return silhouette_hull(views, pose, grid)


class SilhouetteRefiner(ModelMixin, ConfigMixin):
    """Decoded occupancy logits (B, 1, G, G, G) and their views' soft hull (B, 3, G, G, G) -> refined logits.

    A U-Net over the grid: a full-resolution stem, two stride-2 stages (``widths[1]`` channels at G/2,
    ``widths[2]`` at G/4, ``blocks`` residual blocks each), back up with transposed convolutions and skip
    connections, and a head whose last layer starts at zero, so an untrained refiner changes nothing.
    """

    @register_to_config
    def __init__(self, grid: int = 32, widths: tuple[int, int, int] = (8, 24, 48), blocks: int = 1):
        super().__init__()
        c1, c2, c3 = widths
        self.stem = nn.Conv3d(4, c1, 3, padding=1)
        self.down1 = nn.Sequential(nn.Conv3d(c1, c2, 4, stride=2, padding=1), *[ResBlock(c2, dims=3) for _ in range(blocks)])
        self.down2 = nn.Sequential(nn.Conv3d(c2, c3, 4, stride=2, padding=1), *[ResBlock(c3, dims=3) for _ in range(blocks)])
        self.up2 = nn.ConvTranspose3d(c3, c2, 4, stride=2, padding=1)
        self.mid = ResBlock(c2, dims=3)
        self.up1 = nn.ConvTranspose3d(c2, c1, 4, stride=2, padding=1)
        self.head = nn.Sequential(nn.GroupNorm(4, 2 * c1), nn.SiLU(), nn.Conv3d(2 * c1, c1, 3, padding=1), nn.SiLU(),
                                  nn.Conv3d(c1, 1, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, logits: torch.Tensor, hull: torch.Tensor) -> torch.Tensor:
        x = torch.cat([logits / 4, hull * 2 - 1], dim=1)  # the decoder's logits reach about +-9
        s = self.stem(x)
        d1 = self.down1(s)
        u = self.up1(self.mid(self.up2(self.down2(d1)) + d1))
        return logits + self.head(torch.cat([u, s], dim=1))

    @torch.no_grad()
    def refine(self, logits: torch.Tensor, encoder, prepared: dict) -> torch.Tensor:
        """The pipeline's decoded ``logits`` (B * k, 1, G, G, G: k draws per object, adjacent) refined with the
        silhouettes of the lifting ``encoder``'s ``prepared`` inputs ({"views": (B, V, 3, S, S), "turntable"}),
        along the cameras that encoder estimates for them."""
        hull = estimated_hull(encoder, prepared, self.config.grid)
        hull = hull.repeat_interleave(len(logits) // len(hull), dim=0)
        return self(logits.to(self.dtype), hull.to(self.device, self.dtype)).to(logits.dtype)
