"""CNF-MVAE: a multimodal VAE whose latents meet in one "meta" latent through a conditional flow.

A comparison model for the cross-modal digits benchmark (``lddbm.tasks.digits.judges``), written from the
equations of Ai et al. (2026), "Research on multimodal generation models based on contrastive
normalizing flows". Modality k is 0 (handwritten, 1x32x32) or 1 (printed, 3x32x32); D_k is its
number of pixel values (1024 or 3072), d the latent size (40)::

    q(h | x)     = N(h; mu_k(x), sigma1^2 I)          h = mu_k(x) + sigma1 u,   u ~ N(0, I)
    m            = f(h; k)                           conditional RealNVP flow, exact log|det df/dh|
    log p(h)     = log N(f(h; k); 0, I) + log|det df/dh|     (the meta prior N(0, I), pulled back)
    log p(x | h) = sum_pixels log N(x; G_k(h), sigma2^2)
    negELBO_k    = [-log p(x | h) - log p(h) + log q(h | x)] / D_k          (one sample of u)
    InfoNCE      = symmetric cross-entropy of cos(m_hand_i, m_printed_j) / tau over the B pairs
    total        = mean_batch(negELBO_hand + negELBO_printed) + lambda * InfoNCE

- mu_k: an MLP on the flattened image (handwritten) or a small strided CNN (printed); sigma1 is one
  learnable scalar shared by both modalities (stored as ``log_sigma1``).
- f: ``flow_layers`` affine couplings (RealNVP). Layer i permutes h by a fixed permutation, keeps the
  first half a and maps the second half b -> b * exp(s) + t, with (s, t) = NN_i([a, e_k]) and e_k a
  learned modality embedding (the condition of every coupling); s = 2 tanh(s_raw / 2) keeps the
  log-scales in (-2, 2). The last layer of each NN_i starts at zero, so f starts as a fixed
  permutation (log-det 0, the same for both modalities) and learns its conditioning.
- G_k: an MLP (handwritten) or transposed convolutions (printed), tanh output in [-1, 1]; sigma2 is
  one learnable pixel std shared by both modalities (``log_sigma2``), so the reconstruction term is
  the Gaussian NLL with a learned noise level, not a fixed-weight MSE.
- Normalisation: each negative ELBO is the exact one-sample bound divided by its modality's pixel
  count D_k (nats per data dimension), so the two modalities weigh the same and the InfoNCE term
  (about log B at the start) is not swamped by a sum over 3,072 pixels; lambda = 10 is then an
  actual trade-off. The latent terms are divided by D_k too, so the bound's own balance (the "beta")
  is unchanged.
- InfoNCE is ``lddbm.losses.contrastive_loss`` (cosine similarity, temperature tau = 0.1) on the
  sampled meta latents f(mu_k(x) + sigma1 u; k). Pairs are many-to-many by class, so other pairs of
  the same class in a batch count as negatives, as in the paper's set-up.

Cross generation a -> b: m = f(mu_a(x); a), image = G_b(f^-1(m; b)) (a posterior sample of h when
asked). Joint sampling: m ~ N(0, I) -> both modalities through f^-1 and G.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from ...errors import ConfigError
from ...images import to_unit
from ...losses import contrastive_loss
from .data import SIZE, DigitPairs
from .judges import MODALITIES

__all__ = ["CNFMVAE", "ConditionalFlow", "train_cnf_mvae"]

logger = logging.getLogger(__name__)

MODALITY_NAMES = tuple(MODALITIES)  # index k of a modality in the flow's condition
LOG_2PI = math.log(2 * math.pi)
SCALE_BOUND = 2.0  # coupling log-scales lie in (-SCALE_BOUND, SCALE_BOUND)
EMBED_DIM = 16  # size of the modality embedding fed to every coupling net
INIT_SIGMA1, INIT_SIGMA2 = 0.1, 0.2  # starting posterior std and pixel std (both learned)
LOG_SIGMA_RANGE = (-7.0, 2.0)  # log sigma1 / log sigma2 are clamped to this range when used


# ---------------------------------------------------------------------------------------------- the flow


class AffineCoupling(nn.Module):
    """Permute, then b -> b * exp(s) + t with (s, t) from the kept half a and the condition."""

    def __init__(self, dim: int, hidden: int, seed: int):
        super().__init__()
        self.keep = dim // 2  # size of a; b has dim - keep entries
        g = torch.Generator().manual_seed(seed)  # fixed by the layer index, whatever the global seed
        self.register_buffer("perm", torch.randperm(dim, generator=g))
        self.net = nn.Sequential(nn.Linear(self.keep + EMBED_DIM, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, 2 * (dim - self.keep)))
        nn.init.zeros_(self.net[-1].weight)  # b unchanged at the start
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, a: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(torch.cat([a, cond], dim=1)).chunk(2, dim=1)  # (B, dim - keep) each
        return SCALE_BOUND * torch.tanh(s / SCALE_BOUND), t

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = h[:, self.perm]  # (B, dim)
        a, b = y[:, : self.keep], y[:, self.keep :]
        s, t = self._scale_shift(a, cond)
        return torch.cat([a, b * s.exp() + t], dim=1), s.sum(dim=1)  # (B, dim), (B,)

    def inverse(self, y: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        a, b = y[:, : self.keep], y[:, self.keep :]
        s, t = self._scale_shift(a, cond)
        y = torch.cat([a, (b - t) * (-s).exp()], dim=1)
        return y[:, torch.argsort(self.perm)]  # undo the permutation


class ConditionalFlow(nn.Module):
    """m = f(h; k): ``layers`` affine couplings conditioned on a learned embedding of modality k."""

    def __init__(self, dim: int, layers: int = 5, hidden: int = 256, conditions: int = len(MODALITY_NAMES)):
        super().__init__()
        if dim < 2 or layers < 1 or hidden < 1 or conditions < 1:
            raise ConfigError(f"The flow needs dim >= 2 and layers, hidden, conditions >= 1; got dim={dim}, "
                              f"layers={layers}, hidden={hidden}, conditions={conditions}.")
        self.embed = nn.Embedding(conditions, EMBED_DIM)
        self.couplings = nn.ModuleList(AffineCoupling(dim, hidden, seed=i) for i in range(layers))

    def _condition(self, modality_index: int | torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        k = torch.as_tensor(modality_index, dtype=torch.long, device=h.device).expand(len(h))  # (B,)
        return self.embed(k).to(h.dtype)  # (B, EMBED_DIM)

    def forward(self, h: torch.Tensor, modality_index: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, dim) -> meta latent m (B, dim) and log|det dm/dh| (B,)."""
        cond = self._condition(modality_index, h)
        logdet = h.new_zeros(len(h))  # (B,)
        for coupling in self.couplings:
            h, ld = coupling(h, cond)
            logdet = logdet + ld
        return h, logdet

    def inverse(self, m: torch.Tensor, modality_index: int | torch.Tensor) -> torch.Tensor:
        """(B, dim) meta latent -> h (B, dim) of modality ``modality_index``."""
        cond = self._condition(modality_index, m)
        for coupling in reversed(self.couplings):
            m = coupling.inverse(m, cond)
        return m


