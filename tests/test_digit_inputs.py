"""What users hand the digits tab: a drawing on a canvas, a photo of a printed digit."""

import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.tasks.digits.judges import photo_to_printed, sketch_to_handwritten
from lddbm.errors import DataError


def canvas(background, ink, size=(300, 200), box=(40, 120, 30, 60)):
    arr = np.zeros((size[1], size[0], 4), np.uint8)
    arr[...] = background
    top, bottom, left, right = box
    arr[top:bottom, left:right] = ink
    return Image.fromarray(arr)


@pytest.mark.parametrize("background, ink", [((255, 255, 255, 255), (0, 0, 0, 255)),   # dark on light
                                             ((0, 0, 0, 255), (255, 255, 255, 255)),   # light on dark (MNIST-like)
                                             ((0, 0, 0, 0), (20, 20, 200, 255))])      # strokes on a transparent layer
def test_a_drawing_is_framed_like_mnist(background, ink):
    x = sketch_to_handwritten(canvas(background, ink))  # a bar off-centre in a wide canvas
    assert x.shape == (1, 32, 32) and x.min() == -1 and x.max() > 0.9
    ink = (x[0] + 1) / 2
    rows = torch.nonzero(ink.sum(1) > 0.1)[:, 0]
    assert rows.max() - rows.min() + 1 == 20  # the longest side scaled to 20 px ...
    centre = (torch.arange(32.0) @ ink.sum(1)) / ink.sum(), (torch.arange(32.0) @ ink.sum(0)) / ink.sum()
    assert abs(centre[0] - 15.5) <= 1 and abs(centre[1] - 15.5) <= 1  # ... and centred by its mass
    assert ink[:2].sum() == 0 and ink[:, :2].sum() == 0  # MNIST's border (28 px field, padded by 2)


def test_an_empty_canvas_is_a_clear_error():
    with pytest.raises(DataError, match="draw a digit"):
        sketch_to_handwritten(Image.new("RGB", (100, 100), "white"))


def test_a_photo_becomes_its_central_square_at_32_px():
    photo = Image.new("RGB", (90, 60), (200, 10, 10))
    photo.paste((10, 200, 10), (0, 0, 15, 60))  # a green strip outside the central square
    x = photo_to_printed(photo)
    assert x.shape == (3, 32, 32) and torch.allclose(x[:, 16, 16], torch.tensor([200, 10, 10]) / 127.5 - 1, atol=0.02)
    assert x[1].max() < -0.8  # the strip was cropped away
