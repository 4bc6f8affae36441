"""The furniture builder on a tiny catalogue written by the test (no rendering libraries needed)."""

import builtins
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lddbm.data import furniture
from lddbm.data.furniture import BuildOptions, CatalogEntry, assign_splits, build, load_normalized
from lddbm.data.multiview import MultiViewVoxels, load_object
from lddbm.data.meshes import NoGeometry, solid_voxels
from lddbm.data.sources.sweethome3d import find_catalogs, parse_catalog, read_properties
from lddbm.data.render import INSTALL_HINT, Renderer, RenderingUnavailable

BOX_OBJ = """
v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1
f 1 3 2\nf 1 4 3\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8
"""


def write_catalog(path, n_boxes=6, faceless=()):
    """A .sh3f of boxes (ids box1..), a rotated one (tall), a broken OBJ (broken), and one entry per
    ``faceless`` name whose model is an OBJ without triangles (vertices only, or an empty file)."""
    lines = ["id=Test#catalog", "license=CC0 test licence", ""]
    for i in range(1, n_boxes + 1):
        category = "Tables" if i % 2 else "Beds"
        lines += [f"id#{i}=Test#box{i}", f"name#{i}=Box \\u00e9 {i}", f"category#{i}={category}",
                  f"model#{i}=/models/box.obj", f"width#{i}={40 * i}", f"depth#{i}=20", f"height#{i}=10",
                  f"creator#{i}=Someone"]
    lines += ["id#99=Test#tall", "name#99=Tall, \\", "  rotated", "category#99=Tables", "model#99=/models/box.obj",
              "modelRotation#99=1 0 0 0 0 1 0 -1 0", "width#99=10", "depth#99=10", "height#99=100", "creator#99=Me"]
    lines += ["id#100=Test#broken", "name#100=Broken", "category#100=Beds", "model#100=/models/broken.obj",
              "width#100=10", "depth#100=10", "height#100=10"]
    for n, name in enumerate(faceless, start=200):
        lines += [f"id#{n}=Test#{name}", f"name#{n}=Light {name}", f"category#{n}=Lights", f"model#{n}=/models/{name}.obj",
                  f"width#{n}=10", f"depth#{n}=10", f"height#{n}=10"]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("PluginFurnitureCatalog.properties", "\n".join(lines).encode("iso-8859-1"))
        zf.writestr("models/box.obj", BOX_OBJ)
        zf.writestr("models/broken.obj", "this is not an obj file\nf 1 2 3\n")
        for name in faceless:
            zf.writestr(f"models/{name}.obj", FACELESS_OBJ.get(name, ""))
    return path


FACELESS_OBJ = {"points": "v 0 0 0\nv 1 0 0\nv 1 1 0\n", "empty": ""}  # e.g. a light source's invisible model


class FakeRenderer:
    def render(self, scene, cameras):
        masks = np.zeros((len(cameras), 16, 16), dtype=bool)
        masks[:, 4:12, 6:10] = True
        return np.full((len(cameras), 16, 16, 3), 200, dtype=np.uint8), masks


@pytest.fixture
def catalog(tmp_path):
    return write_catalog(tmp_path / "Test.sh3f")


def test_read_properties_escapes_and_continuations():
    props = read_properties("# comment\na=1\nb = x\\u00e9y\nc=one \\\n   two\nd\\:e=f\n")
    assert props == {"a": "1", "b": "xéy", "c": "one two", "d:e": "f"}


def test_a_catalogue_found_twice_in_a_folder_is_used_once(catalog, tmp_path):
    folder = tmp_path / "sources"
    (folder / "unpacked").mkdir(parents=True)
    (folder / "unpacked" / "Test.sh3f").write_bytes(catalog.read_bytes())
    (folder / "Test.sh3f").write_bytes(catalog.read_bytes())  # e.g. a .deb's files next to the .deb
    assert len(find_catalogs(folder, tmp_path / "work")) == 1


def test_parse_catalog(catalog, tmp_path):
    entries = {e.object_id: e for e in parse_catalog(catalog, tmp_path / "x")}
    assert len(entries) == 8
    assert entries["test-box1"].name == "Box é 1" and entries["test-box2"].extra["room"] == "Beds" and entries["test-box2"].category == "container"
    assert entries["test-tall"].name == "Tall, rotated" and entries["test-tall"].rotation == [1, 0, 0, 0, 0, 1, 0, -1, 0]
    assert entries["test-box3"].size == (120.0, 10.0, 20.0)  # width, height, depth
    assert entries["test-box1"].license == "CC0 test licence"


