import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.modalities import MultiViewEncoder, VoxelDecoder, VoxelEncoder
from lddbm.modalities.voxel import _fold, _unfold, voxel_shuffle


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    return MultiViewEncoder(image_size=16, max_views=6, latent_channels=4, latent_size=4, width=8, embed_dim=32).eval()


def test_views_are_permutation_invariant_and_any_count_works(encoder):
    views = torch.rand(2, 5, 3, 16, 16) * 2 - 1
    z = encoder(views)
    assert z.shape == (2, 4, 4, 4)
    torch.testing.assert_close(encoder(views[:, [3, 1, 4, 0, 2]]), z, atol=1e-5, rtol=1e-5)
    for v in range(1, 6):
        assert encoder(views[:, :v]).shape == (2, 4, 4, 4)
    assert not torch.allclose(encoder(views[:, :1]), z)  # more views, different evidence


def test_view_dropout_only_in_training(encoder):
    views = torch.rand(3, 4, 3, 16, 16) * 2 - 1
    assert torch.equal(encoder(views), encoder(views))
    encoder.train()
    torch.manual_seed(1)
    a = encoder(views)
    b = encoder(views)
    assert not torch.equal(a, b)


def test_preprocess_accepts_any_image_mode(encoder):
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent: becomes the white background
    images = [rgba, Image.new("L", (20, 20), 128), Image.new("P", (20, 20)), Image.fromarray(np.full((20, 20), 40000, np.uint16))]
    x = encoder.preprocess(images)
    assert x.shape == (1, 4, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(x[0, 0], torch.ones(3, 16, 16))
    with pytest.raises(ValueError, match="No views"):
        encoder.preprocess([])
    with pytest.raises(ValueError, match="1 to 6 views"):
        encoder.preprocess([rgba] * 7)


def test_voxel_fold_and_shuffle():
    x = torch.randn(2, 3, 8, 8, 8)
    assert torch.equal(_unfold(_fold(x), 3), x)
    cells = torch.zeros(1, 8, 2, 2, 2)
    cells[0, 5, 1, 0, 1] = 1.0  # channel 5 = sub-voxel (1, 0, 1) of cell (1, 0, 1)
    out = voxel_shuffle(cells)
    assert out.shape == (1, 1, 4, 4, 4) and out.sum() == 1 and out[0, 0, 3, 0, 3] == 1


def test_voxel_autoencoder_shapes_and_errors():
    enc, dec = VoxelEncoder(grid=16, latent_channels=8, latent_size=4, width=8), VoxelDecoder(grid=16, latent_channels=8, latent_size=4, width=8)
    occ = (torch.rand(2, 16, 16, 16) > 0.5).float()
    z = enc(enc.preprocess(occ))
    assert z.shape == (2, 8, 4, 4)
    logits = dec(z)
    assert logits.shape == (2, 1, 16, 16, 16)
    probs = dec.postprocess(logits)
    assert probs.shape == (2, 16, 16, 16) and 0 <= probs.min() and probs.max() <= 1
    with pytest.raises(ValueError, match="downsamples by 4"):
        VoxelEncoder(grid=32, latent_size=4)
    with pytest.raises(ValueError, match="multiple of latent_size"):
        VoxelDecoder(grid=16, latent_channels=6, latent_size=4)
