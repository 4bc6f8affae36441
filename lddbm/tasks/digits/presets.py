"""The digits presets and their data config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ...bridge import Bridge
from ...presets import DenoiserConfig, LatentConfig, LossConfig, Preset, SamplingConfig, TrainConfig, regression_baseline


@dataclass
class DigitsData:
    """Handwritten <-> printed digits, paired by class (``build-data digits``; lddbm/tasks/digits/data.py)."""

    kind: Literal["digits"] = "digits"
    root: str = "data/digits"
    direction: Literal["handwritten_to_printed", "printed_to_handwritten"] = "handwritten_to_printed"
    classifiers: str = "checkpoints/digits/classifiers"  # the judges (python -m lddbm digits-classifiers); eval only


def _digits(name: str, data: DigitsData, denoiser: DenoiserConfig, loss: LossConfig, source_scale: float = 1.0,
            num_candidates: int = 1) -> Preset:
    """The digits presets' shared body: a (4, 8, 8) latent, sized to train in at most 20 minutes on 2 CPU cores."""
    return Preset(
        name=name,
        data=data,
        latent=LatentConfig(channels=4, size=8, width=16),  # width 16: the 32-px convolutions dominate CPU time
        # a short VE bridge: with sigma_max 80 (the image default) the bridge is almost all noise next to latents
        # of std 0.5, and after 300 steps it generated scribbles at chance coherence; at 1 the source's class
        # stays readable along the path (16 % coherence after 400 steps, still rising)
        bridge=Bridge(sigma_max=1.0),
        denoiser=denoiser,
        # stochastic by default: the pairs are many-to-many (any font, colour, background of the class), and a
        # deterministic sampler from the source latent returns their mean, a grey blur
        sampling=SamplingConfig(sampler="dbim", steps=10, eta=0.5, source_scale=source_scale,
                                num_candidates=num_candidates),
        loss=loss,
        train=TrainConfig(steps=1500, batch_size=64, lr=5e-4, warmup_steps=200, decay_steps=500, eval_every=500,
                          save_every=250, eval_size=500, eval_steps=10, export_dtype="float16"),
    )


# z0 is a stop-gradient target of the bridge loss: trained jointly, the printed / handwritten latent collapsed
# to one pattern for every image (96 % of its variance) that the bridge predicts trivially; uniform times
# spend training where the class is decided (near the source end)
DIGITS_LOSS = LossConfig(strategy="whole", contrastive_weight=0.1, t_sampling="uniform", detach_target=True)


def digits_h2p() -> Preset:
    """Handwritten (1x32x32) -> printed house-number digits (3x32x32). The printed generator also takes a
    class label; either condition may be absent (condition dropout), for two-weight guidance (lddbm.guidance)."""
    return _digits("digits_h2p", DigitsData(),
                   DenoiserConfig(patch_size=1, hidden_size=128, depth=4, encoder_depth=2, num_heads=4, num_classes=10),
                   # a sketch already tells the class, so the label only learns where the sketch is dropped:
                   # with 10 % sketch dropout (5 % of samples label-only) it had learned nothing after 1,500 steps
                   dataclasses.replace(DIGITS_LOSS, label_dropout=0.3, source_dropout=0.3),
                   # lambda_sketch 0: the bridge still starts at the sketch's latent, but the denoiser does not
                   # read the sketch a second time; on the 9,500-step weights it lifted validation coherence
                   # from 87.8 to 89.9 % (two seeds) at the same NFE (checkpoints/digits/h2p/README.md)
                   source_scale=0.0,
                   # the best of 2 draws by contrastive alignment: validation coherence 89.8 % (one draw, the
                   # mean of 8) -> 94.4 / 94.2 / 94.8 % with 2 / 4 / 8 candidates; 2 costs half of 4 (a click
                   # 0.40 s with 4) (benchmarks/digits_candidates.py, checkpoints/digits/h2p/README.md)
                   num_candidates=2)


def digits_p2h() -> Preset:
    """Printed -> handwritten digits (no label condition; source dropout for guidance on the printed digit)."""
    return _digits("digits_p2h", DigitsData(direction="printed_to_handwritten"),
                   DenoiserConfig(patch_size=1, hidden_size=128, depth=4, encoder_depth=2, num_heads=4),
                   dataclasses.replace(DIGITS_LOSS, source_dropout=0.1))


def digits_h2p_regression() -> Preset:
    return regression_baseline(digits_h2p())


def digits_p2h_regression() -> Preset:
    return regression_baseline(digits_p2h())


PRESETS = {f.__name__: f for f in (digits_h2p, digits_p2h, digits_h2p_regression, digits_p2h_regression)}
