"""lddbm: Latent Denoising Diffusion Bridge Models for general modality translation."""

from .bridge import Bridge
from .denoiser import BridgeTransformer
from .pipeline import CheckpointError, LDDBMPipeline, LDDBMPipelineOutput
from .scheduler import BridgeScheduler

__all__ = ["Bridge", "BridgeScheduler", "BridgeTransformer", "CheckpointError", "LDDBMPipeline", "LDDBMPipelineOutput"]
__version__ = "0.1.0"
