"""Classifier-free guidance with two conditions: the source (e.g. a sketch) and a class label.

A denoiser trained with condition dropout (``loss.source_dropout``, ``loss.label_dropout``) knows
four conditionings: D(x_t, t | s, l), D(x_t, t | s, ∅), D(x_t, t | ∅, l), D(x_t, t | ∅, ∅). "No
source" is the zero latent, used both as the network's source input and as the bridge's end point
(a real encoding is standardised to std sigma_data, so zero is never one); "no label" is the
label embedding's extra index. With one weight per condition, lambda_s (source) and lambda_l
(label), guidance nests the two differences, as InstructPix2Pix does for its image and text:

    D~ = D(∅,∅) + lambda_s [D(s,∅) - D(∅,∅)] + lambda_l [D(s,l) - D(s,∅)]
       = (1 - lambda_s) D(∅,∅) + (lambda_s - lambda_l) D(s,∅) + lambda_l D(s,l).

lambda_s = lambda_l = 1 is the plain jointly conditioned denoiser D(s,l); lambda_l = 0 ignores the
label; lambda_s = 1, lambda_l = 0 is the plain source-conditioned bridge. Each weight above 1 pushes
the estimate further along its own condition's direction (the label's difference is taken with the
source present, so the label steers *given* the sketch). Without a label the l-terms fold into
their ∅ counterparts, D~ = (1 - lambda_s) D(∅,∅) + lambda_s D(s,∅); without a source,
D~ = (1 - lambda_l) D(∅,∅) + lambda_l D(∅,l) (ordinary CFG on the label, the bridge from zero).

In the exact-score view (Ho & Salimans), D(s,∅) - D(∅,∅) is proportional to the gradient of
log p(s | x_t) and D(s,l) - D(s,∅) to that of log p(l | x_t, s), so the weights sharpen p(s | x_t)
and p(l | x_t, s) separately. Only the terms with a non-zero coefficient are evaluated, in one
batched network call; NFE counts each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .errors import ConfigError

__all__ = ["GuidanceTerm", "guidance_terms", "guided_denoise"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class GuidanceTerm:
    """coefficient * D(x_t, t | source if with_source else ∅, label if with_label else ∅)."""

    coefficient: float
    with_source: bool
    with_label: bool


def guidance_terms(source_scale: float, label_scale: float, has_source: bool, has_label: bool) -> list[GuidanceTerm]:
    """The non-zero terms of D~ (module docstring) for the conditions at hand; coefficients sum to 1."""
    if not (has_source or has_label):
        raise ConfigError("Guidance needs a source, a class label, or both.")
    if not has_label:
        raw = [(1 - source_scale, False, False), (source_scale, True, False)]
    elif not has_source:
        raw = [(1 - label_scale, False, False), (label_scale, False, True)]
    else:
        raw = [(1 - source_scale, False, False), (source_scale - label_scale, True, False), (label_scale, True, True)]
    return [GuidanceTerm(float(c), s, lab) for c, s, lab in raw if c != 0]


def guided_denoise(denoise: Callable[[Tensor, Tensor, Tensor], Tensor], x_t: Tensor, source: Tensor,
                   labels: Tensor | None, terms: list[GuidanceTerm], null_label: int) -> Tensor:
    """D~ for a batch: ``denoise(x_t, sources, labels)`` is the preconditioned denoiser at the current t;
    ``null_label`` is the "no label" index. A single term with coefficient 1 is that term's denoiser
    exactly; several run as one call on a batch len(terms) times larger."""
    if len(terms) == 1 and terms[0].coefficient == 1:
        term = terms[0]
        return denoise(x_t, source if term.with_source else torch.zeros_like(source),
                       labels if term.with_label else torch.full((x_t.shape[0],), null_label, device=x_t.device))
    B = x_t.shape[0]
    zero = torch.zeros_like(source)
    null = torch.full((B,), null_label, dtype=torch.long, device=x_t.device)
    sources = torch.cat([source if term.with_source else zero for term in terms])  # (k B, C, h, w)
    label_batch = torch.cat([labels if term.with_label else null for term in terms])  # (k B,)
    out = denoise(x_t.repeat(len(terms), *([1] * (x_t.ndim - 1))), sources, label_batch).chunk(len(terms))
    return sum(term.coefficient * d for term, d in zip(terms, out))
