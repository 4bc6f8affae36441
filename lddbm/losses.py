"""LDDBM's training objective: bridge denoising, contrastive alignment, predictive and
reconstruction losses, and the module that combines them per training step.

Randomness (times and noise) is an argument, so a test can fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from .bridge import Bridge


def bridge_loss(
    bridge: Bridge,
    denoiser: nn.Module,
    x0: torch.Tensor,
    xT: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    weighting: Literal["karras", "uniform"] = "karras",
) -> tuple[torch.Tensor, torch.Tensor]:
    """lambda(t) ||D(x_t, t, xT) - x0||^2 averaged over the batch, and D (the one-step estimate)."""
    x_t = bridge.sample_marginal(x0, xT, t, noise)
    denoised = bridge.denoise(denoiser, x_t, t, xT)
    per_sample = (denoised - x0).pow(2).flatten(1).mean(dim=1)  # (B,)
    weight = bridge.loss_weight(t, weighting).to(per_sample)
    return (weight * per_sample).mean(), denoised


def _unit(z: torch.Tensor) -> torch.Tensor:
    """(B, ...) latents -> (B, D) unit vectors: the space the contrastive loss compares them in."""
    return F.normalize(z.flatten(1).float(), dim=1)


def contrastive_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Symmetric InfoNCE: pair i of z_a should match pair i of z_b among all pairs of the batch."""
    a, b = _unit(z_a), _unit(z_b)
    logits = a @ b.T / temperature  # (B, B)
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def alignment(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """(B,) cosine similarity of paired latents: the score the contrastive loss raises for true pairs
    (its logits times the temperature). The pipeline ranks candidate translations by it."""
    return (_unit(z_a) * _unit(z_b)).sum(dim=1)


def data_space_loss(decoder: nn.Module, latent: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Decode a latent and compare with the target in data space with the decoder's own loss.

    With the encoded target latent this is the reconstruction loss; with the bridge's one-step
    denoised latent it is LDDBM's predictive loss.
    """
    return decoder.reconstruction_loss(decoder(latent), target)


@dataclass
class LossWeights:
    bridge: float
    contrastive: float
    predictive: float
    reconstruction: float
    pose: float = 0.0  # a source encoder's camera estimate (LiftingEncoder), when the source carries true poses


class LDDBMObjective(nn.Module):
    """Holds every trained module; ``forward`` returns the step's losses (DDP-friendly)."""

    def __init__(
        self,
        source_encoder: nn.Module,
        target_encoder: nn.Module,
        target_decoder: nn.Module,
        denoiser: nn.Module,
        bridge: Bridge,
        weights: LossWeights,
        temperature: float,
        weighting: Literal["karras", "uniform"],
        detach_target: bool = False,
    ):
        super().__init__()
        self.source_encoder = source_encoder
        self.target_encoder = target_encoder
        self.target_decoder = target_decoder
        self.denoiser = denoiser
        self.bridge = bridge
        self.weights = weights
        self.temperature = temperature
        self.weighting = weighting
        self.detach_target = detach_target  # the bridge loss does not train the target encoder

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, auxiliary: bool,
        labels: torch.Tensor | None = None, drop_source: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """source/target: a batch of paired inputs; t (B,) and noise (B, C, h, w) drive the bridge.

        auxiliary: add the contrastive, predictive and reconstruction losses this step.
        labels (B,): class labels for a label-conditioned denoiser (the null index where dropped);
        drop_source (B,) bool: samples bridged from "no source", the zero latent (lddbm.guidance).
        """
        zT = self.source_encoder(source)  # (B, C, h, w)
        z0 = self.target_encoder(target)  # (B, C, h, w)
        w = self.weights
        losses = {}
        z0_bridged = z0.detach() if self.detach_target else z0
        zT_bridged = zT if drop_source is None else torch.where(drop_source[:, None, None, None], 0.0, zT)
        denoiser = self.denoiser if labels is None else partial(self.denoiser, class_labels=labels)
        losses["bridge"], denoised = bridge_loss(self.bridge, denoiser, z0_bridged, zT_bridged, t, noise, self.weighting)
        total = w.bridge * losses["bridge"]
        if isinstance(source, dict) and "pose" in source:  # scored (and logged) even at weight 0
            losses["pose"] = self.source_encoder.pose_loss(source["pose"])
            total = total + w.pose * losses["pose"]
        if auxiliary:
            losses["contrastive"] = contrastive_loss(z0, zT, self.temperature)
            losses["predictive"] = data_space_loss(self.target_decoder, denoised, target)
            losses["reconstruction"] = data_space_loss(self.target_decoder, z0, target)
            total = (
                total
                + w.contrastive * losses["contrastive"]
                + w.predictive * losses["predictive"]
                + w.reconstruction * losses["reconstruction"]
            )
        losses["total"] = total
        return losses
