"""lddbm: Latent Denoising Diffusion Bridge Models for general modality translation.

Importing the package registers every component class a saved pipeline can name (modalities,
segmenter), so ``LDDBMPipeline.from_pretrained(folder)`` works in a fresh interpreter, and every task
package (``lddbm.tasks``), so their presets are known to ``lddbm.presets``.
"""

from . import modalities, segmentation  # noqa: F401  (component classes diffusers resolves by module name)
from .bridge import Bridge
from .denoiser import BridgeTransformer
from .pipeline import CheckpointError, LDDBMPipeline, LDDBMPipelineOutput
from .samplers import SAMPLERS
from .scheduler import BridgeScheduler
from . import tasks  # noqa: F401,E402  (registers the tasks and their presets)

__all__ = ["SAMPLERS", "Bridge", "BridgeScheduler", "BridgeTransformer", "CheckpointError", "LDDBMPipeline",
           "LDDBMPipelineOutput"]
__version__ = "0.1.0"
