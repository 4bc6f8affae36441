"""What a pasted object is put in front of: photograph crops, uniform colours and two-colour gradients
(training augmentation, the segmenter's scenes and the robustness benchmarks)."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["gradient_background", "photo_crop", "random_background", "solid_background"]


def photo_crop(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (size x size) of a photograph, from 1x to 4x the size, resized."""
    h, w = photo.shape[:2]
    side = int(min(h, w, size * rng.uniform(1.0, 4.0)))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = Image.fromarray(photo[y : y + side, x : x + side])
    return np.asarray(crop.resize((size, size), Image.BILINEAR if side < size else Image.BOX))


def solid_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A uniform colour: half the time a grey from black to white, otherwise any colour."""
    colour = np.full(3, rng.integers(0, 256)) if rng.random() < 0.5 else rng.integers(0, 256, 3)
    return np.broadcast_to(colour.astype(np.uint8), (size, size, 3)).copy()


def gradient_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A linear gradient between two random colours in a random direction (a studio sweep, a wall)."""
    a, b = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    t = np.clip((np.cos(angle) * xx + np.sin(angle) * yy) + 0.5, 0, 1)[..., None]
    return (a * (1 - t) + b * t).astype(np.uint8)


def random_background(size: int, rng: np.random.Generator, photos: list[np.ndarray] | None) -> np.ndarray:
    kinds = ["solid", "gradient"] + (["photo", "photo"] if photos else [])
    kind = kinds[rng.integers(len(kinds))]
    if kind == "photo":
        return photo_crop(photos[rng.integers(len(photos))], size, rng)
    return solid_background(size, rng) if kind == "solid" else gradient_background(size, rng)
