"""BridgeScheduler: time schedules and update rules for sampling a diffusion bridge.

It owns no network. The pipeline loop follows diffusers' contract::

    scheduler.set_timesteps(steps, sampler="heun")
    x = x_T
    for t in scheduler.timesteps:              # one entry per network evaluation
        denoised = scheduler.bridge.denoise(net, x, t, x_T)
        x = scheduler.step(denoised, t, x, source=x_T, generator=g).prev_sample

Two samplers:

- ``"heun"``: DDBM's sampler (arXiv 2309.16948, Alg. 1). Karras times t_0 = T - t_max_offset >
  ... > t_{N-1} = sigma_min, then 0. Each step optionally takes an Euler-Maruyama step of the
  reverse SDE from t_i to t_hat = t_i + churn (t_{i+1} - t_i), then a Heun step of the
  probability-flow ODE from t_hat to t_{i+1} (plain Euler on the last step, into t = 0).
  NFE = 2N - 1 without churn (40 steps: 79), 3N - 1 with it.
- ``"fast"``: the diffusion bridge implicit sampler (DBIM, arXiv 2405.15885). Times from T
  down to sigma_min; the first step re-noises ("booting noise") because the bridge is a point
  at T, later steps reuse the noise implied by the denoiser, mixed with fresh noise in the
  fraction ``churn`` (eta; 0 is deterministic after the boot). NFE = N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from diffusers import ConfigMixin, SchedulerMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from .bridge import Bridge, _bcast

__all__ = ["BridgeScheduler", "BridgeSchedulerOutput", "ConfigMixin", "SchedulerMixin"]

SAMPLERS = ("heun", "fast")


@dataclass
class BridgeSchedulerOutput(BaseOutput):
    prev_sample: torch.Tensor  # x at the next time of the plan
    denoised: torch.Tensor  # the x0 estimate this step used


@dataclass(frozen=True)
class _Eval:
    """One network evaluation of the plan and what to do with its output."""

    phase: Literal["sde", "euler", "heun", "dbim"]
    t: float  # where the network is evaluated
    t_to: float | None  # where the update lands (None: the last DBIM step returns D)
    t_from: float = 0.0  # heun only: the time of the Euler step it corrects


class BridgeScheduler(SchedulerMixin, ConfigMixin):
    config_name = "scheduler_config.json"
    order = 1

    @register_to_config
    def __init__(
        self,
        kind: str = "ve",
        sigma_min: float = 0.002,
        sigma_max: float = 80.0,
        sigma_data: float = 0.5,
        sigma_data_end: float = 0.5,
        cov_xy: float = 0.0,
        beta_d: float = 2.0,
        beta_min: float = 0.1,
        rho: float = 7.0,
        sampler: str = "heun",
        num_inference_steps: int = 40,
        guidance: float = 1.0,
        churn: float = 0.0,
        t_max_offset: float = 1e-4,
        shared_channels: int = 0,
    ):
        self.bridge = Bridge(kind, sigma_min, sigma_max, sigma_data, sigma_data_end, cov_xy, beta_d, beta_min,
                             shared_channels)
        self._check(sampler, num_inference_steps, churn)
        if not 0 < t_max_offset < sigma_max - sigma_min:
            raise ValueError("t_max_offset must be positive and smaller than sigma_max - sigma_min.")
        self.set_timesteps()

    @staticmethod
    def _check(sampler: str, steps: int, churn: float) -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"Unknown sampler {sampler!r}; choose one of {SAMPLERS}.")
        if int(steps) != steps or steps < 1:
            raise ValueError(f"num_inference_steps must be a positive integer, got {steps!r}.")
        if not 0.0 <= churn <= 1.0:
            raise ValueError(f"churn must lie in [0, 1], got {churn!r}.")

    @property
    def num_function_evals(self) -> int:
        """Network evaluations of one sampling run with the current plan."""
        return len(self._plan)

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: torch.device | str | None = None,
        sampler: str | None = None,
        guidance: float | None = None,
        churn: float | None = None,
    ) -> None:
        """Plan a sampling run; arguments left as None take the config's defaults."""
        cfg = self.config
        steps = int(cfg.num_inference_steps if num_inference_steps is None else num_inference_steps)
        self.sampler = cfg.sampler if sampler is None else sampler
        self.guidance = float(cfg.guidance if guidance is None else guidance)
        self.churn = float(cfg.churn if churn is None else churn)
        self._check(self.sampler, steps, self.churn)
        self.num_inference_steps = steps
        self._plan = self._heun_plan(steps) if self.sampler == "heun" else self._dbim_plan(steps)
        self.timesteps = torch.tensor([e.t for e in self._plan], dtype=torch.float64, device=device)
        self._step_index = 0
        self._heun_state: tuple[torch.Tensor, torch.Tensor] | None = None

    def _heun_plan(self, steps: int) -> list[_Eval]:
        ts = self.bridge.karras_times(steps, self.bridge.sigma_max - self.config.t_max_offset, self.config.rho)
        ts = ts.tolist() + [0.0]
        plan: list[_Eval] = []
        for t, t_next in zip(ts[:-1], ts[1:]):
            t_hat = t + self.churn * (t_next - t)
            if t_hat != t:
                plan.append(_Eval("sde", t, t_hat))
            plan.append(_Eval("euler", t_hat, t_next))
            if t_next > 0:
                plan.append(_Eval("heun", t_next, t_next, t_from=t_hat))
        return plan

    def _dbim_plan(self, steps: int) -> list[_Eval]:
        ts = self.bridge.karras_times(steps, rho=self.config.rho).tolist()
        return [_Eval("dbim", t, t_next) for t, t_next in zip(ts, ts[1:] + [None])]

    def step(
        self,
        model_output: torch.Tensor,
        timestep: float | torch.Tensor,
        sample: torch.Tensor,
        source: torch.Tensor,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
    ) -> BridgeSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        """Advance ``sample`` by one entry of the plan.

        model_output: the denoised estimate D(sample, timestep, source) (not the raw network
        output: see ``Bridge.denoise``). source: the source latent x_T the bridge ends at.
        """
        if self._step_index >= len(self._plan):
            raise RuntimeError("The sampling plan is finished; call set_timesteps() before sampling again.")
        ev = self._plan[self._step_index]
        if abs(float(timestep) - ev.t) > 1e-6 * max(1.0, ev.t):
            raise ValueError(f"step() expected timestep {ev.t:.6g} (entry {self._step_index}), got {float(timestep):.6g}.")
        prev = getattr(self, f"_step_{ev.phase}")(ev, model_output, sample, source, generator)
        self._step_index += 1
        if not return_dict:
            return prev, model_output
        return BridgeSchedulerOutput(prev_sample=prev, denoised=model_output)

    def _noise(self, like: torch.Tensor, generator) -> torch.Tensor:
        return randn_tensor(like.shape, generator=generator, device=like.device, dtype=like.dtype)

    # ---- Heun (DDBM) ---------------------------------------------------------------------------

    def _step_sde(self, ev: _Eval, denoised, x, source, generator):
        d = self.bridge.drift(x, ev.t, denoised, source, self.guidance, stochastic=True)
        dt = ev.t_to - ev.t
        _, g2 = self.bridge.f_g2(ev.t)
        return x + d * dt + _bcast((g2 * abs(dt)).sqrt(), x) * self._noise(x, generator)

    def _step_euler(self, ev: _Eval, denoised, x, source, generator):
        d = self.bridge.drift(x, ev.t, denoised, source, self.guidance)
        if ev.t_to > 0:
            self._heun_state = (x, d)
        return x + d * (ev.t_to - ev.t)

    def _step_heun(self, ev: _Eval, denoised, x, source, generator):
        x_hat, d_hat = self._heun_state
        d = self.bridge.drift(x, ev.t, denoised, source, self.guidance)
        return x_hat + 0.5 * (d_hat + d) * (ev.t - ev.t_from)

    # ---- DBIM ------------------------------------------------------------------------------------

    def _step_dbim(self, ev: _Eval, denoised, x, source, generator):
        if ev.t_to is None:
            return denoised
        mean, c_s = self.bridge.marginal(denoised, source, ev.t_to)
        _, _, c_t = self.bridge.marginal_coefficients(ev.t)
        rho = self.churn * _bcast(self.bridge.transition_std(ev.t_to, ev.t), x)
        x_s = mean
        if float(c_t) > 0:  # at t = T the bridge is a point and carries no noise to reuse
            x_s = x_s + (c_s**2 - rho**2).clamp_min(0).sqrt() * self.bridge.posterior_noise(x, ev.t, denoised, source)
        if self.churn > 0:
            x_s = x_s + rho * self._noise(x, generator)
        return x_s
