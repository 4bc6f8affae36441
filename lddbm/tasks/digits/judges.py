"""Cross-modal digits: the judges (one digit classifier per modality, trained here) and the scores.

The data is ``lddbm.tasks.digits.data`` (handwritten MNIST digits <-> SVHN-like printed digits, paired by
class). A translation is judged as in MMVAE and CNF-MVAE:

- cross coherence: the share of translated images that the *target* modality's classifier reads as
  the source image's digit (one translation per test source image);
- KID on the target classifier's 128-d penultimate features, translations against real test images
  of the target modality: a sample-quality figure that needs no downloaded network;
- latent linear probe: a softmax regression on the model's source latents of 2,000 training images
  (as in the CNF-MVAE paper), its accuracy on the test images' latents.

The classifiers are small CNNs (``DigitClassifier``), trained by ``train_classifier`` on the
training split of their modality with light augmentation (shifts; printed: colour inversion);
their test accuracy is reported with every score, since a coherence can be no better than its judge.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from PIL import Image

from ...errors import DataError
from ...metrics import kid
from .data import SIZE, _load, _to_tensor, example_label

__all__ = ["DigitClassifier", "MODALITIES", "cross_coherence", "evaluate_joint_model", "linear_probe", "load_images",
           "latent_probe", "load_judge", "load_judges", "photo_to_printed", "sketch_to_handwritten", "train_classifier"]

MODALITIES = {"handwritten": 1, "printed": 3}  # modality -> image channels
PROBE_TRAIN = 2000  # training latents the linear probe is fitted on (as in the CNF-MVAE paper)


class DigitClassifier(ModelMixin, ConfigMixin):
    """(B, C, 32, 32) in [-1, 1] -> (B, 10) logits; ``features`` gives the 128-d layer before them."""

    @register_to_config
    def __init__(self, in_channels: int = 1, width: int = 32, image_size: int = SIZE):
        super().__init__()

        def stage(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                    nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*stage(in_channels, width), *stage(width, 2 * width), *stage(2 * width, 4 * width),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, 4 * width)
        self.head = nn.Linear(4 * width, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.to(self.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
        """(labels (N,), features (N, 128)) in eval mode, batched."""
        was = self.training
        self.eval()
        feats = torch.cat([self.features(x[i : i + batch].to(self.device)).float().cpu() for i in range(0, len(x), batch)])
        self.train(was)
        return self.head(feats.to(self.device, self.dtype)).argmax(1).cpu(), feats


def load_images(root: str | Path, modality: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of one modality and split: ((N, C, 32, 32) in [-1, 1], labels (N,))."""
    if modality not in MODALITIES:
        raise DataError(f"Unknown digit modality {modality!r}; use one of {', '.join(MODALITIES)}.")
    data = _load(Path(root), f"{modality}.npz")
    keep = np.flatnonzero(data["split"] == split)
    images = torch.stack([_to_tensor(data["images"][k], SIZE) for k in keep])
    return images, torch.from_numpy(data["labels"][keep].astype(np.int64))


