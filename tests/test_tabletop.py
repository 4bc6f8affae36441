"""The table-top scenes the segmenter trains on (lddbm.data.tabletop)."""

import numpy as np

from lddbm.data.tabletop import tabletop_scene
from lddbm.segmentation import composite_sample


def _object(size: int = 96):
    """A red box with a thin leg: the render and its mask."""
    view = np.full((size, size, 3), 245, np.uint8)
    mask = np.zeros((size, size), bool)
    mask[30:60, 30:66] = True
    mask[60:80, 46:50] = True
    view[mask] = (200, 30, 30)
    return view, mask


def test_the_scene_keeps_the_object_whole_and_labels_it_alone():
    view, mask = _object()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        scene, out = tabletop_scene(view, mask, rng, others=[_object()])
        assert scene.shape == view.shape and scene.dtype == np.uint8 and out.shape == mask.shape
        # the object is scaled, not cut: its area follows the scale and it stays inside the frame
        assert out.sum() > 0.1 * mask.sum()
        assert not (out[0].any() or out[:, 0].any() or out[:, -1].any())
        # object pixels keep the object's colour; everything labelled background is not a copy of it
        assert np.abs(scene[out].astype(int) - (200, 30, 30)).max(1).mean() < 40
        # reproducible from the generator
        again, again_mask = tabletop_scene(view, mask, np.random.default_rng(seed), others=[_object()])
        assert np.array_equal(again, scene) and np.array_equal(again_mask, out)


def test_shadows_darken_the_surface_under_the_object_only():
    from lddbm.data.tabletop import _shadows

    alpha = np.zeros((96, 96), np.float32)
    alpha[40:70, 30:66] = 1  # a box standing at row 69
    for seed in range(10):
        shadow = _shadows(alpha, 69.0, np.random.default_rng(seed))
        assert shadow.min() >= 0 and shadow.max() < 1
        assert shadow[70:72, 36:60].mean() > 0.15  # contact shadow where it stands
        assert shadow[:20].max() < 0.05 and shadow[70:72, :5].max() < 0.05  # nothing far from it


def test_training_pairs_mix_pasted_and_tabletop_scenes():
    view, mask = _object(128)
    rng = np.random.default_rng(0)
    pairs = [composite_sample(view, mask, rng, None, [_object(128)], tabletop=1.0) for _ in range(4)]
    for image, m in pairs:
        assert image.shape == (128, 128, 3) and m.shape == (128, 128) and 0 < m.sum() < m.size


def test_closeups_are_cut_by_the_frame_and_defocus_blurs_only_the_background(monkeypatch):
    from scipy.ndimage import binary_dilation

    from lddbm.data import backgrounds
    from lddbm.segmentation import closeup

    view, mask = _object(128)
    for seed in range(10):
        big, big_mask = closeup(view, mask, np.random.default_rng(seed))
        rows, cols = np.nonzero(big_mask)
        # the object's longer side now spans at least the frame, so the frame cuts it, and it still shows
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) >= 0.6 * 128 and big_mask.mean() > 0.15
        assert big_mask[0].any() or big_mask[-1].any() or big_mask[:, 0].any() or big_mask[:, -1].any()
    # a striped background: out of focus, its stripes fade
    stripes = np.zeros((128, 128, 3), np.uint8)
    stripes[:, ::2] = 255
    monkeypatch.setattr(backgrounds, "random_background", lambda s, rng, photos: stripes.copy())
    sharp, m = composite_sample(view, mask, np.random.default_rng(0), None, closeups=0.0, defocus=0.0)
    soft, m2 = composite_sample(view, mask, np.random.default_rng(0), None, closeups=0.0, defocus=1.0)
    away = ~binary_dilation(m | m2, iterations=4)[:, 1:]  # background, away from the object's edge

    def contrast(image):
        return np.abs(np.diff(image.astype(int), axis=1)).max(-1)[away].mean()

    assert contrast(soft) < 0.5 * contrast(sharp)


def test_a_card_lies_under_the_object_and_is_labelled_background():
    from lddbm.data.augment import on_card
    from lddbm.data.backgrounds import card_under

    view, mask = _object(128)
    dark = np.full((128, 128, 3), 40, np.uint8)
    for seed in range(10):
        out = card_under(mask, dark, np.random.default_rng(seed))
        assert out.shape == dark.shape and out.dtype == np.uint8
        assert np.array_equal(out, card_under(mask, dark, np.random.default_rng(seed)))  # seeded
        # the card covers the object's box and some margin round it, but not the whole frame
        covered = np.abs(out.astype(int) - 40).max(-1) > 30
        rows, cols = np.nonzero(mask)
        box = covered[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.mean() > 0.95 and 1.2 * box.size < covered.sum() < covered.size
    photo = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    scene, moved = on_card(view, mask, np.random.default_rng(1), [photo])
    assert scene.shape == view.shape and 0.2 * mask.sum() < moved.sum() < mask.sum()
    # object pixels keep the object's colour; the mask holds the object alone, not the card
    assert np.abs(scene[moved].astype(int) - (200, 30, 30)).max(1).mean() < 40
    # the card is in the training mix when asked for, and the mask is still the object's
    image, m = composite_sample(view, mask, np.random.default_rng(2), None, cards=1.0)
    assert image.shape == (128, 128, 3) and 0 < m.sum() < 0.5 * m.size


def test_whitened_objects_are_light_and_keep_their_shading():
    from lddbm.segmentation import whitened

    view, mask = _object(96)
    view[mask] = (200, 30, 30)
    view[60:80, 46:50] = (120, 20, 20)  # the leg in shade
    for seed in range(5):
        out = whitened(view, np.random.default_rng(seed))
        body, leg = out[30:60, 30:66].astype(int), out[60:80, 46:50].astype(int)
        assert body.mean() > 140 and np.ptp(body[0, 0]) < 0.5 * 170  # lighter (the red was 87 on average), most of it gone
        assert leg.mean() < body.mean()  # the shaded part stays darker
    image, m = composite_sample(view, mask, np.random.default_rng(0), None, whiten=1.0)
    assert image.shape == view.shape and m.sum() > 0
