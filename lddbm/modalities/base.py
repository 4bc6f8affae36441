"""What the pipeline, the trainer and the tasks expect of a modality's networks (structural types).

A new modality (e.g. novel views, digits) plugs in by providing modules with these methods; the
pipeline calls ``preprocess`` -> encoder -> bridge -> decoder -> ``postprocess``, the trainer the
encoders, the decoder and ``reconstruction_loss``. ``tests/test_library_contracts.py``
checks every registered task's modules against them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

__all__ = ["SourceEncoder", "TargetDecoder", "TargetEncoder"]


@runtime_checkable
class SourceEncoder(Protocol):
    """User inputs -> a batch tensor (``preprocess``) -> the source latent x_T (B, C, h, w) (``forward``)."""

    def preprocess(self, inputs, **kwargs) -> torch.Tensor: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class TargetEncoder(Protocol):
    """A batch of targets -> the target latent x_0 (B, C, h, w) (training only)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class TargetDecoder(Protocol):
    """Latent x_0 -> decoded targets (``forward``) -> what users get (``postprocess``).

    ``output_types`` are the values ``postprocess`` accepts (diffusers' "pt", "np", "pil" where
    they apply, "mesh" for shapes); the pipeline adds "latent" (no decoding) for every decoder.
    """

    output_types: ClassVar[tuple[str, ...]]

    def __call__(self, z: torch.Tensor) -> torch.Tensor: ...

    def postprocess(self, decoded: torch.Tensor, output_type: str = "pt") -> Any: ...

    def reconstruction_loss(self, decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