def _augment(x: torch.Tensor, modality: str, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 3 px (both modalities) and, for printed digits, colour inversion."""
    b = len(x)
    shift = torch.randint(-3, 4, (b, 2), generator=generator).float() * 2 / x.shape[-1]
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    if modality == "printed":
        flip = torch.rand(b, generator=generator) < 0.3
        x = torch.where(flip[:, None, None, None], -x, x)
    return x


def train_classifier(root: str | Path, modality: str, steps: int = 600, batch_size: int = 128, lr: float = 2e-3,
                     seed: int = 0, log: Callable[[str], None] | None = None) -> tuple[DigitClassifier, dict]:
    """Train the ``modality`` classifier on the training split; returns it and {val / test accuracy, time}."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images, labels = load_images(root, modality, "train")
    model = DigitClassifier(in_channels=MODALITIES[modality])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        pick = torch.randint(len(images), (batch_size,), generator=generator)
        loss = F.cross_entropy(model(_augment(images[pick], modality, generator)), labels[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if log is not None and (step % 250 == 0 or step == steps):
            log(f"{modality} classifier: step {step}/{steps}, loss {loss.item():.3f}")
    report = {"modality": modality, "steps": steps, "train_images": len(images),
              "seconds": round(time.perf_counter() - start, 1)}
    for split in ("val", "test"):
        x, y = load_images(root, modality, split)
        report[f"{split}_accuracy"] = float((model.predict(x)[0] == y).float().mean())
    model.eval()
    return model, report


def cross_coherence(classifier: DigitClassifier, translated: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``translated`` images the target modality's classifier reads as ``labels``."""
    return float((classifier.predict(translated)[0] == labels).float().mean())


def quality_kid(classifier: DigitClassifier, translated: torch.Tensor, real: torch.Tensor) -> float:
    """KID between translated and real target images on the classifier's penultimate features."""
    return kid(classifier.predict(translated)[1], classifier.predict(real)[1])


def linear_probe(train_latents: torch.Tensor, train_labels: torch.Tensor, test_latents: torch.Tensor,
                 test_labels: torch.Tensor, steps: int = 300, weight_decay: float = 1e-3) -> float:
    """Accuracy on the test latents of a softmax regression fitted (L-BFGS, standardised inputs,
    small L2 penalty) on the training latents; latents are flattened."""
    a, b = train_latents.flatten(1).double(), test_latents.flatten(1).double()
    mean, std = a.mean(0), a.std(0).clamp_min(1e-6)
    a, b = (a - mean) / std, (b - mean) / std
    weight = torch.zeros(a.shape[1], 10, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(a @ weight + bias, train_labels) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(((b @ weight + bias).argmax(1) == test_labels).float().mean())


def load_judge(folder: str | Path) -> tuple[DigitClassifier, dict] | None:
    """One trained classifier (``folder`` holds its config.json) with its report.json ({} when absent), or
    None when no classifier is there."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return None
    card = folder / "report.json"
    return DigitClassifier.from_pretrained(folder).eval(), json.loads(card.read_text()) if card.is_file() else {}


def load_judges(folder: str | Path) -> dict[str, tuple[DigitClassifier, dict]]:
    """The trained classifiers in ``folder`` (one subfolder per modality) with their report.json; clear
    error when missing."""
    judges = {}
    for modality in MODALITIES:
        judge = load_judge(Path(folder) / modality)
        if judge is None:
            raise DataError(f"No {modality} digit classifier in {Path(folder) / modality}: train them with "
                            "python -m lddbm digits-classifiers.")
        judges[modality] = judge
    return judges


def latent_probe(encode: Callable[[torch.Tensor], torch.Tensor], root: str | Path, modality: str,
                 test_images: torch.Tensor, test_labels: torch.Tensor, seed: int = 0, batch: int = 512) -> float:
    """The latent linear probe of a model (as in the CNF-MVAE paper): ``encode`` (images -> latents) the
    PROBE_TRAIN training images of ``modality`` drawn with ``seed`` and the test images, fit ``linear_probe``
    on the former and return its accuracy on the latter."""
    train_x, train_y = load_images(root, modality, "train")
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[:PROBE_TRAIN]

    def latents(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([encode(images[i : i + batch]).float().cpu() for i in range(0, len(images), batch)])

    return linear_probe(latents(train_x[pick]), train_y[pick], latents(test_images), test_labels)


def evaluate_joint_model(model, root: str | Path, split: str, classifiers: str | Path, seed: int = 0,
                         joint_samples: int = 1000, batch: int = 500) -> dict:
    """Scores of a model that encodes, translates and samples both modalities jointly (``CNFMVAE``):
    cross coherence and KID both ways (one translation per ``split`` image, from the posterior mean), joint
    coherence (the share of ``joint_samples`` joint samples whose two images the classifiers read as the
    same digit), and the latent linear probe per modality (2,000 training latents, as in the paper)."""
    judges = load_judges(classifiers)
    report = {"split": split, "classifiers": {m: card for m, (_, card) in judges.items()}}
    images = {m: load_images(root, m, split) for m in MODALITIES}
    for source, target in (("handwritten", "printed"), ("printed", "handwritten")):
        x, y = images[source]
        translated = torch.cat([model.translate(x[i : i + batch], source, target).float().cpu() for i in range(0, len(x), batch)])
        judge = judges[target][0]
        report[f"{source}_to_{target}"] = {"images": len(x), "cross_coherence": cross_coherence(judge, translated, y),
                                           "kid": quality_kid(judge, translated, images[target][0])}
    hand, printed = model.joint_sample(joint_samples, generator=torch.Generator().manual_seed(seed))
    report["joint_coherence"] = float((judges["handwritten"][0].predict(hand.float().cpu())[0]
                                       == judges["printed"][0].predict(printed.float().cpu())[0]).float().mean())
    report["joint_samples"] = joint_samples
    report["linear_probe_accuracy"] = {
        modality: latent_probe(partial(model.encode, modality=modality), root, modality, *images[modality], seed=seed)
        for modality in MODALITIES}
    return report


# ---- user inputs: a drawn digit, a photographed printed digit -------------------------------------------


def sketch_to_handwritten(image: Image.Image | np.ndarray) -> torch.Tensor:
    """A digit drawn on a canvas (any size, dark on light or light on dark, with or without alpha) ->
    (1, 32, 32) in [-1, 1], framed like the MNIST images: white on black, the strokes' bounding box scaled
    to fit 20x20, centred by its centre of mass in the 28x28 field, padded to 32. Raises DataError for an
    empty canvas."""
    pixels = _canvas_ink(image)  # (H, W) float in [0, 1], 1 = ink
    rows, cols = np.flatnonzero(pixels.max(1) > 0.1), np.flatnonzero(pixels.max(0) > 0.1)
    if len(rows) == 0:
        raise DataError("The canvas is empty: draw a digit (one stroke or more) first.")
    ink = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    box = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.LANCZOS), dtype=np.float32) / 255
    field = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - box.shape[0]) // 2, (28 - box.shape[1]) // 2
    field[top : top + box.shape[0], left : left + box.shape[1]] = box
    total = field.sum()
    cy, cx = (np.arange(28) @ field.sum(1)) / total, (np.arange(28) @ field.sum(0)) / total
    shift = (int(round(13.5 - cy)), int(round(13.5 - cx)))
    field = np.roll(field, shift, axis=(0, 1))  # the box has >= 4 px of margin each side, so nothing wraps
    padded = np.pad(field, 2)  # (32, 32)
    return torch.from_numpy(padded * 2 - 1)[None].float()


def _canvas_ink(image: Image.Image | np.ndarray) -> np.ndarray:
    """The ink of a drawing as (H, W) in [0, 1]: transparent pixels are background; the majority tone
    (the border's) is background whether it is light or dark."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image = image.convert("RGBA") if image.mode in ("RGBA", "LA", "P", "PA") else image.convert("RGB")
    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255
    if image.mode == "RGBA":
        alpha = np.asarray(image, dtype=np.float32)[..., 3] / 255
        if alpha.min() < 0.99:  # strokes on a transparent layer: the alpha is the ink
            return alpha
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 1 - grey if np.median(border) > 0.5 else grey
    return np.clip((ink - ink.min()) / max(float(ink.max() - ink.min()), 1e-6), 0, 1)


def photo_to_printed(image: Image.Image) -> torch.Tensor:
    """A photographed or cropped printed digit -> (3, 32, 32) in [-1, 1]: the central square, resized
    (antialiased) like the SVHN crops the models know."""
    image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.LANCZOS)
    return torch.from_numpy(np.asarray(square, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1).contiguous()


def example_coherence(pipe, judge: DigitClassifier, folder: str | Path, source: str, samples: int = 4,
                      seed: int = 0) -> float:
    """The demo examples' figure of a digits model card: the share of ``samples`` translations per example
    image (``folder``/*.png, named <label>-<index>.png; drawn sketches for handwritten, photos for printed)
    that ``judge`` reads as the example's digit, at the checkpoint's default sampling, seeded."""
    files = sorted(Path(folder).glob("*.png"))
    if not files:
        raise DataError(f"No example digits (<label>-<index>.png) in {folder}.")
    prepare = sketch_to_handwritten if source == "handwritten" else photo_to_printed
    x = torch.stack([prepare(Image.open(f)) for f in files])
    labels = torch.tensor([example_label(f) for f in files]).repeat_interleave(samples)
    out = pipe(x, num_samples=samples, generator=torch.Generator(device=pipe.device).manual_seed(seed)).outputs
    return cross_coherence(judge, out.float().cpu(), labels)
