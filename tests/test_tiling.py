import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lddbm.inputs import InputError
from lddbm.tasks.superres.tiling import blend_window, upscale_image, upscale_tensor


def bicubic_tiles(scale):
    return lambda tiles: F.interpolate(tiles, scale_factor=scale, mode="bicubic", align_corners=False)


def test_blend_windows_of_neighbours_sum_to_one():
    tile, overlap = 16, 4
    w = blend_window(tile, overlap)[tile // 2]  # a row through the middle
    stride = tile - overlap
    total = torch.zeros(stride * 3 + tile, dtype=torch.float64)
    for k in range(4):
        total[k * stride : k * stride + tile] += w
    assert torch.allclose(total[overlap:-overlap], torch.ones_like(total[overlap:-overlap]))


def test_tiled_equals_whole_image_away_from_tile_borders():
    """A local operator applied tile by tile matches the whole-image result: no seams."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 50, 70, generator=g) * 2 - 1
    whole = F.interpolate(F.pad(x[None], (8, 8, 8, 8), mode="reflect"), scale_factor=2, mode="bicubic")[0][:, 16:-16, 16:-16]
    tiled = upscale_tensor(x, bicubic_tiles(2), scale=2, tile=24, overlap=8)
    assert tiled.shape == (3, 100, 140)
    assert (tiled - whole).abs().max() < 1e-5


def test_constant_image_stays_constant_and_tiny_images_work():
    x = torch.full((3, 5, 7), 0.3)
    y = upscale_tensor(x, bicubic_tiles(4), scale=4, tile=16, overlap=4)
    assert y.shape == (3, 20, 28) and torch.allclose(y, torch.full_like(y, 0.3), atol=1e-5)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16"])
def test_every_mode_round_trips(mode):
    rng = np.random.default_rng(0)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65535, (20, 30), dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 255, (20, 30, 4), dtype=np.uint8), "RGBA").convert(mode)
    out = upscale_image(image, bicubic_tiles(4), scale=4, tile=16, overlap=4)
    assert out.size == (120, 80)
    expected = {"RGB": "RGB", "RGBA": "RGBA", "L": "L", "LA": "LA", "P": "RGB", "I;16": "L"}[mode]
    assert out.mode == expected


def test_alpha_is_upscaled_bicubically():
    image = Image.new("RGBA", (16, 16), (200, 10, 10, 0))
    image.paste((200, 10, 10, 255), (0, 0, 8, 16))
    out = upscale_image(image, bicubic_tiles(2), scale=2, tile=16, overlap=4)
    alpha = np.asarray(out.getchannel("A"))
    assert alpha[:, :12].min() > 240 and alpha[:, 20:].max() < 15


def test_size_limit():
    with pytest.raises(InputError, match="at most 512 pixels"):
        upscale_image(Image.new("RGB", (600, 100)), bicubic_tiles(4), scale=4, tile=16)
