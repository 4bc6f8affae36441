"""Bridge samplers: the one registry that the scheduler, presets, command line and web demo read.

A sampler turns a step count into a *plan*, one entry per network evaluation, and advances the
sample by one entry given the denoised estimate D at that entry. It owns no network and reads the
bridge maths from ``lddbm.bridge``. Adding a sampler is one class here::

    @register
    class MySampler(Sampler):
        name = "mine"
        summary = "one line for menus and --help"
        options = ("eta",)                  # the OPTIONS it reads
        stochastic_option = "eta"           # the one a "randomness" control sets (or None)

        def plan(self, steps): ...          # -> list[Evaluation]
        def step(self, ev, denoised, x, source, noise): ...  # -> x at ev.t_to

Samplers:

- ``heun``: DDBM's sampler (arXiv 2309.16948, Alg. 1). Karras times t_0 = T - t_max_offset >
  ... > t_{N-1} = sigma_min, then 0. Each step optionally takes a step of the reverse SDE from
  t_i to t_hat = t_i + churn (t_{i+1} - t_i), then a Heun step of the probability-flow ODE from
  t_hat to t_{i+1} (plain Euler on the last step, into t = 0, which is never churned).
  The SDE sub-step is the bridge's exact Gaussian transition given D (ancestral sampling, see
  ``Bridge.transition``), not DDBM's Euler-Maruyama step: at the large early Karras steps (VE,
  T = 80) Euler-Maruyama overshoots the bridge's variance — with the exact denoiser of a Gaussian
  toy, 10 steps at churn 0.33 gave samples 22 % too wide, and the shipped 3D model's latents
  came out with std 0.78 instead of 0.5, decoding to broken shapes (IoU 0.27 against 0.46; with
  this step 0.71 and 0.29 — the rest was that model's denoiser at low t, see the README).
  NFE = 2N - 1 without churn (40 steps: 79), 3N - 2 with it. Reads ``guidance`` (DDBM's w; it
  scales the h-term of the ODE steps) and ``churn`` (the SDE sub-step ratio).
- ``dbim``: the diffusion bridge implicit sampler (DBIM, arXiv 2405.15885). Times from T down to
  sigma_min; the first step re-noises ("booting noise") because the bridge is a point at T, later
  steps reuse the noise implied by the denoiser, mixed with fresh noise in the fraction ``eta``
  (0 is deterministic after the boot). NFE = N. Called ``fast`` before 2026-11; the old name is
  accepted with a deprecation warning (and its ``churn`` read as ``eta``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch

from .bridge import Bridge
from .errors import ConfigError

__all__ = ["OPTIONS", "SAMPLERS", "Evaluation", "Option", "Sampler", "canonical_name", "get_sampler",
           "migrate_sampling", "register", "stochastic_options"]


@dataclass(frozen=True)
class Option:
    """A sampling option: its default, range and meaning (one declaration for every consumer)."""

    name: str
    default: float
    low: float
    high: float
    help: str

    def check(self, value: float) -> float:
        value = float(value)
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise ConfigError(f"{self.name} must lie in [{self.low:g}, {self.high:g}], got {value!r}.")
        return value


OPTIONS: dict[str, Option] = {
    "guidance": Option("guidance", 1.0, -10.0, 10.0, "heun: DDBM's weight w on the h-transform term (1 = the exact bridge)"),
    "churn": Option("churn", 0.0, 0.0, 1.0, "heun: share of each step taken by the reverse SDE (0 = deterministic ODE)"),
    "eta": Option("eta", 0.0, 0.0, 1.0, "dbim: share of fresh noise in each step (0 = deterministic after the first step)"),
}


@dataclass(frozen=True)
class Evaluation:
    """One network evaluation of a plan and the update that follows it."""

    kind: str  # the sampler's own label for the update
    t: float  # where the network is evaluated
    t_to: float | None  # where the update lands (None: return D itself)
    t_from: float = 0.0  # heun's corrector: the time of the Euler step it corrects


class Sampler:
    """One sampling run: the plan and the per-run state. Subclasses declare the class attributes."""

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[tuple[str, ...]]
    stochastic_option: ClassVar[str | None]

    def __init__(self, bridge: Bridge, rho: float, t_max_offset: float, **options: float):
        unknown = set(options) - set(self.options)
        if unknown:
            raise ConfigError(f"The {self.name} sampler has no option {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(self.options) or 'none'}.")
        self.bridge, self.rho, self.t_max_offset = bridge, rho, t_max_offset
        self.values = {k: OPTIONS[k].check(options.get(k, OPTIONS[k].default)) for k in self.options}

    def plan(self, steps: int) -> list[Evaluation]:
        raise NotImplementedError

    def step(self, ev: Evaluation, denoised: torch.Tensor, x: torch.Tensor, source: torch.Tensor,
             noise: Callable[[], torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


SAMPLERS: dict[str, type[Sampler]] = {}
ALIASES: dict[str, tuple[str, dict[str, str]]] = {"fast": ("dbim", {"churn": "eta"})}  # old name -> new, renamed options


def register(cls: type[Sampler]) -> type[Sampler]:
    unknown = set(cls.options) - set(OPTIONS)
    if unknown:
        raise ConfigError(f"Sampler {cls.name!r} reads undeclared options {sorted(unknown)}; add them to OPTIONS.")
    SAMPLERS[cls.name] = cls
    return cls


def canonical_name(name: str) -> str:
    """A sampler name, with deprecated aliases resolved (and warned about)."""
    if name in ALIASES:
        new, _ = ALIASES[name]
        warnings.warn(f"The sampler name {name!r} is deprecated; it is now called {new!r}.", FutureWarning, stacklevel=3)
        return new
    if name not in SAMPLERS:
        raise ConfigError(f"Unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}.")
    return name


def get_sampler(name: str) -> type[Sampler]:
    return SAMPLERS[canonical_name(name)]


def migrate_sampling(sampling: dict) -> dict:
    """A sampling config written before the rename ({"sampler": "fast", "churn": x}) in today's
    terms ({"sampler": "dbim", "eta": x}); other configs are returned unchanged."""
    name = sampling.get("sampler")
    if name not in ALIASES:
        return dict(sampling)
    new, renamed = ALIASES[name]
    warnings.warn(f"This configuration uses the deprecated sampler name {name!r} (now {new!r}); "
                  f"its {', '.join(f'{a} is read as {b}' for a, b in renamed.items())}. Re-save it to update.",
                  FutureWarning, stacklevel=3)
    out = {k: v for k, v in sampling.items() if k not in renamed}
    out.update({b: sampling[a] for a, b in renamed.items() if a in sampling})
    out["sampler"] = new
    return out


def stochastic_options(sampler: str, value: float) -> dict[str, float]:
    """The keyword that sets ``sampler``'s randomness to ``value`` (e.g. {"churn": 0.3}), for one
    "randomness" control that serves every sampler; {} for a deterministic sampler."""
    option = get_sampler(sampler).stochastic_option
    return {} if option is None else {option: value}


@register
class Heun(Sampler):
    name = "heun"
    summary = "DDBM's sampler: Heun steps of the probability-flow ODE (2 network calls per step), optional SDE churn"
    options = ("guidance", "churn")
    stochastic_option = "churn"

    def plan(self, steps: int) -> list[Evaluation]:
        ts = self.bridge.karras_times(steps, self.bridge.sigma_max - self.t_max_offset, self.rho).tolist() + [0.0]
        churn = self.values["churn"]
        plan: list[Evaluation] = []
        for t, t_next in zip(ts[:-1], ts[1:]):
            # no churn into t = 0: the last step returns D, and at t_hat = 0 the ODE's drift is undefined
            t_hat = t + churn * (t_next - t) if t_next > 0 else t
            if t_hat != t:
                plan.append(Evaluation("sde", t, t_hat))
            plan.append(Evaluation("euler", t_hat, t_next))
            if t_next > 0:
                plan.append(Evaluation("heun", t_next, t_next, t_from=t_hat))
        return plan

    def step(self, ev, denoised, x, source, noise):
        w = self.values["guidance"]
        if ev.kind == "sde":  # the reverse SDE from t to t_hat, taken exactly given D (ancestral step)
            return self.bridge.transition(x, ev.t, ev.t_to, denoised, source, 1.0, noise)
        d = self.bridge.drift(x, ev.t, denoised, source, w)
        if ev.kind == "euler":
            if ev.t_to > 0:
                self._euler = (x, d)  # what the corrector at t_to averages with
            return x + d * (ev.t_to - ev.t)
        x_hat, d_hat = self._euler
        return x_hat + 0.5 * (d_hat + d) * (ev.t - ev.t_from)


@register
class DBIM(Sampler):
    name = "dbim"
    summary = "diffusion bridge implicit sampler (DBIM): 1 network call per step, optional fresh noise eta"
    options = ("eta",)
    stochastic_option = "eta"

    def plan(self, steps: int) -> list[Evaluation]:
        ts = self.bridge.karras_times(steps, rho=self.rho).tolist()
        return [Evaluation("dbim", t, t_next) for t, t_next in zip(ts, ts[1:] + [None])]

    def step(self, ev, denoised, x, source, noise):
        if ev.t_to is None:
            return denoised
        return self.bridge.transition(x, ev.t, ev.t_to, denoised, source, self.values["eta"], noise)
