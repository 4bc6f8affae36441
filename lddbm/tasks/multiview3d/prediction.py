"""Views -> 3D shape predictions with uncertainty and the bridge trajectory (used by the demo)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...pipeline import LDDBMPipeline


@dataclass
class ShapePrediction:
    probability: np.ndarray  # (G, G, G) mean occupancy probability over the samples
    agreement: np.ndarray  # (G, G, G) in [0.5, 1]: share of samples that agree with the majority
    samples: int
    nfe: int  # network evaluations per sample
    seconds: float
    trajectory: list[np.ndarray] = field(default_factory=list)  # (G, G, G) x0 estimates along the bridge (sample 0; decoded, not refined)


@torch.no_grad()
def predict_shape(
    pipe: LDDBMPipeline,
    views,
    num_inference_steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    samples: int = 1,
    threshold: float = 0.5,
    trajectory: bool = False,
    preprocess_kwargs: dict | None = None,
    **sampler_options: float | None,
) -> ShapePrediction:
    """Bridge ``views`` (PIL images, paths or ``NormalizedView``s of one object) to occupancy;
    ``samples`` > 1 draws several bridge samples (with a stochastic sampler setting, e.g. churn > 0, they differ) and measures
    where they agree. ``preprocess_kwargs``: e.g. ``remove_background``, ``foreground_ratio``;
    ``sampler_options``: the sampler's own (``guidance``, ``churn`` for heun; ``eta`` for dbim)."""
    frames: list[np.ndarray] = []

    def record(i, t, x, denoised):
        frames.append(pipe.target_decoder.postprocess(pipe.target_decoder(denoised[:1]), "np")[0])

    generator = torch.Generator(device=pipe.device).manual_seed(int(seed))
    out = pipe(views, num_inference_steps=num_inference_steps, sampler=sampler, generator=generator,
               num_samples=samples, callback=record if trajectory else None, preprocess_kwargs=preprocess_kwargs,
               **sampler_options)
    probs = out.outputs.cpu().numpy()  # (N, G, G, G)
    occupied = (probs >= threshold).mean(axis=0)
    return ShapePrediction(
        probability=probs.mean(axis=0),
        agreement=np.maximum(occupied, 1 - occupied),
        samples=samples,
        nfe=out.nfe,
        seconds=out.seconds,
        trajectory=frames,
    )
