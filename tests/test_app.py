"""Handler-level tests of the demo with a tiny, untrained multi-view checkpoint."""

import contextlib
import importlib
import socket

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import make_tiny_sr
from PIL import Image

from lddbm.denoiser import BridgeTransformer
from lddbm.modalities import MultiViewEncoder, VoxelDecoder
from lddbm.pipeline import LDDBMPipeline
from lddbm.scheduler import BridgeScheduler
from lddbm.shapes import predict_shape


@pytest.fixture
def tiny_3d(tmp_path):
    torch.manual_seed(0)
    denoiser = BridgeTransformer(in_channels=8, sample_size=4, patch_size=2, hidden_size=16, depth=1, encoder_depth=1, num_heads=2)
    decoder = VoxelDecoder(grid=16, latent_channels=8, latent_size=4, width=8)
    torch.nn.init.constant_(decoder.net[-1].bias, 1.0)  # mostly occupied, so meshes are not empty
    pipe = LDDBMPipeline(MultiViewEncoder(image_size=16, max_views=4, latent_channels=8, latent_size=4, width=8, embed_dim=16,
                                          foreground_ratio=0.75),
                         denoiser, BridgeScheduler(num_inference_steps=2), decoder)
    folder = tmp_path / "checkpoints"
    pipe.save_pretrained(folder / "multiview3d")
    make_tiny_sr().save_pretrained(folder / "sr4x")  # so the demo also builds its super-resolution tab
    pipe.set_progress_bar_config(disable=True)
    return pipe, folder


def views(tmp_path, n=3):
    paths = []
    for i in range(n):
        path = tmp_path / f"v{i}.png"
        Image.new("RGBA", (24, 24), (40 * i, 90, 200, 255)).save(path)
        paths.append(str(path))
    return paths


def object_views(tmp_path, n=2):
    """Views with something to segment: a dark block on a light background."""
    paths = []
    for i in range(n):
        arr = np.full((48, 48, 3), 235, np.uint8)
        arr[12 + i : 36, 16:32 + i] = (120, 40, 30)
        paths.append(str(tmp_path / f"obj{i}.png"))
        Image.fromarray(arr).save(paths[-1])
    return paths


def test_predict_shape_samples_and_trajectory(tiny_3d, tmp_path):
    pipe, _ = tiny_3d
    images = [Image.open(p) for p in views(tmp_path)]
    pred = predict_shape(pipe, images, num_inference_steps=2, churn=0.5, samples=3, trajectory=True)
    assert pred.probability.shape == (16, 16, 16) and pred.samples == 3
    assert pred.agreement.min() >= 0.5 and pred.agreement.max() <= 1
    assert len(pred.trajectory) == pred.nfe == 5 and pred.trajectory[0].shape == (16, 16, 16)  # 2 Heun steps with churn


@pytest.fixture
def app(tiny_3d, monkeypatch, tmp_path):
    module = importlib.import_module("app")
    monkeypatch.setattr(module, "CHECKPOINTS", tiny_3d[1])
    monkeypatch.setattr(module, "DOWNLOADS", tmp_path / "downloads")
    module.pipeline.cache_clear()
    yield module
    module.pipeline.cache_clear()


