"""Foreground segmentation of uploaded views: a small U-Net trained here on our own renders.

Nothing can be downloaded at run time, so the network is trained on what we have: furniture
renders (exact masks from the renderer) pasted onto photographs, solid colours and gradients,
re-coloured, rescaled, moved, blurred and JPEG-compressed. ``MaskNet`` is a four-level U-Net
(about 0.5 M parameters) on 128 x 128 inputs; ``train_masknet`` is its whole training loop (a plain
supervised loop: none of the bridge machinery in ``lddbm.train`` applies). The classical
alternative (GrabCut seeded from the border) is ``lddbm.framing.segment_foreground``; ``python -m
lddbm bench-segmentation`` scores both on held-out composites.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from .errors import ConfigError
from .images import to_unit

logger = logging.getLogger(__name__)


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU())


class MaskNet(ModelMixin, ConfigMixin):
    """(B, 3, S, S) RGB in [-1, 1] -> (B, 1, S, S) foreground logits.

    The first block works at half resolution (stride 2) and the logits are up-sampled at the end:
    a quarter of the cost, and masks only need to be as sharp as the 64 px views the 3D model sees.
    """

    @register_to_config
    def __init__(self, image_size: int = 128, widths: tuple[int, ...] = (24, 32, 64, 96),
                 refine: bool = False):  # segment(): refine the network's mask with GrabCut (chosen by benchmark)
        super().__init__()
        if image_size % 2 ** len(widths):
            raise ValueError(f"image_size must be a multiple of {2 ** len(widths)}, got {image_size}.")
        self.down = nn.ModuleList()
        cin = 3
        for i, w in enumerate(widths):
            self.down.append(_block(cin, w, stride=2 if i == 0 else 1))
            cin = w
        self.up = nn.ModuleList(_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1)))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), skip], dim=1))
        return F.interpolate(self.head(x), scale_factor=2, mode="bilinear", align_corners=False)  # (B, 1, S, S)

    @torch.no_grad()
    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (H, W) float foreground probability. The image is shrunk first, then
        letterboxed to the network's square with its edge colours (black bars would read as an object),
        so no array larger than the input and its (H, W) answer is made, whatever the aspect."""
        from PIL import Image

        h, w = rgb.shape[:2]
        s = self.config.image_size
        k = s / max(h, w)
        sh, sw = max(1, round(h * k)), max(1, round(w * k))  # the image's size inside the square
        small = np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., :3])).resize(
            (sw, sh), Image.BILINEAR if k > 1 else Image.BOX))
        y0, x0 = (s - sh) // 2, (s - sw) // 2
        square = np.pad(small, ((y0, s - sh - y0), (x0, s - sw - x0), (0, 0)), mode="edge")
        x = to_unit(square).permute(2, 0, 1)[None].to(self.device, self.dtype)
        p = torch.sigmoid(self(x).float())[0, 0].cpu().numpy()  # (s, s)
        inside = np.ascontiguousarray(p[y0 : y0 + sh, x0 : x0 + sw])
        return np.asarray(Image.fromarray(inside).resize((w, h), Image.BILINEAR))

    @torch.no_grad()
    def segment(self, rgb: np.ndarray, threshold: float = 0.5, refine: bool | None = None) -> np.ndarray:
        """(H, W, 3) uint8 -> (H, W) bool foreground mask, specks dropped and pin holes filled.

        ``refine`` (default: the config's ``refine``) seeds GrabCut with the network's probability.
        """
        from .framing import clean_mask, segment_foreground

        p = self.predict(rgb)
        if self.config.refine if refine is None else refine:
            return segment_foreground(rgb, prior=p)
        return clean_mask(p > threshold)


# ---- training data: renders composited on backgrounds ---------------------------------------------


