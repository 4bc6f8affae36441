"""What a pasted object is put in front of: photograph crops, uniform colours and two-colour gradients,
and a sheet of paper or card under the object (training augmentation, the segmenter's scenes and the
robustness benchmarks)."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["card_under", "gradient_background", "photo_crop", "random_background", "random_photo_crop", "solid_background"]


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


def random_photo_crop(photos: list[np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``photo_crop`` of one of ``photos``, drawn at random."""
    return photo_crop(photos[rng.integers(len(photos))], size, rng)


def random_background(size: int, rng: np.random.Generator, photos: list[np.ndarray] | None) -> np.ndarray:
    kinds = ["solid", "gradient"] + (["photo", "photo"] if photos else [])
    kind = kinds[rng.integers(len(kinds))]
    if kind == "photo":
        return random_photo_crop(photos, size, rng)
    return solid_background(size, rng) if kind == "solid" else gradient_background(size, rng)


def card_under(mask: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``background`` (S, S, 3) with a sheet of paper or card lying under the object of ``mask`` (S, S): a
    quadrilateral round the object's box with a margin of 4-35 % of the side on each side, turned up to 12
    degrees, its corners a little off square (perspective), mostly a light paper colour (otherwise any
    colour), shaded by a soft light fall-off and casting a faint shadow on what is under it. People put a
    thing on a sheet of paper, a placemat or a book to photograph it; the sheet is background, not the
    object (the segmenter trained without it took a render's grey square for the object)."""
    from PIL import ImageDraw, ImageFilter

    s = background.shape[0]
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return background
    left, top, right, bottom = rng.uniform(0.04, 0.35, 4) * s
    corners = np.array([[cols.min() - left, rows.min() - top], [cols.max() + 1 + right, rows.min() - top],
                        [cols.max() + 1 + right, rows.max() + 1 + bottom], [cols.min() - left, rows.max() + 1 + bottom]])
    angle = np.radians(rng.uniform(-12, 12))
    centre = corners.mean(0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = (corners - centre) @ turn.T + centre + rng.normal(0, 0.02 * s, (4, 2))
    sheet = Image.new("L", (s, s), 0)
    ImageDraw.Draw(sheet).polygon([tuple(c) for c in corners], fill=255)
    shadow = sheet.transform((s, s), Image.AFFINE, (1, 0, -rng.uniform(1, 5), 0, 1, -rng.uniform(1, 5)))
    shadow = np.asarray(shadow.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 4))), np.float32)[..., None] / 255
    alpha = np.asarray(sheet.filter(ImageFilter.BoxBlur(0.5)), np.float32)[..., None] / 255
    if rng.random() < 0.7:  # paper: near white or light grey, a slight tint
        colour = np.clip(rng.uniform(195, 255) + rng.uniform(-8, 8, 3), 0, 255)
    else:
        colour = rng.integers(0, 256, 3).astype(np.float64)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / max(s - 1, 1) - 0.5
    direction = rng.uniform(0, 2 * np.pi)
    falloff = 1 - rng.uniform(0, 0.15) * (np.cos(direction) * xx + np.sin(direction) * yy + 0.5)
    card = colour[None, None].astype(np.float32) * falloff[..., None]
    under = background.astype(np.float32) * (1 - rng.uniform(0.15, 0.45) * shadow)
    return np.clip(card * alpha + under * (1 - alpha), 0, 255).round().astype(np.uint8)
