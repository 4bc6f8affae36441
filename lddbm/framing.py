"""Views as people upload them -> views framed like the training renders.

One normaliser for the pipeline, the CLI and the demo (and, with exact masks, for training):

1. the object's mask: the image's alpha when it has real transparency, otherwise a foreground
   segmentation (``segment_foreground``: GrabCut seeded from the image border, no learned weights);
2. the view is cropped around the mask's bounding box, centred, padded to a square and resized so
   the box's longer side is ``foreground_ratio`` of the side (the renders' median is 0.73);
3. everything outside the mask becomes the renderer's light grey (``TRAINING_BACKGROUND``).

``frame_object`` is step 2 + 3 on arrays and is what the training augmentation calls too, so the
model is trained on exactly the framing that users' photos are given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .images import normalise_mode
from .inputs import InputError

logger = logging.getLogger(__name__)

TRAINING_BACKGROUND = 245  # the renderer's background grey (0.96), lddbm/data/render.py
DEFAULT_FOREGROUND_RATIO = 0.75  # longer side of the object's box / image side; renders: median 0.73
SEGMENT_SIZE = 160  # segmentation runs on a copy whose longer side is this many pixels (speed)
BORDER_MARGIN = 0.025  # an object this close to the image edge (fraction of the side) "touches the border"
MIN_FOREGROUND = 0.002  # masks smaller than this fraction of the image count as "no object found"
FRAME_SIZE = 128  # views are framed at the renders' size, then resized to the model's: one path for all callers
WORK_SIDE = 1024  # an upload is shrunk to this longer side before masking and framing (bounds memory per view)

BOX_WORK_SIDE = 384  # segment_with_box runs GrabCut on the box's surroundings shrunk to this longer side (speed)
BOX_CONTEXT = 0.15  # ... grown by this share of the box's longer side: the background GrabCut learns from
POINT_RADIUS = 0.015  # a click marks a disc this share of the working region's longer side

__all__ = [
    "DEFAULT_FOREGROUND_RATIO", "FRAME_SIZE", "TRAINING_BACKGROUND", "BoxPrompt", "NormalizedView", "flatten",
    "cut_out", "frame_cut_out", "frame_object", "framing_box", "normalize_view", "normalize_views",
    "segment_foreground", "segment_with_box",
    "to_rgba8", "view_warnings",
]


@dataclass(frozen=True)
class BoxPrompt:
    """A person's prompt for one view, in pixels of that view: a box around the object (x0, y0, x1, y1;
    0 is the left / top edge, x1 and y1 exclusive) and optionally points on the object (``foreground``)
    and on the background (``background``), each (x, y)."""

    box: tuple[float, float, float, float]
    foreground: tuple[tuple[float, float], ...] = ()
    background: tuple[tuple[float, float], ...] = ()

    def __post_init__(self):
        box = tuple(float(v) for v in self.box)
        if len(box) != 4 or not all(np.isfinite(box)):
            raise InputError(f"A box is four numbers x0, y0, x1, y1; got {self.box!r}.")
        x0, y0, x1, y1 = box  # two opposite corners, in either order
        object.__setattr__(self, "box", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        for name in ("foreground", "background"):
            points = tuple((float(x), float(y)) for x, y in getattr(self, name))
            object.__setattr__(self, name, points)

    @classmethod
    def of(cls, prompt) -> "BoxPrompt | None":
        """None, a BoxPrompt, or a bare box (x0, y0, x1, y1) -> a BoxPrompt or None."""
        return prompt if prompt is None or isinstance(prompt, BoxPrompt) else cls(tuple(prompt))

    def scaled(self, kx: float, ky: float) -> "BoxPrompt":
        """The same prompt on the image resized by (kx, ky)."""
        x0, y0, x1, y1 = self.box
        return BoxPrompt((x0 * kx, y0 * ky, x1 * kx, y1 * ky), tuple((x * kx, y * ky) for x, y in self.foreground),
                         tuple((x * kx, y * ky) for x, y in self.background))


@dataclass
class NormalizedView:
    image: Image.Image  # RGBA, size x size: the object framed, alpha = its mask (0 outside)
    # "alpha" (the upload's own transparency), "box" (cut out from a person's box: segment_with_box),
    # "segmented" or "none" (kept whole)
    mask_source: str
    found: bool  # False: no foreground was found and the whole image was kept
    touches_border: bool  # the object's mask reaches the edge of the upload (probably cut off)
    box_fraction: float  # the object's box, longer side / the upload's longer side
    notes: list[str] = field(default_factory=list)

    def on_background(self, background: int = TRAINING_BACKGROUND) -> Image.Image:
        """RGB, the object on the training background: what the encoder sees."""
        return Image.fromarray(flatten(np.asarray(self.image), background))


def to_rgba8(image: Image.Image) -> Image.Image:
    """Any PIL mode (16-bit, float, palette, CMYK, grey, LA) -> 8-bit RGBA, via the one mode conversion."""
    return normalise_mode(image).convert("RGBA")


def segment_foreground(rgb: np.ndarray, iterations: int = 4, prior: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) bool foreground mask. Classical: no weights to download.

    The object is assumed to be roughly centred and not the image border: a thin border strip is
    background for sure, pixels whose colour is far from every border colour are probably
    foreground, the rest probably background; OpenCV's GrabCut then fits colour models to both and
    cuts the graph. Runs on a copy of at most SEGMENT_SIZE px; the mask is scaled back up. With
    ``prior`` (an (H, W) foreground probability) the seeds come from it instead of the colours.
    """
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, SEGMENT_SIZE / max(h, w))
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    small = np.ascontiguousarray(small[..., :3])
    sh, sw = small.shape[:2]
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = max(2, round(0.03 * max(sh, sw)))
    border = np.zeros((sh, sw), dtype=bool)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    # distance of every pixel to its nearest border colour (a few k-means centres of the border)
    samples = lab[border]
    k = min(6, len(samples))
    _, labels, centres = cv2.kmeans(samples, k, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0), 2,
                                    cv2.KMEANS_PP_CENTERS)
    # background colours: common on the border and seen on at least two sides; a colour found on one
    # side only is more likely an object that reaches the edge (a table cut off by the frame)
    labels = labels.ravel()
    share = np.bincount(labels, minlength=k) / len(labels)
    label_map = np.full((sh, sw), -1)
    label_map[border] = labels
    sides = [label_map[:b], label_map[-b:], label_map[:, :b], label_map[:, -b:]]
    on_sides = sum((np.bincount(side[side >= 0], minlength=k) / max((side >= 0).sum(), 1)) >= 0.05 for side in sides)
    keep = (share >= 0.08) & (on_sides >= 2)
    keep[np.argmax(share)] = True
    centres, samples = centres[keep], samples[np.isin(labels, np.flatnonzero(keep))]
    dist = np.min(np.linalg.norm(lab[..., None, :] - centres[None, None], axis=-1), axis=-1)  # (sh, sw)
    spread = np.percentile(np.min(np.linalg.norm(samples[:, None] - centres[None], axis=-1), axis=-1), 95)
    threshold = max(12.0, 2.0 * float(spread))
    seeds = np.full((sh, sw), cv2.GC_PR_BGD, dtype=np.uint8)
    if prior is None:
        seeds[dist > threshold] = cv2.GC_PR_FGD
    else:  # a foreground probability (e.g. MaskNet's) decides the seeds; the border colours still count
        p = cv2.resize(prior.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
        seeds[p > 0.5] = cv2.GC_PR_FGD
        seeds[(p > 0.9) & (dist > threshold)] = cv2.GC_FGD
        seeds[p < 0.05] = cv2.GC_BGD
    thin = max(1, b // 2)
    strip = np.zeros((sh, sw), dtype=bool)
    strip[:thin], strip[-thin:], strip[:, :thin], strip[:, -thin:] = True, True, True, True
    seeds[strip & (dist <= threshold)] = cv2.GC_BGD  # the frame's edge is background, unless the object reaches it
    if not ((seeds == cv2.GC_PR_FGD) | (seeds == cv2.GC_FGD)).any():  # nothing stands out: seed the centre
        seeds[sh // 4 : sh - sh // 4, sw // 4 : sw - sw // 4] = cv2.GC_PR_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.setRNGSeed(0)
        cv2.grabCut(small, seeds, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error as err:  # degenerate colour models (e.g. a blank image)
        logger.info("GrabCut failed (%s); using the colour-distance mask", err)
    mask = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    mask = clean_mask(mask)
    if scale < 1:
        mask = cv2.resize(mask.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_LINEAR) > 127
    return mask


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Drop specks (components under 10 % of the largest), fill pin holes; keep real gaps (chair legs)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= 0.1 * areas.max()) + 1
    mask = np.isin(labels, keep)
    holes_count, hole_labels, hole_stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    small_holes = np.flatnonzero(hole_stats[1:, cv2.CC_STAT_AREA] < 0.001 * mask.size) + 1
    return mask | np.isin(hole_labels, small_holes)


def segment_with_box(rgb: np.ndarray, box, segmenter=None, foreground=(), background=(),
                     iterations: int = 5) -> np.ndarray:
    """(H, W, 3) uint8 and a box around the object -> (H, W) bool mask of the object, inside the box.

    ``box``: (x0, y0, x1, y1) in pixels of ``rgb`` (or a ``BoxPrompt``, whose points are added to
    ``foreground`` / ``background``, each a few (x, y) clicks on the object / on the background).
    OpenCV's GrabCut initialised with the rectangle: outside the box is background for sure (its
    colours are learned from the box's surroundings, the box grown by ``BOX_CONTEXT``), inside it is
    probably the object, a click is a small disc of sure object or sure background. It runs on that
    region shrunk to ``BOX_WORK_SIDE``; the mask is scaled back, specks dropped and pin holes filled.

    ``segmenter`` (anything with ``predict(rgb) -> (H, W) probability``, e.g. ``MaskNet``) seeds the
    inside of the box with its probability instead (below 0.5: probably background). On the real-photo
    check set with the true box + 2 % it scores lower than the rectangle alone (mean IoU 0.66 against
    0.885 with the shipped MaskNet; benchmarks/box_segmentation.py), so ``normalize_view`` passes none.

    A box that covers (almost) the whole image leaves nothing outside to learn the background from:
    the border-seeded ``segment_foreground`` is used within it. When nothing is found, the mask is
    the box itself (the person said the object is there).
    """
    import cv2

    prompt = box if isinstance(box, BoxPrompt) else BoxPrompt(tuple(box))
    foreground = list(prompt.foreground) + [tuple(p) for p in foreground]
    background = list(prompt.background) + [tuple(p) for p in background]
    rgb = np.ascontiguousarray(np.asarray(rgb)[..., :3])
    h, w = rgb.shape[:2]
    bx0, by0, bx1, by1 = prompt.box
    x0, y0 = int(np.clip(np.floor(bx0), 0, w)), int(np.clip(np.floor(by0), 0, h))
    x1, y1 = int(np.clip(np.ceil(bx1), 0, w)), int(np.clip(np.ceil(by1), 0, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError(f"The box {tuple(round(v, 1) for v in prompt.box)} holds no part of the {w}x{h} image: draw "
                         "it around the object.")
    inside = np.zeros((h, w), dtype=bool)
    inside[y0:y1, x0:x1] = True
    grow = BOX_CONTEXT * max(x1 - x0, y1 - y0)  # the region GrabCut sees: the box and its surroundings
    rx0, ry0 = int(max(0, np.floor(x0 - grow))), int(max(0, np.floor(y0 - grow)))
    rx1, ry1 = int(min(w, np.ceil(x1 + grow))), int(min(h, np.ceil(y1 + grow)))
    region = rgb[ry0:ry1, rx0:rx1]
    rh, rw = region.shape[:2]
    k = min(1.0, BOX_WORK_SIDE / max(rh, rw))
    small = cv2.resize(region, (max(2, round(rw * k)), max(2, round(rh * k))), interpolation=cv2.INTER_AREA) \
        if k < 1 else np.ascontiguousarray(region)
    sh, sw = small.shape[:2]
    kx, ky = sw / rw, sh / rh
    labels = np.full((sh, sw), cv2.GC_BGD, dtype=np.uint8)
    sx0, sy0 = int(np.floor((x0 - rx0) * kx)), int(np.floor((y0 - ry0) * ky))
    sx1, sy1 = max(sx0 + 1, int(np.ceil((x1 - rx0) * kx))), max(sy0 + 1, int(np.ceil((y1 - ry0) * ky)))
    labels[sy0:sy1, sx0:sx1] = cv2.GC_PR_FGD
    in_box = labels == cv2.GC_PR_FGD
    if segmenter is not None:  # the segmenter's guess decides what inside the box is probably background
        p = cv2.resize(np.asarray(segmenter.predict(region), np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
        labels[in_box & (p < 0.5)] = cv2.GC_PR_BGD
    radius = max(2, round(POINT_RADIUS * max(sh, sw)))
    clicked_background = np.zeros((sh, sw), np.uint8)  # stays background whatever the clean-up fills
    for points, value in ((foreground, cv2.GC_FGD), (background, cv2.GC_BGD)):
        for x, y in points:
            centre = (int((x - rx0) * kx), int((y - ry0) * ky))
            cv2.circle(labels, centre, radius, int(value), -1)
            if value == cv2.GC_BGD:
                cv2.circle(clicked_background, centre, radius, 1, -1)
    if (labels == cv2.GC_BGD).sum() < max(16, 0.01 * labels.size):  # (almost) the whole image: no outside to learn
        small_mask = segment_foreground(small) & in_box
        small_mask |= labels == cv2.GC_FGD
    else:
        if not ((labels == cv2.GC_PR_FGD) | (labels == cv2.GC_FGD)).any():
            labels[in_box & (labels != cv2.GC_BGD)] = cv2.GC_PR_FGD  # the segmenter saw nothing: the box again
        try:
            cv2.setRNGSeed(0)
            cv2.grabCut(small, labels, None, np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64), iterations,
                        cv2.GC_INIT_WITH_MASK)
        except cv2.error as err:  # degenerate colour models (a flat image)
            logger.info("GrabCut from a box failed (%s); using the box", err)
        small_mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    part = small_mask if k == 1 else cv2.resize(small_mask.astype(np.uint8) * 255, (rw, rh),
                                                interpolation=cv2.INTER_LINEAR) > 127
    mask = np.zeros((h, w), dtype=bool)
    mask[ry0:ry1, rx0:rx1] = part
    mask &= inside
    cleaned = clean_mask(mask)
    if background:
        cleaned[ry0:ry1, rx0:rx1] &= cv2.resize(clicked_background, (rw, rh), interpolation=cv2.INTER_NEAREST) == 0
    if foreground:  # a part the person clicked on stays, however small
        _, parts = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        clicked = {parts[int(np.clip(y, 0, h - 1)), int(np.clip(x, 0, w - 1))] for x, y in foreground} - {0}
        cleaned |= np.isin(parts, list(clicked))
    return cleaned if cleaned.any() else inside


def framing_box(mask: np.ndarray, foreground_ratio: float = DEFAULT_FOREGROUND_RATIO,
                offset: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float, float] | None:
    """The square ``frame_object`` crops for ``mask`` (H, W) bool: its centre (cx, cy) and side, in
    pixels (continuous: 0 is the left / top edge); None for an empty mask."""
    if not 0.05 <= foreground_ratio <= 1.0:
        raise ValueError(f"foreground_ratio must be in [0.05, 1], got {foreground_ratio}.")
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = max(x1 - x0, y1 - y0) / foreground_ratio  # source pixels that map onto the output square
    return float((x0 + x1) / 2 - offset[0] * side), float((y0 + y1) / 2 - offset[1] * side), float(side)


def frame_object(rgba: np.ndarray, foreground_ratio: float = DEFAULT_FOREGROUND_RATIO, size: int = 128,
                 offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray | None:
    """(H, W, 4) uint8 with alpha = mask -> (size, size, 4) uint8 framed; None if the mask is empty.

    The alpha's bounding box is centred (plus ``offset``, a fraction of ``size``) and scaled so its
    longer side is ``foreground_ratio * size``; outside the upload the result is transparent.
    """
    found = framing_box(rgba[..., 3] > 127, foreground_ratio, offset)
    if found is None:
        return None
    cx, cy, side = found
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    # crop only the box plus the resampling filter's reach (crop is transparent outside the upload),
    # then resize with the box argument: antialiased when shrinking, no padded copy of a large photo
    reach = int(np.ceil(3 * max(side / size, 1.0))) + 2
    left, top = int(np.floor(box[0])) - reach, int(np.floor(box[1])) - reach
    region = Image.fromarray(rgba, "RGBA").crop((left, top, int(np.ceil(box[2])) + reach, int(np.ceil(box[3])) + reach))
    local = (box[0] - left, box[1] - top, box[2] - left, box[3] - top)
    return np.asarray(region.resize((size, size), Image.BICUBIC, box=local, reducing_gap=None))


def flatten(rgba: np.ndarray, background: int = TRAINING_BACKGROUND) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3) uint8: the image over a uniform grey."""
    alpha = rgba[..., 3:].astype(np.float32) / 255
    return (rgba[..., :3] * alpha + background * (1 - alpha)).round().astype(np.uint8)


def working_copy(image: Image.Image, max_side: int = WORK_SIDE) -> Image.Image:
    """8-bit RGBA, shrunk (area-averaged, alpha premultiplied by PIL) so its longer side is at most
    ``max_side``: every array the segmenter and the framer make is then a few times the model's input,
    whatever the upload's size (a framed view is 128 px; a 4000 px photo gives it nothing more)."""
    rgba = to_rgba8(image)
    w, h = rgba.size
    if max(w, h) <= max_side:
        return rgba
    k = max_side / max(w, h)
    return rgba.resize((max(1, round(w * k)), max(1, round(h * k))), Image.BOX)


def cut_out(image: Image.Image, remove_background: bool = True, segmenter=None, box=None) -> tuple[np.ndarray, str]:
    """Step 1 of ``normalize_view``: RGBA uint8 array (the working copy, at most WORK_SIDE on its longer
    side) with alpha = the object's mask, and where the mask came from ("alpha", "box", "segmented" or
    "none"). ``box`` (a box or ``BoxPrompt``) is in pixels of ``image``: it is scaled to the working copy."""
    prompt = BoxPrompt.of(box)
    rgba = np.array(working_copy(image))
    if prompt is not None:
        prompt = prompt.scaled(rgba.shape[1] / image.size[0], rgba.shape[0] / image.size[1])
    if rgba[..., 3].min() < 250:  # real transparency: a cut-out, used as it is (a box only crops it)
        if prompt is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in prompt.box)
            keep = np.zeros(rgba.shape[:2], dtype=bool)
            keep[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
            rgba[..., 3] = np.where(keep, rgba[..., 3], 0)
        return rgba, "alpha"
    if prompt is not None:  # a person's box: cut out from it (whether or not the background is removed elsewhere)
        rgba[..., 3] = segment_with_box(rgba[..., :3], prompt).astype(np.uint8) * 255
        return rgba, "box"
    if remove_background:
        mask = segmenter.segment(rgba[..., :3]) if segmenter is not None else segment_foreground(rgba[..., :3])
        rgba[..., 3] = mask.astype(np.uint8) * 255
        return rgba, "segmented"
    return rgba, "none"


def normalize_view(image: Image.Image, remove_background: bool = True,
                   foreground_ratio: float = DEFAULT_FOREGROUND_RATIO, size: int = FRAME_SIZE, segmenter=None,
                   box=None) -> NormalizedView:
    """One upload -> the object framed like the training renders (see the module docstring).

    ``segmenter``: anything with ``segment(rgb) -> bool mask`` (``lddbm.segmentation.MaskNet``);
    None uses the classical ``segment_foreground``. ``box``: a person's box around the object,
    (x0, y0, x1, y1) in pixels of ``image``, or a ``BoxPrompt`` (box and clicks): the object is cut
    out with ``segment_with_box`` instead (GrabCut from the box; the segmenter is not used). An image
    with its own transparency keeps it: a box then only crops the cut-out.
    """
    return frame_cut_out(*cut_out(image, remove_background, segmenter, box), foreground_ratio, size)


def frame_cut_out(rgba: np.ndarray, source: str, foreground_ratio: float = DEFAULT_FOREGROUND_RATIO,
                  size: int = FRAME_SIZE) -> NormalizedView:
    """Steps 2 and 3 of ``normalize_view`` on ``cut_out``'s answer (``rgba`` is changed in place)."""
    alpha = rgba[..., 3] > 127
    h, w = alpha.shape
    notes: list[str] = []
    # a person's box says the object is there, however small in the photo; otherwise a speck is not an object
    found = alpha.any() if source == "box" else alpha.mean() >= MIN_FOREGROUND
    if source == "none" or not found:
        if source != "none":
            notes.append("no object found")
        rgba[..., 3] = 255  # keep the whole image, as it is, centred
        alpha = np.ones_like(alpha)
    framed = frame_object(rgba, foreground_ratio if found and source != "none" else 1.0, size)
    edge = max(1, int(np.ceil(BORDER_MARGIN * max(h, w))))  # segmentation keeps a thin border strip as background
    touches = bool(found and source != "none" and (alpha[:edge].any() or alpha[-edge:].any() or alpha[:, :edge].any()
                                                   or alpha[:, -edge:].any()))
    ys, xs = np.nonzero(alpha)
    box_fraction = float(max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) / max(h, w))
    return NormalizedView(Image.fromarray(framed, "RGBA"), source, bool(found), touches, box_fraction, notes)


def normalize_views(images, remove_background: bool = True, foreground_ratio: float = DEFAULT_FOREGROUND_RATIO,
                    size: int = FRAME_SIZE, segmenter=None, boxes=None) -> list[NormalizedView]:
    """``normalize_view`` for each image; ``boxes``: one per image (None, a box or a ``BoxPrompt``), or None."""
    images = list(images)
    boxes = [None] * len(images) if boxes is None else list(boxes)
    if len(boxes) != len(images):
        raise ValueError(f"{len(boxes)} boxes for {len(images)} views: give one per view (None for no box).")
    return [normalize_view(im, remove_background, foreground_ratio, size, segmenter, box)
            for im, box in zip(images, boxes)]


def view_warnings(views: list[NormalizedView], names: list[str] | None = None) -> list[str]:
    """Plain-language warnings for a set of normalised views (what a user should know or fix)."""
    names = names or [f"view {i + 1}" for i in range(len(views))]
    out = []
    for name, v in zip(names, views):
        if v.mask_source != "none" and not v.found:
            out.append(f"{name}: no object found against the background; the whole image was used. "
                       "Draw a box around the object (the demo's 'fix the cut-out', the command line's --boxes), use a "
                       "photo where it stands out, or upload a cut-out PNG with transparency.")
        elif v.touches_border:
            out.append(f"{name}: the object touches the image border and may be cut off; "
                       "step back so the whole object is in the frame.")
    found = [v.box_fraction for v in views if v.found and v.mask_source != "none"]
    if len(found) > 1 and max(found) > 3 * min(found):
        out.append("The object's size differs a lot between views (more than 3x); check that every view shows the "
                   "same object, whole, and that the background was removed correctly.")
    return out
