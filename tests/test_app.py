"""Handler-level tests of the demo with a tiny, untrained multi-view checkpoint (fixtures: conftest.py)."""

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from lddbm.samplers import OPTIONS, SAMPLERS
from lddbm.shapes import predict_shape


def object_views(tmp_path, n=2):
    """Views with something to segment: a dark block on a light background."""
    paths = []
    for i in range(n):
        arr = np.full((48, 48, 3), 235, np.uint8)
        arr[12 + i : 36, 16:32 + i] = (120, 40, 30)
        paths.append(str(tmp_path / f"obj{i}.png"))
        Image.fromarray(arr).save(paths[-1])
    return paths


def test_predict_shape_samples_and_trajectory(tiny_3d, views):
    pipe, _ = tiny_3d
    images = [Image.open(p) for p in views()]
    pred = predict_shape(pipe, images, num_inference_steps=2, churn=0.5, samples=3, trajectory=True)
    assert pred.probability.shape == (16, 16, 16) and pred.samples == 3
    assert pred.agreement.min() >= 0.5 and pred.agreement.max() <= 1
    assert len(pred.trajectory) == pred.nfe == 4 and pred.trajectory[0].shape == (16, 16, 16)  # 2 Heun steps with churn: 3 * 2 - 2


def run3d(app, paths, steps=2, sampler="heun", randomness=0.0, guidance=1.0, seed=0, threshold=0.5, samples=1,
          remove_background=True, ratio=0.75):
    """The handler as the Generate button calls it (the gallery hands (path, caption) pairs), with the
    "along the bridge" controls it updates next: (figure, downloads, info, seen, frames, slider, frame plot)."""
    return app.views_to_3d_ui([(p, None) for p in paths], remove_background, ratio, steps, sampler, guidance,
                              randomness, seed, False, threshold, samples)


def test_views_handler_outputs(app, views):
    fig, downloads, info, seen, frames, slider, frame_plot = run3d(app, views())
    assert fig.data[0].type == "mesh3d" and len(fig.data) == 1  # no ground truth for an upload
    assert sorted(p.rsplit(".", 1)[1] for p in downloads) == ["glb", "obj", "stl"]
    assert "3 view(s)" in info and "3 NFE" in info
    assert len(frames) == 3 and len(seen) == 3 and seen[0].size == (160, 160)
    assert frame_plot.data[0].type == "mesh3d"  # "along the bridge" opens on the last estimate, not an empty plot
    assert app.trajectory_frame(frames, 1, 0.5).data[0].type == "mesh3d"


def test_examples_show_their_ground_truth_in_the_same_scene(app, tmp_path, views):
    name, paths = app.example_sets()[0]
    copies = []
    for i, p in enumerate(paths):  # Gradio hands the handler copies of the example files
        copy = tmp_path / f"copy{i}.png"
        copy.write_bytes(open(p, "rb").read())
        copies.append(str(copy))
    truth = app.ground_truth_for(copies)
    assert truth is not None and truth.shape == (32, 32, 32)
    assert app.ground_truth_for(views()) is None
    fig = run3d(app, copies)[0]
    assert [t.name for t in fig.data] == ["prediction", "ground truth"]  # one scene: one camera turns both
    assert fig.data[0].x.mean() < fig.data[1].x.mean()


def test_photo_examples_are_listed(app):
    labels = [name for name, _ in app.example_sets()]
    assert any(label.endswith("on a photo") for label in labels) and not labels[0].endswith("on a photo")


def test_an_upload_after_an_example_replaces_its_views(app, views):
    _, example = app.example_sets()[0]
    own = views(1)
    assert app.without_example_views(example + own) == own
    assert app.without_example_views(example) is None and app.without_example_views(own) is None
    out = app.views_uploaded([(p, None) for p in example + own], True, 0.75, 2, "heun", 1.0, 0.0, 0, False, 0.5, 1)
    assert out[-1] == own and "1 view(s)" in out[2]  # the gallery holds the upload only, and the shape is of it