def test_normalisation_sizes_like_the_catalogue(catalog, tmp_path):
    entries = {e.object_id: e for e in parse_catalog(catalog, tmp_path / "x")}
    scene = load_normalized(entries["test-box3"])  # 120 wide, 10 high, 20 deep
    ext = scene.extents
    assert ext.max() == pytest.approx(1.0, abs=1e-3)
    assert ext[0] / ext[1] == pytest.approx(12.0, rel=1e-3) and ext[0] / ext[2] == pytest.approx(6.0, rel=1e-3)
    np.testing.assert_allclose(scene.bounds.mean(axis=0), 0, atol=1e-6)
    tall = load_normalized(entries["test-tall"])  # rotated Z-up -> Y-up, then 100 high
    assert np.argmax(tall.extents) == 1


def test_solid_voxels_fill_closed_shapes(catalog, tmp_path):
    entries = {e.object_id: e for e in parse_catalog(catalog, tmp_path / "x")}
    occ = solid_voxels(load_normalized(entries["test-tall"]))
    assert occ.shape == (32, 32, 32)
    assert occ[16, :, 16].all()  # the column through the middle is solid, bottom to top
    assert occ.sum() == pytest.approx(32 * 4 * 4, rel=0.6)  # a 10x100x10 box is about 3x32x3 voxels
    assert not occ[0, :, 0].any()


def test_splits_are_stratified_and_deterministic():
    entries = [CatalogEntry(f"c-{i}", "n", "A" if i < 20 else "B", "sweethome3d", "m") for i in range(30)]
    a, b = assign_splits(entries), assign_splits(entries)
    assert a == b
    assert sorted(sum(a.values(), [])) == sorted(e.object_id for e in entries)
    assert len(a["test"]) == 3 and len(a["val"]) == 3  # 2 + 1 per category (20 and 10 objects)


def test_build_is_resumable_and_skips_broken_models(catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(furniture, "_renderer", lambda opts: FakeRenderer())
    monkeypatch.setattr(furniture, "SPLIT_FILE", tmp_path / "no-committed-split.json")
    out = tmp_path / "out"
    opts = BuildOptions(views=5)
    summary = build(out, source=catalog, workers=1, opts=opts, progress=False)
    assert summary["built"] == 7 and summary["failed"] == 1 and "test-broken" in summary["failures"]
    assert not list((out / "objects").glob("*.tmp*"))
    obj = load_object(out / "objects" / "test-tall.npz")
    assert obj["views"].shape == (5, 16, 16, 3) and obj["voxels"].shape == (32, 32, 32) and obj["cameras"].shape == (5, 4) and obj["studio"].shape == (5, 8)
    assert obj["masks"].shape == (5, 16, 16) and obj["masks"].sum() == 5 * 8 * 4  # exact silhouettes round-trip
    assert 15 <= obj["cameras"][:, 1].min() and obj["cameras"][:, 1].max() <= 40
    again = build(out, source=catalog, workers=1, opts=opts, progress=False)
    assert again["built"] == 0 and again["already_built"] == 7
    split = json.loads((out / "split.json").read_text())
    assert sorted(sum(split.values(), [])) == sorted(p.stem for p in (out / "objects").glob("*.npz"))
    assert "Someone" in (out / "ATTRIBUTION.md").read_text()

    data = MultiViewVoxels(out, "train", num_views=3, image_size=16)
    item = data[0]
    assert item["source"].shape == (3, 3, 16, 16) and item["target"].shape == (1, 32, 32, 32)
    assert item["source"].min() >= -1 and item["source"].max() <= 1
    with pytest.raises(ValueError, match="num_views=9"):
        MultiViewVoxels(out, "train", num_views=9, image_size=16)
    # the lifting encoder's sources: cameras, and whether the views are in turntable order (the builder's)
    in_order = MultiViewVoxels(out, "train", num_views=5, image_size=16, foreground_ratio=0.75, poses=True,
                               turntable_share=1.0)[0]["source"]
    assert in_order["turntable"].item() and in_order["pose"].shape == (5, 7)
    assert not MultiViewVoxels(out, "train", num_views=5, image_size=16, foreground_ratio=0.75,
                               poses=True)[0]["source"]["turntable"].item()
    assert not MultiViewVoxels(out, "val", num_views=3, image_size=16, foreground_ratio=0.75,
                               poses=True)[0]["source"]["turntable"].item()  # 3 of 5: not evenly spread
    with pytest.raises(FileNotFoundError, match="build-data furniture"):
        MultiViewVoxels(tmp_path / "nothing", "train")


def test_models_without_geometry_are_skipped_as_no_geometry(tmp_path, monkeypatch):
    """A model with no triangles (only vertices, or nothing) is a failure "no geometry", not an IndexError."""
    monkeypatch.setattr(furniture, "_renderer", lambda opts: FakeRenderer())
    monkeypatch.setattr(furniture, "SPLIT_FILE", tmp_path / "none.json")
    catalog = write_catalog(tmp_path / "Lights.sh3f", n_boxes=1, faceless=("points", "empty"))
    entries = {e.object_id: e for e in parse_catalog(catalog, tmp_path / "x")}
    with pytest.raises(NoGeometry, match="no geometry"):
        load_normalized(entries["lights-points"])
    summary = build(tmp_path / "out", source=catalog, workers=1, opts=BuildOptions(views=2), progress=False)
    assert summary["failures"]["lights-points"] == "no geometry" and summary["failures"]["lights-empty"] == "no geometry"
    assert summary["built"] == summary["in_data_set"] == 2 and summary["failed"] == 3  # box1, tall; broken too
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["failures"]["lights-points"] == "no geometry"


def test_solid_voxels_refuses_a_mesh_without_faces():
    import trimesh

    with pytest.raises(NoGeometry):
        solid_voxels(trimesh.Scene(trimesh.Trimesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3), dtype=int))))


