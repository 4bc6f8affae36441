"""A paired toy task made in code: an 8-d vector -> a 16x16 image of a soft disc.

Each object is u = (cx, cy, r): a disc centred at (cx, cy) in [-0.5, 0.5]^2 with radius r in
[0.15, 0.4] on the [-1, 1]^2 canvas. The source modality sees y = W u + noise with a fixed random
W (8 x 3), the target modality sees the rendered disc (pixels in [-1, 1]). Translating y to the
image is easy to learn but far from the mean image, which is the baseline it must beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch.utils.data import Dataset


@dataclass
class SyntheticData:
    """Vector -> image: an 8-d vector y = W u + noise describes a soft disc u = (cx, cy, r)."""

    kind: Literal["synthetic"] = "synthetic"
    source_dim: int = 8
    image_size: int = 16
    train_size: int = 4096
    val_size: int = 512
    noise: float = 0.02  # std of the noise added to the source vectors
    seed: int = 0  # seeds the data (W, discs, noise); the splits use disjoint streams


SPLIT_STREAMS = {"train": 1, "val": 2, "test": 3}


def render_discs(u: torch.Tensor, size: int, edge: float = 0.04) -> torch.Tensor:
    """(N, 3) disc parameters -> (N, 1, size, size) images in [-1, 1] with soft edges."""
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (S, S)
    cx, cy, r = (u[:, i, None, None] for i in range(3))
    dist = ((xx - cx) ** 2 + (yy - cy) ** 2).sqrt()  # (N, S, S)
    return (torch.sigmoid((r - dist) / edge) * 2 - 1)[:, None]


def source_matrix(cfg: SyntheticData) -> torch.Tensor:
    """The fixed (source_dim, 3) map W from disc parameters to source vectors."""
    return torch.randn(cfg.source_dim, 3, generator=torch.Generator().manual_seed(cfg.seed))


PARAM_LOW, PARAM_HIGH = (-0.5, -0.5, 0.15), (0.5, 0.5, 0.4)  # ranges of (cx, cy, r)


class SyntheticPairs(Dataset):
    """A fixed, seeded split of (vector, image) pairs held in memory."""

    def __init__(self, cfg: SyntheticData, split: str = "train"):
        if split not in SPLIT_STREAMS:
            raise ValueError(f"Unknown split {split!r}; use one of {list(SPLIT_STREAMS)}.")
        n = cfg.train_size if split == "train" else cfg.val_size
        g = torch.Generator().manual_seed(cfg.seed * 1000 + SPLIT_STREAMS[split])
        lo, hi = torch.tensor(PARAM_LOW), torch.tensor(PARAM_HIGH)
        self.params = lo + (hi - lo) * torch.rand(n, 3, generator=g)  # (N, 3)
        noise = cfg.noise * torch.randn(n, cfg.source_dim, generator=g)
        self.source = self.params @ source_matrix(cfg).T + noise  # (N, dim)
        self.target = render_discs(self.params, cfg.image_size)  # (N, 1, S, S)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"source": self.source[i], "target": self.target[i]}