@pytest.mark.parametrize("case", ["none", "empty_file", "not_image", "too_many", "seed", "nan_seed", "ratio"])
def test_bad_uploads_raise_gr_error(app, tmp_path, views, case):
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
        files = views(5)  # the tiny model takes at most 4
    else:
        files = views(1)
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
        run3d(app, object_views(tmp_path), threshold=0.999999, randomness=0.5)


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
    fig, _, _, seen, *_ = run3d(app, paths[:3] + [str(gif)], steps=1, sampler="dbim")
    assert fig.data[0].type == "mesh3d" and all(im.mode == "RGB" for im in seen)


# ---- super-resolution tab --------------------------------------------------------------------------


def sr(app, path, **kw):
    args = {"scale": "×4", "steps": 2, "sampler": "dbim", "randomness": 0.0, "guidance": 1.0, "seed": 0,
            "randomize": False, **kw}
    return app.super_resolve(path, args["scale"], args["steps"], args["sampler"], args["guidance"], args["randomness"],
                             args["seed"], args["randomize"], progress=lambda *a, **k: None)


def test_sr_handler_compares_with_bicubic_and_scores_examples(app, tmp_path):
    assert app.sr_scales() == ["×4"]
    example = app.sr_examples()[0]
    copy = tmp_path / "copy.png"  # Gradio hands the handler a copy of the example file
    copy.write_bytes(open(example, "rb").read())
    (bicubic, upscaled), download, info = sr(app, str(copy))
    assert upscaled == download  # the saved PNG is what the slider shows: stored once
    assert bicubic.size == Image.open(upscaled).size == (512, 512)
    assert download.endswith(".png") and "128×128 → 512×512" in info and "PSNR" in info and "bicubic" in info
    plain = tmp_path / "plain.png"
    Image.new("RGB", (20, 16), (10, 120, 200)).save(plain)
    (_, upscaled), _, info = sr(app, str(plain))
    assert Image.open(upscaled).size == (80, 64) and "PSNR" not in info  # no original known


@pytest.mark.parametrize("case", ["none", "empty_file", "not_image", "tiny", "no_model"])
def test_sr_bad_inputs_raise_gr_error(app, tmp_path, case):
    path, scale = str(tmp_path / "x.png"), "×4"
    if case == "none":
        path = None
    elif case == "empty_file":
        (tmp_path / "x.png").write_bytes(b"")
    elif case == "not_image":
        (tmp_path / "x.png").write_text("hello")
    elif case == "tiny":
        Image.new("RGB", (8, 8)).save(path)
    else:
        Image.new("RGB", (30, 30)).save(path)
        scale = "×8"
    with pytest.raises(gr.Error, match="Upload|empty|not an image|at most 512|at least|No super-resolution model"):
        sr(app, path, scale=scale)


@pytest.mark.parametrize("how, size, words", [("downscale", (512, 85), "downscaled to 512×85"),
                                              ("crop", (512, 100), "central 512×100 region")])
def test_sr_large_images_are_fitted_with_a_notice(app, tmp_path, how, size, words):
    path = tmp_path / "wide.png"
    Image.new("RGB", (600, 100), (120, 30, 200)).save(path)
    with pytest.warns(UserWarning, match=words):
        pair, download, info = app.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, how,
                                                 progress=lambda *a, **k: None)
    assert Image.open(download).size == (4 * size[0], 4 * size[1]) and f"{size[0]}×{size[1]} →" in info
    with pytest.raises(gr.Error, match="choose one of"):
        app.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, "shrink", progress=lambda *a, **k: None)


def test_sr_detail_is_a_one_to_one_crop(app):
    big = Image.new("RGB", (1000, 600), (10, 20, 30))
    big.paste((250, 0, 0), (900, 500, 1000, 600))  # a red corner
    left, right = app.sr_detail((big, big.copy()), 100, 100)
    assert left.size == right.size == (app.DETAIL, app.DETAIL)
    assert left.getpixel((app.DETAIL - 1, app.DETAIL - 1)) == (250, 0, 0)  # clamped to the bottom-right corner
    small = Image.new("RGB", (100, 80))
    assert app.sr_detail((small, small), 50, 50)[0].size == (100, 80)
    assert app.sr_detail(None, 50, 50) is None


