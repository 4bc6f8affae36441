"""Named training configurations: typed dataclasses, one preset per task.

Every field has a default and is read somewhere in lddbm/ (tests/test_presets.py checks). Override
any field from the command line with a dotted key, e.g. ``--train.steps 2000 --loss.strategy whole``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from .bridge import Bridge
from .errors import ConfigError
from .samplers import OPTIONS, canonical_name, migrate_sampling


@dataclass
class LatentConfig:
    channels: int = 4
    size: int = 4  # the shared latent is (channels, size, size)
    width: int = 32  # base width of the modality encoders/decoders


@dataclass
class DenoiserConfig:
    patch_size: int = 1
    hidden_size: int = 128
    depth: int = 4
    encoder_depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    num_mask_tokens: int = 4
    num_classes: int = 0  # > 0: the denoiser also takes a class label (the data's "label"; lddbm.guidance)


def _check_sampling(self) -> None:
    self.sampler = canonical_name(self.sampler)
    for name in ("guidance", "churn", "eta"):
        OPTIONS[name].check(getattr(self, name))
    if int(self.num_candidates) != self.num_candidates or self.num_candidates < 1:
        raise ConfigError(f"sampling.num_candidates must be a whole number of at least 1, got {self.num_candidates!r}.")


SAMPLING_RENAMED = {"num_inference_steps": "steps"}  # BridgeScheduler argument -> SamplingConfig field


def _sampling_fields() -> list[tuple[str, Any, Any]]:
    """SamplingConfig's fields: BridgeScheduler's sampling arguments, their types and defaults, read from its
    signature (diffusers saves that signature as the scheduler's config, so it is the one declaration)."""
    from .scheduler import BridgeScheduler

    return [(SAMPLING_RENAMED.get(name, name), param.annotation, field(default=param.default))
            for name, param in inspect.signature(BridgeScheduler.__init__).parameters.items()
            if name not in ("self", "bridge")]


# The exported BridgeScheduler's defaults (what the pipeline uses when not told): its sampling arguments,
# ``num_inference_steps`` named ``steps``; see BridgeScheduler.__init__ for what each one does.
SamplingConfig = dataclasses.make_dataclass(
    "SamplingConfig", _sampling_fields(), namespace={"__post_init__": _check_sampling, "__module__": __name__,
                                                    "__doc__": "A preset's sampling section: BridgeScheduler's "
                                                               "sampling arguments (``steps`` = num_inference_steps)."})


@dataclass
class LossConfig:
    strategy: Literal["whole", "iterative"] = "iterative"  # iterative: auxiliary losses every k steps
    every_k: int = 4  # the paper's k
    bridge_weight: float = 1.0
    contrastive_weight: float = 0.1
    predictive_weight: float = 1.0
    reconstruction_weight: float = 1.0
    temperature: float = 0.07  # InfoNCE temperature (official value)
    pose_weight: float = 0.0  # the lifting encoder's camera estimate against the renderer's cameras (objects3d_lift)
    t_sampling: Literal["uniform", "karras", "endpoint"] = "uniform"  # endpoint: t = T, a plain regressor
    weighting: Literal["karras", "uniform"] = "karras"  # lambda(t) of the bridge loss
    # the bridge loss takes z0 as a fixed target (stop-gradient), so only the data-space and contrastive
    # losses train the target encoder: otherwise it can shrink z0's variation across samples to a pattern
    # the bridge predicts easily (seen on digits: 96 % of z0's variance the same for every image)
    detach_target: bool = False
    # condition dropout for classifier-free guidance (lddbm.guidance): the share of training samples
    # whose source is replaced by "no source" (the zero latent) / whose label by "no label"
    source_dropout: float = 0.0
    label_dropout: float = 0.0


@dataclass
class TrainConfig:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    # warm-up, constant, then a linear cool-down to zero over the last decay_steps of train.steps
    # (warmup-stable-decay); 0 = constant after the warm-up. Raising train.steps and decay_steps on a
    # --resume anneals a run that has stopped at a constant rate.
    decay_steps: int = 0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    seed: int = 0
    log_every: int = 25
    eval_every: int = 500
    save_every: int = 500
    eval_size: int = 256  # validation samples per periodic evaluation
    eval_steps: int = 10  # sampler steps used by periodic evaluation
    export_dtype: Literal["float32", "float16"] = "float32"
    max_minutes: float = 0.0  # stop (and save) after this much training wall time; 0 = no limit


PRESETS: dict[str, Callable[[], "Preset"]] = {}  # filled by the task packages (lddbm.tasks.register)
DATA_CONFIGS: dict[str, type] = {}  # data kind -> the dataclass of preset.data for it (likewise)


def register_presets(presets: dict[str, Callable[[], "Preset"]], data_configs: dict[str, type]) -> None:
    """Make presets and data configs known (a task package's, through ``lddbm.tasks.register``)."""
    clash = (set(presets) & set(PRESETS)) | (set(data_configs) & set(DATA_CONFIGS))
    if clash:
        raise ConfigError(f"Registered twice: {', '.join(sorted(clash))}.")
    PRESETS.update(presets)
    DATA_CONFIGS.update(data_configs)


@dataclass
class Preset:
    name: str = "synthetic"
    data: Any = None  # a registered data config (DATA_CONFIGS); None: the synthetic task's defaults
    latent: LatentConfig = field(default_factory=LatentConfig)
    bridge: Bridge = field(default_factory=Bridge)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.data is None:
            self.data = DATA_CONFIGS["synthetic"]()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preset":
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            if f.name == "data" and d[f.name]["kind"] not in DATA_CONFIGS:
                raise ConfigError(f"Unknown data kind {d[f.name]['kind']!r}; known: {', '.join(sorted(DATA_CONFIGS))}.")
            sub = DATA_CONFIGS[d[f.name]["kind"]] if f.name == "data" else hints[f.name]
            value = migrate_sampling(d[f.name]) if f.name == "sampling" else d[f.name]  # older names
            kwargs[f.name] = sub(**value) if dataclasses.is_dataclass(sub) else value
        return cls(**kwargs)


def regression_baseline(p: Preset) -> Preset:
    """The deterministic baseline of a preset: the same networks trained only at t = T, where the
    bridge input is the source latent itself (zT -> z0 in one step), sampled with one step."""
    return dataclasses.replace(
        p, name=f"{p.name}_regression",
        loss=dataclasses.replace(p.loss, t_sampling="endpoint"),
        sampling=dataclasses.replace(p.sampling, sampler="dbim", steps=1),
        train=dataclasses.replace(p.train, eval_steps=1),  # only t = T was trained
    )


def diffusion_baseline(p: Preset) -> Preset:
    """The paper's other comparison for a preset: conditional diffusion from Gaussian noise to the target
    latent (EDM: VE noise, EDM preconditioning; ``Bridge(kind="diffusion")``), the source latent
    entering only as the transformer's condition. Same networks, losses and compute; training times
    drawn as the sampler visits them (``karras``), as EDM does, rather than uniformly."""
    return dataclasses.replace(
        p, name=f"{p.name}_diffusion",
        bridge=dataclasses.replace(p.bridge, kind="diffusion"),
        loss=dataclasses.replace(p.loss, t_sampling="karras"),
    )


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]()


