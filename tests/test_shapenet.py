"""ShapeNet in the 3D-R2N2 layout: binvox I/O, the axis convention and the dataset, on a tiny
dataset written into tmp_path."""

import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from lddbm.data.shapenet import (
    ShapeNetR2N2,
    load_rendering,
    read_binvox,
    shapenet_to_project,
    write_binvox,
)

TAXONOMIES = [("02691156", "aeroplane"), ("03001627", "chair")]
OBJECTS = ["obj0", "obj1", "obj2"]
SPLITS = {"train": OBJECTS[:2], "val": OBJECTS[2:], "test": OBJECTS[2:]}
RENDER_SIZE = 137


def box_grid(height: int, d: int = 32) -> np.ndarray:
    """A box in the lower half along binvox y (the ShapeNet up axis), height voxels tall."""
    grid = np.zeros((d, d, d), dtype=bool)
    grid[8:24, :height, 10:20] = True
    return grid


def write_rendering(path, rng: np.random.Generator) -> None:
    """A random-coloured ellipse and rectangle on a fully transparent 137x137 canvas; the shapes
    stay inside the centre, so the corners are transparent."""
    img = Image.new("RGBA", (RENDER_SIZE, RENDER_SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for shape in (draw.ellipse, draw.rectangle):
        x0, y0 = rng.integers(35, 65, size=2)
        x1, y1 = rng.integers(75, 100, size=2)
        shape([int(x0), int(y0), int(x1), int(y1)], fill=tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,))
    img.save(path)


def write_dataset(root, objects=OBJECTS) -> None:
    rng = np.random.default_rng(0)
    for t, (taxonomy_id, _) in enumerate(TAXONOMIES):
        for o, object_id in enumerate(objects):
            views = root / "ShapeNetRendering" / taxonomy_id / object_id / "rendering"
            views.mkdir(parents=True)
            for v in range(24):
                write_rendering(views / f"{v:02d}.png", rng)
            (views / "rendering_metadata.txt").write_text(
                "".join(f"{15 * v:.1f} 25.0 0 0.8 25\n" for v in range(24))
            )
            voxels = root / "ShapeNetVox32" / taxonomy_id / object_id
            voxels.mkdir(parents=True)
            write_binvox(voxels / "model.binvox", box_grid(2 + 3 * t + o), translate=(-0.5, -0.3, -0.4), scale=0.9)


def write_split(path, splits=SPLITS) -> None:
    path.write_text(json.dumps([
        {"taxonomy_id": tid, "taxonomy_name": name, **splits} for tid, name in TAXONOMIES
    ]))


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapenet")
    write_dataset(root)
    write_split(root / "ShapeNet.json")
    return root


def make(root, **kw):
    return ShapeNetR2N2(root, root / "ShapeNet.json", image_size=kw.pop("image_size", 32), **kw)


# --- binvox -----------------------------------------------------------------------------------


def test_binvox_round_trip_of_a_random_pattern(tmp_path):
    grid = np.random.default_rng(1).random((16, 16, 16)) < 0.3
    grid[0, 0, 1] = True  # make sure it is not symmetric under any axis swap
    grid[1, 0, 0] = grid[0, 1, 0] = False
    write_binvox(tmp_path / "a.binvox", grid)
    back = read_binvox(tmp_path / "a.binvox")
    assert back.dtype == bool and back.shape == (16, 16, 16)
    np.testing.assert_array_equal(back, grid)


@pytest.mark.parametrize("fill", [False, True])
def test_binvox_splits_runs_longer_than_255(tmp_path, fill):
    grid = np.full((32, 32, 32), fill)
    grid[31, 31, 31] = not fill  # the last voxel ends the long run
    write_binvox(tmp_path / "a.binvox", grid)
    raw = (tmp_path / "a.binvox").read_bytes()
    body = np.frombuffer(raw[raw.index(b"data\n") + 5:], dtype=np.uint8).reshape(-1, 2)
    assert body[:, 1].min() >= 1 and body[:, 1].astype(int).sum() == 32**3
    assert len(body) == -(-(32**3 - 1) // 255) + 1  # 32767 voxels in 129 pairs, then one
    np.testing.assert_array_equal(read_binvox(tmp_path / "a.binvox"), grid)


def test_binvox_reader_accepts_adjacent_pairs_of_the_same_value(tmp_path):
    # 4^3 = 64 voxels as (0, 10) (0, 20) (1, 2) (1, 1) (0, 31): voxels 30, 31, 32 are set.
    body = bytes([0, 10, 0, 20, 1, 2, 1, 1, 0, 31])
    (tmp_path / "a.binvox").write_bytes(b"#binvox 1\ndim 4 4 4\ntranslate 0 0 0\nscale 1\ndata\n" + body)
    grid = read_binvox(tmp_path / "a.binvox")
    # Flat index = x*16 + z*4 + y: 30 = (x1, z3, y2), 31 = (x1, z3, y3), 32 = (x2, z0, y0).
    assert sorted(map(tuple, np.argwhere(grid))) == [(1, 2, 3), (1, 3, 3), (2, 0, 0)]


def test_hand_written_body_maps_to_the_project_frame(tmp_path):
    """One voxel at binvox (X, Y, Z) = (5, 1, 6), written by hand in file order (y fastest, then
    z, then x): low Y stays low y (up), +X (the ShapeNet front) becomes +z (towards the viewer)
    and -Z becomes +x (right)."""
    d, (X, Y, Z) = 8, (5, 1, 6)
    flat = X * d * d + Z * d + Y
    body = bytes([0, 255, 0, flat - 255, 1, 1, 0, d**3 - flat - 1])
    (tmp_path / "one.binvox").write_bytes(b"#binvox 1\ndim 8 8 8\ntranslate 0 0 0\nscale 1\ndata\n" + body)
    grid = read_binvox(tmp_path / "one.binvox")
    assert [tuple(p) for p in np.argwhere(grid)] == [(X, Y, Z)]
    project = shapenet_to_project(grid)
    assert [tuple(p) for p in np.argwhere(project)] == [(d - 1 - Z, Y, X)]


def test_up_axis_survives_write_read_convert(tmp_path):
    grid = box_grid(height=5)  # binvox y < 5 only
    write_binvox(tmp_path / "box.binvox", grid)
    project = shapenet_to_project(read_binvox(tmp_path / "box.binvox"))
    ys = np.argwhere(project)[:, 1]
    assert project.sum() == grid.sum() and ys.max() == 4 and ys.min() == 0


@pytest.mark.parametrize("content, why", [
    (b"#voxels 1\ndim 2 2 2\ndata\n\x00\x08", "first line"),
    (b"#binvox 1\ntranslate 0 0 0\nscale 1\ndata\n\x00\x08", "no 'dim'"),
    (b"#binvox 1\ndim 2 x 2\ndata\n\x00\x08", "cannot parse"),
    (b"#binvox 1\ndim 2 4 2\ndata\n\x00\x10", "three equal"),
    (b"#binvox 1\ndim 2 2 2\nscale 1\n", "no 'data'"),
    (b"#binvox 1\ndim 2 2 2\ndata\n\x00\x08\x01", "odd number"),
    (b"#binvox 1\ndim 2 2 2\ndata\n\x00\x07", "cover 7"),
    (b"#binvox 1\ndim 2 2 2\ndata\n\x00\x08\x01\x01", "cover 9"),
])
def test_malformed_binvox_raises_naming_the_file(tmp_path, content, why):
    path = tmp_path / "broken.binvox"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=why) as err:
        read_binvox(path)
    assert str(path) in str(err.value)


def test_write_binvox_rejects_non_cubic_grids(tmp_path):
    with pytest.raises(ValueError, match="cubic"):
        write_binvox(tmp_path / "a.binvox", np.zeros((2, 3, 2), dtype=bool))


# --- renderings -----------------------------------------------------------------------------


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # transparent black
    rgba[:, 4:] = (255, 0, 0, 255)  # opaque red on the right
    rgba[0, 0] = (0, 0, 255, 128)  # half-transparent blue
    Image.fromarray(rgba, "RGBA").save(tmp_path / "v.png")
    image = load_rendering(tmp_path / "v.png", image_size=8)
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32
    assert torch.all(image[:, 1:, :4] == 1.0)
    assert torch.all(image[:, :, 4:] == torch.tensor([1.0, -1.0, -1.0])[:, None, None])
    assert image[0, 0, 0] == image[1, 0, 0] and -0.1 < image[0, 0, 0] < 0.1 and image[2, 0, 0] == 1.0


# --- dataset --------------------------------------------------------------------------------


def test_item_shapes_dtypes_and_ranges(dataset_dir):
    ds = make(dataset_dir, split="val")
    item = ds[0]
    assert item["source"].shape == (4, 3, 32, 32) and item["source"].dtype == torch.float32
    assert item["source"].min() >= -1 and item["source"].max() <= 1
    assert torch.all(item["source"][:, :, 0, 0] == 1.0)  # transparent corners on white
    assert item["source"].min() < 0.5  # the shapes are there
    assert item["target"].shape == (1, 32, 32, 32) and item["target"].dtype == torch.float32
    assert set(item["target"].unique().tolist()) == {0.0, 1.0}
    assert item["category"] == "aeroplane" and item["object_id"] == "obj2"
    ys = item["target"][0].nonzero()[:, 1]
    assert ys.max() == 2 + 2 - 1  # box height 2 + 3*t + o for t=0, o=2; still at the bottom


def test_target_matches_the_written_box(dataset_dir):
    ds = make(dataset_dir, split="train", categories=["chair"])
    for i in range(len(ds)):
        item = ds[i]
        o = OBJECTS.index(item["object_id"])
        expected = shapenet_to_project(box_grid(2 + 3 + o))
        np.testing.assert_array_equal(item["target"][0].numpy().astype(bool), expected)


def test_image_size_and_num_views(dataset_dir):
    item = make(dataset_dir, split="test", image_size=20, num_views=3)[1]
    assert item["source"].shape == (3, 3, 20, 20)


def test_eval_views_are_deterministic_and_spread(dataset_dir):
    ds = make(dataset_dir, split="val")
    assert not ds.random_views
    assert ds.view_indices(0) == [0, 6, 12, 18]
    ds.set_epoch(5)
    assert make(dataset_dir, split="test").view_indices(1) == [0, 6, 12, 18] == ds.view_indices(0)
    torch.testing.assert_close(ds[0]["source"], make(dataset_dir, split="val")[0]["source"])


def test_train_views_are_random_per_epoch_and_reproducible(dataset_dir):
    ds = make(dataset_dir, split="train")
    assert ds.random_views and len(ds) == 4
    per_epoch = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        per_epoch.append(ds.view_indices(0))
    assert all(len(set(v)) == 4 and all(0 <= i < 24 for i in v) for v in per_epoch)
    assert len({tuple(v) for v in per_epoch}) > 1
    assert ds.view_indices(0) != ds.view_indices(1)  # the index enters the seed
    again = make(dataset_dir, split="train")
    again.set_epoch(3)
    assert again.view_indices(0) == per_epoch[3]
    assert ds[0]["views"].tolist() == per_epoch[3]
    assert make(dataset_dir, split="train", seed=1).view_indices(0) != per_epoch[0]  # the seed too
    assert make(dataset_dir, split="train", random_views=False).view_indices(0) == [0, 6, 12, 18]


def test_split_selection_and_category_filter(dataset_dir):
    ids = lambda ds: sorted((ds[i]["category"], ds[i]["object_id"]) for i in range(len(ds)))  # noqa: E731
    assert ids(make(dataset_dir, split="train", num_views=1)) == [
        ("aeroplane", "obj0"), ("aeroplane", "obj1"), ("chair", "obj0"), ("chair", "obj1")]
    assert ids(make(dataset_dir, split="val", num_views=1)) == [("aeroplane", "obj2"), ("chair", "obj2")]
    by_name = make(dataset_dir, split="train", categories=["Chair"])
    by_id = make(dataset_dir, split="train", categories="03001627")
    assert by_name.categories == by_id.categories == ["chair"] and len(by_name) == len(by_id) == 2
    assert make(dataset_dir).categories == ["aeroplane", "chair"]
    with pytest.raises(ValueError, match="Unknown categories.*sofa.*aeroplane \\(02691156\\)"):
        make(dataset_dir, categories=["sofa"])
    with pytest.raises(ValueError, match="Unknown split"):
        make(dataset_dir, split="validation")


def test_missing_objects_are_skipped_with_one_warning(tmp_path, caplog):
    write_dataset(tmp_path, objects=["obj0", "obj1"])
    (tmp_path / "ShapeNetVox32" / TAXONOMIES[1][0] / "obj1" / "model.binvox").unlink()
    write_split(tmp_path / "ShapeNet.json", {"train": ["obj0", "obj1", "gone"], "val": [], "test": []})
    with caplog.at_level(logging.WARNING, logger="lddbm.data.shapenet"):
        ds = make(tmp_path, split="train")
    assert len(ds) == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Skipped 3 of 6 objects" in warnings[0].getMessage()


def test_missing_root_and_empty_split_raise_a_helpful_error(tmp_path, dataset_dir):
    with pytest.raises(FileNotFoundError, match="is not a directory.*ShapeNetVox32/<taxonomy_id>"):
        ShapeNetR2N2(tmp_path / "nowhere", dataset_dir / "ShapeNet.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="None of the 4 objects.*ShapeNetRendering/<taxonomy_id>"):
        ShapeNetR2N2(tmp_path / "empty", dataset_dir / "ShapeNet.json")
    with pytest.raises(FileNotFoundError, match="Split file"):
        ShapeNetR2N2(dataset_dir, tmp_path / "none.json")


def test_malformed_split_file_raises(tmp_path, dataset_dir):
    (tmp_path / "bad.json").write_text(json.dumps({"train": []}))
    with pytest.raises(ValueError, match="must be a list"):
        ShapeNetR2N2(dataset_dir, tmp_path / "bad.json")


def test_malformed_voxel_file_in_the_dataset_names_the_file(tmp_path):
    write_dataset(tmp_path, objects=["obj0"])
    write_split(tmp_path / "ShapeNet.json", {"train": ["obj0"], "val": ["obj0"], "test": []})
    broken = tmp_path / "ShapeNetVox32" / TAXONOMIES[0][0] / "obj0" / "model.binvox"
    broken.write_bytes(b"#binvox 1\ndim 32 32 32\ndata\n\x00\xff")
    ds = make(tmp_path, split="val")
    with pytest.raises(ValueError, match="obj0/model.binvox"):
        ds[0]


# --- the paper's preset on the fixture ---------------------------------------------------------


def test_shapenet_preset_trains_and_evaluates_on_the_fixture(dataset_dir, tmp_path):
    from lddbm.presets import apply_overrides, get_preset
    from lddbm.train import train

    preset = get_preset("shapenet")
    assert preset.data.kind == "shapenet" and preset.data.num_views == 4 and preset.sampling.steps == 40
    assert preset.loss.strategy == "iterative" and preset.loss.every_k == 4 and preset.loss.temperature == 0.07
    assert (preset.bridge.kind, preset.bridge.sigma_max, preset.bridge.sigma_data) == ("ve", 80.0, 0.5)
    tiny = apply_overrides(preset, {
        "data.root": str(dataset_dir), "data.split_file": str(dataset_dir / "ShapeNet.json"), "data.image_size": "16",
        "latent.channels": "8", "latent.width": "8", "denoiser.hidden_size": "32", "denoiser.depth": "1",
        "denoiser.encoder_depth": "1", "denoiser.num_heads": "2", "train.batch_size": "2", "train.steps": "2",
        "train.eval_every": "2", "train.save_every": "2", "train.eval_size": "2", "train.eval_steps": "1",
    })
    report = train(tiny, tmp_path / "run", progress=False)["eval"]
    assert report["objects"] == 2 and report["views"] == 4
    assert set(report["per_category"]) <= {name for _, name in TAXONOMIES}
