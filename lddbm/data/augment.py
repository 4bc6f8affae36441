"""Backgrounds and corruptions of rendered views: training augmentation and the robustness benchmark.

A render comes with its exact silhouette, so a view can be put on any background and passed
through the same normaliser a user's photo goes through (``lddbm.framing``). Training uses
``augment_view`` (random background, colour, blur / JPEG, an imperfect mask as segmentation gives,
framing jitter); the benchmark uses ``corrupt_view`` (one named corruption at a time).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from ..framing import DEFAULT_FOREGROUND_RATIO, TRAINING_BACKGROUND, flatten, frame_object, framing_box
from .backgrounds import card_under, gradient_background, random_background, random_photo_crop, solid_background

CORRUPTIONS = ("clean", "cutout", "photo", "solid", "gradient", "small_offcentre", "dark_lowcontrast", "tabletop", "card")


def composite(view: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The object of ``view`` (where ``mask``) over ``background``; edges softened by one pixel."""
    alpha = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.BoxBlur(0.5)), np.float32)[..., None] / 255
    return (view * alpha + background * (1 - alpha)).round().astype(np.uint8)


def place(view: np.ndarray, mask: np.ndarray, scale: float, offset: tuple[float, float],
          background: int = TRAINING_BACKGROUND) -> tuple[np.ndarray, np.ndarray]:
    """The object shrunk by ``scale`` and moved by ``offset`` (fractions of the side) in the same frame."""
    s = view.shape[0]
    rgba = np.dstack([view, mask.astype(np.uint8) * 255])
    small = np.asarray(Image.fromarray(rgba, "RGBA").resize((round(s * scale),) * 2, Image.BICUBIC))
    out = np.zeros_like(rgba)
    x0 = int(round((s - small.shape[1]) / 2 + offset[0] * s))
    y0 = int(round((s - small.shape[0]) / 2 + offset[1] * s))
    xs, ys = slice(max(x0, 0), min(x0 + small.shape[1], s)), slice(max(y0, 0), min(y0 + small.shape[0], s))
    out[ys, xs] = small[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    moved = out[..., 3] > 127
    return composite(out[..., :3], moved, np.full_like(view, background)), moved


def corrupt_view(view: np.ndarray, mask: np.ndarray, corruption: str, rng: np.random.Generator,
                 photos: list[np.ndarray] | None = None) -> Image.Image:
    """One render (S, S, 3) with its mask -> the upload a user might send, as a PIL image.

    clean: as rendered; cutout: RGBA with the mask as alpha; photo / solid / gradient: the object on
    a photograph crop / a uniform colour / a two-colour gradient; small_offcentre: at 55 % size, moved off centre;
    dark_lowcontrast: the whole view darkened and flattened; tabletop: standing on a surface with contact
    and cast shadows, a photograph (or a wall) behind its back edge (``lddbm.data.tabletop``); card: at
    55-75 % size on a sheet of paper or card lying on a photograph (``on_card``).
    """
    if corruption == "clean":
        return Image.fromarray(view)
    if corruption == "cutout":
        return Image.fromarray(np.dstack([view, mask.astype(np.uint8) * 255]), "RGBA")
    if corruption == "photo":
        if not photos:
            raise ValueError("the photo corruption needs photographs (build-data photos).")
        return Image.fromarray(composite(view, mask, random_photo_crop(photos, view.shape[0], rng)))
    if corruption == "solid":
        grey = rng.choice([40, 90, 128, 170])
        colour = np.full(3, grey) if rng.random() < 0.5 else rng.integers(0, 256, 3)
        return Image.fromarray(composite(view, mask, np.broadcast_to(colour.astype(np.uint8), view.shape).copy()))
    if corruption == "gradient":
        return Image.fromarray(composite(view, mask, gradient_background(view.shape[0], rng)))
    if corruption == "small_offcentre":
        offset = tuple(rng.choice([-1, 1], 2) * rng.uniform(0.1, 0.18, 2))
        return Image.fromarray(place(view, mask, 0.55, offset)[0])
    if corruption == "dark_lowcontrast":
        x = ((view.astype(np.float32) - 128) * 0.5 + 128) * 0.45  # half the contrast, under half the light
        return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8))
    if corruption == "tabletop":
        from .tabletop import tabletop_scene

        return Image.fromarray(tabletop_scene(view, mask, rng, photos, scale=(0.55, 0.85))[0])
    if corruption == "card":
        return Image.fromarray(on_card(view, mask, rng, photos)[0])
    raise ValueError(f"Unknown corruption {corruption!r}; choose from {', '.join(CORRUPTIONS)}.")


