"""LDDBMPipeline: source modality -> shared latent -> diffusion bridge -> target modality."""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch
from diffusers import DiffusionPipeline
from diffusers.utils.torch_utils import randn_tensor
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME, BaseOutput

from .checkpoints import is_local_spelling, locate
from .errors import CheckpointError, ConfigError
from .guidance import guidance_terms, guided_denoise
from .losses import alignment
from .scheduler import BridgeScheduler

__all__ = ["LDDBMPipeline", "LDDBMPipelineOutput", "CheckpointError"]

COMPONENTS = ("source_encoder", "denoiser", "scheduler", "target_decoder")
LOADER_MODULE = "pipeline"  # the folder's pipeline.py, named by model_index.json's _class_name


@dataclass
class LDDBMPipelineOutput(BaseOutput):
    outputs: Any  # decoded target, in the decoder's output_type
    latents: torch.Tensor  # the bridged target latent z0 (B, C, h, w)
    nfe: int  # network evaluations per sample
    seconds: float  # wall time of the call
    alignment: torch.Tensor | None = None  # (B,) the kept candidates' scores when num_candidates > 1


class LDDBMPipeline(DiffusionPipeline):
    """Translate inputs of the source modality into the target modality.

    Components: ``source_encoder`` (has ``preprocess``), ``denoiser`` (a BridgeTransformer),
    ``scheduler`` (a BridgeScheduler) and ``target_decoder`` (has ``postprocess``); optional:
    ``segmenter`` (multi-view foreground masks), ``target_encoder`` (the target modality's encoder
    from training, which ranks candidate translations: ``num_candidates``) and ``refiner`` (views -> 3D:
    refines the decoded shape with the views' silhouettes, ``lddbm.modalities.refiner``).
    """

    model_cpu_offload_seq = "source_encoder->denoiser->target_decoder"
    _optional_components = ["segmenter", "target_encoder", "refiner"]

    def __init__(self, source_encoder, denoiser, scheduler: BridgeScheduler, target_decoder, segmenter=None,
                 target_encoder=None, refiner=None):
        super().__init__()
        self.register_modules(
            source_encoder=source_encoder, denoiser=denoiser, scheduler=scheduler, target_decoder=target_decoder,
            segmenter=segmenter, target_encoder=target_encoder, refiner=refiner,
        )
        for module in (source_encoder, denoiser, target_decoder, segmenter, target_encoder, refiner):
            if module is not None:
                module.eval()  # inference only; training works on its own modules

    @torch.no_grad()
    def encode_source(self, inputs, preprocess_kwargs: dict | None = None) -> torch.Tensor:
        return self.source_encoder(self.prepare_source(inputs, preprocess_kwargs))

    def prepare_source(self, inputs, preprocess_kwargs: dict | None = None):
        """``inputs`` as the source encoder takes them (its ``preprocess``)."""
        kwargs = dict(preprocess_kwargs or {})
        if self.segmenter is not None:  # a foreground segmenter shipped with the pipeline (multi-view)
            kwargs.setdefault("segmenter", self.segmenter)
        return self.source_encoder.preprocess(inputs, **kwargs)

    @property
    def default_source_scale(self) -> float:
        """lambda_s when a call gives none: the checkpoint's scheduler config (1 for those saved before it had one)."""
        return float(getattr(self.scheduler.config, "source_scale", 1.0))

    @property
    def default_num_candidates(self) -> int:
        """Candidates per translation when a call gives none: the scheduler config's (1 for those saved before it)."""
        return int(getattr(self.scheduler.config, "num_candidates", 1))

    @property
    def output_types(self) -> tuple[str, ...]:
        """The ``output_type`` values this pipeline accepts (its decoder's, and "latent")."""
        return (*self.target_decoder.output_types, "latent")

    @torch.no_grad()
    def __call__(
        self,
        inputs,
        num_inference_steps: int | None = None,
        sampler: str | None = None,
        guidance: float | None = None,
        churn: float | None = None,
        eta: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pt",
        return_dict: bool = True,
        num_samples: int = 1,
        callback: Callable[[int, float, torch.Tensor, torch.Tensor], None] | None = None,
        preprocess_kwargs: dict | None = None,
        class_labels=None,
        source_scale: float | None = None,
        label_scale: float = 1.0,
        num_candidates: int | None = None,
        refine: bool = True,
    ) -> LDDBMPipelineOutput | tuple:
        """Bridge ``inputs`` to the target modality.

        ``inputs``: what the source encoder's ``preprocess`` takes (images: PIL images or file
        paths; multi-view: the views of one object, or a list of such lists; tensors as they are).
        ``sampler`` is a name in ``lddbm.samplers.SAMPLERS`` ("heun", "dbim"); ``guidance`` and
        ``churn`` are heun's options, ``eta`` is dbim's (passing one the sampler does not read is an
        error). Arguments left as None take the scheduler config's defaults (the checkpoint's own
        settings). ``output_type``: one of ``self.output_types`` ("pt", "np", "pil" for images;
        "pt", "np", "mesh" for voxels; "latent" for the bridged latent itself). ``num_samples``
        draws that many bridge samples per input (distinct only when the sampler is stochastic);
        outputs are ordered input-major. ``callback(i, t, x_t, denoised)`` is called after every
        network evaluation, e.g. to show the trajectory. ``preprocess_kwargs`` go to the source
        encoder's ``preprocess`` (multi-view: ``remove_background``, ``foreground_ratio``, and
        ``segmenter``, which defaults to the pipeline's own).

        Two-condition guidance (``lddbm.guidance``; a denoiser trained with a label condition and
        condition dropout): ``class_labels`` (one int per input, or None), and one weight per condition,
        ``source_scale`` (lambda_s; None: the scheduler config's, 1 unless the checkpoint says otherwise)
        and ``label_scale`` (lambda_l); (1, 1) is the plain conditional bridge. ``inputs=None`` with
        labels generates from the labels alone (the bridge from the zero latent, "no source"). Each
        guidance term is a network evaluation, and NFE counts them.

        Re-ranking: ``num_candidates`` > 1 draws that many bridge samples for each returned one and
        keeps the one whose decoded output, encoded again by the ``target_encoder``, lies closest to the
        source latent (``lddbm.losses.alignment``: the cosine that training's contrastive loss raises for
        true pairs), as CLIP re-ranks DALL-E's samples. It needs a source, a stochastic sampler (else the
        candidates are equal) and a pipeline loaded with its target encoder; NFE counts every candidate,
        and ``output.alignment`` holds the kept candidates' scores. None: the scheduler config's
        (``default_num_candidates``), 1 unless the checkpoint says otherwise; a call with no source
        (labels alone) then draws one.

        ``refine``: a pipeline with a ``refiner`` refines each decoded output with its source (views -> 3D:
        the views' silhouettes along the encoder's estimated cameras) before re-ranking and ``postprocess``;
        False returns the decoder's output as it is (for comparison). Latent outputs are never refined.
        """
        start = time.perf_counter()
        if output_type not in self.output_types:
            raise ConfigError(f"output_type {output_type!r} is not available for {type(self.target_decoder).__name__}; "
                              f"choose one of {', '.join(map(repr, self.output_types))}.")
        if num_samples < 1:
            raise ConfigError(f"num_samples must be at least 1, got {num_samples}.")
        # the sampling state lives on a per-call copy, so concurrent calls (e.g. a web server) do not mix;
        # planned before encoding, so a bad option fails before any work
        scheduler = copy.copy(self.scheduler)
        scheduler.set_timesteps(num_inference_steps, device=self.device, sampler=sampler, guidance=guidance,
                                churn=churn, eta=eta)
        labels = self._check_labels(class_labels, inputs)
        if num_candidates is None:
            num_candidates = self.default_num_candidates if inputs is not None else 1
        self._check_candidates(num_candidates, inputs)
        if source_scale is None:
            source_scale = self.default_source_scale
        terms = guidance_terms(source_scale, label_scale, has_source=inputs is not None, has_label=labels is not None)
        prepared = None
        if inputs is None:  # labels only: the bridge from the zero latent ("no source", lddbm.guidance)
            c, h, w = self.latent_shape
            source = torch.zeros(len(labels), c, h, w, device=self.device, dtype=self.denoiser.dtype)
        else:
            prepared = self.prepare_source(inputs, preprocess_kwargs)
            source = self.source_encoder(prepared)  # (B, C, h, w)
            if labels is not None and len(labels) != len(source):
                raise ConfigError(f"Got {len(labels)} class labels for {len(source)} inputs; give one per input.")
        draws = num_samples * num_candidates  # per input, input-major, candidates of one sample adjacent
        source = source.repeat_interleave(draws, dim=0)
        if labels is not None:
            labels = labels.to(source.device).repeat_interleave(draws, dim=0)
        noise = randn_tensor(source.shape, generator=generator, device=source.device, dtype=source.dtype) \
            if scheduler.bridge.needs_prior_noise else None
        x = scheduler.bridge.prior(source, noise).clone()

        def denoise(x_t, sources, label_batch, t):  # the preconditioned denoiser at t (labels: when it takes them)
            net = self.denoiser if self.denoiser.label_embed is None else partial(self.denoiser, class_labels=label_batch)
            return scheduler.bridge.denoise(net, x_t, t, sources)

        for i, t in enumerate(self.progress_bar(scheduler.timesteps)):
            denoised = guided_denoise(partial(denoise, t=t), x, source, labels, terms, self.denoiser.null_label)
            x = scheduler.step(denoised, t, x, source=source, generator=generator).prev_sample
            if callback is not None:
                callback(i, float(t), x, denoised)
        decoded = None if output_type == "latent" and num_candidates == 1 else self.target_decoder(x)
        if decoded is not None and prepared is not None and refine and self.refiner is not None:
            decoded = self.refiner.refine(decoded, self.source_encoder, prepared)
        scores = None
        if num_candidates > 1:
            x, decoded, scores = self.best_candidates(x, decoded, source, num_candidates)
        outputs = x if output_type == "latent" else self.target_decoder.postprocess(decoded, output_type)
        nfe = scheduler.num_function_evals * len(terms) * num_candidates
        seconds = time.perf_counter() - start
        if not return_dict:
            return outputs, x, nfe, seconds
        return LDDBMPipelineOutput(outputs=outputs, latents=x, nfe=nfe, seconds=seconds, alignment=scores)

    @torch.no_grad()
    def best_candidates(self, x: torch.Tensor, decoded: torch.Tensor, source: torch.Tensor, k: int):
        """Of each run of ``k`` adjacent candidates (latents ``x``, their ``decoded`` outputs, the ``source``
        latents they were bridged from), the one whose re-encoded output best aligns with its source
        latent: (latents, decoded, scores), each ``k`` times shorter."""
        encoder = self.target_encoder
        encoded = encoder(self.target_decoder.postprocess(decoded, "pt").to(encoder.device, encoder.dtype))
        scores = alignment(encoded, source).view(-1, k)  # (B * num_samples, k)
        best, index = scores.max(dim=1)
        keep = torch.arange(len(scores), device=index.device) * k + index
        return x[keep], decoded[keep], best

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the shared latent."""
        cfg = self.denoiser.config
        return cfg.in_channels, cfg.sample_size, cfg.sample_size

    def _check_candidates(self, num_candidates: int, inputs) -> None:
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ConfigError(f"num_candidates must be a whole number of at least 1, got {num_candidates!r}.")
        if num_candidates == 1:
            return
        if inputs is None:
            raise ConfigError("num_candidates ranks translations by how well they match their source; with no "
                              "source (class labels alone) pass num_candidates=1.")
        if self.target_encoder is None:
            raise ConfigError("num_candidates > 1 needs the checkpoint's target encoder to rank candidates, and this "
                              "pipeline has none (its model_index.json lists no target_encoder); pass num_candidates=1.")

    def _check_labels(self, class_labels, inputs) -> torch.Tensor | None:
        """class_labels as a (B,) long tensor, or None; clear errors for a model without labels."""
        if class_labels is None:
            if inputs is None:
                raise ConfigError("Nothing to translate: give inputs, class_labels, or both.")
            return None
        if self.denoiser.label_embed is None:
            raise ConfigError("This checkpoint was trained without a class-label condition; leave class_labels unset.")
        labels = torch.as_tensor(class_labels, dtype=torch.long).reshape(-1)
        if labels.numel() == 0 or labels.min() < 0 or labels.max() >= self.denoiser.null_label:
            raise ConfigError(f"class_labels must be integers in 0..{self.denoiser.null_label - 1}, got {class_labels!r}.")
        return labels

    @classmethod
    def load_config(cls, *args, **kwargs):
        """diffusers' load_config; the class is known here, so model_index.json's pointer to
        ``pipeline.py`` (for ``DiffusionPipeline.from_pretrained``) is not followed: loading through
        ``LDDBMPipeline`` runs no file from the folder and needs no ``trust_remote_code``."""
        out = super().load_config(*args, **kwargs)
        config = out[0] if isinstance(out, tuple) else out
        if isinstance(config.get("_class_name"), (list, tuple)):
            config["_class_name"] = config["_class_name"][-1]
        return out

    def save_config(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """diffusers' model_index.json, naming this class so that ``DiffusionPipeline.from_pretrained``
        finds it: ``"_class_name": ["pipeline", "LDDBMPipeline"]`` and a two-line ``pipeline.py`` that
        imports it from the installed ``lddbm`` package (diffusers' mechanism for pipeline classes
        outside diffusers; ``trust_remote_code=True`` is needed for Hub repos)."""
        super().save_config(save_directory, **kwargs)
        folder = Path(save_directory)
        index = folder / "model_index.json"
        spec = json.loads(index.read_text())
        spec["_class_name"] = [LOADER_MODULE, type(self).__name__]
        index.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        (folder / f"{LOADER_MODULE}.py").write_text(
            f'"""Lets diffusers\' DiffusionPipeline.from_pretrained find the class; needs `pip install lddbm`."""\n'
            f"from {type(self).__module__} import {type(self).__name__}  # noqa: F401\n")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "LDDBMPipeline":
        """diffusers' loader, with local folders found as ``lddbm.checkpoints.locate`` finds them (a path,
        or a name under ``LDDBM_CHECKPOINTS``): a folder that is nowhere is one CheckpointError saying where
        it looked, never a Hub lookup. Only an ``owner/name`` id found nowhere here goes to the Hub."""
        name = pretrained_model_name_or_path
        try:
            folder = locate(name)
        except CheckpointError:
            if is_local_spelling(name):
                raise
            return super().from_pretrained(name, **kwargs)  # a Hub repo id
        return super().from_pretrained(folder, **kwargs)

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str | torch.device | None = None, **kwargs) -> "LDDBMPipeline":
        """Load a local pipeline folder offline (a path, or a name under ``LDDBM_CHECKPOINTS``:
        ``lddbm.checkpoints``), checking every component first.

        Raises CheckpointError naming the missing, corrupt or mismatched file.
        """
        folder = locate(folder)
        check_folder(folder)
        try:
            pipe = cls.from_pretrained(folder, local_files_only=True, use_safetensors=True, **kwargs)
        except CheckpointError:
            raise
        except Exception as err:  # diffusers reports shape mismatches etc. as various errors
            raise CheckpointError(f"Could not load the pipeline in {folder}: {err}") from err
        return pipe.to(device) if device is not None else pipe


