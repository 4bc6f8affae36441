"""Cutting an object out from a person's box (lddbm.framing.segment_with_box), through normalize_view and
the `sample` command's --boxes."""

import json

import numpy as np
import pytest
from PIL import Image

from lddbm.data.realphotos import mask_iou, real_photo_set
from lddbm.framing import BoxPrompt, normalize_view, normalize_views, segment_foreground, segment_with_box


def cluttered(seed=0, size=(120, 160)):
    """A textured ellipse (the object) with a same-coloured blob outside its box, on a mottled background."""
    h, w = size
    rng = np.random.default_rng(seed)
    rgb = np.clip(rng.normal(170, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((xx - 60) / 30) ** 2 + ((yy - 60) / 40) ** 2 <= 1
    rgb[mask] = np.clip(np.array([150, 40, 30]) + rng.normal(0, 10, (mask.sum(), 3)), 0, 255)
    blob = ((xx - 135) / 15) ** 2 + ((yy - 30) / 15) ** 2 <= 1  # clutter of the object's colour
    rgb[blob] = (150, 40, 30)
    return rgb, mask


def test_a_box_cuts_out_the_object_and_leaves_the_clutter():
    rgb, truth = cluttered()
    box = (26, 16, 95, 105)
    mask = segment_with_box(rgb, box)
    assert mask.dtype == bool and mask.shape == truth.shape
    assert mask_iou(mask, truth) > 0.9 and not mask[:, 110:].any()  # nothing outside the box
    assert mask_iou(segment_with_box(rgb, (95, 105, 26, 16)), truth) > 0.9  # two corners in either order


def test_a_boxed_object_small_in_a_large_photo_is_found_and_framed():
    """A person's box says the object is there: however small in the photo (here 0.1 % of it, below the
    size under which an automatic cut-out counts as 'no object found'), it is framed, not the whole photo."""
    rgb, truth = cluttered()
    big = np.full((1200, 1600, 3), 170, np.uint8)
    big[500:620, 700:860] = rgb
    view = normalize_view(Image.fromarray(big), box=(726, 516, 795, 605))
    assert view.mask_source == "box" and view.found and view.notes == []
    assert view.box_fraction < 0.1  # the object's box in the photo, not the whole frame


def test_clicks_add_a_part_and_remove_background():
    rgb, truth = cluttered()
    box = (26, 16, 95, 105)
    plain = segment_with_box(rgb, box)
    with_click = segment_with_box(rgb, BoxPrompt(box, background=((60, 60),)))
    assert plain[60, 60] and not with_click[60, 60]  # a background click removes what it is on
    assert with_click.sum() > 0.8 * plain.sum()  # and not the rest
    kept = segment_with_box(rgb, box, foreground=[(30, 20)])  # a click on a corner of the box keeps it
    assert kept[20, 30]


def test_bad_and_whole_image_boxes():
    rgb, truth = cluttered()
    with pytest.raises(ValueError, match="holds no part"):
        segment_with_box(rgb, (500, 500, 600, 600))
    with pytest.raises(ValueError, match="four numbers"):
        BoxPrompt((1, 2, 3))
    whole = segment_with_box(rgb, (0, 0, 160, 120))  # nothing outside to learn from: the border-seeded cut, in the box
    assert whole.any() and not whole.all()
    flat = np.full((40, 40, 3), 128, np.uint8)
    assert segment_with_box(flat, (10, 10, 30, 30))[10:30, 10:30].all()  # nothing found: the box itself


def test_normalize_view_uses_the_box_and_scales_it_to_the_working_copy():
    rgb, truth = cluttered()
    big = Image.fromarray(rgb).resize((1600, 1200), Image.NEAREST)  # shrunk to 1024 before masking: the box follows
    view = normalize_view(big, box=(260, 160, 950, 1050), size=64)
    assert view.mask_source == "box" and view.found and not view.touches_border
    assert view.box_fraction == pytest.approx(80 / 160, abs=0.05)  # the ellipse's height, not the clutter's extent
    plain = normalize_views([big, big], boxes=[None, (260, 160, 950, 1050)], size=64)
    assert [v.mask_source for v in plain] == ["segmented", "box"]
    with pytest.raises(ValueError, match="one per view"):
        normalize_views([big], boxes=[None, None])


def test_a_cut_out_keeps_its_alpha_and_a_box_only_crops_it():
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[10:30, 10:30] = (200, 20, 20, 255)
    rgba[50:70, 50:70] = (20, 200, 20, 255)
    image = Image.fromarray(rgba, "RGBA")
    assert normalize_view(image, remove_background=False).mask_source == "alpha"  # transparency is honoured as it is
    cropped = normalize_view(image, box=(0, 0, 40, 40), size=64)
    assert cropped.mask_source == "alpha" and cropped.box_fraction == pytest.approx(20 / 80)


def test_one_box_beats_the_automatic_cut_on_a_real_photo():
    """The coffee cup on a wood table (assets/realphotos): the automatic cut misses it, a box finds it."""
    name, rgb, truth = next(p for p in real_photo_set() if p[0] == "coffee")
    ys, xs = np.nonzero(truth)
    pad = round(0.02 * max(truth.shape))
    box = (xs.min() - pad, ys.min() - pad, xs.max() + 1 + pad, ys.max() + 1 + pad)
    assert mask_iou(segment_foreground(rgb), truth) < 0.3
    assert mask_iou(segment_with_box(rgb, box), truth) > 0.85


def test_sample_takes_a_box_per_view(tmp_path, capsys):
    from conftest import make_tiny_3d
    from lddbm.__main__ import main
    from lddbm.tasks.multiview3d.cli import parse_boxes

    make_tiny_3d().save_pretrained(tmp_path / "pipe")
    rgb, _ = cluttered()
    big = Image.fromarray(rgb).resize((2400, 1800), Image.NEAREST)
    paths = [tmp_path / "a.jpg", tmp_path / "b.png"]
    big.save(paths[0], quality=95)  # a large JPEG is decoded smaller: the box is scaled to it
    Image.fromarray(rgb).save(paths[1])
    from lddbm.inputs import open_views

    images, _ = open_views(paths, 4, shrink_to=1024)
    boxes = parse_boxes(["390,240,1425,1575", "-"], paths, images)
    kx, ky = images[0].size[0] / 2400, images[0].size[1] / 1800
    assert boxes[1] is None and boxes[0] == pytest.approx([390 * kx, 240 * ky, 1425 * kx, 1575 * ky])
    out = tmp_path / "shape.glb"
    assert main(["sample", "--checkpoint", str(tmp_path / "pipe"), "--views", *map(str, paths), "--out", str(out),
                 "--steps", "1", "--boxes", "390,240,1425,1575", "-"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["mesh"] == str(out)
    assert main(["sample", "--checkpoint", str(tmp_path / "pipe"), "--views", *map(str, paths), "--out", str(out),
                 "--boxes", "1,2,3"]) == 2
    assert "one per view" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(tmp_path / "pipe"), "--views", *map(str, paths), "--out", str(out),
                 "--steps", "1", "--threshold", "0.99999"]) == 2  # an empty shape: one line, no traceback
    err = capsys.readouterr().err
    assert "The predicted shape is empty" in err and "Traceback" not in err