@contextlib.contextmanager
def launched(module, **queue):
    """Serve the demo (its checkpoints already patched, e.g. by the ``app`` fixture) on a free
    localhost port; yields the URL and closes the server afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = module.build_demo().queue(**queue)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def run3d(app, paths, steps=2, sampler="heun", churn=0.0, seed=0, threshold=0.5, samples=1,
          remove_background=True, ratio=0.75):
    """The handler as the Generate button calls it (the gallery hands (path, caption) pairs)."""
    return app.views_to_3d([(p, None) for p in paths], remove_background, ratio, steps, sampler, 1.0, churn, seed,
                           False, threshold, samples)


def test_views_handler_outputs(app, tmp_path):
    fig, downloads, info, frames, slider, seen, frame_plot = run3d(app, views(tmp_path))
    assert fig.data[0].type == "mesh3d" and len(fig.data) == 1  # no ground truth for an upload
    assert sorted(p.rsplit(".", 1)[1] for p in downloads) == ["glb", "obj", "stl"]
    assert "3 view(s)" in info and "3 NFE" in info
    assert len(frames) == 3 and len(seen) == 3 and seen[0].size == (160, 160)
    assert frame_plot.data[0].type == "mesh3d"  # "along the bridge" opens on the last estimate, not an empty plot
    assert app.trajectory_frame(frames, 1, 0.5).data[0].type == "mesh3d"


def test_examples_show_their_ground_truth_in_the_same_scene(app, tmp_path):
    name, paths = app.example_sets()[0]
    copies = []
    for i, p in enumerate(paths):  # Gradio hands the handler copies of the example files
        copy = tmp_path / f"copy{i}.png"
        copy.write_bytes(open(p, "rb").read())
        copies.append(str(copy))
    truth = app.ground_truth_for(copies)
    assert truth is not None and truth.shape == (32, 32, 32)
    assert app.ground_truth_for(views(tmp_path)) is None
    fig = run3d(app, copies)[0]
    assert [t.name for t in fig.data] == ["prediction", "ground truth"]  # one scene: one camera turns both
    assert fig.data[0].x.mean() < fig.data[1].x.mean()


def test_photo_examples_are_listed(app):
    labels = [name for name, _ in app.example_sets()]
    assert any(label.endswith("on a photo") for label in labels) and not labels[0].endswith("on a photo")


def test_an_upload_after_an_example_replaces_its_views(app, tmp_path):
    _, example = app.example_sets()[0]
    own = views(tmp_path, 1)
    assert app.without_example_views(example + own) == own
    assert app.without_example_views(example) is None and app.without_example_views(own) is None
    out = app.views_uploaded([(p, None) for p in example + own], True, 0.75, 2, "heun", 1.0, 0.0, 0, False, 0.5, 1)
    assert out[-1] == own and "1 view(s)" in out[2]  # the gallery holds the upload only, and the shape is of it


@pytest.mark.parametrize("case", ["none", "empty_file", "not_image", "too_many", "seed", "nan_seed", "ratio"])
def test_bad_uploads_raise_gr_error(app, tmp_path, case):
    kw = {}
    if case == "none":
        files = []
    elif case == "empty_file":
        (tmp_path / "e.png").write_bytes(b"")
        files = [str(tmp_path / "e.png")]
    elif case == "not_image":
        (tmp_path / "t.png").write_text("hello")
        files = [str(tmp_path / "t.png")]
    elif case == "too_many":
        files = views(tmp_path, 5)  # the tiny model takes at most 4
    else:
        files = views(tmp_path, 1)
        kw = {"seed": 10**23} if case == "seed" else {"seed": float("nan")} if case == "nan_seed" else {"ratio": 7.0}
    with pytest.raises(gr.Error, match="views|empty|not an image|at most|seed|size in the frame"):
        run3d(app, files, **kw)


def test_empty_prediction_says_what_most_likely_happened(app, tmp_path):
    with pytest.raises(gr.Error, match="lower the occupancy threshold"):
        run3d(app, object_views(tmp_path), threshold=0.999999)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(blank)
    with pytest.raises(gr.Error, match="blank"):
        run3d(app, [str(blank)], threshold=0.999999)
    with pytest.raises(gr.Error, match="another seed"):
        run3d(app, object_views(tmp_path), threshold=0.999999, churn=0.5)


def test_warnings_for_no_object_and_border(app, tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(app.gr, "Warning", lambda message: said.append(message))
    edge = tmp_path / "edge.png"
    arr = np.full((64, 64, 3), 230, np.uint8)
    arr[20:64, 10:40] = (150, 30, 30)  # touches the bottom border
    Image.fromarray(arr).save(edge)
    run3d(app, [str(edge)])
    assert any("touches the image border" in m for m in said)


def test_demo_builds(app):
    demo = app.build_demo()
    assert isinstance(demo, gr.Blocks)


def test_every_image_mode_goes_through(app, tmp_path):
    paths = []
    for i, image in enumerate([Image.new("L", (30, 30), 100), Image.new("P", (30, 30)),
                               Image.fromarray(np.full((30, 30), 60000, np.uint16)), Image.new("RGBA", (40, 20))]):
        paths.append(str(tmp_path / f"m{i}.png"))
        image.save(paths[-1])
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (30, 30), "red").save(gif, save_all=True, append_images=[Image.new("RGB", (30, 30), "blue")])
    fig, *_, seen, frame_plot = run3d(app, paths[:3] + [str(gif)], steps=1, sampler="fast")
    assert fig.data[0].type == "mesh3d" and all(im.mode == "RGB" for im in seen)


# ---- super-resolution tab --------------------------------------------------------------------------


def sr(app, path, **kw):
    args = {"scale": "×4", "steps": 2, "churn": 0.0, "seed": 0, "randomize": False, **kw}
    return app.super_resolve(path, args["scale"], args["steps"], args["churn"], args["seed"], args["randomize"],
                             progress=lambda *a, **k: None)


def test_sr_handler_compares_with_bicubic_and_scores_examples(app, tmp_path):
    assert app.sr_scales() == ["×4"]
    example = app.sr_examples()[0]
    copy = tmp_path / "copy.png"  # Gradio hands the handler a copy of the example file
    copy.write_bytes(open(example, "rb").read())
    (bicubic, upscaled), download, info = sr(app, str(copy))
    assert bicubic.size == upscaled.size == (512, 512) and Image.open(download).size == (512, 512)
    assert download.endswith(".png") and "128×128 → 512×512" in info and "PSNR" in info and "bicubic" in info
    plain = tmp_path / "plain.png"
    Image.new("RGB", (20, 16), (10, 120, 200)).save(plain)
    (_, upscaled), _, info = sr(app, str(plain))
    assert upscaled.size == (80, 64) and "PSNR" not in info  # no original known


@pytest.mark.parametrize("case", ["none", "empty_file", "not_image", "huge", "tiny", "no_model"])
def test_sr_bad_inputs_raise_gr_error(app, tmp_path, case):
    path, scale = str(tmp_path / "x.png"), "×4"
    if case == "none":
        path = None
    elif case == "empty_file":
        (tmp_path / "x.png").write_bytes(b"")
    elif case == "not_image":
        (tmp_path / "x.png").write_text("hello")
    elif case == "huge":
        Image.new("RGB", (600, 100)).save(path)
    elif case == "tiny":
        Image.new("RGB", (8, 8)).save(path)
    else:
        Image.new("RGB", (30, 30)).save(path)
        scale = "×8"
    with pytest.raises(gr.Error, match="Upload|empty|not an image|at most 512|at least|No super-resolution model"):
        sr(app, path, scale=scale)


def test_sr_every_image_mode_goes_through(app, tmp_path):
    cases = {"L": Image.new("L", (20, 20), 100), "P": Image.new("P", (20, 20)),
             "16bit": Image.fromarray(np.full((20, 20), 60000, np.uint16)), "RGBA": Image.new("RGBA", (20, 20), (9, 9, 9, 99))}
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (20, 20), "red").save(gif, save_all=True, append_images=[Image.new("RGB", (20, 20), "blue")])
    modes = {}
    for name, image in cases.items():
        image.save(tmp_path / f"{name}.png")
        modes[name] = sr(app, str(tmp_path / f"{name}.png"))[0][1].mode
    assert modes == {"L": "L", "P": "RGB", "16bit": "L", "RGBA": "RGBA"}
    assert sr(app, str(gif))[0][1].size == (80, 80)
