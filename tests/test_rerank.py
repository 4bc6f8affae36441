"""Re-ranking candidate translations by contrastive alignment (LDDBMPipeline's ``num_candidates``):
the score is the cosine the contrastive loss raises for true pairs, the kept draw is the best-scoring
of its candidates, and the default travels with the checkpoint."""

import pytest
import torch
import torch.nn.functional as F

from lddbm.errors import ConfigError
from lddbm.losses import alignment, contrastive_loss
from lddbm.modalities import ImageEncoder
from lddbm.pipeline import LDDBMPipeline

INPUTS = [[0.1, -0.4, 1.2], [0.0, 0.3, -0.7]]
STOCHASTIC = dict(sampler="dbim", eta=1.0)  # candidates differ only when the sampler draws noise


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def ranked(tiny_pipeline) -> LDDBMPipeline:
    """tiny_pipeline (vector -> 1x8x8 image, latent 2x4x4) with a random target encoder."""
    torch.manual_seed(1)
    tiny_pipeline.register_modules(target_encoder=ImageEncoder(in_channels=1, image_size=8, latent_channels=2,
                                                               latent_size=4, width=8).eval())
    return tiny_pipeline


def test_alignment_is_the_cosine_that_the_contrastive_loss_raises():
    g = seeded(3)
    a, b = torch.randn(5, 2, 4, 4, generator=g), torch.randn(5, 2, 4, 4, generator=g)
    assert torch.allclose(alignment(a, b), F.cosine_similarity(a.flatten(1), b.flatten(1)), atol=1e-6)
    assert torch.allclose(alignment(a, 3 * a), torch.ones(5), atol=1e-6)  # scale-free
    assert torch.allclose(alignment(a, -a), -torch.ones(5), atol=1e-6)
    # aligning a batch's true pairs lowers the InfoNCE loss: moving b toward a raises both
    closer = 0.5 * (a + b)
    assert (alignment(a, closer) > alignment(a, b)).all()
    assert contrastive_loss(a, closer) < contrastive_loss(a, b)


def test_each_kept_draw_is_its_best_aligned_candidate(ranked):
    k = 3
    draws = ranked(INPUTS, num_samples=k, generator=seeded(), **STOCHASTIC)  # the same k draws per input
    assert not torch.allclose(draws.outputs[0], draws.outputs[1])  # the candidates differ
    with torch.no_grad():
        scores = alignment(ranked.target_encoder(draws.outputs), ranked.encode_source(INPUTS).repeat_interleave(k, 0))
    scores = scores.view(len(INPUTS), k)
    best = scores.argmax(dim=1)
    kept = ranked(INPUTS, num_candidates=k, generator=seeded(), **STOCHASTIC)
    assert kept.outputs.shape == (len(INPUTS), 1, 8, 8)
    assert torch.equal(kept.outputs, draws.outputs.view(len(INPUTS), k, 1, 8, 8)[torch.arange(len(INPUTS)), best])
    assert torch.allclose(kept.alignment, scores.max(dim=1).values, atol=1e-6)
    assert kept.nfe == k * draws.nfe and draws.alignment is None
    # several samples per input, each the best of its own run of candidates, input-major
    both = ranked(INPUTS, num_samples=2, num_candidates=k, generator=seeded(), **STOCHASTIC)
    assert both.outputs.shape == (2 * len(INPUTS), 1, 8, 8) and both.alignment.shape == (2 * len(INPUTS),)
    latents = ranked(INPUTS, num_candidates=k, generator=seeded(), output_type="latent", **STOCHASTIC)
    assert torch.equal(latents.outputs, kept.latents)


def test_the_default_travels_with_the_checkpoint(ranked, tmp_path):
    assert ranked.default_num_candidates == 1  # a scheduler config without one: a single draw
    ranked.scheduler.register_to_config(num_candidates=2)
    ranked.save_pretrained(tmp_path)
    loaded = LDDBMPipeline.load(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.target_encoder is not None and loaded.default_num_candidates == 2
    default = loaded(INPUTS, generator=seeded(), **STOCHASTIC)
    explicit = ranked(INPUTS, num_candidates=2, generator=seeded(), **STOCHASTIC)
    assert torch.equal(default.outputs, explicit.outputs) and default.nfe == explicit.nfe
    assert loaded(INPUTS, num_candidates=1, generator=seeded(), **STOCHASTIC).alignment is None


def test_clear_errors(tiny_pipeline, ranked):
    with pytest.raises(ConfigError, match="target encoder"):
        LDDBMPipeline(tiny_pipeline.source_encoder, tiny_pipeline.denoiser, tiny_pipeline.scheduler,
                      tiny_pipeline.target_decoder)(INPUTS, num_candidates=2)
    for bad in (0, -1, 2.5):
        with pytest.raises(ConfigError, match="num_candidates must be a whole number"):
            ranked(INPUTS, num_candidates=bad)