# ---------------------------------------------------------------------------------------------- encoders / decoders


def _mlp_encoder(channels: int, hidden: int, latent_dim: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * SIZE * SIZE, hidden), nn.SiLU(),
                         nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, latent_dim))  # (B, latent_dim)


def _mlp_decoder(channels: int, hidden: int, latent_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, channels * SIZE * SIZE), nn.Unflatten(1, (channels, SIZE, SIZE)),
                         nn.Tanh())  # (B, C, 32, 32)


def _cnn_encoder(channels: int, width: int, latent_dim: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1), nn.SiLU(),  # (B, w, 16, 16)
        nn.Conv2d(width, 2 * width, 4, 2, 1), nn.SiLU(),  # (B, 2w, 8, 8)
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.SiLU(),  # (B, 4w, 4, 4)
        nn.Flatten(), nn.Linear(4 * width * 16, latent_dim))  # (B, latent_dim)


def _cnn_decoder(channels: int, width: int, latent_dim: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(latent_dim, 4 * width * 16), nn.SiLU(), nn.Unflatten(1, (4 * width, 4, 4)),  # (B, 4w, 4, 4)
        nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.SiLU(),  # (B, 2w, 8, 8)
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.SiLU(),  # (B, w, 16, 16)
        nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())  # (B, C, 32, 32)


