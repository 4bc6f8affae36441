"""Safe opening of user-supplied images: every problem becomes one InputError that says what to do.

Used by the web demo and the CLI; nothing a user uploads should raise anything else.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import LDDBMError
from .images import HIGH_BIT_MODES, normalise_mode  # noqa: F401  (re-exported: callers open and normalise)

MAX_PIXELS = 4096 * 4096  # larger uploads are refused before decoding
MIN_SIDE = 16


class InputError(LDDBMError, ValueError):
    """A problem with the user's input, phrased for the user."""


def open_image(path: str | os.PathLike, min_side: int = MIN_SIDE, max_pixels: int = MAX_PIXELS) -> tuple[Image.Image, list[str]]:
    """Open and fully decode one image; returns it with notes for the user (e.g. "first frame used").

    16-bit, palette, grey and alpha images are returned as they are (callers convert); EXIF
    orientation is applied.
    """
    path = Path(path)
    name = path.name
    notes: list[str] = []
    if not path.is_file():
        raise InputError(f"{name}: the file is missing; upload it again.")
    if path.stat().st_size == 0:
        raise InputError(f"{name} is empty (0 bytes); upload a PNG or JPEG image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            w, h = image.size
            if w * h > max_pixels:
                raise InputError(f"{name} is {w}x{h} pixels; the limit is {max_pixels // 1_000_000} megapixels. "
                                 "Resize it and upload again.")
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"{name} is animated; its first frame was used.")
                image.seek(0)
            image.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"{name} is too large (over {max_pixels // 1_000_000} megapixels); resize it and upload "
                         "again.") from err
    except UnidentifiedImageError as err:
        raise InputError(f"{name} is not an image this demo can read ({type(err).__name__}); "
                         "upload a PNG, JPEG, WebP, BMP or GIF.") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{name} could not be decoded (the file looks truncated or corrupt: {err}); "
                         "upload it again or re-save it.") from err
    image = ImageOps.exif_transpose(image) if image.mode not in HIGH_BIT_MODES else image
    if min(image.size) < min_side:
        raise InputError(f"{name} is only {image.size[0]}x{image.size[1]} pixels; use an image at least "
                         f"{min_side} pixels on each side.")
    return image, notes


def as_image(item: Image.Image | str | os.PathLike) -> Image.Image:
    """A PIL image as it is; a file path opened with ``open_image`` (notes dropped)."""
    return open_image(item)[0] if isinstance(item, (str, os.PathLike)) else item


def open_views(paths, max_views: int) -> tuple[list[Image.Image], list[str]]:
    """Open 1 to max_views view images; raises InputError for none, too many, or any bad file."""
    paths = [p for p in (paths or []) if p]
    if not paths:
        raise InputError(f"No views: upload 1 to {max_views} images of the object, or pick an example.")
    if len(paths) > max_views:
        raise InputError(f"{len(paths)} images uploaded; the model takes at most {max_views} views of one object.")
    images, notes = [], []
    for p in paths:
        image, n = open_image(p)
        images.append(image)
        notes += n
    return images, notes
