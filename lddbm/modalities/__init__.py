"""Modality encoders and decoders into the shared latent shape (one file per modality)."""

from .image import ImageDecoder, ImageEncoder
from .multiview import MultiViewEncoder
from .vector import VectorEncoder
from .voxel import VoxelDecoder, VoxelEncoder

__all__ = ["ImageDecoder", "ImageEncoder", "MultiViewEncoder", "VectorEncoder", "VoxelDecoder", "VoxelEncoder"]