# ---------------------------------------------------------------------------------------------- the model


def _check_modality(modality: str) -> int:
    if modality not in MODALITIES:
        raise ConfigError(f"Unknown digit modality {modality!r}; use one of {', '.join(MODALITY_NAMES)}.")
    return MODALITY_NAMES.index(modality)


def _check_images(x, modality: str) -> None:
    shape = (MODALITIES[modality], SIZE, SIZE)
    if not torch.is_tensor(x) or x.ndim != 4 or tuple(x.shape[1:]) != shape or len(x) == 0:
        got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ConfigError(f"{modality} images must be a tensor (B, {', '.join(map(str, shape))}) in [-1, 1] "
                          f"with B >= 1; got {got}.")


class CNFMVAE(ModelMixin, ConfigMixin):
    """Handwritten and printed digits, each with its VAE, joined by a conditional flow (module docstring)."""

    @register_to_config
    def __init__(
        self,
        latent_dim: int = 40,
        flow_layers: int = 5,
        hidden: int = 400,  # hidden units of the handwritten MLPs
        width: int = 32,  # channels of the printed CNNs' first stage (then 2x, 4x)
        flow_hidden: int = 256,  # hidden units of each coupling net
        temperature: float = 0.1,  # InfoNCE tau
        contrastive_weight: float = 10.0,  # lambda
    ):
        super().__init__()
        if latent_dim < 2 or flow_layers < 1 or hidden < 1 or width < 1 or flow_hidden < 1:
            raise ConfigError(f"latent_dim must be >= 2 and flow_layers, hidden, width, flow_hidden >= 1; got "
                              f"{latent_dim}, {flow_layers}, {hidden}, {width}, {flow_hidden}.")
        if not temperature > 0 or not contrastive_weight >= 0:
            raise ConfigError(f"temperature must be > 0 and contrastive_weight >= 0; got {temperature} and "
                              f"{contrastive_weight}.")
        c_hand, c_printed = MODALITIES["handwritten"], MODALITIES["printed"]
        self.encoders = nn.ModuleDict({"handwritten": _mlp_encoder(c_hand, hidden, latent_dim),
                                       "printed": _cnn_encoder(c_printed, width, latent_dim)})
        self.decoders = nn.ModuleDict({"handwritten": _mlp_decoder(c_hand, hidden, latent_dim),
                                       "printed": _cnn_decoder(c_printed, width, latent_dim)})
        self.flow = ConditionalFlow(latent_dim, flow_layers, flow_hidden)
        self.log_sigma1 = nn.Parameter(torch.tensor(math.log(INIT_SIGMA1)))  # posterior std of h
        self.log_sigma2 = nn.Parameter(torch.tensor(math.log(INIT_SIGMA2)))  # pixel std of p(x | h)

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        device = generator.device if generator is not None else self.device
        return torch.randn(shape, generator=generator, device=device).to(self.device, self.dtype)

    def _log_sigmas(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.log_sigma1.clamp(*LOG_SIGMA_RANGE), self.log_sigma2.clamp(*LOG_SIGMA_RANGE)

    def encode(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Posterior mean mu_k(x): (B, C, 32, 32) in [-1, 1] -> (B, latent_dim)."""
        _check_modality(modality)
        _check_images(x, modality)
        return self.encoders[modality](x.to(self.device, self.dtype))

    def neg_elbo(self, x: torch.Tensor, modality: str, u: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One-sample negative ELBO per data dimension (B,), the meta latent m (B, d) and the NLL (B,)
        per data dimension, for posterior noise ``u`` (B, d)."""
        k = _check_modality(modality)
        log_sigma1, log_sigma2 = self._log_sigmas()
        x = x.to(self.device, self.dtype)
        h = self.encode(x, modality) + log_sigma1.exp() * u  # (B, d)
        m, logdet = self.flow(h, k)  # (B, d), (B,)
        recon = self.decoders[modality](h)  # (B, C, 32, 32)
        nll = (0.5 * ((x - recon) / log_sigma2.exp()).pow(2) + log_sigma2 + 0.5 * LOG_2PI).flatten(1).sum(1)  # (B,)
        log_p = (-0.5 * m.pow(2) - 0.5 * LOG_2PI).sum(1) + logdet  # (B,)
        log_q = (-0.5 * u.pow(2) - log_sigma1 - 0.5 * LOG_2PI).sum(1)  # (B,)
        pixels = x[0].numel()
        return (nll - log_p + log_q) / pixels, m, nll / pixels

    def loss(self, hand: torch.Tensor, printed: torch.Tensor, generator: torch.Generator | None = None
             ) -> dict[str, torch.Tensor]:
        """The training objective on B pairs (hand (B, 1, 32, 32), printed (B, 3, 32, 32)).

        "total" = mean(elbo_handwritten + elbo_printed) + contrastive_weight * contrastive; the
        "elbo_*" entries are *negative* ELBOs in nats per data dimension (lower is better), "nll_*"
        their reconstruction parts; "sigma1" / "sigma2" are detached, for logging."""
        _check_images(hand, "handwritten")
        _check_images(printed, "printed")
        if len(hand) != len(printed):
            raise ConfigError(f"hand and printed must hold the same pairs; got {len(hand)} and {len(printed)} images.")
        d = self.config.latent_dim
        neg_hand, m_hand, nll_hand = self.neg_elbo(hand, "handwritten", self._randn((len(hand), d), generator))
        neg_printed, m_printed, nll_printed = self.neg_elbo(printed, "printed", self._randn((len(hand), d), generator))
        nce = contrastive_loss(m_hand, m_printed, self.config.temperature)
        total = (neg_hand + neg_printed).mean() + self.config.contrastive_weight * nce
        log_sigma1, log_sigma2 = self._log_sigmas()
        return {"total": total, "elbo_handwritten": neg_hand.mean(), "elbo_printed": neg_printed.mean(),
                "contrastive": nce, "nll_handwritten": nll_hand.mean(), "nll_printed": nll_printed.mean(),
                "sigma1": log_sigma1.detach().exp(), "sigma2": log_sigma2.detach().exp()}

    @torch.no_grad()
    def translate(self, x: torch.Tensor, source: str, target: str, sample: bool = False,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Source images (B, C_s, 32, 32) -> target images (B, C_t, 32, 32) in [-1, 1], through the
        meta latent; ``sample``: a posterior sample of h instead of its mean."""
        k_source, k_target = _check_modality(source), _check_modality(target)
        h = self.encode(x, source)  # (B, d)
        if sample:
            h = h + self._log_sigmas()[0].exp() * self._randn(tuple(h.shape), generator)
        m, _ = self.flow(h, k_source)
        return self.decoders[target](self.flow.inverse(m, k_target))

    @torch.no_grad()
    def joint_sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n meta latents m ~ N(0, I), each decoded in both modalities:
        (hand (n, 1, 32, 32), printed (n, 3, 32, 32))."""
        if n < 1:
            raise ConfigError(f"n must be at least 1, got {n}.")
        m = self._randn((n, self.config.latent_dim), generator)  # (n, d)
        return tuple(self.decoders[name](self.flow.inverse(m, k)) for k, name in enumerate(MODALITY_NAMES))


# ---------------------------------------------------------------------------------------------- training


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 10% of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def train_cnf_mvae(root: str | Path, steps: int = 4000, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                   max_minutes: float = 0, log: Callable[[str], None] | None = None) -> tuple[CNFMVAE, dict]:
    """Train a default-sized CNFMVAE on the training pairs of the digits set at ``root``.

    Batches of ``batch_size`` pairs drawn at random (with replacement, from a generator seeded with
    ``seed``); AdamW with warm-up and cosine decay; gradients clipped to norm 5. Stops after ``steps``
    or, when ``max_minutes`` > 0, once that much time has passed. ``log`` gets a progress line every
    250 steps. Returns the model in eval mode and {"steps", "seconds", "train_pairs", "final_loss"
    (mean total over the last 50 steps), the last step's terms, "parameters", "stopped_by_time"}."""
    if steps < 1 or batch_size < 2 or not lr > 0 or not max_minutes >= 0:
        raise ConfigError(f"steps must be >= 1, batch_size >= 2, lr > 0 and max_minutes >= 0; got {steps}, "
                          f"{batch_size}, {lr} and {max_minutes}.")
    pairs = DigitPairs(root, "train")  # raises DataError (with the build command) when not built
    hand_pixels = torch.from_numpy(pairs.handwritten["images"])  # (N, 32, 32) uint8
    printed_pixels = torch.from_numpy(pairs.printed["images"])  # (M, 32, 32, 3) uint8
    index = torch.from_numpy(pairs.pairs)  # (P, 2): handwritten index, printed index
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # a seeded initialisation that leaves the global RNG alone
        torch.manual_seed(seed)
        model = CNFMVAE()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    warmup = min(200, max(1, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, steps, warmup))
    start, recent, step = time.perf_counter(), [], 0
    stopped_by_time = False
    while step < steps:
        if max_minutes > 0 and time.perf_counter() - start > 60 * max_minutes:
            stopped_by_time = True
            break
        pick = index[torch.randint(len(index), (batch_size,), generator=generator)]  # (B, 2)
        hand = to_unit(hand_pixels[pick[:, 0]][:, None])  # (B, 1, 32, 32)
        printed = to_unit(printed_pixels[pick[:, 1]].permute(0, 3, 1, 2))  # (B, 3, 32, 32)
        terms = model.loss(hand, printed, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        schedule.step()
        step += 1
        terms = {k: v.detach() for k, v in terms.items()}
        recent = (recent + [terms["total"].item()])[-50:]
        if log is not None and (step % 250 == 0 or step == steps):
            log(f"cnf-mvae: step {step}/{steps}, loss {terms['total'].item():.3f} (neg. ELBO per dim handwritten "
                f"{terms['elbo_handwritten'].item():.3f}, printed {terms['elbo_printed'].item():.3f}; InfoNCE "
                f"{terms['contrastive'].item():.3f}; sigma1 {terms['sigma1'].item():.3f}, sigma2 "
                f"{terms['sigma2'].item():.3f})")
    seconds = time.perf_counter() - start
    if stopped_by_time:
        logger.info("CNF-MVAE training stopped by the %.1f-minute limit at step %d of %d", max_minutes, step, steps)
    model.eval()
    report = {"steps": step, "seconds": round(seconds, 1), "train_pairs": len(index),
              "final_loss": sum(recent) / len(recent) if recent else float("nan"),
              "parameters": sum(p.numel() for p in model.parameters()), "stopped_by_time": stopped_by_time}
    if step:
        report.update({f"last_{k}": v.item() for k, v in terms.items() if k != "total"})
    return model, report
