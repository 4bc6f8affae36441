"""The photo data set builder on a small wallpaper package built by the test, plus skimage's photos."""

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from lddbm.data.photos import MIN_TEST, PhotoCrops, build, debian_licences, degrade

pytestmark = pytest.mark.skipif(subprocess.run(["which", "dpkg-deb"], capture_output=True).returncode != 0,
                                reason="dpkg-deb is needed to build the test package")

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: nature/Leaf.jpg
       nature/Sky.jpg
Copyright: 2008, Someone <someone@example.org>
License: GPL-2+

Files: nature/Rock.jpg
Copyright: 2009, Other
License: CC0
"""


@pytest.fixture
def wallpaper_deb(tmp_path):
    root = tmp_path / "pkg"
    nature = root / "usr/share/backgrounds/mate/nature"
    nature.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("Leaf", "Sky", "Rock", "Tree"):
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(nature / f"{name}.jpg")
    doc = root / "usr/share/doc/mate-backgrounds"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text("Package: mate-backgrounds\nVersion: 1.0\nArchitecture: all\n"
                                         "Maintainer: t <t@example.org>\nDescription: test\n")
    deb = tmp_path / "mate-backgrounds_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def test_licences_are_parsed_per_file(tmp_path):
    f = tmp_path / "copyright"
    f.write_text(COPYRIGHT)
    licences = debian_licences(f)
    assert licences["nature/Leaf.jpg"].startswith("GPL-2+") and licences["nature/Rock.jpg"].startswith("CC0")


def test_the_last_matching_licence_stanza_wins_and_names_match_across_trees():
    from lddbm.data.photos import _licence_for

    licences = {"*": "GPL-2+ (team)", "16.04/Bridge_by_X.jpg": "CC-BY-SA-4.0 (X)", "nature/Rock.jpg": "CC0"}
    assert _licence_for("usr/share/backgrounds/Bridge_by_X.jpg", licences) == "CC-BY-SA-4.0 (X)"  # source vs installed path
    assert _licence_for("usr/share/backgrounds/mate/nature/Rock.jpg", licences) == "CC0"
    assert _licence_for("usr/share/wallpapers/Path/contents/images/2560x1600.jpg", licences) == "GPL-2+ (team)"
    assert _licence_for("x.jpg", {}) == "see the package's copyright file"


def test_held_out_counts_per_source():
    from lddbm.data.photos import assign_test

    sources = {"a": [f"a{i}" for i in range(10)], "b": [f"b{i}" for i in range(5)], "c": ["c0"]}
    test = assign_test(sources, per_source={"a": 3, "b": 1, "c": 1})
    assert len([n for n in test if n.startswith("a")]) >= 3 and len([n for n in test if n.startswith("b")]) >= 1
    assert "c0" not in test or len(test) <= MIN_TEST  # a source's only photo is kept for training unless needed


def test_build_holds_out_whole_photos(wallpaper_deb, tmp_path):
    out = tmp_path / "photos"
    summary = build(out, sources=[wallpaper_deb], max_side=256)
    index = json.loads((out / "index.json").read_text())
    split = json.loads((out / "split.json").read_text())
    assert summary["photos"] == len(index) >= 4 + 6  # the package's 4 and scikit-image's photographs
    assert len(split["test"]) >= MIN_TEST and not set(split["test"]) & set(split["train"])
    assert any(n.startswith("mate-backgrounds") for n in split["test"]) and any(n.startswith("skimage") for n in split["test"])
    assert index["mate-backgrounds-leaf"]["license"].startswith("GPL-2+")
    assert max(index["mate-backgrounds-leaf"]["size"]) == 256  # downsized, aspect kept
    assert sorted(p.stem for p in (out / "test").glob("*.png")) == split["test"]  # a folder for eval sr --images
    assert build(out, sources=[wallpaper_deb], max_side=256) == summary  # idempotent

    crops = PhotoCrops(out, "train", hr_size=64, scale=4, crops_per_epoch=5)
    item = crops[0]
    assert item["target"].shape == (3, 64, 64) and item["source"].shape == (3, 16, 16)
    assert item["target"].min() >= -1 and item["target"].max() <= 1


def test_degrade_is_antialiased_bicubic():
    stripes = Image.fromarray(np.tile(np.array([0, 255], np.uint8), (64, 32)))  # 1-pixel stripes
    small = np.asarray(degrade(stripes.convert("RGB"), 4))
    interior = small[:, 1:-1]  # away from the image border
    assert small.shape == (16, 16, 3) and abs(interior.mean() - 127.5) < 1 and interior.std() < 1  # averaged, not aliased
    with pytest.raises(ValueError, match="not divisible"):
        degrade(Image.new("RGB", (30, 30)), 4)