def test_sr_every_image_mode_goes_through(app, tmp_path):
    cases = {"L": Image.new("L", (20, 20), 100), "P": Image.new("P", (20, 20)),
             "16bit": Image.fromarray(np.full((20, 20), 60000, np.uint16)), "RGBA": Image.new("RGBA", (20, 20), (9, 9, 9, 99))}
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (20, 20), "red").save(gif, save_all=True, append_images=[Image.new("RGB", (20, 20), "blue")])
    modes = {}
    for name, image in cases.items():
        image.save(tmp_path / f"{name}.png")
        modes[name] = Image.open(sr(app, str(tmp_path / f"{name}.png"))[0][1]).mode
    assert modes == {"L": "L", "P": "RGB", "16bit": "L", "RGBA": "RGBA"}
    assert Image.open(sr(app, str(gif))[0][1]).size == (80, 80)


# ---- samplers: every control follows lddbm.samplers ------------------------------------------------


def test_sampling_options_pass_only_what_the_sampler_reads(app):
    assert app.sampling_options("heun", 0.3, 1.5) == {"churn": 0.3, "guidance": 1.5}
    assert app.sampling_options("dbim", 0.3, 1.5) == {"eta": 0.3}  # guidance is not dbim's: left out
    for name, cls in SAMPLERS.items():
        assert set(app.sampling_options(name, 0.2, 1.0)) <= set(cls.options)
    for bad in [("fast", 0.0, 1.0), (None, 0.0, 1.0), ("heun", 2.0, 1.0), ("dbim", float("nan"), 1.0),
                ("heun", 0.0, "x"), ("heun", 0.0, 99.0)]:
        with pytest.raises(gr.Error, match="sampler|randomness|guidance"):
            app.sampling_options(*bad)


def controls_of(demo, label):
    return [b for b in demo.blocks.values() if getattr(b, "label", None) == label]


def test_sampler_radios_sliders_and_their_change_event_follow_the_registry(app):
    demo = app.build_demo()
    radios = controls_of(demo, "sampler")
    assert len(radios) == 6  # views -> 3D, views -> new views, super-resolution, digits (both ways), toy
    for radio in radios:
        assert [value for _, value in radio.choices] == list(SAMPLERS) and radio.value in SAMPLERS
        assert all(cls.summary in radio.info for cls in SAMPLERS.values())
    sliders = controls_of(demo, "randomness")  # one per tab, in the same order
    for radio, slider in zip(radios, sliders):
        option = OPTIONS[SAMPLERS[radio.value].stochastic_option]
        assert (slider.minimum, slider.maximum) == (option.low, option.high) and option.low <= slider.value <= option.high
    # each starts at its checkpoint's own setting: the digit translators were exported with eta 0.5 (at the
    # option's default, 0, they drew the grey mean digit), the others at 0
    assert [slider.value for slider in sliders] == [0.0, 0.0, 0.0, 0.5, 0.5, 0.0]
    assert app.checkpoint_sampling(app.DIGIT_MODELS["printed"]) == ("dbim", 0.5, 1.0)
    guidance = {radio.value: slider for radio, slider in zip(radios, controls_of(demo, "guidance"))}
    assert guidance["heun"].interactive and not guidance["dbim"].interactive  # the tiny sr4x's sampler is dbim
    assert "heun" in guidance["dbim"].info
    follow = [f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "follow"]
    assert len(follow) == 6 and all(f.api_visibility == "private" for f in demo.fns.values()
                                    if getattr(f.fn, "__name__", "") == "follow")
    randomness, guidance_update = follow[0]("dbim", 0.4)
    assert randomness["value"] == 0.4 and "eta" in randomness["info"] and guidance_update["interactive"] is False
    randomness, guidance_update = follow[0]("heun", 0.4)
    assert "churn" in randomness["info"] and guidance_update["interactive"] is True


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_runs_in_every_tab(app, tmp_path, views, sampler):
    info = run3d(app, views(2), sampler=sampler, randomness=0.3, samples=2)[2]
    assert f"· {sampler} ·" in info
    Image.new("RGB", (20, 16), (10, 120, 200)).save(tmp_path / "small.png")
    (_, upscaled), _, info = sr(app, str(tmp_path / "small.png"), sampler=sampler, randomness=0.3)
    assert Image.open(upscaled).size == (80, 64) and f"({sampler})" in info
    predicted, truth, info = app.translate_vector(0.1, -0.2, 0.3, 2, sampler, 1.0, 0.3, 0)
    assert predicted.size == truth.size == (256, 256) and predicted.mode == "L" and info.startswith(sampler)
    gallery, info = app.sketch_to_printed(drawn_one(), samples=2, steps=2, sampler=sampler, randomness=0.3)
    assert len(gallery) == 2 and info.startswith(sampler)


