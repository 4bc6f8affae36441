import pytest
import torch

from lddbm.denoiser import BridgeTransformer, patchify, unpatchify


def tiny(**kw):
    cfg = dict(in_channels=3, sample_size=8, patch_size=2, hidden_size=32, depth=2, encoder_depth=1, num_heads=4,
               num_mask_tokens=3)
    cfg.update(kw)
    return BridgeTransformer(**cfg)


@pytest.mark.parametrize("p", [1, 2, 4])
def test_patchify_round_trip(p):
    x = torch.randn(2, 3, 8, 8)
    tokens = patchify(x, p)
    assert tokens.shape == (2, (8 // p) ** 2, p * p * 3)
    assert torch.equal(unpatchify(tokens, p, 3, 8, 8), x)


def test_patchify_token_order_is_spatial():
    """Token k holds the pixels of patch (k // grid, k % grid), every channel of it."""
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    tokens = patchify(x, 2)  # grid 2x2
    for k in range(4):
        i, j = divmod(k, 2)
        patch = x[0, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]  # (C, p, p)
        assert sorted(tokens[0, k].tolist()) == sorted(patch.flatten().tolist())


def test_output_shape_and_zero_at_initialisation():
    model = tiny()
    x, src = torch.randn(5, 3, 8, 8), torch.randn(5, 3, 8, 8)
    out = model(x, torch.randn(5), src)
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # adaLN-Zero and the zero output layer


def test_output_depends_on_position_source_and_time():
    torch.manual_seed(0)
    model = tiny()
    for p in model.parameters():  # leave the zero initialisation
        torch.nn.init.normal_(p, std=0.1)
    x, src, t = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8), torch.zeros(2)
    base = model(x, t, src)
    assert not torch.allclose(base, model(x, t + 0.5, src))
    assert not torch.allclose(base, model(x, t, src.flip(-1)))
    # a spatial shift of the input is not a shift of the output: positions are encoded
    assert not torch.allclose(model(x.roll(2, -1), t, src), base.roll(2, -1), atol=1e-4)
    # samples of a batch do not interact
    torch.testing.assert_close(model(x[:1], t[:1], src[:1]), base[:1], atol=1e-5, rtol=1e-5)


def test_config_errors():
    with pytest.raises(ValueError, match="divisible by patch_size"):
        tiny(sample_size=6, patch_size=4)
    with pytest.raises(ValueError, match="num_heads"):
        tiny(hidden_size=30)
    with pytest.raises(ValueError, match=r"\(B, 3, 8, 8\)"):
        tiny()(torch.randn(1, 3, 4, 4), torch.zeros(1), torch.randn(1, 3, 4, 4))
