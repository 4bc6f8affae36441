import torch

from lddbm.bridge import Bridge
from lddbm.losses import LDDBMObjective, LossWeights, bridge_loss, contrastive_loss
from lddbm.modalities import ImageDecoder, ImageEncoder, VectorEncoder


def test_contrastive_lower_for_aligned_than_shuffled_pairs():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(32, 4, 4, 4, generator=g)
    partner = z + 0.3 * torch.randn(z.shape, generator=g)
    aligned = contrastive_loss(z, partner)
    shuffled = contrastive_loss(z, partner[torch.randperm(32, generator=g)])
    assert aligned < 0.1 < shuffled
    # symmetric in its arguments
    torch.testing.assert_close(contrastive_loss(z, partner), contrastive_loss(partner, z))


def test_bridge_loss_vanishes_for_the_exact_denoiser():
    """If x0 is a deterministic function the net can output, the oracle has zero loss."""
    bridge = Bridge()
    g = torch.Generator().manual_seed(0)
    x0, xT = torch.randn(8, 2, 2, 2, generator=g), torch.randn(8, 2, 2, 2, generator=g)
    t = bridge.sample_t(8, generator=g)

    def oracle(x_in, c_noise, src):
        c_skip, c_out, c_in, _ = bridge.scalings(t)
        x_t = x_in / c_in.float().reshape(-1, 1, 1, 1)
        return (x0 - c_skip.float().reshape(-1, 1, 1, 1) * x_t) / c_out.float().reshape(-1, 1, 1, 1)

    loss, denoised = bridge_loss(bridge, oracle, x0, xT, t, torch.randn(x0.shape, generator=g))
    assert loss.item() < 1e-6
    torch.testing.assert_close(denoised, x0, atol=1e-4, rtol=0)


def test_objective_auxiliary_losses_only_when_asked():
    torch.manual_seed(0)
    from lddbm.denoiser import BridgeTransformer

    obj = LDDBMObjective(
        VectorEncoder(dim=3, latent_size=4), ImageEncoder(image_size=8, latent_size=4, width=8),
        ImageDecoder(image_size=8, latent_size=4, width=8),
        BridgeTransformer(in_channels=4, sample_size=4, patch_size=1, hidden_size=16, depth=1, encoder_depth=1, num_heads=2),
        Bridge(), LossWeights(1.0, 0.5, 1.0, 1.0), temperature=0.07, weighting="karras",
    )
    src, tgt = torch.randn(6, 3), torch.rand(6, 1, 8, 8) * 2 - 1
    t, noise = Bridge().sample_t(6), torch.randn(6, 4, 4, 4)
    plain = obj(src, tgt, t, noise, auxiliary=False)
    assert set(plain) == {"bridge", "total"}
    full = obj(src, tgt, t, noise, auxiliary=True)
    assert set(full) == {"bridge", "contrastive", "predictive", "reconstruction", "total"}
    expected = full["bridge"] + 0.5 * full["contrastive"] + full["predictive"] + full["reconstruction"]
    torch.testing.assert_close(full["total"], expected)
    full["total"].backward()
    assert all(p.grad is not None for p in obj.parameters())  # every module is trained


def test_latents_are_standardised():
    enc = VectorEncoder(dim=3, latent_channels=2, latent_size=4, sigma_data=0.5)
    z = enc(torch.randn(10, 3))
    assert z.shape == (10, 2, 4, 4)
    torch.testing.assert_close(z.flatten(1).std(dim=1, unbiased=False), torch.full((10,), 0.5), atol=1e-3, rtol=0)
