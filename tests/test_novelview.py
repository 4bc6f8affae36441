"""Novel views: camera maths, the data set, the source encoder's camera conditioning, metrics that do
not reward blur, a few training steps and the evaluation on a tiny generated set, and the demo tab."""

import json

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from app.tabs import novelview as novelview_tab
from lddbm.tasks.novelview.data import NovelViews, evaluation_requests, view_angle
from lddbm.metrics import gradient_energy, kid, ssim
from lddbm.modalities.posedviews import camera_features, relative_azimuth, turn_about_vertical
from lddbm.tasks.novelview.evaluation import orbit_azimuths, synthesize_views

VIEWS = 6  # renders per tiny object


def write_tiny_renders(root, objects=4, size=32, seed=0):
    """A built-renders folder in the furniture layout: objects whose colour turns with the azimuth."""
    rng = np.random.default_rng(seed)
    (root / "objects").mkdir(parents=True)
    ids = [f"obj{i}" for i in range(objects)]
    for i, oid in enumerate(ids):
        azimuths = (np.arange(VIEWS) * 360 / VIEWS + rng.uniform(-5, 5, VIEWS)) % 360
        cameras = np.stack([azimuths, rng.uniform(10, 40, VIEWS), np.full(VIEWS, 2.0), np.full(VIEWS, 40.0)], 1)
        views = np.full((VIEWS, size, size, 3), 230, np.uint8)
        masks = np.zeros((VIEWS, size, size), bool)
        for k, az in enumerate(azimuths):
            w = 6 + int(6 * abs(np.sin(np.radians(az))))  # the box is wider seen from the side
            views[k, 8:24, 16 - w // 2 : 16 + w // 2] = (40 * i, int(az) % 256, 120)
            masks[k, 8:24, 16 - w // 2 : 16 + w // 2] = True
        meta = {"name": oid, "category": "chair" if i % 2 else "table"}
        np.savez(root / "objects" / f"{oid}.npz", views=views, masks=np.packbits(masks, axis=-1),
                 voxels=np.packbits(np.ones(32**3, bool)), cameras=cameras.astype(np.float32),
                 studio=np.zeros((VIEWS, 8), np.float32), meta=np.array(json.dumps(meta)))
    (root / "split.json").write_text(json.dumps({"train": ids[:2], "val": ids[2:3], "test": ids[3:]}))
    (root / "index.json").write_text(json.dumps({oid: {"category": "chair" if i % 2 else "table", "name": oid}
                                                 for i, oid in enumerate(ids)}))
    return root


def test_camera_maths():
    assert relative_azimuth(10.0, 350.0) == 20.0 and relative_azimuth(350.0, 10.0) == -20.0
    assert relative_azimuth(190.0, 0.0) == -170.0
    f = camera_features(torch.tensor([[30.0, 20.0], [390.0, 20.0], [-330.0, 20.0]]))
    assert f.shape == (3, 16) and torch.allclose(f[0], f[1], atol=1e-5) and torch.allclose(f[0], f[2], atol=1e-5)
    assert view_angle(np.array([0.0, 0.0]), np.array([90.0, 0.0])) == pytest.approx(90.0)
    assert view_angle(np.array([0.0, 90.0]), np.array([123.0, 90.0])) == pytest.approx(0.0, abs=1e-4)  # from above
    assert orbit_azimuths(4) == [0.0, 90.0, 180.0, 270.0]


def test_the_feature_volume_turns_with_the_azimuth():
    volume = torch.zeros(1, 1, 8, 8, 8)  # (B, C, D, H, W)
    volume[0, 0, 0, :, 4] = 1  # a vertical line at the front, a little right of centre
    column = lambda v: (int(v[0, 0, :, 3, :].sum(1).argmax()), int(v[0, 0, :, 3, :].sum(0).argmax()))  # noqa: E731 (depth, x)
    assert column(turn_about_vertical(volume, torch.tensor([0.0]))) == (0, 4)
    quarter, half = turn_about_vertical(volume, torch.tensor([90.0])), turn_about_vertical(volume, torch.tensor([180.0]))
    assert column(quarter)[0] == 4 and column(quarter)[1] in (0, 7)  # moved to a side, now mid-depth
    assert column(half) == (7, 3)  # behind, mirrored in x
    assert torch.allclose(quarter[0, 0, :, 3], quarter[0, 0, :, 5])  # nothing moves vertically
    # the whole (B, ...) batch turns each by its own angle
    both = turn_about_vertical(volume.expand(2, -1, -1, -1, -1), torch.tensor([0.0, 180.0]))
    assert torch.allclose(both[1], half[0]) and torch.allclose(both[0], volume[0])


def test_evaluation_requests_cover_every_other_view_without_leaking_the_target():
    cameras = np.stack([np.arange(12) * 30.0, np.full(12, 20.0)], 1)
    requests = evaluation_requests(cameras, 4)
    assert [t for t, _, _ in requests] == list(range(1, 12))
    for target, reference, helpers in requests:
        assert reference == 0 and len(helpers) == 3 and target not in helpers and 0 not in helpers
    assert all(h == [] for _, _, h in evaluation_requests(cameras, 1))


def test_dataset_items(tmp_path):
    root = write_tiny_renders(tmp_path / "data")
    test = NovelViews(root, "test", num_views=3, image_size=16)
    assert len(test) == VIEWS - 1  # one object, every view but the reference as a target
    item = test[2]
    assert item["source"]["views"].shape == (3, 3, 16, 16) and item["target"].shape == (3, 16, 16)
    assert -1 <= item["target"].min() and item["target"].max() <= 1
    cams = test.cameras[0]
    obj, target, reference, helpers = test.request(2)
    assert item["source"]["camera"][0] == pytest.approx(relative_azimuth(cams[target, 0], cams[reference, 0]))
    assert item["source"]["camera"][1] == pytest.approx(cams[target, 1])
    nearest = min([reference, *helpers], key=lambda k: view_angle(cams[target], cams[k]))
    assert torch.equal(item["nearest"], NovelViews(root, "test", num_views=3, image_size=16, foreground_ratio=None)[2]["nearest"])
    assert nearest in [reference, *helpers] and item["nearest_source"] == [reference, *helpers].index(nearest)
    unframed = NovelViews(root, "test", num_views=3, image_size=16, foreground_ratio=None)[2]
    assert torch.equal(unframed["source"]["views"][unframed["nearest_source"]], unframed["nearest"])  # copy_framed's pick
    train = NovelViews(root, "train", num_views=3, image_size=16, augment=True)
    torch.manual_seed(0)
    a = train[0]
    assert a["source"]["views"].shape == (3, 3, 16, 16) and -180 <= float(a["source"]["camera"][0]) < 180
    with pytest.raises(FileNotFoundError, match="build-data"):
        NovelViews(tmp_path / "nowhere", "train")


def test_camera_conditioning_changes_the_output(tiny_novelview):
    """Two cameras, the same views: two different latents and two different images; the same camera
    twice: the same image (deterministic sampler)."""
    views = [Image.new("RGB", (24, 24), (200, 60, 30 * i)) for i in range(2)]
    out = tiny_novelview(tiny_novelview.source_encoder.preprocess(views, azimuth=[0.0, 90.0, 90.0], elevation=20.0))
    images = out.outputs
    assert images.shape == (3, 3, 16, 16)
    assert (images[0] - images[1]).abs().max() > 1e-2
    assert torch.allclose(images[1], images[2], atol=1e-5)
    enc = tiny_novelview.source_encoder
    z = enc(enc.preprocess(views, azimuth=[0.0, 180.0], elevation=[10.0, 50.0]))
    assert (z[0] - z[1]).abs().max() > 1e-2


def test_bad_inputs_are_clear_errors(tiny_novelview):
    enc = tiny_novelview.source_encoder
    view = Image.new("RGB", (24, 24), (200, 60, 30))
    with pytest.raises(ValueError, match="1 to 3 views"):
        enc.preprocess([view] * 4)
    with pytest.raises(ValueError, match="No views"):
        enc.preprocess([])
    with pytest.raises(ValueError, match="Elevation must be between"):
        enc.preprocess([view], elevation=85.0)
    with pytest.raises(ValueError, match="finite"):
        enc.preprocess([view], azimuth=float("nan"))
    with pytest.raises(ValueError, match="one of each"):
        enc.preprocess([view], azimuth=[0.0, 10.0, 20.0], elevation=[10.0, 20.0])


def test_metrics_that_do_not_reward_blur():
    torch.manual_seed(0)
    sharp = torch.rand(4, 3, 32, 32) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1)
    assert (gradient_energy(blurred) < 0.5 * gradient_energy(sharp)).all()
    assert torch.allclose(ssim(sharp, sharp), torch.ones(4))
    assert (ssim(blurred, sharp) < 0.9).all()
    a, b = torch.randn(200, 8), torch.randn(200, 8)
    same, shifted = kid(a, b), kid(a, b + 1.0)
    assert abs(same) < 0.05 and shifted > 10 * max(abs(same), 1e-3)
    with pytest.raises(ValueError, match="at least two"):
        kid(a[:1], b)


def test_synthesize_views_progress_and_seeds(tiny_novelview):
    views = [Image.new("RGB", (24, 24), (200, 60, 30))]
    calls = []
    images, nfe, _ = synthesize_views(tiny_novelview, views, [0.0, 120.0, 240.0], 20.0, seed=3,
                                      progress=lambda k, n: calls.append((k, n)), churn=0.5)
    assert len(images) == 3 and images[0].size == (16, 16) and nfe > 0
    assert calls == [(1, 3), (2, 3), (3, 3)]
    again, _, _ = synthesize_views(tiny_novelview, views, [0.0], 20.0, seed=3, churn=0.5)
    assert np.array_equal(np.asarray(again[0]), np.asarray(images[0]))  # a view does not depend on the others asked for


@pytest.mark.slow
def test_novelview_trains_and_evaluates_on_a_tiny_set(tmp_path):
    from lddbm.presets import apply_overrides, get_preset
    from lddbm.tasks import SampleOptions, get_task
    from lddbm.train import train

    root = write_tiny_renders(tmp_path / "data")
    preset = apply_overrides(get_preset("novelview"), {
        "data.root": str(root), "data.image_size": "16", "data.num_views": "3", "data.backgrounds": "",
        "latent.channels": "4", "latent.size": "4", "latent.width": "8",
        "denoiser.hidden_size": "32", "denoiser.depth": "1", "denoiser.encoder_depth": "1",
        "train.batch_size": "2", "train.steps": "2", "train.eval_every": "2", "train.save_every": "2",
        "train.eval_size": "1", "train.eval_steps": "2",
    })
    result = train(preset, tmp_path / "run", progress=False)
    report = result["eval"]
    # the preset samples with DBIM: one network evaluation per step (train.eval_steps = 2)
    assert report["requests"] == VIEWS - 1 and report["views"] == 3 and report["nfe"] == 2
    for method in ("lddbm", "copy", "copy_framed"):
        assert np.isfinite(report[method]["psnr"]) and 0 < report[method]["gradient_energy_ratio"]
        assert set(report[method]["per_bucket"]) <= {"near", "side", "back"}
        assert sum(b["requests"] for b in report[method]["per_bucket"].values()) == report["requests"]
    # the regression baseline and KID through the task's evaluate, as `eval novelview --baseline --features` runs it
    from lddbm.pipeline import LDDBMPipeline

    pipe = LDDBMPipeline.load(tmp_path / "run" / "pipeline")
    pipe.set_progress_bar_config(disable=True)
    features = tmp_path / "features"
    from lddbm.modalities import MultiViewEncoder

    MultiViewEncoder(image_size=16, max_views=4, latent_channels=4, latent_size=4, width=8, embed_dim=16).save_pretrained(
        features / "source_encoder")
    full = get_task(preset).evaluate(pipe, preset, "test", None, SampleOptions(),  # both with the defaults
                                     features=str(features), baseline=str(tmp_path / "run" / "pipeline"))
    assert {"lddbm", "copy", "baseline"} <= set(full) and "kid" in full["lddbm"] and "kid" in full["baseline"]
    assert full["baseline"]["psnr"] == pytest.approx(full["lddbm"]["psnr"], abs=1e-4)  # the same pipeline
    assert full["orbit12_seconds"] > 0 and full["latency_seconds"] > 0
    # re-ranking (`eval novelview --candidates 2`): every draw counts in NFE
    ranked = get_task(preset).evaluate(pipe, preset, "test", None, SampleOptions(), candidates=2)
    assert full["candidates"] == 1 and ranked["candidates"] == 2 and ranked["nfe"] == 2 * full["nfe"]


# ---- the demo tab ---------------------------------------------------------------------------------------------


def nv_args(paths, **over):
    args = dict(remove_background=True, object_size=0.75, azimuth=90.0, elevation=25.0, steps=2, sampler="heun",
                guidance=1.0, randomness=0.0, seed=0, random_seed=False)
    args.update(over)
    return [(p, None) for p in paths], args


def test_new_view_handler(app, views):
    gallery, args = nv_args(views(2))
    image, truth, info, seen = novelview_tab.new_view(gallery, **args)
    assert image.size == (256, 256) and truth is None and len(seen) == 2
    assert "2 view(s)" in info and "Δazimuth +90°" in info


def test_new_view_shows_the_true_view_of_an_example(app):
    folder = sorted(novelview_tab.EXAMPLES.glob("*/"))[0]
    meta = json.loads((folder / "meta.json").read_text())
    paths = [str(folder / n) for n in meta["views"]][:3]  # the tiny model takes 3
    name, (az, el) = next(iter(meta["truth"].items()))
    turn = float(relative_azimuth(az, meta["cameras"][meta["views"][0]][0]))
    gallery, args = nv_args(paths, azimuth=round(turn), elevation=min(60, round(el)))
    _, truth, info, _ = novelview_tab.new_view(gallery, **args)
    assert truth is not None and "true view" in info


def test_orbit_handler_writes_an_animation(app, views):
    gallery, args = nv_args(views(1))
    args.pop("azimuth")
    gif, info = novelview_tab.orbit(gallery, count=5, **args)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 5
    assert "5 views" in info


@pytest.mark.parametrize("over, message", [
    ({"elevation": 80}, "between 0 and 60"),
    ({"azimuth": 400}, "between -180 and 180"),
    ({"steps": 0}, "sampling steps"),
    ({"object_size": 2}, "object size"),
])
def test_new_view_bad_inputs(app, views, over, message):
    gallery, args = nv_args(views(1), **over)
    with pytest.raises(gr.Error, match=message):
        novelview_tab.new_view(gallery, **args)


def test_new_view_without_views_or_with_too_many(app, views):
    _, args = nv_args([])
    with pytest.raises(gr.Error, match="No views"):
        novelview_tab.new_view([], **args)
    gallery, args = nv_args(views(4))
    with pytest.raises(gr.Error, match="at most 3"):
        novelview_tab.new_view(gallery, **args)
