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


def make_tiny_sr() -> LDDBMPipeline:
    """An 8 px -> 32 px (x4) super-resolution pipeline with random weights (residual head included)."""
    from lddbm.modalities import AnchoredImageDecoder, LowResEncoder

    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=5, sample_size=8, patch_size=4, hidden_size=16, depth=1,
                                 encoder_depth=1, num_heads=2, num_mask_tokens=2)
    decoder = AnchoredImageDecoder(image_size=32, latent_channels=5, latent_size=8, width=8, blocks=1)
    for p in [*denoiser.parameters(), *decoder.net[-1].parameters()]:
        torch.nn.init.normal_(p, std=0.02)
    pipe = LDDBMPipeline(LowResEncoder(image_size=8, latent_channels=5, latent_size=8, width=8, blocks=1),
                         denoiser, BridgeScheduler(sampler="fast", num_inference_steps=2), decoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture
def tiny_sr() -> LDDBMPipeline:
    return make_tiny_sr()
