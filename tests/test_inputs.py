import numpy as np
import pytest
from PIL import Image

from lddbm.inputs import InputError, open_image, open_views


def save(tmp_path, name, image, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


def test_every_mode_opens(tmp_path):
    paths = [
        save(tmp_path, "rgb.png", Image.new("RGB", (32, 32), "red")),
        save(tmp_path, "rgba.png", Image.new("RGBA", (32, 32), (0, 0, 0, 0))),
        save(tmp_path, "grey.jpg", Image.new("L", (32, 32), 80)),
        save(tmp_path, "palette.gif", Image.new("P", (32, 32))),
        save(tmp_path, "deep.png", Image.fromarray(np.full((32, 32), 50000, dtype=np.uint16))),
    ]
    images, notes = open_views(paths, max_views=5)
    assert len(images) == 5 and notes == []


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    image, notes = open_image(path)
    assert image.size == (32, 32) and "first frame" in notes[0]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"definitely not an image", "not an image"),
])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        open_image(path)


def test_truncated_tiny_and_huge(tmp_path):
    good = save(tmp_path, "big.png", Image.effect_noise((64, 64), 50).convert("RGB"))
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match="truncated or corrupt"):
        open_image(truncated)
    with pytest.raises(InputError, match="at least 16 pixels"):
        open_image(save(tmp_path, "tiny.png", Image.new("RGB", (8, 40))))
    with pytest.raises(InputError, match="megapixels"):
        open_image(good, max_pixels=1000)


def test_a_decompression_bomb_is_called_too_large(tmp_path, monkeypatch):
    path = save(tmp_path, "huge.png", Image.new("L", (64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL's own guard fires inside Image.open
    with pytest.raises(InputError, match="too large"):
        open_image(path)


def test_view_counts(tmp_path):
    path = save(tmp_path, "v.png", Image.new("RGB", (32, 32)))
    with pytest.raises(InputError, match="No views"):
        open_views([], max_views=4)
    with pytest.raises(InputError, match="at most 4 views"):
        open_views([path] * 5, max_views=4)
    with pytest.raises(InputError, match="missing"):
        open_views([tmp_path / "gone.png"], max_views=4)