def check_folder(folder: Path) -> None:
    """Every component of a saved LDDBMPipeline folder is present, parseable and the right shape."""
    from safetensors import safe_open

    index = folder / "model_index.json"
    if not index.is_file():
        raise CheckpointError(f"{index} is missing: {folder} is not a saved LDDBMPipeline folder.")
    try:
        spec = json.loads(index.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{index} is not valid JSON ({err}); re-export the pipeline.") from err
    optional = [name for name in LDDBMPipeline._optional_components if isinstance(spec.get(name), list) and spec[name][0]]
    for name in (*COMPONENTS, *optional):
        if name not in spec:
            raise CheckpointError(f"{index} lists no '{name}' component; re-export the pipeline.")
        config_name = "scheduler_config.json" if name == "scheduler" else "config.json"
        config_file = folder / name / config_name
        if not config_file.is_file():
            raise CheckpointError(f"{config_file} is missing; the '{name}' component cannot be built.")
        try:
            json.loads(config_file.read_text())
        except ValueError as err:
            raise CheckpointError(f"{config_file} is not valid JSON ({err}).") from err
        if name == "scheduler":
            continue
        weights = folder / name / SAFETENSORS_WEIGHTS_NAME
        if not weights.is_file():
            raise CheckpointError(f"{weights} is missing (only safetensors weights are loaded).")
        try:
            with safe_open(str(weights), framework="pt") as f:
                shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        except Exception as err:
            raise CheckpointError(f"{weights} is corrupt or not a safetensors file ({err}).") from err
        _check_shapes(folder, name, spec[name], config_file, weights, shapes)


def _check_shapes(folder: Path, name: str, spec, config_file: Path, weights: Path, shapes: dict) -> None:
    """Build the component from its config on the meta device and compare parameter shapes."""
    import importlib

    library, class_name = spec
    if not (library == "diffusers" or library.split(".")[0] == "lddbm"):
        raise CheckpointError(f"{folder / 'model_index.json'} names '{library}' for '{name}'; only lddbm/diffusers classes load.")
    cls = getattr(importlib.import_module(library), class_name)
    with torch.device("meta"):
        model = cls.from_config(cls.load_config(folder / name))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    if missing:
        raise CheckpointError(f"{weights} lacks {len(missing)} tensors its config needs, e.g. '{missing[0]}'.")
    for key, shape in expected.items():
        if shapes[key] != shape:
            raise CheckpointError(
                f"{weights}: tensor '{key}' has shape {shapes[key]} but {config_file} implies {shape}; "
                "the weights and config come from different models."
            )
