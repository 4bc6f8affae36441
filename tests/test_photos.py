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


# --- issue 38: more sources, their checks, duplicates and the split by source -------------------

def _photo_like(rng, h=96, w=128):
    """A random scene (a 6x8 colour grid, smoothly upsampled) plus sensor-like noise: passes the
    checks a photograph passes."""
    coarse = Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    return np.clip(np.asarray(coarse, dtype=float) + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def test_photo_checks_drop_drawings_cutouts_normal_maps_and_heavy_compression(tmp_path):
    from lddbm.data.photo_sources import inspect_photo

    rng = np.random.default_rng(0)
    photo = Image.fromarray(_photo_like(rng, 600, 800))
    photo.save(tmp_path / "photo.png")
    assert inspect_photo(tmp_path / "photo.png", min_side=512) == (1.0, "")
    assert inspect_photo(tmp_path / "photo.png", min_side=700)[1].startswith("too small")
    photo.quantize(64).save(tmp_path / "palette.png")
    assert "palette" in inspect_photo(tmp_path / "palette.png")[1]
    cutout = photo.convert("RGBA")
    cutout.putalpha(Image.fromarray(np.where(np.arange(800) < 400, 255, 0).astype(np.uint8)[None].repeat(600, 0)))
    cutout.save(tmp_path / "cutout.png")
    assert "transparent" in inspect_photo(tmp_path / "cutout.png")[1]
    Image.new("RGB", (600, 600), (40, 90, 200)).save(tmp_path / "flat.png")
    assert "flat" in inspect_photo(tmp_path / "flat.png")[1]
    normal = np.clip(np.array([128, 128, 250]) + rng.normal(0, 5, (600, 600, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(normal).save(tmp_path / "normal.png")
    assert "normal map" in inspect_photo(tmp_path / "normal.png")[1]
    for quality, expected in ((92, 1.0), (50, 2.0)):  # a coarse JPEG is kept at half size...
        photo.save(tmp_path / f"q{quality}.jpg", quality=quality)
        assert inspect_photo(tmp_path / f"q{quality}.jpg") == (expected, "")
    assert inspect_photo(tmp_path / "q50.jpg", min_side=512)[1].startswith("too small")  # ...if half is big enough
    photo.save(tmp_path / "q15.jpg", quality=15)
    assert "heavily compressed JPEG" in inspect_photo(tmp_path / "q15.jpg")[1]


def test_duplicates_exact_and_near_are_dropped_keeping_the_first():
    from lddbm.data.photo_sources import dedupe, hamming, perceptual_hash

    rng = np.random.default_rng(1)
    a, b = Image.fromarray(_photo_like(rng, 300, 400)), Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
    c = Image.fromarray(_photo_like(np.random.default_rng(2), 300, 400))  # another scene
    smaller = a.resize((200, 150), Image.LANCZOS)
    import io
    buf = io.BytesIO()
    smaller.save(buf, "JPEG", quality=60)
    recompressed = Image.open(buf)
    edited = np.asarray(a).copy()
    edited[10:40, 10:40] = 0  # a small edit
    assert hamming(perceptual_hash(a), perceptual_hash(recompressed)) <= 8
    assert hamming(perceptual_hash(a), perceptual_hash(Image.fromarray(edited))) <= 8
    assert hamming(perceptual_hash(a), perceptual_hash(b)) > 8 and hamming(perceptual_hash(a), perceptual_hash(c)) > 8
    items = [{"name": "test-a", "sha": "1", "phash": perceptual_hash(a)}, {"name": "train-b", "sha": "2", "phash": perceptual_hash(b)},
             {"name": "train-a-small", "sha": "3", "phash": perceptual_hash(recompressed)},
             {"name": "train-b-copy", "sha": "2", "phash": perceptual_hash(b) ^ 0xFFFF},
             {"name": "train-c", "sha": "4", "phash": perceptual_hash(c)}]
    kept, dropped = dedupe(items)
    assert [k["name"] for k in kept] == ["test-a", "train-b", "train-c"]
    assert {d["name"]: (d["duplicate_of"], d["reason"].split(" (")[0]) for d in dropped} == {
        "train-a-small": ("test-a", "near duplicate"), "train-b-copy": ("train-b", "exact duplicate")}


def test_split_by_source_keeps_the_old_test_set_and_puts_new_sources_in_training():
    from lddbm.data.photos import assign_splits

    old = [{"name": f"{g}-{i}", "group": g, "held_out": h} for g, n, h in (("mate", 12, 3), ("lomiri", 13, 1), ("skimage", 9, 3))
           for i in range(n)]
    new = [{"name": f"gcompris-{i}", "group": "gcompris", "held_out": 0} for i in range(100)]
    held = [{"name": f"music-{i}", "group": "music", "held_out": 0, "held_out_as": "test2"} for i in range(5)]
    before = assign_splits(old)
    after = assign_splits(old + new + held)
    assert {n for n, s in after.items() if s == "test"} == {n for n, s in before.items() if s == "test"}  # unchanged
    assert sum(s == "test" for s in before.values()) == 7
    assert all(after[p["name"]] == "train" for p in new) and all(after[p["name"]] == "test2" for p in held)
    assert all(after[n] == s for n, s in before.items())


def _rcc(files: dict[str, bytes]) -> bytes:
    """A Qt resource file (format 2) holding ``files`` in one folder: the first stored raw, the
    others zlib-compressed (qCompress)."""
    import struct
    import zlib

    names, payload, entries = b"", b"", []
    def add_name(n):
        nonlocal names
        offset = len(names)
        names += struct.pack(">HI", len(n), 0) + n.encode("utf-16-be")
        return offset
    folder = add_name("res")
    for i, (n, raw) in enumerate(files.items()):
        stored = raw if i == 0 else struct.pack(">I", len(raw)) + zlib.compress(raw)
        entries.append(struct.pack(">IHHHI", add_name(n), 1 if i else 0, 0, 0, len(payload)) + b"\0" * 8)
        payload += struct.pack(">I", len(stored)) + stored
    tree = (struct.pack(">IHII", 0, 2, 1, 1) + b"\0" * 8 + struct.pack(">IHII", folder, 2, len(files), 2) + b"\0" * 8
            + b"".join(entries))
    tree_at = 20
    payload_at = tree_at + len(tree)
    names_at = payload_at + len(payload)
    return b"qres" + struct.pack(">IIII", 2, tree_at, payload_at, names_at) + tree + payload + names


def test_qt_resource_files_and_readme_licences_are_read(tmp_path):
    from lddbm.data.photo_sources import extract_archive, read_rcc, readme_licence_for

    files = {"a.webp": b"first", "README": b"Copyright: Someone\nSource: https://x/a\nLicense: CC-BY-SA-4.0\nFiles: a.webp\n\n"
             b"Copyright: Other\nLicense: CC0-1.0\nFiles:\nb.webp\nc.webp\n"}
    assert read_rcc(_rcc(files)) == {f"res/{n}": raw for n, raw in files.items()}
    (tmp_path / "x.rcc").write_bytes(_rcc(files))
    root = extract_archive(tmp_path / "x.rcc", tmp_path / "x")
    (root / "res/sub").mkdir()
    assert readme_licence_for(root / "res/a.webp", root) == "CC-BY-SA-4.0 (Someone; https://x/a)"
    assert readme_licence_for(root / "res/c.webp", root) == "CC0-1.0 (Other)"
    assert readme_licence_for(root / "res/sub/d.webp", root) == ""


def test_a_licence_naming_the_file_wins_over_a_later_wildcard():
    from lddbm.data.photos import _licence_for

    licences = {"*": "GPL-2+", "base/textures/tex_a/wall.png": "CC-BY-3.0", "base/textures/tex_b/wall.png": "CC0",
                "base/textures/tex_a/*": "GPL-2 (Nexuiz)"}
    assert _licence_for("usr/share/games/x/base/textures/tex_a/wall.png", licences) == "CC-BY-3.0"
    assert _licence_for("usr/share/games/x/base/textures/tex_b/wall.png", licences) == "CC0"
    assert _licence_for("usr/share/games/x/base/textures/tex_a/door.png", licences) == "GPL-2 (Nexuiz)"


def _deb(tmp_path, package, files: dict[str, Image.Image]):
    root = tmp_path / f"pkg-{package}"
    for rel, image in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        image.save(root / rel, quality=95)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(f"Package: {package}\nVersion: 1.0\nArchitecture: all\n"
                                         "Maintainer: t <t@example.org>\nDescription: test\n")
    deb = tmp_path / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def test_build_adds_a_new_source_to_training_only_checked_and_deduplicated(wallpaper_deb, tmp_path):
    rng = np.random.default_rng(3)
    photo = Image.fromarray(_photo_like(rng, 480, 640))
    folder = "usr/lib/python3/dist-packages/sklearn/datasets/images"
    extra = _deb(tmp_path, "python3-sklearn", {f"{folder}/china.jpg": photo,
                                               f"{folder}/flower.jpg": photo.resize((560, 420), Image.LANCZOS),  # a copy
                                               f"{folder}/other.jpg": Image.fromarray(_photo_like(rng, 480, 640)),
                                               f"{folder}/tiny.jpg": Image.fromarray(_photo_like(rng, 150, 200))})
    before = build(tmp_path / "before", sources=[wallpaper_deb], max_side=256)
    after = build(tmp_path / "after", sources=[wallpaper_deb, extra], max_side=256, more=True)
    index = json.loads((tmp_path / "after/index.json").read_text())
    dropped = json.loads((tmp_path / "after/dropped.json").read_text())
    assert after["test_names"] == before["test_names"]  # the new source changes no held-out photograph
    assert index["sklearn-china"]["split"] == index["sklearn-other"]["split"] == "train"
    assert index["sklearn-china"]["license"].startswith("CC-BY-2.0") and index["sklearn-china"]["group"] == "sklearn"
    assert dropped["sklearn-flower"]["duplicate_of"] == "sklearn-china" and "too small" in dropped["sklearn-tiny"]["reason"]
    assert after["groups"]["sklearn"] == {"train": 2} and after["train"] == before["train"] + 2