def drawn_one(alpha=False) -> Image.Image:
    """A "1" drawn in black on a white canvas, or on a transparent layer (a Sketchpad layer)."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0) if alpha else (255, 255, 255, 255))
    arr = np.array(image)
    arr[50:230, 130:150] = (0, 0, 0, 255)
    return Image.fromarray(arr)


def test_digits_handlers_translate_both_ways_with_the_classifiers_reading(app):
    sketchpad = {"background": None, "layers": [drawn_one(alpha=True)], "composite": None}
    for sketch in (drawn_one(), sketchpad, {"composite": drawn_one()}, app.digit_examples("handwritten")[0]):
        gallery, info = app.sketch_to_printed(sketch, samples=3, steps=2)
        assert len(gallery) == 3 and all(im.size == (128, 128) and im.mode == "RGB" for im, _ in gallery)
        assert all("reads as" in caption for _, caption in gallery)
        assert "NFE 4" in info and "each the best of 2" in info  # the checkpoint's 2 candidates per digit
    gallery, info = app.sketch_to_printed(drawn_one(), samples=2, steps=2, candidates=1)
    assert len(gallery) == 2 and "NFE 2" in info and "best of" not in info
    gallery, info = app.sketch_to_printed(drawn_one(), label="3", label_weight=2.0, samples=1, steps=2, candidates=3)
    assert "NFE 12" in info and "best of 3" in info  # two guidance terms per step (lddbm.guidance), three draws
    gallery, info = app.sketch_to_printed(None, label=7, samples=2, steps=2, candidates=4)  # the label alone
    assert len(gallery) == 2 and "NFE 2" in info  # nothing to rank the draws against: one each
    gallery, info = app.printed_to_handwritten(app.digit_examples("printed")[0], samples=2, steps=2)
    assert len(gallery) == 2 and gallery[0][0].mode == "L" and "reads as" in gallery[0][1] and "NFE 2" in info
    gallery, info = app.printed_to_handwritten(app.digit_examples("printed")[0], samples=1, steps=2, candidates=2)
    assert len(gallery) == 1 and "NFE 4" in info


@pytest.mark.parametrize("call, words", [
    (lambda app: app.sketch_to_printed(None), "Draw a digit"),
    (lambda app: app.sketch_to_printed(Image.new("RGB", (50, 50), "white")), "canvas is empty"),
    (lambda app: app.sketch_to_printed(drawn_one(), label="12"), "class label"),
    (lambda app: app.sketch_to_printed(drawn_one(), sketch_weight=float("nan")), "sketch weight"),
    (lambda app: app.sketch_to_printed(drawn_one(), samples=0), "number of samples"),
    (lambda app: app.sketch_to_printed(drawn_one(), candidates=0), "number of candidates"),
    (lambda app: app.printed_to_handwritten(None), "Upload a photo"),
    (lambda app: app.printed_to_handwritten("/no/such/file.png"), "file|found|open"),
])
def test_digits_bad_inputs_raise_gr_error(app, call, words):
    with pytest.raises(gr.Error, match=words):
        call(app)


def test_toy_bad_inputs_raise_gr_error(app):
    for args in [(0.1, -0.2, float("nan"), 2, "heun", 1.0, 0.0, 0), (0.1, -0.2, 0.3, 0, "heun", 1.0, 0.0, 0),
                 (0.1, -0.2, 0.3, 2, "fast", 1.0, 0.0, 0), (0.1, -0.2, 0.3, 2, "heun", 1.0, 0.0, -1)]:
        with pytest.raises(gr.Error, match="finite|steps|sampler|seed"):
            app.translate_vector(*args)


def test_every_handler_error_is_a_sentence(app, caplog):
    """The handler boundary (app.guarded): gr.Error as it is, the library's user errors as gr.Error, anything
    else logged with its trace and shown as a plain sentence, never a bare "Error"."""
    import gradio as gr

    from lddbm.inputs import InputError

    def broken(*_):
        raise KeyError("tile_offsets")  # what PIL raises on some corrupt TIFFs

    def refused(*_):
        raise InputError("x.png is empty (0 bytes); upload a PNG or JPEG image.")

    with pytest.raises(gr.Error, match="Something went wrong on the server while testing; the details were logged"):
        app.guarded(broken, "testing")()
    assert "tile_offsets" in caplog.text  # the trace is in the log, not in the message
    with pytest.raises(gr.Error, match="0 bytes"):
        app.guarded(refused, "testing", heavy=False)()
    assert app.guarded(lambda a, progress=None: a + 1, "testing")(1) == 2 and app.HEAVY.running == 0


def test_x8_on_a_x4_example_explains_instead_of_failing(app, tmp_path):
    from types import SimpleNamespace

    hr = tmp_path / "hr.png"
    Image.new("RGB", (64, 64), "grey").save(hr)
    same = SimpleNamespace(image=Image.new("RGB", (64, 64), "grey"), bicubic=Image.new("RGB", (64, 64), "white"), scale=4)
    assert "| LDDBM |" in app.against_original(hr, same)
    bigger = SimpleNamespace(image=Image.new("RGB", (128, 128)), bicubic=Image.new("RGB", (128, 128)), scale=8)
    assert "nothing to compare" in app.against_original(hr, bigger) and "choose a ×4 model" in app.against_original(hr, bigger)


def test_choosing_a_model_sets_its_checkpoints_sampling(app):
    steps, sampler, randomness, guidance = app.sr_model_settings("×4")
    expected = app.checkpoint_sampling("sr4x")
    assert steps["value"] == app.checkpoint_steps("sr4x") and sampler["value"] == expected[0]
    assert (randomness, guidance) == expected[1:]
    assert app.sr_model_settings("×3") == (app.gr.skip(),) * 4


def test_a_session_keeps_a_few_bridge_frames(app):
    trajectory = [np.full((4, 4, 4), k / 80, dtype=np.float32) for k in range(80)]
    kept = app.kept_frames(trajectory)
    assert len(kept) == app.MAX_FRAMES and kept[0][0] == 1 and kept[-1][0] == 80  # evaluation numbers, last kept
    assert kept[-1][1].dtype == np.uint8 and kept[-1][1][0, 0, 0] == int(79 / 80 * 255)
    assert len(app.kept_frames(trajectory[:3])) == 3 and app.kept_frames([]) == []


def test_a_corrupt_digit_classifier_stops_the_start(app):
    weights = sorted((app.CHECKPOINTS / "digits" / "classifiers" / "printed").glob("*.safetensors"))[0]
    weights.write_bytes(weights.read_bytes()[:50])
    app._classifier.cache_clear()
    try:
        with pytest.raises(SystemExit, match="printed-digit classifier.*Restore it"):
            app.preload()
    finally:
        app._classifier.cache_clear()
