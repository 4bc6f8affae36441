"""BridgeScheduler: time schedules and update rules for sampling a diffusion bridge.

It owns no network. The pipeline loop follows diffusers' contract::

    scheduler.set_timesteps(steps, sampler="heun")
    x = x_T
    for t in scheduler.timesteps:              # one entry per network evaluation
        denoised = scheduler.bridge.denoise(net, x, t, x_T)
        x = scheduler.step(denoised, t, x, source=x_T, generator=g).prev_sample

The samplers and their options live in ``lddbm.samplers`` (one registry); the bridge's parameters
are the ``lddbm.bridge.Bridge`` dataclass, stored in the config as one ``bridge`` dict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, SchedulerMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from .bridge import Bridge
from .errors import ConfigError
from .samplers import OPTIONS, SAMPLERS, canonical_name, migrate_sampling

__all__ = ["BridgeScheduler", "BridgeSchedulerOutput", "ConfigMixin", "SchedulerMixin"]


@dataclass
class BridgeSchedulerOutput(BaseOutput):
    prev_sample: torch.Tensor  # x at the next time of the plan
    denoised: torch.Tensor  # the x0 estimate this step used


def migrate_config(config: dict) -> dict:
    """A scheduler config of any earlier layout in today's: the bridge's fields (once flat keys)
    gathered into ``bridge``, and deprecated sampler names resolved (``lddbm.samplers``)."""
    config = dict(config)
    names = [f.name for f in dataclasses.fields(Bridge)]
    flat = {k: config.pop(k) for k in names if k in config}
    if flat:
        config["bridge"] = {**flat, **dict(config.get("bridge") or {})}
    if "sampler" in config:
        config.update(migrate_sampling({k: config[k] for k in ("sampler", "churn") if k in config}))
    return config


class BridgeScheduler(SchedulerMixin, ConfigMixin):
    config_name = "scheduler_config.json"
    order = 1

    @register_to_config
    def __init__(
        self,
        bridge: dict | None = None,  # lddbm.bridge.Bridge's fields (keyword); None: its defaults
        # The sampling settings: declared here only. A preset's ``sampling`` section (lddbm.presets.SamplingConfig)
        # is made from these arguments (``num_inference_steps`` named ``steps``) and exported as this config.
        sampler: str = "heun",  # a name in lddbm.samplers.SAMPLERS (heun, dbim)
        num_inference_steps: int = 40,
        guidance: float = OPTIONS["guidance"].default,  # heun: DDBM's w on the h-transform term; 1 is the exact bridge
        churn: float = OPTIONS["churn"].default,  # heun: share of each step taken by the reverse SDE
        eta: float = OPTIONS["eta"].default,  # dbim: share of fresh noise per step
        # the pipeline's default guidance weight of the source condition (lddbm.guidance; a denoiser trained with
        # source dropout): 1 = the plain conditional denoiser, 0 = the unconditioned one, still on the bridge
        source_scale: float = 1.0,
        # the pipeline's default bridge samples per returned translation, the one best aligned with its source
        # kept (re-ranking in the contrastive space; NFE grows with it)
        num_candidates: int = 1,
        rho: float = 7.0,  # Karras schedule exponent
        t_max_offset: float = 1e-4,  # heun starts at T - t_max_offset (h is singular at T)
    ):
        self.bridge = Bridge(**(bridge or {}))
        self.register_to_config(bridge=dataclasses.asdict(self.bridge))  # every field, so the config describes it
        if not 0 < t_max_offset < self.bridge.sigma_max - self.bridge.sigma_min:
            raise ValueError("t_max_offset must be positive and smaller than sigma_max - sigma_min.")
        self.set_timesteps()

    @classmethod
    def from_config(cls, config=None, return_unused_kwargs=False, **kwargs):
        """diffusers' from_config (used by from_pretrained), reading older config layouts too."""
        if config is not None:
            config = migrate_config(config)
        return super().from_config(config, return_unused_kwargs=return_unused_kwargs, **kwargs)

    @property
    def num_function_evals(self) -> int:
        """Network evaluations of one sampling run with the current plan."""
        return len(self._plan)

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: torch.device | str | None = None,
        sampler: str | None = None,
        **options: float | None,
    ) -> None:
        """Plan a sampling run. Arguments left as None take the config's defaults; ``options`` are
        the sampler's own (``guidance``, ``churn`` for heun; ``eta`` for dbim); one the chosen
        sampler does not read is an error."""
        cfg = self.config
        steps = cfg.num_inference_steps if num_inference_steps is None else num_inference_steps
        if int(steps) != steps or steps < 1:
            raise ConfigError(f"num_inference_steps must be a positive integer, got {steps!r}.")
        name = canonical_name(cfg.sampler if sampler is None else sampler)
        given = {k: v for k, v in options.items() if v is not None}
        cls = SAMPLERS[name]
        values = {k: given.pop(k, cfg[k]) for k in cls.options}
        self._sampler = cls(self.bridge, cfg.rho, cfg.t_max_offset, **values, **given)  # leftovers: an error
        self.sampler, self.num_inference_steps = name, int(steps)
        self._plan = self._sampler.plan(self.num_inference_steps)
        self.timesteps = torch.tensor([e.t for e in self._plan], dtype=torch.float64, device=device)
        self._step_index = 0

    @property
    def options(self) -> dict[str, float]:
        """The current run's sampler options, e.g. {"guidance": 1.0, "churn": 0.0}."""
        return dict(self._sampler.values)

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

        def noise() -> torch.Tensor:
            return randn_tensor(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)

        prev = self._sampler.step(ev, model_output, sample, source, noise)
        self._step_index += 1
        if not return_dict:
            return prev, model_output
        return BridgeSchedulerOutput(prev_sample=prev, denoised=model_output)
