import pytest
import torch

from lddbm.denoiser import BridgeTransformer
from lddbm.modalities import ImageDecoder, VectorEncoder
from lddbm.pipeline import LDDBMPipeline
from lddbm.scheduler import BridgeScheduler


@pytest.fixture
def tiny_pipeline() -> LDDBMPipeline:
    """A vector -> 8x8 image pipeline with random (non-zero) weights."""
    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=2, sample_size=4, patch_size=2, hidden_size=16, depth=1,
                                 encoder_depth=1, num_heads=2, num_mask_tokens=2)
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.05)
    pipe = LDDBMPipeline(
        VectorEncoder(dim=3, latent_channels=2, latent_size=4, width=16),
        denoiser,
        BridgeScheduler(num_inference_steps=3),
        ImageDecoder(out_channels=1, image_size=8, latent_channels=2, latent_size=4, width=8),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