def test_a_build_that_builds_nothing_says_so(catalog, tmp_path, monkeypatch):
    """Every object failing (here each render) leaves summary["in_data_set"] == 0 for the CLI to exit non-zero."""
    class BrokenRenderer:
        def render(self, scene, cameras):
            raise ValueError("cannot render this")

    monkeypatch.setattr(furniture, "_renderer", lambda opts: BrokenRenderer())
    monkeypatch.setattr(furniture, "SPLIT_FILE", tmp_path / "none.json")
    summary = build(tmp_path / "out", source=catalog, workers=1, opts=BuildOptions(views=2), progress=False)
    assert summary["in_data_set"] == 0 and summary["built"] == 0 and summary["failed"] == summary["objects"] == 8
    assert summary["failures"]["test-box1"] == "ValueError: cannot render this"
    assert json.loads((tmp_path / "out" / "split.json").read_text()) == {"train": [], "val": [], "test": []}
    from lddbm.__main__ import main  # the command line exits non-zero on such a build

    assert main(["build-data", "furniture", "--out", str(tmp_path / "cli"), "--source", str(catalog), "--workers", "1",
                 "--views", "2", "--no-progress"]) == 1


def test_the_build_stops_once_with_the_real_error_when_nothing_can_render(catalog, tmp_path, monkeypatch):
    """A missing renderer fails every object alike: the build raises it once instead of 8 "failed"."""
    def no_renderer(opts):
        raise RenderingUnavailable(f"import pyrender failed: ImportError: cannot import name 'gcd'. {INSTALL_HINT}")

    monkeypatch.setattr(furniture, "_renderer", no_renderer)
    with pytest.raises(RenderingUnavailable, match="import pyrender failed: ImportError: cannot import name 'gcd'"):
        build(tmp_path / "out", source=catalog, workers=1, opts=BuildOptions(views=2), progress=False)


