"""Modality encoders and decoders into the shared latent shape (one file per modality)."""

from .image import ImageDecoder, ImageEncoder
from .multiview import MultiViewEncoder
from .superres import AnchoredImageDecoder, AnchoredImageEncoder, LowResEncoder
from .vector import VectorEncoder
from .voxel import VoxelDecoder, VoxelEncoder

__all__ = ["AnchoredImageDecoder", "AnchoredImageEncoder", "ImageDecoder", "ImageEncoder", "LowResEncoder", "MultiViewEncoder", "VectorEncoder", "VoxelDecoder", "VoxelEncoder"]
