"""Photographed cut-outs (lddbm.data.cutouts): which stamps are kept, the build on a fake unpacked package,
framing, and the segmenter's training drawing them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lddbm.data import cutouts


def _stamp(size=(100, 140), fill=0.4, colours=True, seed=0) -> np.ndarray:
    """An RGBA picture: a noisy ellipse (many colours) or a flat one, its alpha the ellipse."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(fill / np.pi)
    inside = ((xx / w - 0.5) / r) ** 2 + ((yy / h - 0.5) / r) ** 2 < 1
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if colours else np.full((h, w, 3), (200, 40, 40), np.uint8)
    return np.dstack([rgb, inside.astype(np.uint8) * 255])


def test_keep_stamp_reasons():
    assert cutouts.keep_stamp("animals/mammals/cow.png", _stamp()) == ""
    assert cutouts.keep_stamp("symbols/letters/a.png", _stamp()) == "symbol"
    assert cutouts.keep_stamp("town/houses/cartoon/house.png", _stamp()) == "drawing"
    assert cutouts.keep_stamp("food/pea.png", _stamp(size=(40, 40))) == "small"
    opaque = _stamp()
    opaque[..., 3] = 255
    assert cutouts.keep_stamp("food/plate.png", opaque) == "no cut-out"
    assert cutouts.keep_stamp("food/sign.png", _stamp(colours=False)) == "flat colours"


def test_split_is_stable_and_holds_some_out():
    names = [f"animals/thing{i}.png" for i in range(400)]
    splits = [cutouts.split_of(n) for n in names]
    assert splits == [cutouts.split_of(n) for n in names]
    assert 0.05 < splits.count("test") / len(splits) < 0.25


def test_build_keeps_crops_and_indexes(tmp_path, monkeypatch):
    unpacked = tmp_path / "deb"
    root = unpacked / cutouts.STAMPS
    for relative, rgba in {"animals/cow.png": _stamp(seed=1), "food/apple.png": _stamp(size=(90, 90), seed=2),
                           "symbols/a.png": _stamp(), "vehicles/cartoon/car.png": _stamp()}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgba).save(root / relative)
    doc = unpacked / "usr/share/doc" / cutouts.PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("License: GPL-2\n")
    monkeypatch.setattr(cutouts, "fetch_and_unpack", lambda package, work, source: unpacked)
    summary = cutouts.build(tmp_path / "out", progress=False)
    assert summary["kept"] == 2 and summary["skipped"] == {"symbol": 1, "drawing": 1}
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert set(index) == {"animals-cow", "food-apple"} and all("GPL-2" in e["license"] for e in index.values())
    entry = index["animals-cow"]
    with Image.open(tmp_path / "out" / entry["split"] / "animals-cow.png") as im:
        alpha = np.asarray(im)[..., 3] > 127
    assert alpha[0].any() and alpha[:, 0].any() and alpha[-1].any()  # cropped to the alpha's box
    objects = cutouts.load_cutouts(tmp_path / "out", entry["split"], size=64)
    assert [o["id"] for o in objects if o["id"] == "animals-cow"] == ["animals-cow"]
    cow = next(o for o in objects if o["id"] == "animals-cow")
    assert cow["views"].shape == (1, 64, 64, 3) and cow["masks"].shape == (1, 64, 64)
    assert cutouts.load_cutouts(tmp_path / "nothing", "train") == []


def test_frame_cutout_fills_the_frame_like_a_render():
    view, mask = cutouts.frame_cutout(_stamp(size=(60, 120), fill=0.99 * np.pi / 4), 128)
    rows, cols = np.nonzero(mask)
    assert abs((rows.max() - rows.min() + 1) - 0.75 * 128) <= 3  # the longer side 75 % of the frame
    assert abs((rows.min() + rows.max()) / 2 - 63.5) <= 1.5 and abs((cols.min() + cols.max()) / 2 - 63.5) <= 1.5
    assert (view[~mask] == 245).all()


def test_masknet_training_draws_cutouts_and_asks_for_them(tmp_path):
    from lddbm.errors import ConfigError
    from lddbm.segmentation import _batch, train_masknet

    stamp = cutouts.frame_cutout(_stamp(size=(80, 80), fill=0.3), 32)
    many = [{"id": "s", "views": stamp[0][None], "masks": stamp[1][None]}]
    renders = np.full((2, 1, 32, 32, 3), 245, np.uint8)
    masks = np.zeros((2, 1, 32, 32), bool)  # renders with empty masks: only a cut-out can bring an object
    x, y = _batch(renders, masks, 32, np.random.default_rng(0), None, 8, cutouts=many, cutout_share=1.0)
    assert x.shape == (8, 3, 32, 32) and (y.sum((1, 2, 3)) > 0).all()
    x, y = _batch(renders, masks, 32, np.random.default_rng(0), None, 8)
    assert (y.sum() == 0).item()

    with pytest.raises(ConfigError, match="build-data cutouts"):  # before any data is loaded
        train_masknet(tmp_path / "no-data", tmp_path / "m", photos_root="", steps=1, batch_size=2, progress=False,
                      widths=(8, 16), cutouts_root=tmp_path / "none", cutout_share=0.3)


def test_backgrounds_can_leave_out_photographs_of_one_subject(tmp_path):
    from lddbm.data.photos import SUBJECT_PHOTOS, background_photos

    names = ["gcompris-erase-kitten", "ufoai-mattn-wall008", "matplotlib-grace-hopper"]
    (tmp_path / "images").mkdir()
    for i, name in enumerate(names):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / "images" / f"{name}.png")
    (tmp_path / "split.json").write_text(json.dumps({"train": names, "test": []}))
    (tmp_path / "index.json").write_text(json.dumps({n: {"source": n} for n in names}))
    assert len(background_photos(str(tmp_path))) == 3
    kept = background_photos(str(tmp_path), without_subjects=True)
    assert len(kept) == 1 and kept[0][0, 0, 0] == 40  # only the wall texture
    assert "skimage-chelsea" in SUBJECT_PHOTOS