def _convert(value: str, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"--{key} must be one of {', '.join(map(str, choices))}, got {value!r}.")
        return value
    args = typing.get_args(hint)
    if type(None) in args and len(args) == 2:  # Optional[X]: "none" or an X
        if value.lower() == "none":
            return None
        return _convert(value, next(a for a in args if a is not type(None)), key)
    if origin is tuple:  # tuple[float, ...]: comma-separated
        try:
            return tuple(args[0](v) for v in value.split(","))
        except (TypeError, ValueError):
            raise ConfigError(f"--{key} expects comma-separated numbers (or none), got {value!r}.") from None
    if hint is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"--{key} expects true or false, got {value!r}.")
        return value.lower() in ("true", "1", "yes")
    try:
        return hint(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--{key} expects a {getattr(hint, '__name__', hint)}, got {value!r}.") from None


def apply_overrides(preset: Preset, overrides: dict[str, str]) -> Preset:
    """Return a copy of ``preset`` with dotted-key overrides such as {"train.steps": "200"}."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        known = [f.name for f in dataclasses.fields(Preset) if f.name != "name"]
        if section not in known or not name:
            raise ConfigError(f"Unknown option --{key}; options look like --SECTION.FIELD with SECTION in {known}.")
        sub_hints = typing.get_type_hints(type(getattr(preset, section)))
        if name not in sub_hints:
            raise ConfigError(f"Unknown option --{key}; {section} has fields {', '.join(sub_hints)}.")
        sections.setdefault(section, {})[name] = _convert(value, sub_hints[name], key)
    return dataclasses.replace(
        preset, **{s: dataclasses.replace(getattr(preset, s), **kv) for s, kv in sections.items()}
    )


def save_preset(preset: Preset, path: str | Path) -> None:
    Path(path).write_text(json.dumps(preset.to_dict(), indent=2) + "\n")


def load_preset(path: str | Path) -> Preset:
    return Preset.from_dict(json.loads(Path(path).read_text()))