def failing_import(monkeypatch, error: Exception):
    """Make ``import pyrender`` raise ``error``."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pyrender":
            raise error
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pyrender", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)


@pytest.mark.parametrize("error, expected", [
    (ImportError("cannot import name 'gcd' from 'fractions'"), "import pyrender failed: ImportError: cannot import name 'gcd'"),
    (AttributeError("module 'numpy' has no attribute 'infty'"), "import pyrender failed: AttributeError: module 'numpy'"),
    (ModuleNotFoundError("No module named 'networkx'", name="networkx"), "ModuleNotFoundError: No module named 'networkx'"),
])
def test_the_renderer_names_the_real_import_error(monkeypatch, error, expected):
    failing_import(monkeypatch, error)
    with pytest.raises(RenderingUnavailable, match=expected) as info:
        Renderer(16)
    assert INSTALL_HINT in str(info.value)


def test_the_renderer_says_when_pyrender_is_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrender", None)  # `import pyrender` raises ModuleNotFoundError
    with pytest.raises(RenderingUnavailable, match="pyrender is not installed") as info:
        Renderer(16)
    assert "apt-get install libosmesa6" in str(info.value)


def test_the_real_renderer_draws_a_box():
    """Only where the render extras and OSMesa are installed (pip install -e ".[render]"; apt-get install libosmesa6)."""
    import trimesh

    try:
        renderer = Renderer(32)
    except RenderingUnavailable as err:
        pytest.skip(str(err))
    box = trimesh.creation.box((0.5, 0.8, 0.3))
    box.visual.vertex_colors = [200, 30, 30, 255]
    views, masks = renderer.render(trimesh.Scene(box), [(0, 20, 2.0), (90, 30, 2.0)])
    renderer.close()
    assert views.shape == (2, 32, 32, 3) and views.dtype == np.uint8 and masks.shape == (2, 32, 32)
    assert 0.05 < masks.mean() < 0.6 and masks[:, 16, 16].all()
    assert (views[masks][:, 0] > views[masks][:, 1]).all()  # red box
    assert (views[~masks] >= 240).all()  # light grey background


def test_building_one_split_after_another_keeps_the_first(catalog, tmp_path, monkeypatch):
    """`build-data furniture --splits val,test` and later `--splits train` into the same folder: the split
    file and index list both (they listed the last run's objects only, so val and test vanished)."""
    monkeypatch.setattr(furniture, "_renderer", lambda opts: FakeRenderer())
    monkeypatch.setattr(furniture, "SPLIT_FILE", tmp_path / "no-committed-split.json")
    out, opts = tmp_path / "out", BuildOptions(views=2)
    first = build(out, source=catalog, workers=1, opts=opts, progress=False, splits=("val", "test"))
    held_out = json.loads((out / "split.json").read_text())
    assert first["built"] >= 1 and not held_out["train"] and held_out["val"] + held_out["test"]
    second = build(out, source=catalog, workers=1, opts=opts, progress=False, splits=("train",))
    split = json.loads((out / "split.json").read_text())
    assert second["built"] >= 1 and split["train"] and (split["val"], split["test"]) == (held_out["val"], held_out["test"])
    assert sorted(sum(split.values(), [])) == sorted(p.stem for p in (out / "objects").glob("*.npz"))
    assert set(json.loads((out / "index.json").read_text())) == set(sum(split.values(), []))
    assert second["in_data_set"] == len(sum(split.values(), []))


def test_build_rejects_unknown_sources(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"\.deb, a \.sh3f"):
        build(tmp_path / "out", source=tmp_path / "x.txt", progress=False)


def tiny_build(catalog, tmp_path, monkeypatch) -> Path:
    """The tiny catalogue built with the fake renderer (4 views) into tmp_path/data."""
    monkeypatch.setattr(furniture, "_renderer", lambda opts: FakeRenderer())
    monkeypatch.setattr(furniture, "SPLIT_FILE", tmp_path / "none.json")
    out = tmp_path / "data"
    build(out, source=catalog, workers=1, opts=BuildOptions(views=4), progress=False)
    return out


def test_views_to_voxels_end_to_end_on_the_tiny_set(catalog, tmp_path, monkeypatch):
    """Train the multi-view preset for a few steps on the tiny set and evaluate it."""
    from lddbm.presets import apply_overrides, get_preset
    from lddbm.train import train

    out = tiny_build(catalog, tmp_path, monkeypatch)
    split = json.loads((out / "split.json").read_text())
    split["val"] = split["train"][:2]  # the tiny set is too small for a stratified val split
    (out / "split.json").write_text(json.dumps(split))
    preset = apply_overrides(get_preset("multiview3d"), {
        "data.root": str(out), "data.image_size": "16", "data.num_views": "2", "latent.width": "8",
        "denoiser.hidden_size": "32", "denoiser.depth": "1", "denoiser.encoder_depth": "1",
        "train.batch_size": "2", "train.steps": "2", "train.eval_every": "2", "train.save_every": "2",
        "train.eval_size": "2", "train.eval_steps": "2",
    })
    report = train(preset, tmp_path / "run", progress=False)["eval"]
    assert report["objects"] == 2 and report["views"] == 2 and report["nfe"] == 3
    for key in ("iou", "fscore@1%", "chamfer_l1", "emd", "1-nna", "1-nna_unpaired", "seconds_per_object", "latency_seconds",
                "per_category"):
        assert key in report
    assert 0 <= report["iou"] <= 1
    # K stochastic samples per object through the command line: the stochastic block
    from lddbm.__main__ import main

    assert main(["eval", "multiview3d", "--checkpoint", str(tmp_path / "run" / "pipeline"), "--split", "val",
                 "--steps", "2", "--churn", "0.5", "--samples", "3", "--json", str(tmp_path / "s.json")]) == 0
    stochastic = json.loads((tmp_path / "s.json").read_text())["stochastic"]
    assert stochastic["samples"] == 3 and 0 <= stochastic["iou_per_sample"] <= stochastic["iou_best_of_3"] <= 1
    # the view order is a setting of lifting models: the pooled one refuses it in one line (exit 2)
    assert main(["eval", "multiview3d", "--checkpoint", str(tmp_path / "run" / "pipeline"), "--split", "val",
                 "--steps", "2", "--view-order", "turntable"]) == 2


def test_validation_as_uploads_scores_through_a_segmenter_and_selects_best(catalog, tmp_path, monkeypatch):
    """data.select_on_uploads: validation also scores the objects as uploads (clean, on photographs, on table
    tops) through the named segmenter, and best/ is kept by their mean, not by the clean IoU."""
    from PIL import Image

    from lddbm.presets import apply_overrides, get_preset
    from lddbm.segmentation import MaskNet
    from lddbm.train import train

    out = tiny_build(catalog, tmp_path, monkeypatch)
    split = json.loads((out / "split.json").read_text())
    split["val"] = split["train"][:2]
    (out / "split.json").write_text(json.dumps(split))
    photos = tmp_path / "photos"
    (photos / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(photos / "images" / f"{name}.png")
    (photos / "split.json").write_text(json.dumps({"train": ["a", "b"], "test": ["c"]}))
    MaskNet(image_size=32, widths=(8, 8)).save_pretrained(tmp_path / "segmenter")
    preset = apply_overrides(get_preset("multiview3d"), {
        "data.root": str(out), "data.image_size": "16", "data.num_views": "2", "data.backgrounds": str(photos),
        "data.select_on_uploads": str(tmp_path / "segmenter"), "latent.width": "8", "denoiser.hidden_size": "32",
        "denoiser.depth": "1", "denoiser.encoder_depth": "1", "train.batch_size": "2", "train.steps": "2",
        "train.eval_every": "2", "train.save_every": "2", "train.eval_size": "2", "train.eval_steps": "2",
    })
    report = train(preset, tmp_path / "run", progress=False)["eval"]
    assert set(report["uploads"]) == {"clean", "photo", "tabletop"} and report["selection_metric"] == "uploads_iou"
    assert report["uploads_iou"] == pytest.approx(sum(report["uploads"].values()) / 3)
    chosen = json.loads((tmp_path / "run" / "best" / "selection.json").read_text())
    assert chosen["metric"] == "uploads_iou" and chosen["value"] == report["uploads_iou"]


def tiny_turntable_pipeline(catalog, tmp_path, monkeypatch) -> Path:
    """A lifting pipeline in turntable order trained one step on the tiny set (its first 2 training objects
    also as validation): tmp_path/run/pipeline."""
    from lddbm.presets import apply_overrides, get_preset
    from lddbm.train import train

    out = tiny_build(catalog, tmp_path, monkeypatch)
    split = json.loads((out / "split.json").read_text())
    split["val"] = split["train"][:2]
    (out / "split.json").write_text(json.dumps(split))
    preset = apply_overrides(get_preset("objects3d_turntable"), {
        "data.root": str(out), "data.image_size": "16", "data.augment_pool": "0", "data.backgrounds": "",
        "latent.width": "8", "denoiser.hidden_size": "32", "denoiser.depth": "1", "denoiser.encoder_depth": "1",
        "train.batch_size": "2", "train.steps": "1", "train.eval_every": "0", "train.save_every": "1",
        "train.mixed_precision": "no",
    })
    train(preset, tmp_path / "run", progress=False)
    return tmp_path / "run" / "pipeline"


def test_train_pose_gives_a_lifting_pipeline_its_own_camera_network(catalog, tmp_path, monkeypatch):
    """train-pose: a tiny turntable lifting pipeline gets a PoseNet trained alone (every other weight kept),
    written as a pipeline folder that loads, with the preset that fine-tunes it; --resume goes on."""
    from safetensors.torch import load_file

    from lddbm.__main__ import main
    from lddbm.pipeline import LDDBMPipeline
    from lddbm.presets import load_preset

    base = tiny_turntable_pipeline(catalog, tmp_path, monkeypatch)
    args = ["train-pose", "--init-from", str(base), "--out", str(tmp_path / "pose"), "--pose-width", "8",
            "--pose-layers", "1", "--batch-size", "2", "--eval-every", "2", "--eval-size", "2", "--no-progress"]
    assert main([*args, "--steps", "2"]) == 0
    pipe = LDDBMPipeline.load(tmp_path / "pose" / "pipeline")
    assert pipe.source_encoder.config.pose_width == 8 and pipe.source_encoder.config.view_order == "turntable"
    assert load_preset(tmp_path / "pose" / "pipeline" / "preset.json").data.pose_width == 8
    before = load_file(str(base / "source_encoder" / "diffusion_pytorch_model.safetensors"))
    after = load_file(str(tmp_path / "pose" / "pipeline" / "source_encoder" / "diffusion_pytorch_model.safetensors"))
    kept = [k for k in before if not k.startswith(("pose_head.", "azimuth_head."))]
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)  # only the cameras were trained
    assert any(k.startswith("pose_head.0.mixer") for k in after)
    assert main([*args, "--steps", "4", "--resume", "--view-counts", "1", "2"]) == 0  # fewer views per object too
    log = [json.loads(line) for line in (tmp_path / "pose" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and 0 <= log[-1]["turntable"]["azimuth_error_deg"]["within_45"] <= 1
    assert "one_view" not in log[0] and log[1]["one_view"]["views"] == 2  # single views scored: 2 objects x 1 view
    # each camera error's own weight reaches the exported encoder and its preset
    weights = [1.0, 2.0, 0.5, 8.0, 8.0]
    args[args.index("--out") + 1] = str(tmp_path / "weighted")
    assert main([*args, "--steps", "1", "--part-weights", *map(str, weights)]) == 0
    assert LDDBMPipeline.load(tmp_path / "weighted" / "pipeline").source_encoder.config.pose_part_weights == weights
    assert list(load_preset(tmp_path / "weighted" / "pipeline" / "preset.json").data.pose_part_weights) == weights


def test_train_refiner_learns_from_the_pipelines_predictions_and_attaches(catalog, tmp_path, monkeypatch):
    """train-refiner: a tiny turntable lifting pipeline predicts the tiny set (stored once, reused), a refiner
    is trained on those, chosen on validation and attached; the pipeline then refines what it decodes
    (refine=False gives the decoder's shape), and a folder with a refiner passes the checkpoint checks."""
    import shutil

    from lddbm.__main__ import main
    from lddbm.modalities.refiner import SilhouetteRefiner
    from lddbm.pipeline import LDDBMPipeline, check_folder

    base = tiny_turntable_pipeline(catalog, tmp_path, monkeypatch)
    shipped = tmp_path / "shipped"
    shutil.copytree(base, shipped)
    args = ["train-refiner", "--pipeline", str(base), "--out", str(tmp_path / "refiner"), "--widths", "4", "8", "8",
            "--batch-size", "2", "--eval-every", "2", "--no-progress"]
    assert main([*args, "--steps", "2", "--attach", str(shipped)]) == 0
    cached = sorted(p.name for p in (tmp_path / "refiner" / "predictions").iterdir())
    assert cached == ["train_clean4.pt", "train_pool1.pt", "train_pool4.pt", "val_val1.pt", "val_val4.pt"]
    stamp = (tmp_path / "refiner" / "predictions" / "train_clean4.pt").stat().st_mtime_ns
    assert main([*args, "--steps", "4", "--resume"]) == 0  # goes on; the predictions are read back, not made again
    assert (tmp_path / "refiner" / "predictions" / "train_clean4.pt").stat().st_mtime_ns == stamp
    log = [json.loads(line) for line in (tmp_path / "refiner" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and set(log[0]) >= {"val4", "val1"}
    assert 0 <= log[0]["val4"]["refined"] <= 1 and log[0]["val4"]["unrefined"] == log[1]["val4"]["unrefined"]
    chosen = json.loads((tmp_path / "refiner" / "refiner" / "selection.json").read_text())
    assert chosen["val4"]["refined"] == max(r["val4"]["refined"] for r in log)
    # other predictions to learn from: stochastic samples, views in any order; an unknown set is refused
    assert main([*args, "--steps", "1", "--view-sets", "churn4", "any4"]) == 0
    assert (tmp_path / "refiner" / "predictions" / "train_any4.pt").is_file()
    assert main([*args, "--steps", "1", "--view-sets", "clean5"]) == 2
    from lddbm.tasks.multiview3d.refiner import attach_refiner

    (tmp_path / "pooled").mkdir()
    (tmp_path / "pooled" / "model_index.json").write_text(json.dumps({"source_encoder": ["lddbm.modalities.multiview",
                                                                                         "MultiViewEncoder"]}))
    with pytest.raises(ValueError, match="no lifting encoder"):
        attach_refiner(tmp_path / "refiner" / "refiner", tmp_path / "pooled")
    (shipped / "refiner" / "README.md").write_text("# the card\n")
    attach_refiner(tmp_path / "refiner" / "refiner", shipped)  # attaching again keeps the component's card
    assert (shipped / "refiner" / "README.md").read_text() == "# the card\n"

    check_folder(shipped)
    assert json.loads((shipped / "model_index.json").read_text())["refiner"][1] == "SilhouetteRefiner"
    pipe = LDDBMPipeline.load(shipped)
    assert isinstance(pipe.refiner, SilhouetteRefiner) and pipe.refiner.config.widths == [4, 8, 8]
    views = torch.rand(2, 4, 3, 16, 16) * 2 - 1
    kwargs = dict(num_inference_steps=2, generator=None, num_samples=2)
    refined = pipe(views, **{**kwargs, "generator": torch.Generator().manual_seed(0)}).outputs
    plain = pipe(views, refine=False, **{**kwargs, "generator": torch.Generator().manual_seed(0)}).outputs
    assert refined.shape == plain.shape == (4, 32, 32, 32) and not torch.equal(refined, plain)
    unrefined = LDDBMPipeline.load(base)(views, **{**kwargs, "generator": torch.Generator().manual_seed(0)}).outputs
    assert torch.equal(unrefined, plain)  # refine=False is the pipeline without a refiner


def test_an_untrained_refiner_changes_nothing_and_the_hull_follows_the_silhouettes():
    from lddbm.framing import TRAINING_BACKGROUND
    from lddbm.modalities.lifting import LiftingEncoder
    from lddbm.modalities.refiner import SilhouetteRefiner, silhouette_hull

    logits = torch.randn(2, 1, 16, 16, 16) * 5
    assert torch.equal(SilhouetteRefiner(grid=16, widths=(4, 8, 8))(logits, torch.rand(2, 3, 16, 16, 16)), logits)
    grey = torch.full((1, 2, 3, 16, 16), TRAINING_BACKGROUND / 127.5 - 1)
    pose = LiftingEncoder._pose_prior(grey).expand(1, 2, -1)  # facing the object, the origin at the frame's centre
    assert silhouette_hull(grey, pose, 8).abs().max() == 0  # nothing but the framing's grey: an empty hull
    solid = grey.clone()
    solid[..., 6:10, 6:10] = 0.0  # a small square in the middle of both views
    hull = silhouette_hull(solid, pose, 8)
    assert hull.shape == (1, 3, 8, 8, 8) and hull[0, 0, 4, 4, 4] == 1 and hull[0, 0, 0, 0, 0] == 0
    assert torch.all(hull[:, 0] <= hull[:, 1]) and torch.all(hull[:, 0] <= hull[:, 2])  # least-covered view first


def test_train_pose_view_subsets_keep_the_turntable_order_where_they_can():
    from lddbm.tasks.multiview3d.pose import _subset

    views = torch.arange(2 * 4).float().reshape(2, 4, 1, 1, 1)  # view k of object b holds 4 b + k
    pose = views.reshape(2, 4, 1).expand(-1, -1, 7)
    turntable = torch.tensor([True, False])
    v, p, t = _subset(views, pose, turntable, 2)
    assert v[0].flatten().tolist() == [0, 2] and t.tolist() == [True, False]  # half a turn apart: still in order
    drawn = v[1].flatten().tolist()
    assert len(set(drawn)) == 2 and set(drawn) <= {4, 5, 6, 7}  # two distinct views of the unordered object
    assert torch.equal(p[..., 0], v.flatten(1))  # each camera stays with its view
    v, _, t = _subset(views, pose, turntable, 3)
    assert v[0].flatten().tolist() == [0, 1, 2] and t.tolist() == [False, False]  # not evenly spread: any order
    assert _subset(views, pose, turntable, 4)[0] is views


def test_random_studio_draws_lens_height_and_lights_per_view_and_keeps_the_object_in_frame():
    from lddbm.data.render import View

    opts = BuildOptions(views=12, studio="random")
    views = furniture.studio_views("some-object", opts, radius=0.8)
    assert views == furniture.studio_views("some-object", opts, radius=0.8)  # a pure function of (id, seed)
    assert views != furniture.studio_views("another-object", opts, radius=0.8)
    fov = np.array([v.fov for v in views])
    assert fov.min() >= 30 and fov.max() <= 70 and fov.std() > 5
    assert all(0 <= v.elevation <= 60 for v in views) and np.std([v.elevation for v in views]) > 5
    assert len({v.key_direction for v in views}) == 12 and len({v.ambient for v in views}) == 12
    # the sphere of radius 0.8 fits inside each view's frustum: distance * sin(fov / 2) >= radius
    assert all(v.distance * np.sin(np.radians(v.fov) / 2) >= 0.8 for v in views)
    fixed = furniture.studio_views("some-object", BuildOptions(views=12))
    assert all(v == View(v.azimuth, v.elevation, 2.0, fov=40.0) for v in fixed)  # today's studio, unchanged
    with pytest.raises(ValueError, match="studio must be one of"):
        BuildOptions(studio="outdoor")


def test_the_committed_split_is_extended_without_moving_objects(tmp_path):
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["a", "b"], "val": ["c"], "test": ["d"]}))
    added = furniture.extend_split_file({"train": ["a", "e"], "val": ["b", "f"], "test": ["g"]}, path)
    assert added == {"train": 1, "val": 1, "test": 1}
    assert json.loads(path.read_text()) == {"train": ["a", "b", "e"], "val": ["c", "f"], "test": ["d", "g"]}


def test_a_source_that_cannot_be_fetched_is_reported_and_the_others_still_build(catalog, tmp_path, monkeypatch):
    from lddbm.data import sources

    class Broken(sources.Source):
        name = "broken-test-source"

        def entries(self, work, source=None):
            raise RuntimeError("Could not download the Debian package nothing-here")

    monkeypatch.setitem(sources.SOURCES, Broken.name, Broken())
    entries, report = furniture.list_entries(("sweethome3d", Broken.name), tmp_path / "work", catalog)
    assert len(entries) == 8 and report["sweethome3d"] == 8
    assert report[Broken.name].startswith("skipped: RuntimeError: Could not download")
    with pytest.raises(RuntimeError, match="nothing-here"):  # alone, its error is the build's error
        furniture.list_entries((Broken.name,), tmp_path / "work")


def test_rendering_merges_parts_by_texture_and_keeps_material_colours():
    """Parts sharing one image become one mesh (pyrender uploads a texture per part: a 300-part ship
    took 23 GB), big textures are shrunk, and untextured parts keep their material colour."""
    import trimesh
    from PIL import Image

    from lddbm.data.render import prepare_for_render

    image = Image.new("RGB", (1024, 512), (200, 30, 30))
    scene = trimesh.Scene()
    for i in range(20):
        box = trimesh.creation.box((0.1, 0.1, 0.1))
        material = trimesh.visual.material.SimpleMaterial(image=image)  # own material, shared image
        box.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(i).random((len(box.vertices), 2)), material=material)
        scene.add_geometry(box, transform=trimesh.transformations.translation_matrix([0.1 * i - 1, 0, 0]))
    plain = trimesh.creation.box((0.2, 0.2, 0.2))
    plain.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.SimpleMaterial(diffuse=(20, 40, 200, 255)))
    scene.add_geometry(plain)
    out = prepare_for_render(scene)
    assert len(out.geometry) == 2
    textured, coloured = sorted(out.geometry.values(), key=lambda g: g.visual.kind != "texture")
    assert len(textured.faces) == 20 * 12 and max(textured.visual.material.image.size) == 256
    assert np.allclose(textured.bounds, [[-1.05, -0.05, -0.05], [0.95, 0.05, 0.05]])  # node transforms applied
    assert (coloured.visual.vertex_colors[:, :3] == (20, 40, 200)).all()
    # the builder's fallback when a texture fails keeps each material's colour too (not trimesh's grey)
    fallback = furniture.untextured(trimesh.Scene(plain))
    assert (next(iter(fallback.geometry.values())).visual.vertex_colors[:, :3] == (20, 40, 200)).all()


def test_export_examples_keeps_only_the_categories_asked_for(catalog, tmp_path, monkeypatch):
    out = tiny_build(catalog, tmp_path, monkeypatch)
    index = json.loads((out / "index.json").read_text())
    categories = sorted({index[o]["category"] for o in json.loads((out / "split.json").read_text())["train"]})
    chosen = furniture.export_examples(out, tmp_path / "ex", split="train", count=50, views=2, categories=categories[:1])
    assert chosen and {index[o]["category"] for o in chosen} == {categories[0]}
    assert sorted(p.name for p in (tmp_path / "ex" / chosen[0]).iterdir()) == ["meta.json", "view_0.png", "view_1.png",
                                                                                "voxels.npy"]
