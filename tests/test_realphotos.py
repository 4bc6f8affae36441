"""The real-photo check set (assets/realphotos): loads, is well formed, and its stored prompts rebuild
its stored masks (benchmarks/make_realphoto_masks.py)."""

import json

import numpy as np
import pytest

from lddbm.data.realphotos import (load_mask, load_photo, load_prompts, mask_from_prompts, mask_iou,
                                   photo_folders, prompt_labels, real_photo_set)

SMALL = 200_000  # pixels: the photos whose GrabCut rebuild is quick enough for the fast test


@pytest.fixture(scope="module")
def photo_set():
    return real_photo_set()


def test_set_is_well_formed(photo_set):
    assert len(photo_set) >= 12
    names = [name for name, _, _ in photo_set]
    assert len(set(names)) == len(names)
    for name, rgb, mask in photo_set:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, name
        assert max(rgb.shape[:2]) <= 640, name
        assert mask.dtype == bool and mask.shape == rgb.shape[:2], name
        assert 0.005 < mask.mean() < 0.95, (name, mask.mean())  # not empty, not the whole frame


def test_every_photo_records_its_source_and_prompts():
    for folder in photo_folders():
        prompts = load_prompts(folder)
        source = prompts["source"]
        for key in ("package", "path", "licence", "author"):
            assert source.get(key), (folder.name, key)
        assert prompts.get("rect") and len(prompts["rect"]) == 4, folder.name
    readme = (photo_folders()[0].parent / "README.md").read_text()
    for folder in photo_folders():
        assert f"`{folder.name}`" in readme, f"{folder.name} missing from assets/realphotos/README.md"


def test_masks_agree_with_their_sure_labels():
    """Every photo, without running GrabCut: the stored mask keeps what its prompts call sure foreground
    and leaves out what they call sure background (a prompt edited without rebuilding the mask fails)."""
    import cv2

    for folder in photo_folders():
        mask = load_mask(folder)
        labels = prompt_labels(mask.shape, load_prompts(folder))
        sure_fg, sure_bg = labels == cv2.GC_FGD, labels == cv2.GC_BGD
        if sure_fg.any():
            assert mask[sure_fg].mean() >= 0.98, folder.name
        assert mask[sure_bg].mean() <= 0.002, folder.name


def _check_rebuild(folder):
    rebuilt = mask_from_prompts(load_photo(folder), load_prompts(folder))
    iou = mask_iou(rebuilt, load_mask(folder))
    assert iou >= 0.98, f"{folder.name}: stored prompts rebuild its mask at IoU {iou:.4f} (< 0.98)"


def test_prompts_reproduce_masks_small_photos():
    """Fast: the photos of at most SMALL pixels (about half the set, ~2 s on 2 busy cores)."""
    small = [f for f in photo_folders() if np.prod(load_photo(f).shape[:2]) <= SMALL]
    assert len(small) >= 6
    for folder in small:
        _check_rebuild(folder)


@pytest.mark.slow
def test_prompts_reproduce_masks_all_photos():
    """The photos the fast test leaves out (~5-10 s on 2 cores: GrabCut on up to 640 px)."""
    for folder in photo_folders():
        if np.prod(load_photo(folder).shape[:2]) > SMALL:
            _check_rebuild(folder)


def test_mask_from_prompts_shapes():
    """Each prompt shape labels what it says: a sure-background polygon stays background, an outline
    bounds the mask, a sure-foreground stroke stays foreground."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 40, size=(80, 100, 3), dtype=np.uint8)
    rgb[20:60, 30:70] = 220 + rng.integers(0, 20, size=(40, 40, 3), dtype=np.uint8)  # a bright square
    mask = mask_from_prompts(rgb, {"rect": [20, 10, 80, 70], "iterations": 2})
    assert mask_iou(mask, np.pad(np.ones((40, 40), bool), ((20, 20), (30, 30)))) > 0.95
    mask = mask_from_prompts(rgb, {"rect": [20, 10, 80, 70], "bg": [{"polygon": [[30, 20], [50, 20], [50, 60], [30, 60]]}],
                                   "fg": [{"line": [[5, 5], [15, 5]], "width": 3}], "min_component": 0.0, "iterations": 2})
    assert not mask[20:60, 30:50].any() and mask[5, 5:15].all()
    mask = mask_from_prompts(rgb, {"rect": [0, 0, 100, 80], "outline": [{"polygon": [[30, 20], [69, 20], [69, 59], [30, 59]],
                                                                           "band": 3}], "iterations": 2})
    assert not mask[:, :25].any() and not mask[:15].any() and mask[25:55, 35:65].all()
    json.dumps(load_prompts(photo_folders()[0]))  # stored prompts are plain JSON


def test_the_check_sets_photographs_are_left_out_of_segmenter_backgrounds(tmp_path):
    """A built photos folder may hold the same package images as the check set (scikit-image's
    astronaut, gcompris' dog): ``source_keys`` names them and ``photo_arrays(exclude=...)`` drops them,
    so the segmenter never trains on a check-set photograph, even as a background."""
    import json

    from PIL import Image

    from lddbm.data.photos import photo_arrays
    from lddbm.data.realphotos import source_keys

    keys = source_keys()
    assert "skimage/data/astronaut.png" in keys
    assert any(k.endswith("explore_farm_animals/resource/animals/dog.webp") for k in keys)
    (tmp_path / "images").mkdir()
    index = {"skimage-astronaut": {"source": "scikit-image 0.26.0: skimage/data/astronaut.png"},
             "mate-aqua": {"source": "Debian package mate-backgrounds: /usr/share/backgrounds/mate/nature/Aqua.jpg"}}
    for name in index:
        Image.new("RGB", (8, 8)).save(tmp_path / "images" / f"{name}.png")
    (tmp_path / "index.json").write_text(json.dumps(index))
    (tmp_path / "split.json").write_text(json.dumps({"train": list(index), "test": []}))
    assert len(photo_arrays(tmp_path, "train")) == 2
    assert len(photo_arrays(tmp_path, "train", exclude=keys)) == 1
