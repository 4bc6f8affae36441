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
MAX_SIDE = 8192  # longer side, checked before decoding too: a 16 x 60000 strip passes the pixel limit
MAX_ASPECT = 12  # longer side / shorter side: a thinner strip is no photo of an object (and squares cost side**2)
MIN_SIDE = 16
# the formats a photo arrives in; everything else (EPS, PDF, PSD, FITS, ...) is refused before a decoder runs
FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "DIB", "TIFF", "AVIF", "QOI", "PPM", "TGA", "ICO")
KEPT_INFO = ("transparency",)  # of an upload's metadata only what changes the pixels; text chunks, EXIF, ICC dropped


class InputError(LDDBMError, ValueError):
    """A problem with the user's input, phrased for the user."""


def check_size(width: int, height: int, name: str = "The image", max_pixels: int = MAX_PIXELS,
               max_side: int = MAX_SIDE, max_aspect: float = MAX_ASPECT) -> None:
    """InputError unless width x height is within the pixel, side and aspect limits: called on the
    header's size, before any array of that size exists."""
    if width * height > max_pixels:
        raise InputError(f"{name} is {width}x{height} pixels; the limit is {max_pixels // 1_000_000} megapixels. "
                         "Resize it and upload again.")
    if max(width, height) > max_side:
        raise InputError(f"{name} is {width}x{height} pixels; the longer side may be at most {max_side} pixels. "
                         "Resize it and upload again.")
    if max(width, height) > max_aspect * max(min(width, height), 1):
        raise InputError(f"{name} is {width}x{height} pixels, more than {max_aspect:g} times longer than wide; "
                         "crop it to the part you want and upload again.")


def open_image(path: str | os.PathLike, min_side: int = MIN_SIDE, max_pixels: int = MAX_PIXELS,
               shrink_to: int | None = None) -> tuple[Image.Image, list[str]]:
    """Open and fully decode one image; returns it with notes for the user (e.g. "first frame used").

    Only the formats in ``FORMATS`` are decoded, and only after the header's size passed
    ``check_size``. 16-bit, palette, grey and alpha images are returned as they are (callers
    convert); EXIF orientation is applied; metadata other than ``KEPT_INFO`` is dropped, so nothing
    an upload carries (text chunks, EXIF, ICC) travels into the results. ``shrink_to``: the longer side
    is brought down to about that many pixels (a JPEG is decoded at a reduced scale, not shrunk after),
    for callers that use no more: a 16-megapixel photo then costs a few MB, not 64.
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
            Image.init()  # every plugin registered (Image.open(formats=...) looks each name up)
            image = Image.open(path, formats=[f for f in FORMATS if f in Image.OPEN])
            check_size(*image.size, name, max_pixels)
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"{name} is animated; its first frame was used.")
                image.seek(0)
            if shrink_to and image.format in ("JPEG", "MPO"):
                image.draft(image.mode, (shrink_to, shrink_to))  # DCT scaling: decodes at 1/2, 1/4 or 1/8 size
            image.load()
            if shrink_to and max(image.size) > 2 * shrink_to:
                image = normalise_mode(image).reduce(max(image.size) // shrink_to)  # box average; >= shrink_to kept
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"{name} is too large (over {max_pixels // 1_000_000} megapixels); resize it and upload "
                         "again.") from err
    except UnidentifiedImageError as err:
        raise InputError(f"{name} is not an image this demo can read; upload a PNG, JPEG, WebP, BMP, GIF or "
                         "TIFF.") from err
    except MemoryError as err:
        raise InputError(f"{name} needs more memory to decode than the server has free; upload a smaller "
                         "image.") from err
    except Exception as err:  # a decoder's error on a corrupt file (OSError, KeyError, struct.error, ...)
        raise InputError(f"{name} could not be decoded (the file looks truncated or corrupt: "
                         f"{_short(err)}); upload it again or re-save it as PNG or JPEG.") from err
    try:
        image = ImageOps.exif_transpose(image) if image.mode not in HIGH_BIT_MODES else image
    except Exception:  # a corrupt EXIF block: keep the pixels as stored
        pass
    image.info = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    if min(image.size) < min_side:
        raise InputError(f"{name} is only {image.size[0]}x{image.size[1]} pixels; use an image at least "
                         f"{min_side} pixels on each side.")
    return image, notes


def _short(err: Exception, limit: int = 80) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_image(item: Image.Image | str | os.PathLike) -> Image.Image:
    """A PIL image as it is; a file path opened with ``open_image`` (notes dropped)."""
    return open_image(item)[0] if isinstance(item, (str, os.PathLike)) else item


def open_views(paths, max_views: int, shrink_to: int | None = None) -> tuple[list[Image.Image], list[str]]:
    """Open 1 to max_views view images; raises InputError for none, too many, or any bad file.
    ``shrink_to``: as for ``open_image`` (views are framed at 128 px: 1024 leaves room for cropping)."""
    paths = [p for p in (paths or []) if p]
    if not paths:
        raise InputError(f"No views: upload 1 to {max_views} images of the object, or pick an example.")
    if len(paths) > max_views:
        raise InputError(f"{len(paths)} images uploaded; the model takes at most {max_views} views of one object.")
    images, notes = [], []
    for p in paths:
        image, n = open_image(p, shrink_to=shrink_to)
        images.append(image)
        notes += n
    return images, notes
