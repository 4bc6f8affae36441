"""The upload normaliser (lddbm.framing), the corruptions/augmentation and the MaskNet segmenter."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from lddbm.data.augment import CORRUPTIONS, augment_view, corrupt_view, frame_clean, imperfect_mask
from lddbm.framing import (TRAINING_BACKGROUND, frame_object, normalize_view, normalize_views, segment_foreground,
                           view_warnings)
from lddbm.inputs import open_image
from lddbm.tasks.multiview3d.robustness import mask_iou
from lddbm.segmentation import MaskNet


def object_on(background: np.ndarray, box=(30, 20, 70, 90), colour=(150, 40, 30), seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A textured ellipse inside ``box`` (x0, y0, x1, y1) over ``background``; returns (rgb, mask)."""
    h, w = background.shape[:2]
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((xx - (x0 + x1 - 1) / 2) / ((x1 - x0) / 2)) ** 2 + ((yy - (y0 + y1 - 1) / 2) / ((y1 - y0) / 2)) ** 2 <= 1
    rng = np.random.default_rng(seed)
    texture = np.clip(np.array(colour) + rng.normal(0, 12, (h, w, 3)), 0, 255)
    rgb = np.where(mask[..., None], texture, background).astype(np.uint8)
    return rgb, mask


def box_of(alpha: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(alpha > 127)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def test_frame_object_centres_and_scales_the_box():
    rgba = np.zeros((100, 120, 4), np.uint8)
    rgba[20:90, 30:70] = (200, 10, 10, 255)  # box 40 wide, 70 tall, off centre
    out = frame_object(rgba, foreground_ratio=0.5, size=64)
    x0, y0, x1, y1 = box_of(out[..., 3])
    assert abs((y1 - y0) - 32) <= 1 and abs((x1 - x0) - 32 * 40 / 70) <= 1.5  # longer side = ratio * size
    assert abs((x0 + x1) / 2 - 32) <= 1 and abs((y0 + y1) / 2 - 32) <= 1
    assert out[0, 0, 3] == 0 and frame_object(np.zeros((8, 8, 4), np.uint8)) is None
    with pytest.raises(ValueError, match="foreground_ratio"):
        frame_object(rgba, foreground_ratio=1.5)


def test_alpha_is_honoured_and_background_becomes_the_training_grey():
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[10:30, 50:75] = (20, 200, 20, 255)
    view = normalize_view(Image.fromarray(rgba, "RGBA"), foreground_ratio=0.75, size=64)
    assert view.mask_source == "alpha" and view.found and view.image.size == (64, 64)
    rgb = np.asarray(view.on_background())
    assert tuple(rgb[0, 0]) == (TRAINING_BACKGROUND,) * 3 and tuple(rgb[32, 32]) == (20, 200, 20)
    x0, y0, x1, y1 = box_of(np.asarray(view.image)[..., 3])
    assert abs((x1 - x0) - 48) <= 1  # 25 px wide object -> 0.75 * 64


@pytest.mark.parametrize("background", ["light", "dark", "gradient", "noisy"])
def test_segmentation_finds_a_generated_object(background):
    h = w = 120
    if background == "light":
        bg = np.full((h, w, 3), 240, np.uint8)
    elif background == "dark":
        bg = np.full((h, w, 3), 35, np.uint8)
    elif background == "gradient":
        bg = np.linspace([20, 80, 200], [240, 220, 120], w).astype(np.uint8)[None].repeat(h, 0)
    else:
        bg = np.clip(np.random.default_rng(1).normal(110, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    rgb, mask = object_on(bg)
    assert mask_iou(segment_foreground(rgb), mask) > 0.85


def test_segmentation_keeps_an_object_cut_by_the_frame():
    bg = np.full((64, 64, 3), 230, np.uint8)
    bg[20:, 10:40] = (150, 30, 30)  # runs off the bottom edge
    mask = segment_foreground(bg)
    assert mask[20:, 10:40].mean() > 0.9 and mask[:, 45:].sum() == 0
    view = normalize_view(Image.fromarray(bg))
    assert view.touches_border and "touches the image border" in view_warnings([view])[0]


def test_no_object_and_disagreeing_sizes_are_reported():
    blank = normalize_view(Image.new("RGB", (50, 50), (90, 90, 90)))
    assert not blank.found and "no object found" in view_warnings([blank])[0]
    big, _ = object_on(np.full((120, 120, 3), 240, np.uint8), box=(5, 5, 115, 115))
    small, _ = object_on(np.full((120, 120, 3), 240, np.uint8), box=(55, 55, 75, 75))
    views = normalize_views([Image.fromarray(big), Image.fromarray(small)])
    assert any("differs a lot between views" in w for w in view_warnings(views))
    kept = normalize_view(Image.fromarray(small), remove_background=False)
    assert kept.mask_source == "none" and np.asarray(kept.image)[2:-2, 2:-2, 3].min() == 255  # the whole image kept


def _save(image: Image.Image, tmp_path, name: str, **kw) -> str:
    path = tmp_path / name
    image.save(path, **kw)
    return str(path)


def test_every_image_mode_and_exif_rotation(tmp_path):
    rgb, _ = object_on(np.full((120, 120, 3), 240, np.uint8))
    grey = Image.fromarray(rgb).convert("L")
    images = {
        "rgb.png": Image.fromarray(rgb), "grey.png": grey, "la.png": grey.convert("LA"),
        "palette.png": Image.fromarray(rgb).convert("P"), "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
        "deep.png": Image.fromarray((np.asarray(grey).astype(np.uint16) * 257)),
        "float.tif": Image.fromarray(np.asarray(grey).astype(np.float32) / 255),
    }
    for name, image in images.items():
        view = normalize_view(open_image(_save(image, tmp_path, name))[0], size=48)
        assert view.image.mode == "RGBA" and view.image.size == (48, 48) and view.found, name
    tall = np.full((120, 60, 3), 240, np.uint8)  # stored sideways, EXIF says rotate
    tall[10:110, 20:40] = (10, 10, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    upright = open_image(_save(Image.fromarray(tall), tmp_path, "exif.jpg", exif=exif.tobytes()))[0]
    assert upright.size == (120, 60)


def test_corruptions_and_augmentation_on_a_render():
    rgb, mask = object_on(np.full((64, 64, 3), 245, np.uint8), box=(16, 10, 48, 58))
    photos = [np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)]
    for c in CORRUPTIONS:
        image = corrupt_view(rgb, mask, c, np.random.default_rng(0), photos)
        assert image.size == (64, 64) and image.mode == ("RGBA" if c == "cutout" else "RGB"), c
    with pytest.raises(ValueError, match="Unknown corruption"):
        corrupt_view(rgb, mask, "fog", np.random.default_rng(0))
    a = augment_view(rgb, mask, 32, np.random.default_rng(3), photos)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, augment_view(rgb, mask, 32, np.random.default_rng(3), photos))  # seeded
    clean = frame_clean(rgb, mask, 32)
    assert tuple(clean[0, 0]) == (TRAINING_BACKGROUND,) * 3
    for seed in range(20):  # a spoiled mask still holds most of the object
        assert imperfect_mask(mask, np.random.default_rng(seed)).sum() > 0.5 * mask.sum()


def test_masknet_shapes_round_trip_and_learns_a_silhouette(tmp_path):
    torch.manual_seed(0)
    net = MaskNet(image_size=32, widths=(8, 16))
    rgb, mask = object_on(np.full((32, 32, 3), 60, np.uint8), box=(8, 4, 24, 30))
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    y = torch.from_numpy(mask).float()[None, None]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    assert net.predict(rgb).shape == (32, 32)
    assert mask_iou(net.segment(rgb), mask) > 0.8
    wide = np.asarray(Image.fromarray(rgb).resize((64, 32)))
    assert net.segment(wide).shape == (32, 64)  # letterboxed, any aspect
    net.save_pretrained(tmp_path / "masknet")
    again = MaskNet.from_pretrained(tmp_path / "masknet").eval()
    assert np.array_equal(again.segment(rgb), net.segment(rgb))
    with pytest.raises(ValueError, match="multiple of"):
        MaskNet(image_size=30)


def test_jpeg_and_photo_like_upload_through_normaliser():
    rgb, mask = object_on(np.clip(np.random.default_rng(2).normal(100, 30, (160, 160, 3)), 0, 255).astype(np.uint8),
                          box=(40, 30, 120, 140), colour=(220, 200, 40))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=60)
    view = normalize_view(Image.open(buffer), size=64)
    assert view.found and view.mask_source == "segmented"
    x0, y0, x1, y1 = box_of(np.asarray(view.image)[..., 3])
    assert abs((y1 - y0) - 48) <= 3  # the object, not the whole photo, fills 0.75 of the frame


def test_memory_per_view_is_bounded_by_the_working_copy_not_the_upload():
    """A long strip (within the upload limits) is shrunk to WORK_SIDE before masking and framing, and
    MaskNet letterboxes after shrinking: no square of the upload's long side is ever made (the padded
    square of a 16 x 60000 strip was 22 GB). Measured with tracemalloc, which numpy reports to."""
    import tracemalloc

    from lddbm.framing import WORK_SIDE

    rng = np.random.default_rng(0)
    strip = rng.integers(0, 255, (600, 7000, 3), dtype=np.uint8)  # 12 MB; its square would be 147 MB
    net = MaskNet(image_size=64, widths=(8, 8, 8)).eval()
    seen = []

    class Recording:
        def segment(self, rgb):
            seen.append(rgb.shape)
            return net.segment(rgb)

    tracemalloc.start()
    p = net.predict(strip)
    view = normalize_view(Image.fromarray(strip), segmenter=Recording())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert p.shape == strip.shape[:2] and view.image.size == (128, 128)
    assert max(seen[0][:2]) == WORK_SIDE
    assert peak < 80 * 2**20, peak / 2**20  # the strip's own float copies (4 bytes x 4.2 MP), nothing square


def test_train_masknet_starts_from_a_given_segmenter_and_refuses_other_widths(tmp_path):
    from test_novelview import write_tiny_renders

    from lddbm.errors import ConfigError
    from lddbm.segmentation import load_masknet, train_masknet

    data = write_tiny_renders(tmp_path / "data", size=32)
    start = MaskNet(image_size=32, widths=(8, 16))
    start.save_pretrained(tmp_path / "start")
    summary = train_masknet(data, tmp_path / "more", photos_root="", steps=2, batch_size=2, progress=False,
                            init_from=tmp_path / "start", lr=1e-3)
    trained = load_masknet(tmp_path / "more")
    assert summary["steps"] == 2 and summary["init_from"] == str(tmp_path / "start") and summary["lr"] == 1e-3
    assert list(trained.config.widths) == [8, 16] and trained.config.image_size == 32
    moved = [not torch.equal(a.half(), b.half()) for a, b in zip(start.parameters(), trained.parameters())]
    assert any(moved)  # trained further from the given weights, not replaced
    with pytest.raises(ConfigError, match="differ from"):
        train_masknet(data, tmp_path / "bad", photos_root="", steps=1, batch_size=2, progress=False,
                      init_from=tmp_path / "start", widths=(8, 32))


def test_attaching_a_segmenter_keeps_the_components_card(tmp_path):
    """A new segmenter replaces the old one's weights and config, not the hand-written card beside them;
    a MaskNet folder that brings its own card replaces it."""
    import json

    from lddbm.segmentation import attach_to_pipeline, load_masknet

    pipeline = tmp_path / "pipeline"
    (pipeline / "segmenter").mkdir(parents=True)
    (pipeline / "model_index.json").write_text(json.dumps({"_class_name": "LDDBMPipeline"}))
    (pipeline / "segmenter" / "README.md").write_text("# the card\n")
    (pipeline / "segmenter" / "stale.bin").write_bytes(b"old")
    MaskNet(image_size=32, widths=(8, 16)).save_pretrained(tmp_path / "new")
    attach_to_pipeline(tmp_path / "new", pipeline, refine=False)
    assert (pipeline / "segmenter" / "README.md").read_text() == "# the card\n"
    assert not (pipeline / "segmenter" / "stale.bin").exists()
    assert load_masknet(pipeline / "segmenter").config.refine is False
    assert json.loads((pipeline / "model_index.json").read_text())["segmenter"] == ["lddbm.segmentation", "MaskNet"]
    (tmp_path / "new" / "README.md").write_text("# a newer card\n")
    attach_to_pipeline(tmp_path / "new", pipeline)
    assert (pipeline / "segmenter" / "README.md").read_text() == "# a newer card\n"
