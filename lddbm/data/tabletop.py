"""Objects standing on a table: a render and its mask -> a photo-like scene with the mask of the object alone.

Pasting a render on a photograph (``lddbm.data.augment``) makes a floating object. People photograph
things standing on something: a table top or floor that runs under the object and ends in an edge,
a wall or room behind that edge, a contact shadow where the object meets the surface, a cast shadow
beside it, and other things at the sides of the frame. ``tabletop_scene`` builds that in 2.5D from
one render (no re-rendering, so any built view can be used):

1. the object is scaled and placed, its lowest silhouette row being where it stands;
2. the surface (a photograph crop, wood grain, cloth weave or a plain colour, shaded from near to
   far) fills the frame below a back edge drawn behind the object; a photograph or a wall fills the
   rest above it;
3. the contact shadow is the silhouette's foot squashed flat and blurred; the cast shadow is the
   silhouette flipped onto the surface, flattened, sheared towards a random light and blurred; both
   darken the surface only;
4. optionally another object (a second render, smaller) stands behind at a side: clutter;
5. the object goes on top. Its mask is the answer: shadows, surface and clutter are background.

Used to train the segmenter (``lddbm.segmentation``) and as the ``tabletop`` corruption / background of
the robustness and segmentation benchmarks (``lddbm.tasks.multiview3d.robustness``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from .backgrounds import gradient_background, random_photo_crop, solid_background

__all__ = ["surface_texture", "tabletop_scene"]


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a float map in [0, 1] (PIL, at 8 bits: enough for shadows)."""
    image = Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, np.float32) / 255


def surface_texture(height: int, width: int, rng: np.random.Generator,
                    photos: list[np.ndarray] | None = None) -> np.ndarray:
    """(height, width, 3) float texture of a table top or floor seen from the front, before perspective:
    a photograph crop, wood grain, a cloth weave or a plain colour with a little noise."""
    kinds = ["wood", "cloth", "plain"] + (["photo"] if photos else [])
    kind = kinds[rng.integers(len(kinds))]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    grey = rng.uniform(40, 230)
    base = (grey + (rng.uniform(40, 230, 3) - grey) * rng.uniform(0, 0.6)).astype(np.float32)  # muted colours
    if kind == "photo":
        photo = photos[rng.integers(len(photos))]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(0.3, 1.0))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(photo[y : y + side, x : x + side]).resize((width, height), Image.BILINEAR)
        return np.asarray(crop, np.float32)
    if kind == "wood":
        base = np.array([rng.uniform(90, 210), rng.uniform(55, 140), rng.uniform(25, 90)], np.float32)
        freq = rng.uniform(0.05, 0.25)
        wobble = 6 * np.sin(yy * rng.uniform(0.01, 0.05) + rng.uniform(0, 6)) + 3 * rng.standard_normal((height, 1))
        grain = 0.5 + 0.5 * np.sin((xx + wobble) * freq)
        shade = 1 - rng.uniform(0.1, 0.35) * grain[..., None]
        return base * shade
    if kind == "cloth":
        period = rng.uniform(3, 9)
        weave = (np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period))[..., None]
        return base * (1 + rng.uniform(0.05, 0.2) * weave)
    return base + rng.normal(0, rng.uniform(1, 6), (height, width, 3)).astype(np.float32)


