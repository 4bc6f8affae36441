"""Denoising diffusion bridge maths (DDBM, arXiv 2309.16948): the only place these formulas live.

Notation. ``x0`` is the *target* latent (the data side, t = 0) and ``xT`` the *source* latent
(t = T). The unconditional forward process is x_t = alpha_t x0 + sigma_t eps:

- VE: alpha_t = 1, sigma_t = t, with t in [sigma_min, sigma_max] (T = sigma_max).
- VP: alpha_t = exp(-(beta_min t + beta_d t^2 / 2) / 2), sigma_t^2 = 1 - alpha_t^2, t in
  [sigma_min, sigma_max] (T = sigma_max, usually 1). DDBM keeps the names sigma_min/sigma_max
  for the time range of both schedules, and so do we.

Pinning the end point at xT (Doob's h-transform) gives the bridge marginal

    q(x_t | x0, xT) = N(a_t xT + b_t x0, c_t^2 I),   r_t = SNR_T / SNR_t,
    a_t = (alpha_t / alpha_T) r_t,   b_t = alpha_t (1 - r_t),   c_t^2 = sigma_t^2 (1 - r_t),

so x_t = x0 at t = 0 and x_t = xT at t = T.

``kind="diffusion"`` is the comparison the paper makes: conditional diffusion *from Gaussian noise*
(EDM, VE noise) with xT only a condition of the network. It is the same family with r_t = 0 (no
pinned end point): x_t = x0 + t eps, a_t = 0, b_t = 1, c_t = t, h = 0; sampling starts at
x_T = T eps (``prior``). The preconditioning below then reduces to EDM's exactly
(c_skip = s0^2 / (t^2 + s0^2), c_out = t s0 / sqrt(t^2 + s0^2)), Heun to EDM's sampler and DBIM
to DDIM. The denoiser D(x_t, t, xT) ~ E[x0 | x_t, xT] is
preconditioned as in DDBM (EDM-style, with Var x0 = sigma_data^2, Var xT = sigma_data_end^2,
Cov(x0, xT) = cov_xy):

    D = c_skip x_t + c_out F(c_in x_t, c_noise, xT).

Sampling integrates the bridge's reverse dynamics with s = grad log q(x_t | xT) (the bridge
score, from D by Tweedie) and h = grad_{x_t} log p(xT | x_t):

    reverse SDE:  dx = [f x - g^2 (s - w h)] dt + g dW
    PF ODE:       dx = [f x - g^2 (s / 2 - w h)] dt

where w is DDBM's guidance weight (w = 1 is the exact bridge). Every coefficient is computed in
float64 and cast to the sample's dtype only when applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch

Tensor = torch.Tensor
TimeLike = float | Tensor


def _f64(t: TimeLike) -> Tensor:
    return torch.as_tensor(t, dtype=torch.float64)


def _bcast(coef: Tensor, x: Tensor) -> Tensor:
    """A per-sample (B,) or scalar coefficient, shaped to broadcast against x (B, ...)."""
    coef = coef.to(device=x.device, dtype=x.dtype)
    return coef.reshape(coef.shape + (1,) * (x.ndim - coef.ndim)) if coef.ndim else coef


@dataclass(frozen=True, kw_only=True)
class Bridge:
    """The bridge's parameters (keyword-only; the one declaration of these fields, also stored as the
    scheduler config's ``bridge``); defaults are the paper's (VE, DDBM preconditioning)."""

    kind: Literal["ve", "vp", "diffusion"] = "ve"  # diffusion: from noise, conditioned on xT (see above)
    sigma_min: float = 0.002  # smallest time t visited (VE: noise level)
    sigma_max: float = 80.0  # T, the time of the source end point
    sigma_data: float = 0.5  # std of the target latent x0
    sigma_data_end: float = 0.5  # std of the source latent xT
    cov_xy: float = 0.0  # per-coordinate covariance of x0 and xT assumed by the preconditioning
    beta_d: float = 2.0  # VP only: slope of beta(t) = beta_min + beta_d t
    beta_min: float = 0.1  # VP only
    # the first ``shared_channels`` latent channels are equal at both ends by construction (e.g. the
    # super-resolution anchor, which *is* the LR image at x4): x0 given xT is known there, so the
    # denoiser returns xT on them instead of learning to copy them through the network
    shared_channels: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("ve", "vp", "diffusion"):
            raise ValueError(f"Bridge kind must be 've', 'vp' or 'diffusion', got {self.kind!r}.")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(
                f"Need 0 < sigma_min < sigma_max, got sigma_min={self.sigma_min}, sigma_max={self.sigma_max}."
            )
        if self.sigma_data <= 0 or self.sigma_data_end <= 0:
            raise ValueError("sigma_data and sigma_data_end must be positive.")
        if abs(self.cov_xy) >= self.sigma_data * self.sigma_data_end:
            raise ValueError("|cov_xy| must be smaller than sigma_data * sigma_data_end.")
        if self.kind == "vp" and (self.beta_d < 0 or self.beta_min <= 0):
            raise ValueError("VP bridges need beta_d >= 0 and beta_min > 0.")
        if self.shared_channels < 0:
            raise ValueError(f"shared_channels must be >= 0, got {self.shared_channels}.")

    # ---- the unconditional forward process --------------------------------------------------

    def _int_beta(self, t: Tensor) -> Tensor:
        """VP: integral of beta from 0 to t, so that alpha_t^2 = exp(-int_beta)."""
        return self.beta_min * t + 0.5 * self.beta_d * t**2

    def alpha_sigma(self, t: TimeLike) -> tuple[Tensor, Tensor]:
        t = _f64(t)
        if self.kind in ("ve", "diffusion"):
            return torch.ones_like(t), t
        ib = self._int_beta(t)
        return torch.exp(-0.5 * ib), torch.sqrt(-torch.expm1(-ib))

    def f_g2(self, t: TimeLike) -> tuple[Tensor, Tensor]:
        """Drift coefficient f(t) (dx = f x dt + g dW) and squared diffusion g(t)^2."""
        t = _f64(t)
        if self.kind in ("ve", "diffusion"):
            return torch.zeros_like(t), 2 * t
        beta = self.beta_min + self.beta_d * t
        return -0.5 * beta, beta

    def _snr_ratio(self, t: Tensor) -> Tensor:
        """r_t = SNR_T / SNR_t, which runs from 0 at t = 0 to 1 at t = T (always 0 without a pinned end)."""
        if self.kind == "diffusion":
            return torch.zeros_like(t)
        if self.kind == "ve":
            return (t / self.sigma_max) ** 2
        T = _f64(self.sigma_max)
        return torch.expm1(self._int_beta(t)) / torch.expm1(self._int_beta(T))

    # ---- the bridge marginal ------------------------------------------------------------------

    def marginal_coefficients(self, t: TimeLike) -> tuple[Tensor, Tensor, Tensor]:
        """(a_t, b_t, c_t) with x_t = a_t xT + b_t x0 + c_t eps."""
        t = _f64(t)
        alpha, sigma = self.alpha_sigma(t)
        alpha_T, _ = self.alpha_sigma(self.sigma_max)
        r = self._snr_ratio(t)
        a = alpha / alpha_T * r
        b = alpha * (1 - r)
        c = sigma * torch.sqrt((1 - r).clamp_min(0))
        return a, b, c

    def marginal(self, x0: Tensor, xT: Tensor, t: TimeLike) -> tuple[Tensor, Tensor]:
        """Mean and std of q(x_t | x0, xT); the std is per sample, shaped to broadcast."""
        a, b, c = self.marginal_coefficients(t)
        return _bcast(a, x0) * xT + _bcast(b, x0) * x0, _bcast(c, x0)

    def prior(self, xT: Tensor, noise: Tensor) -> Tensor:
        """Where sampling starts at t = T: the source latent itself for a bridge, T * noise for diffusion."""
        return self.sigma_max * noise if self.kind == "diffusion" else xT

    @property
    def needs_prior_noise(self) -> bool:
        return self.kind == "diffusion"

    def sample_marginal(self, x0: Tensor, xT: Tensor, t: TimeLike, noise: Tensor) -> Tensor:
        mean, std = self.marginal(x0, xT, t)
        return mean + std * noise

    # ---- preconditioning and loss weights -------------------------------------------------------

    def scalings(self, t: TimeLike) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """c_skip, c_out, c_in, c_noise at time t (float64)."""
        t = _f64(t)
        a, b, c = self.marginal_coefficients(t)
        s0, sT, cov = self.sigma_data, self.sigma_data_end, self.cov_xy
        var_xt = a**2 * sT**2 + b**2 * s0**2 + 2 * a * b * cov + c**2
        c_in = torch.rsqrt(var_xt)
        c_skip = (b * s0**2 + a * cov) / var_xt
        c_out = torch.sqrt(a**2 * (s0**2 * sT**2 - cov**2) + s0**2 * c**2) * c_in
        c_noise = 0.25 * torch.log(t)
        return c_skip, c_out, c_in, c_noise

    def loss_weight(self, t: TimeLike, weighting: Literal["karras", "uniform"] = "karras") -> Tensor:
        """lambda(t) for the denoising loss lambda(t) ||D - x0||^2.

        "karras" is 1 / c_out^2 (EDM/DDBM): the network's own target then has unit variance.
        "uniform" weighs every time equally in latent space.
        """
        t = _f64(t)
        if weighting == "karras":
            return self.scalings(t)[1] ** -2
        if weighting == "uniform":
            return torch.ones_like(t)
        raise ValueError(f"Unknown loss weighting {weighting!r}; use 'karras' or 'uniform'.")

    def denoise(self, net: Callable[..., Tensor], x_t: Tensor, t: TimeLike, xT: Tensor) -> Tensor:
        """D(x_t, t, xT) = c_skip x_t + c_out net(c_in x_t, c_noise, xT): the one wrapper.

        ``t`` is a scalar or a (B,) tensor; the network never sees sigma_data. On the
        ``shared_channels`` D is xT itself.
        """
        t = _f64(t).to(x_t.device)
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        c_skip, c_out, c_in, c_noise = self.scalings(t)
        out = net(_bcast(c_in, x_t) * x_t, c_noise.to(x_t.dtype), xT)
        denoised = _bcast(c_skip, x_t) * x_t + _bcast(c_out, x_t) * out
        k = self.shared_channels
        return denoised if k == 0 else torch.cat([xT[:, :k], denoised[:, k:]], dim=1)

    # ---- training times -----------------------------------------------------------------------

    def sample_t(
        self,
        n: int,
        mode: Literal["uniform", "karras", "endpoint"] = "uniform",
        rho: float = 7.0,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Training times in [sigma_min, sigma_max).

        "uniform" draws t uniformly (DDBM); "karras" draws uniformly in t^(1/rho), the density
        that the sampler's Karras schedule visits; "endpoint" always returns T, where x_t = xT, so
        the denoiser becomes a one-step regressor xT -> x0 (the deterministic baseline).
        """
        if mode == "endpoint":
            return torch.full((n,), self.sigma_max, dtype=torch.float64, device=device)
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=device)
        if mode == "uniform":
            return self.sigma_min + u * (self.sigma_max - self.sigma_min)
        if mode == "karras":
            lo, hi = self.sigma_min ** (1 / rho), self.sigma_max ** (1 / rho)
            return (hi + u * (lo - hi)) ** rho
        raise ValueError(f"Unknown time sampling {mode!r}; use 'uniform', 'karras' or 'endpoint'.")

    def karras_times(self, n: int, t_max: float | None = None, rho: float = 7.0) -> Tensor:
        """n times from t_max (default T) down to sigma_min, spaced uniformly in t^(1/rho)."""
        t_max = self.sigma_max if t_max is None else t_max
        if n == 1:
            return _f64([t_max])
        ramp = torch.linspace(0, 1, n, dtype=torch.float64)
        lo, hi = self.sigma_min ** (1 / rho), t_max ** (1 / rho)
        return (hi + ramp * (lo - hi)) ** rho

    # ---- reverse dynamics -----------------------------------------------------------------------

    def h(self, x_t: Tensor, t: TimeLike, xT: Tensor) -> Tensor:
        """grad_{x_t} log p(xT | x_t), the Doob h-transform term (singular at t = T; 0 for diffusion)."""
        if self.kind == "diffusion":
            return torch.zeros_like(x_t)
        t = _f64(t)
        alpha, sigma = self.alpha_sigma(t)
        alpha_T, sigma_T = self.alpha_sigma(self.sigma_max)
        k = alpha_T / alpha  # p(xT | x_t) = N(k x_t, sigma_T^2 - k^2 sigma_t^2)
        var = sigma_T**2 - k**2 * sigma**2
        return _bcast(k / var, x_t) * (xT - _bcast(k, x_t) * x_t)

    def kernel_score(self, x_t: Tensor, t: TimeLike, x0: Tensor) -> Tensor:
        """grad_{x_t} log q(x_t | x0) of the unconditional forward process."""
        alpha, sigma = self.alpha_sigma(t)
        return (_bcast(alpha, x_t) * x0 - x_t) / _bcast(sigma**2, x_t)

    def drift(self, x_t: Tensor, t: TimeLike, denoised: Tensor, xT: Tensor, guidance: float = 1.0) -> Tensor:
        """dx/dt of the probability-flow ODE, with D = denoised.

        The bridge score is s = kernel_score(x_t | D) + h, so the drift f x - g^2 (s / 2 - w h) is
        computed as f x - g^2 (kernel_score / 2 + (1/2 - w) h). (The reverse SDE is stepped exactly
        given D by ``transition``, so it needs no drift of its own.)
        """
        f, g2 = self.f_g2(t)
        k = 0.5
        score_part = k * self.kernel_score(x_t, t, denoised)
        h_weight = k - guidance
        if h_weight != 0:
            score_part = score_part + h_weight * self.h(x_t, t, xT)
        return _bcast(f, x_t) * x_t - _bcast(g2, x_t) * score_part

    def transition_std(self, s: TimeLike, t: TimeLike) -> Tensor:
        """Std of the bridge's own transition q(x_s | x_t, x0, xT) for s < t (DDPM-like step).

        Cov(x_s, x_t | x0, xT) = (alpha_t / alpha_s) sigma_s^2 (1 - r_t), hence
        Var = c_s^2 - ((alpha_t sigma_s^2) / (alpha_s sigma_t))^2 (1 - r_t). At t = T it is c_s.
        """
        s, t = _f64(s), _f64(t)
        alpha_s, sigma_s = self.alpha_sigma(s)
        alpha_t, sigma_t = self.alpha_sigma(t)
        _, _, c_s = self.marginal_coefficients(s)
        var = c_s**2 - (alpha_t * sigma_s**2 / (alpha_s * sigma_t)) ** 2 * (1 - self._snr_ratio(t))
        return var.clamp_min(0).sqrt()

    def transition(self, x_t: Tensor, t: TimeLike, s: TimeLike, denoised: Tensor, xT: Tensor, eta: float,
                   noise: Callable[[], Tensor]) -> Tensor:
        """x_s for s < t from q(x_s | x_t, x0 = D, xT), the bridge's own Gaussian step (DBIM's update).

        The noise implied by D is reused in the share that keeps x_s's marginal std c_s, and fresh
        noise of std ``eta`` * transition_std is added: eta = 1 is ancestral sampling (the exact
        reverse-SDE step given D, for any step size), eta = 0 is deterministic.
        """
        mean, c_s = self.marginal(denoised, xT, s)
        _, _, c_t = self.marginal_coefficients(t)
        rho = eta * _bcast(self.transition_std(s, t), x_t)
        x_s = mean
        if float(c_t) > 0:  # at t = T the bridge is a point and carries no noise to reuse
            x_s = x_s + (c_s**2 - rho**2).clamp_min(0).sqrt() * self.posterior_noise(x_t, t, denoised, xT)
        if eta > 0:
            x_s = x_s + rho * noise()
        return x_s

    def posterior_noise(self, x_t: Tensor, t: TimeLike, denoised: Tensor, xT: Tensor) -> Tensor:
        """eps_hat = (x_t - a_t xT - b_t D) / c_t: the noise implied by D (DBIM's update)."""
        mean, std = self.marginal(denoised, xT, t)
        return (x_t - mean) / std

