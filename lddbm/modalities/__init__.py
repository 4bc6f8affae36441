"""Modality encoders and decoders into the shared latent shape (one file per modality), and the 3D shapes' silhouette refiner."""

from .image import ImageDecoder, ImageEncoder
from .lifting import LiftingEncoder
from .multiview import MultiViewEncoder
from .posedviews import PosedViewsEncoder
from .refiner import SilhouetteRefiner
from .superres import AnchoredImageDecoder, AnchoredImageEncoder, LowResEncoder
from .vector import VectorEncoder
from .voxel import VoxelDecoder, VoxelEncoder

__all__ = ["AnchoredImageDecoder", "AnchoredImageEncoder", "ImageDecoder", "ImageEncoder", "LiftingEncoder", "LowResEncoder", "MultiViewEncoder", "PosedViewsEncoder", "SilhouetteRefiner", "VectorEncoder", "VoxelDecoder", "VoxelEncoder"]
