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


def test_side_and_aspect_are_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    """A 16 x 60000 strip is under the pixel limit, but a square framing of it costs side**2 (22 GB):
    refused from its header, before PIL decodes a pixel."""
    strip = save(tmp_path, "strip.png", Image.new("L", (16, 60000)))
    thin = save(tmp_path, "thin.png", Image.new("L", (40, 8000)))
    wide = save(tmp_path, "wide.png", Image.new("L", (8200, 800)))
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    with pytest.raises(InputError, match="16x60000 pixels; the longer side may be at most 8192"):
        open_image(strip)
    with pytest.raises(InputError, match="12 times longer than wide"):
        open_image(thin)
    with pytest.raises(InputError, match="longer side may be at most 8192"):
        open_image(wide)
    assert decoded == []


@pytest.mark.parametrize("content", [b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", b"%PDF-1.4\n%\xe2\xe3"])
def test_formats_outside_the_photo_formats_are_not_decoded(tmp_path, content):
    path = tmp_path / "drawing.eps"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not an image this demo can read") as info:
        open_image(path)
    assert "Ghostscript" not in str(info.value) and "corrupt" not in str(info.value)


@pytest.mark.parametrize("fmt", ["TIFF", "PNG", "GIF", "WEBP"])
def test_corrupt_files_are_a_message_or_an_image(tmp_path, fmt):
    """Bytes flipped at random in a two-page file: every decoder error (PIL raises KeyError, TypeError,
    SyntaxError, struct errors, ... on corrupt TIFFs) is an InputError, and what opens converts."""
    import random
    import warnings

    frames = [Image.effect_noise((32, 32), 40).convert("RGB"), Image.new("RGB", (32, 32), "green")]
    path = tmp_path / f"pages.{fmt.lower()}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
    data, rng, kinds = path.read_bytes(), random.Random(0), set()
    for _ in range(150):
        broken = bytearray(data)
        for _ in range(4):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        path.write_bytes(bytes(broken))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                image, _ = open_image(path)
            except InputError as err:
                kinds.add(type(err.__cause__).__name__)
                continue
            image.convert("RGB")
    assert kinds  # some corruptions were refused


def test_upload_metadata_does_not_travel(tmp_path):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * 100_000)
    path = tmp_path / "tagged.png"
    Image.new("RGB", (32, 32)).save(path, pnginfo=info)
    image, _ = open_image(path)
    assert image.info == {}


def test_views_are_opened_no_larger_than_they_are_used(tmp_path):
    """A 4000 x 3000 JPEG opened for views -> 3D is decoded at half scale (DCT scaling), a PNG
    box-reduced: under twice the working side each, a 12-view request holds a few MB per view, not 48."""
    big = Image.effect_noise((4000, 3000), 40).convert("RGB")
    jpeg = save(tmp_path, "big.jpg", big, quality=80)
    png = save(tmp_path, "big.png", Image.new("P", (4000, 3000)))
    images, _ = open_views([jpeg, png], max_views=4, shrink_to=1024)
    assert images[0].size == (2000, 1500) and images[1].size == (1334, 1000)
    assert open_image(jpeg)[0].size == (4000, 3000)  # others (super-resolution) get every pixel