def _perspective(texture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The texture as a plane seen from above at an angle: far rows squeezed (repeated texture reads as
    receding), shaded from the near edge to the far one."""
    h, w = texture.shape[:2]
    squeeze = rng.uniform(1.5, 4.0)  # how much more texture per row at the far edge than at the near one
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None]  # 0 far (top) .. 1 near (bottom)
    scale = squeeze + (1 - squeeze) * t  # texture units per pixel across
    u = ((np.arange(w, dtype=np.float32)[None] - w / 2) * scale + w / 2) % w
    v = (np.cumsum(1 / scale[:, 0]) * (h / np.sum(1 / scale[:, 0]))).astype(np.int64).clip(0, h - 1)[:, None]
    out = texture[v, u.astype(np.int64).clip(0, w - 1)]
    light = 1 + rng.uniform(-0.25, 0.2) * (t - 0.5) + rng.uniform(-0.1, 0.1) * np.linspace(-1, 1, w)[None]
    return out * light[..., None]


def _backdrop(size: int, rng: np.random.Generator, photos: list[np.ndarray] | None) -> np.ndarray:
    if photos and rng.random() < 0.6:
        return random_photo_crop(photos, size, rng).astype(np.float32)
    wall = solid_background(size, rng) if rng.random() < 0.5 else gradient_background(size, rng)
    return wall.astype(np.float32)


def _placed(view: np.ndarray, mask: np.ndarray, scale: float, cx: float, bottom: float) -> tuple[np.ndarray, np.ndarray]:
    """The object scaled by ``scale`` with its silhouette's centre column at ``cx`` and its lowest row at
    ``bottom`` (pixels): (RGB float, alpha in [0, 1]) over the whole frame."""
    s = view.shape[0]
    rows, cols = np.nonzero(mask)
    top, low, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = np.dstack([view[top:low, left:right], mask[top:low, left:right].astype(np.uint8) * 255])
    h, w = max(1, round((low - top) * scale)), max(1, round((right - left) * scale))
    small = np.asarray(Image.fromarray(crop, "RGBA").resize((w, h), Image.BILINEAR), np.float32)
    rgb, alpha = np.zeros((s, s, 3), np.float32), np.zeros((s, s), np.float32)
    y0, x0 = int(round(bottom - h)), int(round(cx - w / 2))
    ys, xs = slice(max(y0, 0), min(y0 + h, s)), slice(max(x0, 0), min(x0 + w, s))
    if ys.start < ys.stop and xs.start < xs.stop:
        part = small[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        rgb[ys, xs], alpha[ys, xs] = part[..., :3], part[..., 3] / 255
    return rgb, alpha


def _shadows(alpha: np.ndarray, foot: float, rng: np.random.Generator) -> np.ndarray:
    """(S, S) darkening in [0, 1) on the surface from an object of coverage ``alpha`` standing at row ``foot``."""
    s = alpha.shape[0]
    rows = np.nonzero(alpha.max(1) > 0.5)[0]
    height = max(1, rows.max() - rows.min() + 1) if len(rows) else 1
    out = np.zeros((s, s), np.float32)
    # contact: the bottom tenth of the silhouette, flattened onto the foot row and spread
    band = alpha.copy()
    band[: max(0, int(foot - 0.1 * height))] = 0
    cols = band.max(0)
    rim = max(2, int(0.04 * s))
    contact = np.zeros_like(out)
    contact[int(foot) - rim // 2 : int(foot) + rim, :] = cols[None]
    out = np.maximum(out, rng.uniform(0.35, 0.75) * _blur(contact, rng.uniform(1.0, 3.0) * s / 128))
    if rng.random() < 0.85:  # cast: the silhouette laid on the surface, away from a random light
        length = rng.uniform(0.15, 0.7)  # shadow length over object height, on screen (foreshortened)
        shear = rng.uniform(-1.2, 1.2)  # sideways lean of the shadow
        behind = rng.random() < 0.5  # light in front of the object: the shadow falls behind (up the image)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        d = (foot - yy) if behind else (yy - foot)  # distance from the foot on the surface, in rows
        src_y = foot - d / length  # the silhouette row that casts there
        src_x = xx - shear * d / length * 0.5
        valid = d >= 0
        iy, ix = src_y.round().astype(int).clip(0, s - 1), src_x.round().astype(int).clip(0, s - 1)
        cast = np.where(valid & (src_y >= 0) & (src_x >= 0) & (src_x < s), alpha[iy, ix], 0)
        fade = np.exp(-np.clip(d, 0, None) / (rng.uniform(0.4, 1.5) * height * length + 1))
        out = np.maximum(out, rng.uniform(0.2, 0.6) * _blur(cast * fade, rng.uniform(1.0, 5.0) * s / 128))
    return out


def tabletop_scene(view: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                   photos: list[np.ndarray] | None = None, others: list[tuple[np.ndarray, np.ndarray]] = (),
                   scale: tuple[float, float] = (0.45, 0.9)) -> tuple[np.ndarray, np.ndarray]:
    """A render (S, S, 3) uint8 with its mask (S, S) bool -> (scene (S, S, 3) uint8, the object's mask).

    The object fills ``scale`` of the frame's height (at most), stands on a textured surface with
    contact and cast shadows, in front of a back edge and a backdrop; ``others`` (render, mask) pairs
    may be added behind it at the sides, smaller. The returned mask is the object's alone."""
    s = view.shape[0]
    if not mask.any():
        return view.copy(), mask.copy()
    rows, cols = np.nonzero(mask)
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    k = rng.uniform(*scale) * s / extent
    height = (rows.max() - rows.min() + 1) * k
    foot = np.clip(rng.uniform(0.62, 0.95) * s, height + 0.03 * s, 0.98 * s)  # the whole object in frame
    cx = s / 2 + rng.uniform(-0.15, 0.15) * s
    obj, alpha = _placed(view, mask, k, cx, foot)
    top_row = foot - height
    edge = int(np.clip(rng.uniform(top_row - 0.1 * s, foot - 0.08 * s), 0, s - 2))  # the surface's back edge
    scene = _backdrop(s, rng, photos)
    surface = _perspective(surface_texture(s - edge, s, rng, photos), rng)
    scene[edge:] = surface
    if rng.random() < 0.5:  # the edge itself: a lighter or darker lip
        lip = max(1, int(rng.uniform(0.005, 0.02) * s))
        scene[edge : edge + lip] *= rng.uniform(0.6, 1.3)
    for other_view, other_mask in others:
        if not other_mask.any():
            continue
        side = rng.choice([-1, 1])
        o_rows, o_cols = np.nonzero(other_mask)
        o_extent = max(o_rows.max() - o_rows.min() + 1, o_cols.max() - o_cols.min() + 1)
        o_rgb, o_alpha = _placed(other_view, other_mask, rng.uniform(0.25, 0.6) * s / o_extent,
                                 s / 2 + side * rng.uniform(0.35, 0.6) * s, rng.uniform(edge + 0.02 * s, foot))
        scene = scene * (1 - o_alpha[..., None]) + o_rgb * o_alpha[..., None]
    shadow = _shadows(alpha, foot, rng)
    shadow[:edge] = 0
    scene = scene * (1 - shadow[..., None])
    scene = scene * (1 - alpha[..., None]) + obj * alpha[..., None]
    return np.clip(scene, 0, 255).round().astype(np.uint8), alpha > 0.5
