"""Modality encoders and decoders into the shared latent shape (one file per modality)."""

from .image import ImageDecoder, ImageEncoder
from .vector import VectorEncoder

__all__ = ["ImageDecoder", "ImageEncoder", "VectorEncoder"]