def on_card(view: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
            photos: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The object at 55-75 % size, a little off centre, on a sheet of paper or card
    (``lddbm.data.backgrounds.card_under``) lying on a photograph (a uniform colour without photographs)
    -> (image, the object's moved mask)."""
    moved, moved_mask = place(view, mask, rng.uniform(0.55, 0.75), tuple(rng.uniform(-0.08, 0.08, 2)))
    s = view.shape[0]
    background = random_photo_crop(photos, s, rng) if photos else solid_background(s, rng)
    return composite(moved, moved_mask, card_under(moved_mask, background, rng)), moved_mask


def jitter_colour(view: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation jitter (photos are not lit like our renders)."""
    x = view.astype(np.float32)
    grey = x.mean(axis=-1, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.6, 1.4)  # saturation
    x = (x - x.mean()) * rng.uniform(0.6, 1.4) + x.mean()  # contrast
    x = x * rng.uniform(0.6, 1.3) * rng.uniform(0.9, 1.1, 3)  # brightness and a colour cast
    return np.clip(x, 0, 255).astype(np.uint8)


def imperfect_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The exact silhouette with the errors a segmenter makes: grown or shrunk edges, a missing or
    extra blob. Keeps the object when a corruption would erase it."""
    from scipy import ndimage

    out = mask.copy()
    grow = int(rng.integers(-2, 3))
    if grow > 0:
        out = ndimage.binary_dilation(out, iterations=grow)
    elif grow < 0:
        eroded = ndimage.binary_erosion(out, iterations=-grow)
        out = eroded if eroded.sum() > 0.5 * out.sum() else out
    if rng.random() < 0.3:  # a blob of background kept, or of the object lost
        s = mask.shape[0]
        r = rng.uniform(0.04, 0.12) * s
        cy, cx = rng.uniform(0, s, 2)
        yy, xx = np.mgrid[0:s, 0:s]
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        if rng.random() < 0.5:
            near = ndimage.binary_dilation(out, iterations=int(r))
            out = out | (blob & near)
        else:
            cut = out & ~blob
            out = cut if cut.sum() > 0.7 * out.sum() else out
    return out


def camera_degrade(image: Image.Image, rng: np.random.Generator, blur: tuple[float, float] = (0.25, 1.2),
                   jpeg: tuple[float, int] = (0.25, 30)) -> Image.Image:
    """Blur (probability, largest sigma) and JPEG compression (probability, lowest quality), as
    phone cameras and uploads do."""
    if rng.random() < blur[0]:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, blur[1])))
    if rng.random() < jpeg[0]:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(jpeg[1], 90)))
        image = Image.open(buffer).convert("RGB")
    return image


def augment_view(view: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator,
                 photos: list[np.ndarray] | None = None,
                 foreground_ratio: float = DEFAULT_FOREGROUND_RATIO, colour: bool = True) -> np.ndarray:
    """A training view: (S, S, 3) render + exact mask -> (size, size, 3) uint8, framed by the normaliser.

    The object is re-coloured (``colour``; off where the target keeps the object's colours, as for
    novel views), put on a random background (3 in 4), blurred or JPEG-compressed (1 in 4 each),
    given an imperfect mask, then framed with jittered ratio and offset and put on the training
    background, as ``lddbm.framing.normalize_view`` does with an upload.
    """
    return augment_view_and_box(view, mask, size, rng, photos, foreground_ratio, colour)[0]


def augment_view_and_box(view: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator,
                         photos: list[np.ndarray] | None = None, foreground_ratio: float = DEFAULT_FOREGROUND_RATIO,
                         colour: bool = True) -> tuple[np.ndarray, tuple[float, float, float]]:
    """``augment_view`` and the square of the render it framed, (cx, cy, side) in render pixels
    (``lddbm.framing.framing_box``): what a camera estimate of the framed view is measured against."""
    recolour = rng.random() < 0.8  # drawn either way, so colour=False leaves the other draws as they were
    x = jitter_colour(view, rng) if recolour and colour else view
    if rng.random() < 0.75:
        x = composite(x, mask, random_background(view.shape[0], rng, photos))
    image = camera_degrade(Image.fromarray(x), rng, blur=(0.25, 1.2), jpeg=(0.25, 30))
    seen = imperfect_mask(mask, rng) if rng.random() < 0.8 else mask
    rgba = np.dstack([np.asarray(image), seen.astype(np.uint8) * 255])
    ratio = float(np.clip(foreground_ratio * rng.uniform(0.85, 1.12), 0.3, 1.0))
    offset = tuple(rng.uniform(-0.04, 0.04, 2))
    framed = frame_object(rgba, ratio, size, offset=offset)
    if framed is None:
        return frame_clean_and_box(view, mask, size, foreground_ratio)
    return flatten(framed), framing_box(rgba[..., 3] > 127, ratio, offset)


def frame_clean(view: np.ndarray, mask: np.ndarray, size: int,
                foreground_ratio: float = DEFAULT_FOREGROUND_RATIO) -> np.ndarray:
    """An evaluation view: the exact mask, the default framing, no corruption (an empty mask: the
    whole view)."""
    return frame_clean_and_box(view, mask, size, foreground_ratio)[0]


def frame_clean_and_box(view: np.ndarray, mask: np.ndarray, size: int,
                        foreground_ratio: float = DEFAULT_FOREGROUND_RATIO) -> tuple[np.ndarray, tuple[float, float, float]]:
    """``frame_clean`` and the square of the render it framed (cx, cy, side)."""
    s = view.shape[0]
    box = framing_box(mask, foreground_ratio) if mask.any() else None
    if box is None:
        return np.asarray(Image.fromarray(view).resize((size, size), Image.BICUBIC)), (s / 2, s / 2, float(s))
    return flatten(frame_object(np.dstack([view, mask.astype(np.uint8) * 255]), foreground_ratio, size)), box