def closeup(view: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The object enlarged until its longer side is 1.0-1.6 times the frame's, its centre up to a quarter
    of the frame off the middle, so the frame cuts it on one to three sides: the close-up a person takes
    of a pet or a thing on their desk (renders keep the whole object in frame)."""
    from .data.augment import place

    if not mask.any():
        return view, mask
    s = view.shape[0]
    rows, cols = np.nonzero(mask)
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) / s
    scale = rng.uniform(1.0, 1.6) / extent
    centre = np.array([(cols.min() + cols.max() + 1) / 2, (rows.min() + rows.max() + 1) / 2]) / s - 0.5
    offset = -scale * centre + rng.uniform(-0.25, 0.25, 2)
    return place(view, mask, scale, (float(offset[0]), float(offset[1])))


def whitened(view: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The object as if made of white or light-grey material: most of its colour taken away and its values pulled
    towards white, its shading kept (a white mug, a plaster figure, a white chair)."""
    x = view.astype(np.float32)
    grey = x.mean(axis=-1, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.0, 0.4)
    x = 255 - (255 - x) * rng.uniform(0.25, 0.6)
    return np.clip(x, 0, 255).astype(np.uint8)


def composite_sample(view: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                     photos: list[np.ndarray] | None, others: list[tuple[np.ndarray, np.ndarray]] = (),
                     tabletop: float = 0.0, closeups: float = 0.0, defocus: float = 0.0,
                     cards: float = 0.0, whiten: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One (image, mask) training pair: the object rescaled, moved, re-coloured, on a random background,
    or (probability ``tabletop``) standing on a surface with shadows, clutter from ``others`` behind it
    (``lddbm.data.tabletop``); then blurred, compressed and noised as a camera would. Of the pasted
    ones, a share ``closeups`` is a close-up cut by the frame (``closeup``), a share ``defocus`` has
    its background out of focus, as a camera focused on the object leaves it, and a share ``cards``
    lies on a sheet of paper or card (``lddbm.data.backgrounds.card_under``). A share ``whiten`` of all objects
    is made white or light grey first (``whitened``), so that a light, flat region is not read as paper."""
    from PIL import Image, ImageFilter

    from .data.augment import camera_degrade, composite, jitter_colour, place
    from .data.backgrounds import card_under, random_background
    from .data.tabletop import tabletop_scene

    s = view.shape[0]
    if rng.random() < 0.5:
        view, mask = view[:, ::-1], mask[:, ::-1]
    x = jitter_colour(view, rng) if rng.random() < 0.8 else view
    if whiten and rng.random() < whiten:  # (no draw without it: earlier recipes keep their stream)
        x = whitened(x, rng)
    if rng.random() < tabletop:
        scale = (0.4, 0.95) if rng.random() < 0.8 else (0.95, 1.3)  # now and then a close-up cut by the frame
        image, mask = tabletop_scene(x, mask, rng, photos, others=list(others) if rng.random() < 0.5 else [], scale=scale)
    else:
        if rng.random() < closeups:
            x, mask = closeup(x, mask, rng)
        elif rng.random() < 0.8:
            x, mask = place(x, mask, rng.uniform(0.35, 1.05), tuple(rng.uniform(-0.25, 0.25, 2)))
        background = random_background(s, rng, photos) if rng.random() < 0.9 else np.full_like(view, 245)
        if rng.random() < 0.5:  # more backgrounds from few photographs: turned, mirrored, re-coloured
            background = jitter_colour(np.rot90(background, int(rng.integers(4)))[:, :: rng.choice([-1, 1])], rng)
        if rng.random() < defocus:
            radius = rng.uniform(0.01, 0.03) * s
            background = np.asarray(Image.fromarray(np.ascontiguousarray(background)).filter(ImageFilter.GaussianBlur(radius)))
        if cards and rng.random() < cards:  # (no draw without cards: earlier recipes keep their stream)
            background = card_under(mask, background, rng)
        image = composite(x, mask, background)
    image = camera_degrade(Image.fromarray(image), rng, blur=(0.3, 1.5), jpeg=(0.3, 25))
    out = np.asarray(image).astype(np.float32)
    if rng.random() < 0.3:
        out = out + rng.normal(0, rng.uniform(2, 10), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8), np.ascontiguousarray(mask)


def _batch(renders, masks, size, rng, photos, batch_size, tabletop: float = 0.0, closeups: float = 0.0,
           defocus: float = 0.0, cards: float = 0.0, whiten: float = 0.0, cutouts: list[dict] = (),
           cutout_share: float = 0.0):
    from PIL import Image

    xs, ys = [], []
    for _ in range(batch_size):
        i, k = rng.integers(len(renders)), rng.integers(renders.shape[1])
        j, m = rng.integers(len(renders)), rng.integers(renders.shape[1])  # clutter: another object
        view, mask = renders[i, k], masks[i, k]
        if cutout_share and rng.random() < cutout_share:  # (no draw without cut-outs: earlier recipes keep their stream)
            c = cutouts[rng.integers(len(cutouts))]
            view, mask = c["views"][0], c["masks"][0]
        image, mask = composite_sample(view, mask, rng, photos, [(renders[j, m], masks[j, m])], tabletop,
                                       closeups, defocus, cards, whiten)
        if image.shape[0] != size:
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
            mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.BILINEAR)) > 127
        xs.append(image)
        ys.append(mask)
    x = to_unit(np.stack(xs)).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.stack(ys)).float()[:, None]
    return x, y


def train_masknet(data_root: str | Path, out: str | Path, photos_root: str = "data/photos", steps: int = 2000,
                  batch_size: int = 24, lr: float = 2e-3, seed: int = 0, max_minutes: float = 0.0,
                  progress: bool = True, tabletop: float = 0.0, widths: tuple[int, ...] | None = None,
                  closeups: float = 0.0, defocus: float = 0.0, init_from: str | Path | None = None,
                  cards: float = 0.0, whiten: float = 0.0, cutouts_root: str | Path | None = None,
                  cutout_share: float = 0.0, without_subjects: bool = False) -> dict:
    """Train MaskNet on train-split renders over train photographs (a share ``tabletop`` of them standing
    on surfaces with shadows and clutter; of the rest ``closeups`` cut by the frame, ``defocus`` on a
    blurred background and ``cards`` on a sheet of paper or card; ``whiten`` of all objects made light:
    ``composite_sample``); saves a diffusers folder to ``out``. A share ``cutout_share`` of the objects
    are photographed cut-outs from ``cutouts_root`` (``lddbm.data.cutouts``, train split) instead of
    renders; ``without_subjects`` leaves the photographs of one animal, person or thing out of the backgrounds
    (``lddbm.data.photos.SUBJECT_PHOTOS``). ``init_from``: a MaskNet folder to start from (its widths; ``widths`` must then be None or
    the same)."""
    from tqdm.auto import tqdm

    from .data.multiview import load_objects
    from .data.photos import background_photos, split_names

    from .data.cutouts import cutout_names, load_cutouts

    if cutout_share and not (cutouts_root and cutout_names(cutouts_root, "train")):
        raise ConfigError(f"--cutout-share {cutout_share} needs a built cut-outs folder (--cutouts): "
                          f"{cutouts_root!r} has none; python -m lddbm build-data cutouts --out data/cutouts")
    _, objects = load_objects(data_root, "train", masks=True)
    renders = np.stack([o["views"] for o in objects])  # (N, V, S, S, 3) uint8
    masks = np.stack([o["masks"] for o in objects])  # (N, V, S, S) bool
    from .data.realphotos import source_keys

    photos = background_photos(photos_root, exclude=source_keys(),  # the real-photo check set: never a background
                               without_subjects=without_subjects)
    if photos is not None:
        logger.info("masknet: %d background photographs (%d of the real-photo check set%s left out)",
                    len(photos), len(split_names(photos_root, "train")) - len(photos),
                    " and the photographs of one subject" if without_subjects else "")
    cutouts = []
    if cutout_share:
        cutouts = load_cutouts(cutouts_root, "train", renders.shape[2])
        logger.info("masknet: %d photographed cut-outs, a share %.2f of the objects", len(cutouts), cutout_share)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    if init_from is not None:
        model = load_masknet(init_from).train()
        if widths and tuple(widths) != tuple(model.config.widths):
            raise ConfigError(f"--widths {' '.join(map(str, widths))} differ from {init_from}'s "
                              f"{' '.join(map(str, model.config.widths))}; leave --widths out to train it further.")
    else:
        model = MaskNet(widths=tuple(widths)) if widths else MaskNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.05)
    start, log = time.perf_counter(), []
    bar = tqdm(range(steps), desc="masknet", disable=not progress)
    for step in bar:
        x, y = _batch(renders, masks, model.config.image_size, rng, photos, batch_size, tabletop, closeups, defocus, cards,
                      whiten, cutouts, cutout_share)
        logits = model(x)
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * y).sum((1, 2, 3)) + 1) / (p.sum((1, 2, 3)) + y.sum((1, 2, 3)) + 1)
        loss = F.binary_cross_entropy_with_logits(logits, y) + dice.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 25 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            log.append({"step": step, "loss": round(loss.item(), 5), "seconds": round(time.perf_counter() - start, 1)})
        if max_minutes and time.perf_counter() - start > 60 * max_minutes:
            logger.info("masknet: stopping at step %d (max_minutes)", step)
            break
    model.eval()
    model.to(torch.float16).save_pretrained(str(out))
    summary = {"steps": step + 1, "seconds": round(time.perf_counter() - start, 1), "batch_size": batch_size,
               "lr": lr, "init_from": None if init_from is None else str(init_from),
               "tabletop": tabletop, "closeups": closeups, "defocus": defocus, "cards": cards, "whiten": whiten,
               "cutouts": None if not cutout_share else str(cutouts_root), "cutout_share": cutout_share,
               "without_subjects": without_subjects, "widths": list(model.config.widths),
               "final_loss": log[-1]["loss"] if log else None}
    return summary


def load_masknet(folder: str | Path) -> MaskNet:
    model = MaskNet.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    return model.float().eval()


def attach_to_pipeline(masknet_folder: str | Path, pipeline_folder: str | Path, refine: bool | None = None) -> None:
    """Copy a MaskNet folder into a saved pipeline as its ``segmenter`` component (weights as they
    are, no re-export of the other components); ``refine`` overrides the segmenter's setting. The
    component's model card (``segmenter/README.md``) is kept unless the MaskNet folder has one."""
    import json
    import shutil

    from .checkpoints import replace_component

    source, target = Path(masknet_folder), Path(pipeline_folder) / "segmenter"
    load_masknet(source)  # fails clearly if it is not a MaskNet folder
    replace_component(target, lambda folder: shutil.copytree(source, folder))
    if refine is not None:
        config = json.loads((target / "config.json").read_text())
        config["refine"] = bool(refine)
        (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    index_file = Path(pipeline_folder) / "model_index.json"
    index = json.loads(index_file.read_text())
    index["segmenter"] = ["lddbm.segmentation", "MaskNet"]
    index_file.write_text(json.dumps(index, indent=2) + "\n")
