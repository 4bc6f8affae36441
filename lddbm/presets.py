"""Named training configurations: typed dataclasses, one preset per task.

Every field has a default and is read somewhere in lddbm/ (tests/test_presets.py checks). Override
any field from the command line with a dotted key, e.g. ``--train.steps 2000 --loss.strategy whole``.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .bridge import Bridge
from .errors import ConfigError
from .samplers import OPTIONS, canonical_name, migrate_sampling


@dataclass
class SyntheticData:
    """Vector -> image: an 8-d vector y = W u + noise describes a soft disc u = (cx, cy, r)."""

    kind: Literal["synthetic"] = "synthetic"
    source_dim: int = 8
    image_size: int = 16
    train_size: int = 4096
    val_size: int = 512
    noise: float = 0.02  # std of the noise added to the source vectors
    seed: int = 0  # seeds the data (W, discs, noise); the splits use disjoint streams


@dataclass
class MultiViewData:
    """Views -> voxels: the furniture set built here, or ShapeNet in the 3D-R2N2 layout."""

    kind: Literal["furniture", "shapenet"] = "furniture"
    root: str = "data/furniture"  # built furniture folder, or the folder holding ShapeNetRendering/ShapeNetVox32
    split_file: str = ""  # shapenet: a Pix2Vox-style split json (furniture: ROOT/split.json)
    num_views: int = 4  # views per object in training and evaluation
    image_size: int = 64  # views are resized to this for the encoder
    grid: int = 32  # voxel resolution
    # furniture: frame every view like an upload (lddbm.framing) at this object-box / side ratio;
    # stored in the encoder's config, so the pipeline frames users' views the same way. None: raw renders
    foreground_ratio: float | None = 0.75
    augment: bool = True  # furniture train split: random backgrounds, colour, blur/JPEG, imperfect masks, framing jitter
    augment_pool: int = 0  # > 0: that many augmented variants per training view, made once and cached (speed)
    backgrounds: str = "data/photos"  # photographs (build-data photos; train split) used as backgrounds; "" = none
    # the source encoder: "pooled" (one vector per view, MultiViewEncoder) or "lifting" (per-view features
    # back-projected into a volume along estimated cameras, LiftingEncoder; trains a camera estimate)
    encoder: Literal["pooled", "lifting"] = "pooled"


@dataclass
class PhotoData:
    """Low-resolution -> high-resolution photographs (built by ``build-data photos``)."""

    kind: Literal["photos"] = "photos"
    root: str = "data/photos"
    scale: int = 4  # the LR tile is hr_size // scale pixels
    hr_size: int = 128  # side of the HR training crops (and of the model's output tile)
    zoom: float = 2.0  # scale augmentation: half the crops cover up to zoom * hr_size pixels, downsized
    crops_per_epoch: int = 8192
    eval_crop: int = 256  # periodic evaluation: centre crops (HR pixels) of the training photographs
    degradation: Literal["bicubic", "realistic"] = "bicubic"  # how training inputs are made (lddbm/data/degradations.py)
    anchor_blocks: int = 0  # the LR encoder's anchor correction (LowResEncoder); needed when the input is not the clean anchor


@dataclass
class NovelViewData:
    """1-V views of an object + a requested camera -> the view from that camera (renders built by
    ``build-data furniture`` / ``objects``: 12 views per object with their cameras)."""

    kind: Literal["novelview"] = "novelview"
    root: str = "data/furniture"
    num_views: int = 4  # the most source views (the first is the reference the camera is relative to)
    image_size: int = 64  # source views and the target view, pixels
    foreground_ratio: float | None = 0.75  # source views framed like uploads (lddbm.framing); None: as rendered
    augment: bool = True  # train split: source views on random backgrounds, colour, blur/JPEG, imperfect masks
    backgrounds: str = "data/photos"  # photographs (build-data photos; train split) used as backgrounds; "" = none


@dataclass
class DigitsData:
    """Handwritten <-> printed digits, paired by class (``build-data digits``; lddbm/data/digits.py)."""

    kind: Literal["digits"] = "digits"
    root: str = "data/digits"
    direction: Literal["handwritten_to_printed", "printed_to_handwritten"] = "handwritten_to_printed"
    classifiers: str = "checkpoints/digits/classifiers"  # the judges (python -m lddbm digits-classifiers); eval only


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


@dataclass
class SamplingConfig:
    """Defaults of the exported BridgeScheduler (what the pipeline uses when not told)."""

    sampler: str = "heun"  # a name in lddbm.samplers.SAMPLERS (heun, dbim)
    steps: int = 40
    guidance: float = OPTIONS["guidance"].default  # heun: DDBM's w on the h-transform term; 1 is the exact bridge
    churn: float = OPTIONS["churn"].default  # heun: share of each step taken by the reverse SDE
    eta: float = OPTIONS["eta"].default  # dbim: share of fresh noise per step
    # guidance weight of the source condition (lddbm.guidance; a denoiser trained with source dropout):
    # 1 = the plain conditional denoiser, 0 = the unconditioned one, still on the bridge from the source latent
    source_scale: float = 1.0
    # bridge samples drawn per returned translation, the one best aligned with its source kept (the
    # pipeline's num_candidates: re-ranking in the contrastive space; NFE grows with it)
    num_candidates: int = 1
    rho: float = 7.0  # Karras schedule exponent
    t_max_offset: float = 1e-4  # heun starts at T - t_max_offset (h is singular at T)

    def __post_init__(self) -> None:
        self.sampler = canonical_name(self.sampler)
        for name in ("guidance", "churn", "eta"):
            OPTIONS[name].check(getattr(self, name))
        if int(self.num_candidates) != self.num_candidates or self.num_candidates < 1:
            raise ConfigError(f"sampling.num_candidates must be a whole number of at least 1, got {self.num_candidates!r}.")


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


DataConfig = SyntheticData | MultiViewData | PhotoData | NovelViewData | DigitsData
# data kind -> its config class, read off each class's ``kind`` Literal (a new data config joins DataConfig only)
DATA_CONFIGS: dict[str, type] = {kind: cls for cls in typing.get_args(DataConfig)
                                 for kind in typing.get_args(typing.get_type_hints(cls)["kind"])}


@dataclass
class Preset:
    name: str = "synthetic"
    data: DataConfig = field(default_factory=SyntheticData)
    latent: LatentConfig = field(default_factory=LatentConfig)
    bridge: Bridge = field(default_factory=Bridge)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preset":
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            sub = DATA_CONFIGS[d[f.name]["kind"]] if f.name == "data" else hints[f.name]
            value = migrate_sampling(d[f.name]) if f.name == "sampling" else d[f.name]  # older names
            kwargs[f.name] = sub(**value) if dataclasses.is_dataclass(sub) else value
        return cls(**kwargs)


def synthetic() -> Preset:
    """The quick CPU task: about a minute on two cores.

    Small networks, and every loss on every step ("whole"): with only 600 steps, the paper's
    iterative schedule would train the autoencoder and alignment on 150 of them. A stronger
    contrastive weight than the default made the bridge pick up the source sooner in our runs.
    """
    return Preset(
        name="synthetic",
        latent=LatentConfig(channels=4, size=4, width=16),
        denoiser=DenoiserConfig(patch_size=1, hidden_size=96, depth=3, encoder_depth=1, num_heads=4),
        loss=LossConfig(strategy="whole", contrastive_weight=1.0),
        train=TrainConfig(steps=600, batch_size=64, lr=1e-3, eval_every=200, save_every=200),
    )


def multiview3d() -> Preset:
    """4 views (64x64) -> 32^3 voxels on the furniture set; sized for CPU training."""
    return Preset(
        name="multiview3d",
        data=MultiViewData(),
        latent=LatentConfig(channels=16, size=8, width=16),
        denoiser=DenoiserConfig(patch_size=2, hidden_size=192, depth=4, encoder_depth=2, num_heads=4),
        sampling=SamplingConfig(sampler="heun", steps=10),
        loss=LossConfig(strategy="whole", contrastive_weight=0.5),
        # 3356 steps: the shipped run (105 min on one CPU thread, augmented views; validation IoU still rising)
        train=TrainConfig(steps=3356, batch_size=32, lr=5e-4, warmup_steps=200, ema_decay=0.999,
                          eval_every=500, save_every=250, eval_size=64, eval_steps=4, export_dtype="float16"),
    )


def regression_baseline(p: Preset) -> Preset:
    """The deterministic baseline of a preset: the same networks trained only at t = T, where the
    bridge input is the source latent itself (zT -> z0 in one step), sampled with one step."""
    return dataclasses.replace(
        p, name=f"{p.name}_regression",
        loss=dataclasses.replace(p.loss, t_sampling="endpoint"),
        sampling=dataclasses.replace(p.sampling, sampler="dbim", steps=1),
        train=dataclasses.replace(p.train, eval_steps=1),  # only t = T was trained
    )


def objects3d() -> Preset:
    """4 views -> 32^3 voxels on the multi-source objects set (``build-data objects --studio random``):
    the multiview3d networks, trained with times drawn as the sampler visits them (``karras``): with
    uniform times only 0.6 % of training fell below t = 0.5, the denoiser was worse there than at
    t = T (benchmarks/denoiser_by_time.py), and every stochastic sample fell apart."""
    p = multiview3d()
    return dataclasses.replace(
        p, name="objects3d",
        data=dataclasses.replace(p.data, root="data/objects"),
        loss=dataclasses.replace(p.loss, t_sampling="karras"),
        train=dataclasses.replace(p.train, steps=20_000),
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


def multiview3d_regression() -> Preset:
    return regression_baseline(multiview3d())


def multiview3d_diffusion() -> Preset:
    return diffusion_baseline(multiview3d())


def objects3d_lift() -> Preset:
    """``objects3d`` with the lifting source encoder (``lddbm.modalities.lifting``): per-view features
    back-projected into a 16^3 volume along cameras it estimates (trained against the renderer's), so
    the source latent lies cell by cell over the voxel latent. Trained for speed on 2 cores: augmented
    views from a pool of 4 per view (``lddbm.data.pool``) and bfloat16 autocast
    (benchmarks/train_profile.py)."""
    p = objects3d()
    return dataclasses.replace(
        p, name="objects3d_lift",
        data=dataclasses.replace(p.data, encoder="lifting", augment_pool=4),
        loss=dataclasses.replace(p.loss, pose_weight=1.0),
        train=dataclasses.replace(p.train, mixed_precision="bf16"),
    )


def objects3d_regression() -> Preset:
    return regression_baseline(objects3d())


def objects3d_diffusion() -> Preset:
    return diffusion_baseline(objects3d())


def novelview() -> Preset:
    """Novel views: 1-4 views (64x64) + (Δazimuth, elevation) -> the 64x64 view from that camera.

    The target latent is an image autoencoder's (8, 16, 16); the camera enters through the source
    encoder (``PosedViewsEncoder``), so the bridge runs from the source latent as in every task.
    The bridge is the digits' short one (VE, sigma_max 1, uniform times, z0 a stop-gradient target):
    with the image default (sigma_max 80, Karras times) 1,644 steps gave the same grey blob for every
    camera, below the copy baseline (README, "Views -> new views")."""
    return Preset(
        name="novelview",
        data=NovelViewData(),
        latent=LatentConfig(channels=8, size=16, width=16),  # width 16: the autoencoder's 64-px stage dominates CPU time
        bridge=Bridge(sigma_max=1.0),
        denoiser=DenoiserConfig(patch_size=2, hidden_size=192, depth=4, encoder_depth=2, num_heads=4),
        sampling=SamplingConfig(sampler="dbim", steps=4, eta=0.0),
        loss=LossConfig(strategy="whole", contrastive_weight=0.1, t_sampling="uniform", detach_target=True),
        train=TrainConfig(steps=3000, batch_size=24, lr=5e-4, warmup_steps=200, decay_steps=800, ema_decay=0.999,
                          eval_every=500, save_every=250, eval_size=12, eval_steps=4, export_dtype="float16"),
    )


def novelview_regression() -> Preset:
    return regression_baseline(novelview())


def shapenet() -> Preset:
    """The paper's setting: ShapeNet (3D-R2N2 renderings and ShapeNetVox32, 13 classes), 4 views.

    Needs the data on disk (it cannot be downloaded here): --data.root DIR --data.split_file FILE.
    """
    p = multiview3d()
    return dataclasses.replace(
        p, name="shapenet",
        data=MultiViewData(kind="shapenet", root="data/ShapeNet", split_file="data/ShapeNet/ShapeNet.json",
                           num_views=4, image_size=128),
        latent=LatentConfig(channels=32, size=8, width=32),
        denoiser=DenoiserConfig(patch_size=1, hidden_size=384, depth=8, encoder_depth=4, num_heads=6),
        sampling=SamplingConfig(sampler="heun", steps=40),
        loss=LossConfig(strategy="iterative", every_k=4, contrastive_weight=0.1),
        train=dataclasses.replace(p.train, steps=200_000, batch_size=64, lr=1e-4, export_dtype="float16"),
    )


def sr4x() -> Preset:
    """32x32 -> 128x128 photographs (x4); latent (3 anchor + 16 detail, 32, 32); sized for CPU training.

    The default sampler (DBIM, eta = 0) is deterministic, so the output is the bridge's
    conditional-mean estimate, which is what PSNR rewards; raise eta for sampled detail.
    """
    return Preset(
        name="sr4x",
        data=PhotoData(scale=4),
        latent=LatentConfig(channels=19, size=32, width=64),
        bridge=Bridge(shared_channels=3),  # the anchor: identical at both ends at x4
        denoiser=DenoiserConfig(patch_size=4, hidden_size=192, depth=4, encoder_depth=2, num_heads=4),
        # 1 DBIM step: 1 and 2 steps tie on training-photo crops and on the test photos' centres (more score
        # lower), and 1 is what brings 512^2 -> 2048^2 under 4 s on 2 cores
        sampling=SamplingConfig(sampler="dbim", steps=1),
        loss=LossConfig(strategy="whole", contrastive_weight=0.1),
        # 2000 steps, the last 1000 a linear cool-down: the shipped run on the 52 training photos (model card)
        train=TrainConfig(steps=2000, batch_size=16, lr=5e-4, warmup_steps=200, decay_steps=1000, ema_decay=0.999,
                          eval_every=500, save_every=250, eval_size=4, eval_steps=4, export_dtype="float16"),
    )


def sr4x_regression() -> Preset:
    return regression_baseline(sr4x())


def sr4x_real() -> Preset:
    """x4 for photos as people have them: trained on inputs through the realistic degradation chain
    (random resampling kernel, blur, sensor noise, JPEG, in random order; lddbm/data/degradations.py).
    The input is no longer the clean down-sampling of the target, so the LR encoder learns a
    correction of the anchor it carries over (``anchor_blocks``; ``LowResEncoder``)."""
    p = sr4x()
    # the shipped run's schedule end: 3100 steps, cooling down from step 1455 (model card: how it got there)
    return dataclasses.replace(p, name="sr4x_real", data=dataclasses.replace(p.data, degradation="realistic", anchor_blocks=2),
                               train=dataclasses.replace(p.train, steps=3100, decay_steps=1645))


def sr8x() -> Preset:
    """The paper's factor: 16x16 -> 128x128. The LR encoder resizes its input to the 32x32 latent and
    learns a correction of that anchor (``anchor_blocks``), which the bridge carries over as at x4."""
    p = sr4x()
    # the shipped sr8x: 1005 constant-rate steps (a 45-minute budget), sampled with 2 DBIM steps (its card)
    return dataclasses.replace(p, name="sr8x", data=PhotoData(scale=8, anchor_blocks=2),
                               sampling=dataclasses.replace(p.sampling, steps=2),
                               train=dataclasses.replace(p.train, steps=3301, decay_steps=0))


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


PRESETS = {"synthetic": synthetic, "multiview3d": multiview3d, "multiview3d_regression": multiview3d_regression, "multiview3d_diffusion": multiview3d_diffusion,
           "objects3d": objects3d, "objects3d_regression": objects3d_regression, "objects3d_diffusion": objects3d_diffusion,
           "objects3d_lift": objects3d_lift,
           "shapenet": shapenet, "sr4x": sr4x, "sr4x_regression": sr4x_regression, "sr4x_real": sr4x_real, "sr8x": sr8x,
           "novelview": novelview, "novelview_regression": novelview_regression,
           "digits_h2p": digits_h2p, "digits_p2h": digits_p2h, "digits_h2p_regression": digits_h2p_regression,
           "digits_p2h_regression": digits_p2h_regression}


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
