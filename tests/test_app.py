"""Handler-level tests of the demo (the app package) with tiny, untrained checkpoints (fixtures: conftest.py;
the ``app`` fixture points app.common at them)."""

import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from app import common, tabs
from app.tabs import all_tabs, digits, novelview, superres, toy, views3d
from lddbm.samplers import OPTIONS, SAMPLERS
from lddbm.tasks.multiview3d.prediction import predict_shape


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


def run3d(paths, steps=2, sampler="heun", randomness=0.0, guidance=1.0, seed=0, threshold=0.5, samples=1,
          remove_background=True, ratio=0.75, fixes=None):
    """The handler as the Generate button calls it (the gallery hands (path, caption) pairs) with the session's
    fixes: (figure, downloads, info, seen, frames, slider, frame plot, the message beside Generate)."""
    return views3d.generate([(p, None) for p in paths], remove_background, ratio, steps, sampler, guidance,
                            randomness, seed, False, threshold, samples, True, fixes or {})


def api3d(paths, steps=2, sampler="heun", randomness=0.0, guidance=1.0, seed=0, threshold=0.5, samples=1,
          remove_background=True, ratio=0.75):
    """The public /views_to_3d endpoint's handler: (figure, downloads, info, seen, frames); errors raised."""
    return views3d.views_to_3d([(p, None) for p in paths], remove_background, ratio, steps, sampler, guidance,
                               randomness, seed, False, threshold, samples, progress=lambda *a, **k: None)


def test_views_handler_outputs(app, views):
    fig, downloads, info, seen, frames, slider, frame_plot, message = run3d(views())
    assert fig.data[0].type == "mesh3d" and len(fig.data) == 1  # no ground truth for an upload
    assert sorted(p.rsplit(".", 1)[1] for p in downloads) == ["glb", "obj", "stl"]
    assert "3 view(s)" in info and "3 NFE" in info and message.startswith("**Done")
    assert len(frames) == 3 and len(seen) == 3 and seen[0][0].size == (160, 160) and seen[0][1].startswith("view 1")
    assert frame_plot.data[0].type == "mesh3d"  # "along the bridge" opens on the last estimate, not an empty plot
    assert views3d.trajectory_frame(frames, 1, 0.5).data[0].type == "mesh3d"
    assert len(api3d(views())) == 5  # the endpoint: figure, downloads, info, seen and the (hidden) frames


def test_examples_show_their_ground_truth_beside_the_prediction_with_titles(app, tmp_path, views):
    name, paths = views3d.example_sets()[0]
    copies = []
    for i, p in enumerate(paths):  # Gradio hands the handler copies of the example files
        copy = tmp_path / f"copy{i}.png"
        copy.write_bytes(open(p, "rb").read())
        copies.append(str(copy))
    truth = views3d.ground_truth_for(copies)
    assert truth is not None and truth.shape == (32, 32, 32)
    assert views3d.ground_truth_for(views()) is None
    fig = run3d(copies)[0]
    # two scenes side by side, each titled by a layout annotation (drawn by the browser, unlike trace names)
    assert [t.name for t in fig.data] == ["prediction", "ground truth"]
    assert [t.type for t in fig.data] == ["mesh3d", "mesh3d"] and [t.scene for t in fig.data] == ["scene", "scene2"]
    assert [a.text for a in fig.layout.annotations] == ["prediction", "ground truth"]
    assert fig.layout.scene.domain.x[1] <= fig.layout.scene2.domain.x[0]  # the prediction on the left
    assert [a.text for a in run3d(views())[0].layout.annotations] == ["prediction"]


def test_photo_examples_are_listed(app):
    labels = [name for name, _ in views3d.example_sets()]
    assert any(label.endswith("on a photo") for label in labels) and not labels[0].endswith("on a photo")


def test_an_upload_after_an_example_replaces_its_views_and_only_previews(app, views):
    _, example = views3d.example_sets()[0]
    own = views(1)
    assert views3d.without_example_views(example + own) == own
    assert views3d.without_example_views(example) is None and views3d.without_example_views(own) is None
    seen, radio, picture, gallery, message = views3d.upload_previewed([(p, None) for p in example + own], True,
                                                                      0.75, {}, False)
    assert gallery == own and len(seen) == 1  # the gallery holds the upload only, and the preview is of it
    assert radio["choices"] == [("view 1", "view 1")] or radio["choices"] == ["view 1"]
    assert max(picture.size) == views3d.FIX_SIDE and "Nothing has run yet" in message
    assert views3d.generate_if_chosen(False, [(p, None) for p in own], True, 0.75, 2, "heun", 1.0, 0.0, 0, False, 0.5,
                                      1, True, {}) == (gr.skip(),) * 8  # one run per click: an upload runs nothing
    ran = views3d.generate_if_chosen(True, [(p, None) for p in own], True, 0.75, 2, "heun", 1.0, 0.0, 0, False, 0.5, 1,
                                     True, {})
    assert "1 view(s)" in ran[2]  # unless "run on upload" is ticked
    assert views3d.upload_previewed([], True, 0.75, {}, False) == (gr.skip(),) * 5


BAD_UPLOADS = ["none", "empty_file", "not_image", "too_many", "seed", "nan_seed", "ratio"]


def bad_upload(case, tmp_path, views):
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
    return files, kw


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_raise_gr_error_from_the_endpoint(app, tmp_path, views, case):
    files, kw = bad_upload(case, tmp_path, views)
    with pytest.raises(gr.Error, match="views|empty|not an image|at most|seed|size in the frame"):
        api3d(files, **kw)


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_in_the_tab_an_error_is_one_message_and_the_inputs_stay(app, tmp_path, views, case):
    """The Generate button never raises (Gradio would turn the outputs into "Error" badges): the message goes
    beside the button, every other output is left as it is, and the inputs are not outputs at all."""
    files, kw = bad_upload(case, tmp_path, views)
    out = run3d(files, **kw)
    assert len(out) == 8 and all(o is gr.skip() or o == gr.skip() for o in out[:-1])
    assert out[-1].startswith("**⚠") and any(w in out[-1] for w in ("views", "empty", "not an image", "at most", "seed",
                                                                      "size in the frame"))


def test_empty_prediction_says_what_most_likely_happened(app, tmp_path):
    with pytest.raises(gr.Error, match="lower the occupancy"):
        api3d(object_views(tmp_path), threshold=0.999999)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(blank)
    with pytest.raises(gr.Error, match="blank"):
        api3d([str(blank)], threshold=0.999999)
    with pytest.raises(gr.Error, match="another seed"):
        api3d(object_views(tmp_path), threshold=0.999999, randomness=0.5)
    # in the tab: the message beside Generate; the stale shape is cleared, what the model saw is shown
    figure, downloads, info, seen, frames, slider, frame_plot, message = run3d(object_views(tmp_path),
                                                                               threshold=0.999999)
    assert figure is None and downloads is None and len(seen) == 2 and "lower the occupancy" in message
    assert frames == [] and frame_plot is None and slider["interactive"] is False  # no stale bridge frames either


def test_an_expected_refusal_is_one_log_line_without_a_traceback(app, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="lddbm.app"):
        with pytest.raises(gr.Error) as raised:
            common.guarded(views3d.views_to_3d, "making the 3D shape")(
                [(p, None) for p in object_views(tmp_path)], True, 0.75, 2, "heun", 1.0, 0.0, 0, False, 0.999999, 1,
                progress=lambda *a, **k: None)
    assert raised.value.print_exception is False  # Gradio prints no traceback for it
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage() and lines[0].exc_info is None


def test_warnings_for_no_object_and_border(app, tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Warning", lambda message: said.append(message))
    edge = tmp_path / "edge.png"
    arr = np.full((64, 64, 3), 230, np.uint8)
    arr[20:64, 10:40] = (150, 30, 30)  # touches the bottom border
    Image.fromarray(arr).save(edge)
    api3d([str(edge)])
    assert any("touches the image border" in m for m in said)  # API clients: Gradio warnings
    said.clear()
    message = run3d([str(edge)])[-1]  # the tab: in the one message beside Generate, not a toast
    assert "touches the image border" in message and not said


def tab_titles(demo) -> list[str]:
    return [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]


def test_the_demo_has_a_tab_per_module_and_ships_what_the_tabs_use(app):
    assert tab_titles(app.build_demo()) == [tab.TITLE for tab in all_tabs()] == [
        "Views → 3D", "Views → new views", "Super-resolution", "Digits", "Toy: vector → image"]
    # the tiny checkpoints: every tab's but the ×4 photo and ×8 models
    assert app.shipped_models() == ["multiview3d", "novelview", "sr4x", "digits/h2p", "digits/p2h", "synthetic"]


def test_a_new_tab_is_one_new_module(app, tmp_path, monkeypatch):
    """A module dropped into app/tabs (here: a folder added to the package's path) is found, placed by its
    ORDER, and its checkpoints are preloaded with the others'."""
    (tmp_path / "extra.py").write_text(
        'import gradio as gr\n\nTITLE = "Extra"\nORDER = 35\nMODELS = ("extra",)\n\n\n'
        'def build():\n    gr.Markdown("one more tab")\n')
    (common.CHECKPOINTS / "extra").symlink_to(common.CHECKPOINTS / "sr4x", target_is_directory=True)
    monkeypatch.setattr(tabs, "__path__", [*tabs.__path__, str(tmp_path)])
    try:
        assert tab_titles(app.build_demo())[2:4] == ["Super-resolution", "Extra"]
        assert app.shipped_models()[2:4] == ["sr4x", "extra"]
    finally:
        sys.modules.pop("app.tabs.extra", None)


def test_every_image_mode_goes_through(app, tmp_path):
    paths = []
    for i, image in enumerate([Image.new("L", (30, 30), 100), Image.new("P", (30, 30)),
                               Image.fromarray(np.full((30, 30), 60000, np.uint16)), Image.new("RGBA", (40, 20))]):
        paths.append(str(tmp_path / f"m{i}.png"))
        image.save(paths[-1])
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (30, 30), "red").save(gif, save_all=True, append_images=[Image.new("RGB", (30, 30), "blue")])
    fig, _, _, seen, *_ = run3d(paths[:3] + [str(gif)], steps=1, sampler="dbim")
    assert fig.data[0].type == "mesh3d" and all(im.mode == "RGB" for im, _ in seen)


# ---- super-resolution tab --------------------------------------------------------------------------


def sr(path, **kw):
    args = {"scale": "×4", "steps": 2, "sampler": "dbim", "randomness": 0.0, "guidance": 1.0, "seed": 0,
            "randomize": False, **kw}
    return superres.super_resolve(path, args["scale"], args["steps"], args["sampler"], args["guidance"], args["randomness"],
                                  args["seed"], args["randomize"], progress=lambda *a, **k: None)


def test_sr_handler_compares_with_bicubic_and_scores_examples(app, tmp_path):
    assert superres.available_scales() == ["×4", "×8"]  # ×8: the ×4 model, then bicubic ×2 (no sr8x here)
    example = superres.example_files()[0]
    copy = tmp_path / "copy.png"  # Gradio hands the handler a copy of the example file
    copy.write_bytes(open(example, "rb").read())
    (bicubic, upscaled), download, info = sr(str(copy))
    assert upscaled == download  # the saved PNG is what the slider shows: stored once
    assert bicubic.size == Image.open(upscaled).size == (512, 512)
    assert download.endswith(".png") and "128×128 → 512×512" in info and "PSNR" in info and "bicubic" in info
    plain = tmp_path / "plain.png"
    Image.new("RGB", (20, 16), (10, 120, 200)).save(plain)
    (_, upscaled), _, info = sr(str(plain))
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
        scale = "×8, the 16 → 128 px model"  # the tiny checkpoints have no sr8x
    with pytest.raises(gr.Error, match="Upload|empty|not an image|at most 512|at least|No super-resolution model"):
        sr(path, scale=scale)


@pytest.mark.parametrize("how, size, words", [("downscale", (512, 85), "downscaled to 512×85"),
                                              ("crop", (512, 100), "central 512×100 region")])
def test_sr_large_images_are_fitted_with_a_notice(app, tmp_path, how, size, words):
    path = tmp_path / "wide.png"
    Image.new("RGB", (600, 100), (120, 30, 200)).save(path)
    with pytest.warns(UserWarning, match=words):
        pair, download, info = superres.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, how,
                                                      progress=lambda *a, **k: None)
    assert Image.open(download).size == (4 * size[0], 4 * size[1]) and f"{size[0]}×{size[1]} →" in info
    assert words in info  # the notice vanishes; the run details keep it
    with pytest.raises(gr.Error, match="choose one of"):
        superres.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, "shrink", progress=lambda *a, **k: None)


def test_sr_ensemble_is_said_in_the_run_details_and_checked(app, tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (20, 16), (10, 120, 200)).save(path)
    (_, upscaled), _, info = superres.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, "downscale", 2,
                                                    progress=lambda *a, **k: None)
    assert Image.open(upscaled).size == (80, 64) and "× 2 flips and turns" in info
    with pytest.raises(gr.Error, match="1, 2, 4 or 8"):
        superres.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, "downscale", 3,
                               progress=lambda *a, **k: None)
    (_, upscaled), _, info = superres.super_resolve(str(path), "×4", 1, "dbim", 1.0, 0.0, 0, False, "downscale", None,
                                                    progress=lambda *a, **k: None)  # an API client that predates it
    assert Image.open(upscaled).size == (80, 64) and "flips and turns" not in info


def test_sr_a_choice_with_a_second_pass_runs_both_and_says_so(app, tmp_path, monkeypatch):
    """A choice with a second model (the JPEG model, then the clean one) is offered only when both checkpoints are
    here; it upscales twice and the run details say so."""
    label = "×4 photo, then ×4 detail (2× time)"
    assert superres.SECOND_PASS[label] == "sr4x" and label not in superres.available_scales()  # no sr4x_real here
    monkeypatch.setitem(superres.SCALES, label, "sr4x")  # the tiny ×4 model stands in for both
    assert label in superres.available_scales()
    path = tmp_path / "small.png"
    Image.new("RGB", (20, 16), (10, 120, 200)).save(path)
    (bicubic, upscaled), _, once = sr(str(path), scale="×4")
    (bicubic, upscaled), _, twice = sr(str(path), scale=label)
    assert Image.open(upscaled).size == bicubic.size == (80, 64)
    assert "then again by the clean ×4 model" in twice and "then again" not in once
    tiles = lambda info: int(info.split(" tiles")[0].split("· ")[-1])  # noqa: E731
    assert tiles(twice) == 2 * tiles(once)


def test_sr_x8_is_the_x4_model_then_bicubic_and_says_so(app, tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (20, 16), (10, 120, 200)).save(path)
    assert superres.SCALES["×8"] == "sr4x" and superres.MODELS.count("sr4x") == 1  # preloaded once
    (bicubic, upscaled), _, info = superres.super_resolve(str(path), "×8", 1, "dbim", 1.0, 0.0, 0, False, "downscale",
                                                          progress=lambda *a, **k: None)
    assert Image.open(upscaled).size == bicubic.size == (160, 128)
    assert "20×16 → 160×128" in info and "then bicubic ×2" in info


def test_sr_detail_is_a_one_to_one_crop(app):
    big = Image.new("RGB", (1000, 600), (10, 20, 30))
    big.paste((250, 0, 0), (900, 500, 1000, 600))  # a red corner
    left, right = superres.detail_view((big, big.copy()), 100, 100)
    assert left.size == right.size == (superres.DETAIL, superres.DETAIL)
    assert left.getpixel((superres.DETAIL - 1, superres.DETAIL - 1)) == (250, 0, 0)  # clamped to the bottom-right corner
    small = Image.new("RGB", (100, 80))
    assert superres.detail_view((small, small), 50, 50)[0].size == (100, 80)
    assert superres.detail_view(None, 50, 50) is None


def test_sr_every_image_mode_goes_through(app, tmp_path):
    cases = {"L": Image.new("L", (20, 20), 100), "P": Image.new("P", (20, 20)),
             "16bit": Image.fromarray(np.full((20, 20), 60000, np.uint16)), "RGBA": Image.new("RGBA", (20, 20), (9, 9, 9, 99))}
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (20, 20), "red").save(gif, save_all=True, append_images=[Image.new("RGB", (20, 20), "blue")])
    modes = {}
    for name, image in cases.items():
        image.save(tmp_path / f"{name}.png")
        modes[name] = Image.open(sr(str(tmp_path / f"{name}.png"))[0][1]).mode
    assert modes == {"L": "L", "P": "RGB", "16bit": "L", "RGBA": "RGBA"}
    assert Image.open(sr(str(gif))[0][1]).size == (80, 80)


# ---- samplers: every control follows lddbm.samplers ------------------------------------------------


def test_sampling_options_pass_only_what_the_sampler_reads(app):
    assert common.sampling_options("heun", 0.3, 1.5) == {"churn": 0.3, "guidance": 1.5}
    assert common.sampling_options("dbim", 0.3, 1.5) == {"eta": 0.3}  # guidance is not dbim's: left out
    for name, cls in SAMPLERS.items():
        assert set(common.sampling_options(name, 0.2, 1.0)) <= set(cls.options)
    for bad in [("fast", 0.0, 1.0), (None, 0.0, 1.0), ("heun", 2.0, 1.0), ("dbim", float("nan"), 1.0),
                ("heun", 0.0, "x"), ("heun", 0.0, 99.0)]:
        with pytest.raises(gr.Error, match="sampler|randomness|guidance"):
            common.sampling_options(*bad)


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
    assert common.checkpoint_sampling(digits.TARGETS["printed"]) == ("dbim", 0.5, 1.0)
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
    info = run3d(views(2), sampler=sampler, randomness=0.3, samples=2)[2]
    assert f"· {sampler} ·" in info
    Image.new("RGB", (20, 16), (10, 120, 200)).save(tmp_path / "small.png")
    (_, upscaled), _, info = sr(str(tmp_path / "small.png"), sampler=sampler, randomness=0.3)
    assert Image.open(upscaled).size == (80, 64) and f"({sampler})" in info
    predicted, truth, info = toy.translate_vector(0.1, -0.2, 0.3, 2, sampler, 1.0, 0.3, 0)
    assert predicted.size == truth.size == (256, 256) and predicted.mode == "L" and info.startswith(sampler)
    gallery, info = digits.sketch_to_printed(drawn_one(), samples=2, steps=2, sampler=sampler, randomness=0.3)
    assert len(gallery) == 2 and info.startswith(sampler)


def drawn_one(alpha=False) -> Image.Image:
    """A "1" drawn in black on a white canvas, or on a transparent layer (a Sketchpad layer)."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0) if alpha else (255, 255, 255, 255))
    arr = np.array(image)
    arr[50:230, 130:150] = (0, 0, 0, 255)
    return Image.fromarray(arr)


def test_digits_handlers_translate_both_ways_with_the_classifiers_reading(app):
    sketchpad = {"background": None, "layers": [drawn_one(alpha=True)], "composite": None}
    for sketch in (drawn_one(), sketchpad, {"composite": drawn_one()}, digits.example_files("handwritten")[0]):
        gallery, info = digits.sketch_to_printed(sketch, samples=3, steps=2)
        assert len(gallery) == 3 and all(im.size == (128, 128) and im.mode == "RGB" for im, _ in gallery)
        assert all(caption.startswith("reads ") for _, caption in gallery)
        assert "NFE 4" in info and "each the best of 2" in info  # the checkpoint's 2 candidates per digit
    gallery, info = digits.sketch_to_printed(drawn_one(), samples=2, steps=2, candidates=1)
    assert len(gallery) == 2 and "NFE 2" in info and "best of" not in info
    gallery, info = digits.sketch_to_printed(drawn_one(), label="3", label_weight=2.0, samples=1, steps=2, candidates=3)
    assert "NFE 12" in info and "best of 3" in info  # two guidance terms per step (lddbm.guidance), three draws
    gallery, info = digits.sketch_to_printed(None, label=7, samples=2, steps=2, candidates=4)  # the label alone
    assert len(gallery) == 2 and "NFE 2" in info  # nothing to rank the draws against: one each
    gallery, info = digits.printed_to_handwritten(digits.example_files("printed")[0], samples=2, steps=2)
    assert len(gallery) == 2 and gallery[0][0].mode == "L" and "reads " in gallery[0][1] and "NFE 2" in info
    gallery, info = digits.printed_to_handwritten(digits.example_files("printed")[0], samples=1, steps=2, candidates=2)
    assert len(gallery) == 1 and "NFE 4" in info


@pytest.mark.parametrize("call, words", [
    (lambda: digits.sketch_to_printed(None), "Draw a digit"),
    (lambda: digits.sketch_to_printed(Image.new("RGB", (50, 50), "white")), "canvas is empty"),
    (lambda: digits.sketch_to_printed(drawn_one(), label="12"), "class label"),
    (lambda: digits.sketch_to_printed(drawn_one(), sketch_weight=float("nan")), "sketch weight"),
    (lambda: digits.sketch_to_printed(drawn_one(), samples=0), "number of samples"),
    (lambda: digits.sketch_to_printed(drawn_one(), candidates=0), "number of candidates"),
    (lambda: digits.printed_to_handwritten(None), "Upload a photo"),
    (lambda: digits.printed_to_handwritten("/no/such/file.png"), "file|found|open"),
])
def test_digits_bad_inputs_raise_gr_error(app, call, words):
    with pytest.raises(gr.Error, match=words):
        call()


def test_toy_bad_inputs_raise_gr_error(app):
    for args in [(0.1, -0.2, float("nan"), 2, "heun", 1.0, 0.0, 0), (0.1, -0.2, 0.3, 0, "heun", 1.0, 0.0, 0),
                 (0.1, -0.2, 0.3, 2, "fast", 1.0, 0.0, 0), (0.1, -0.2, 0.3, 2, "heun", 1.0, 0.0, -1)]:
        with pytest.raises(gr.Error, match="finite|steps|sampler|seed"):
            toy.translate_vector(*args)


def test_every_handler_error_is_a_sentence(app, caplog):
    """The handler boundary (app.common.guarded): gr.Error as it is, the library's user errors as gr.Error, anything
    else logged with its trace and shown as a plain sentence, never a bare "Error"."""
    import gradio as gr

    from lddbm.inputs import InputError

    def broken(*_):
        raise KeyError("tile_offsets")  # what PIL raises on some corrupt TIFFs

    def refused(*_):
        raise InputError("x.png is empty (0 bytes); upload a PNG or JPEG image.")

    with pytest.raises(gr.Error, match="Something went wrong on the server while testing; the details were logged"):
        common.guarded(broken, "testing")()
    assert "tile_offsets" in caplog.text  # the trace is in the log, not in the message
    with pytest.raises(gr.Error, match="0 bytes"):
        common.guarded(refused, "testing", heavy=False)()
    assert common.guarded(lambda a, progress=None: a + 1, "testing")(1) == 2 and common.HEAVY.running == 0


def test_x8_on_a_x4_example_explains_instead_of_failing(app, tmp_path):
    from types import SimpleNamespace

    hr = tmp_path / "hr.png"
    Image.new("RGB", (64, 64), "grey").save(hr)
    same = SimpleNamespace(image=Image.new("RGB", (64, 64), "grey"), bicubic=Image.new("RGB", (64, 64), "white"), scale=4)
    assert "| LDDBM |" in superres.against_original(hr, same)
    bigger = SimpleNamespace(image=Image.new("RGB", (128, 128)), bicubic=Image.new("RGB", (128, 128)), scale=8)
    assert "nothing to compare" in superres.against_original(hr, bigger) and "choose a ×4 model" in superres.against_original(hr, bigger)


def test_choosing_a_model_sets_its_checkpoints_sampling(app):
    steps, sampler, randomness, guidance = superres.model_settings("×4")
    expected = common.checkpoint_sampling("sr4x")
    assert steps["value"] == common.checkpoint_steps("sr4x") and sampler["value"] == expected[0]
    assert (randomness, guidance) == expected[1:]
    assert superres.model_settings("×3") == (gr.skip(),) * 4


def test_a_session_keeps_a_few_bridge_frames(app):
    trajectory = [np.full((4, 4, 4), k / 80, dtype=np.float32) for k in range(80)]
    kept = views3d.kept_frames(trajectory)
    assert len(kept) == views3d.MAX_FRAMES and kept[0][0] == 1 and kept[-1][0] == 80  # evaluation numbers, last kept
    assert kept[-1][1].dtype == np.uint8 and kept[-1][1][0, 0, 0] == int(79 / 80 * 255)
    assert len(views3d.kept_frames(trajectory[:3])) == 3 and views3d.kept_frames([]) == []


def test_a_corrupt_digit_classifier_stops_the_start(app):
    weights = sorted((common.CHECKPOINTS / "digits" / "classifiers" / "printed").glob("*.safetensors"))[0]
    weights.write_bytes(weights.read_bytes()[:50])
    digits._classifier.cache_clear()
    try:
        with pytest.raises(SystemExit, match="printed-digit classifier.*Restore it"):
            app.preload()
    finally:
        digits._classifier.cache_clear()


# ---- what the browser found (issue #37) ----------------------------------------------------------------------


def test_sr_progress_counts_tiles_as_they_are_done(app, tmp_path):
    """A run reports its tiles every TILE_BATCH of them (the tiny model: 8-px tiles, 6-px stride, 49 tiles
    for a 40-px image), and the image does not depend on how many tiles go through the model at once."""
    from lddbm.tasks.superres.upscale import upscale

    path = tmp_path / "forty.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
    calls = []
    superres.super_resolve(str(path), "×4", 2, "dbim", 1.0, 0.5, 0, False,
                           progress=lambda value, desc=None, unit="steps", **_: calls.append((value, unit)))
    tiles = [value for value, unit in calls if unit == "tiles"]
    assert calls[0][0] == 0 and tiles[0] == (superres.TILE_BATCH, 49) and tiles[-1] == (49, 49)
    assert len(tiles) == -(-49 // superres.TILE_BATCH)
    pipe = common.pipeline("sr4x")
    image = Image.open(path)
    one, other = (np.asarray(upscale(pipe, image, steps=2, sampler="dbim", seed=0, eta=0.5, batch_size=b).image)
                  for b in (superres.TILE_BATCH, 64))
    assert np.array_equal(one, other)


def test_digit_captions_fit_under_a_thumbnail(app):
    gallery, _ = digits.sketch_to_printed(drawn_one(), samples=2, steps=2)
    assert all(len(caption) <= len("reads 8 (100%)") for _, caption in gallery)  # were "sample 1: reads as 8 (97%)", cut


def test_the_sketchpad_starts_on_a_blank_canvas_and_a_blank_one_is_refused(app):
    """The Sketchpad starts with a white background, so its brush is active without picking it first;
    an untouched canvas says what to do."""
    demo = app.build_demo()
    pad = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "draw a digit")
    assert pad.value is not None and pad.value["background"] is not None
    with pytest.raises(gr.Error, match="canvas is empty"):
        digits.sketch_to_printed(digits.blank_canvas())


def test_the_api_and_the_tab_default_to_the_checkpoints_sketch_weight(app):
    """The card's lambda_sketch (0 for the shipped model) is the slider's start, the API's default and what
    a call that leaves it out uses; the run details say which weights were used."""
    config = common.CHECKPOINTS / digits.TARGETS["printed"] / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text().replace('"source_scale": 1.0', '"source_scale": 0.25'))
    assert digits.default_sketch_weight() == 0.25
    demo = app.build_demo()
    slider = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "sketch weight λ_sketch")
    api = demo.get_api_info()["named_endpoints"]["/sketch_to_printed"]["parameters"]
    assert slider.value == 0.25 and next(p for p in api if p["parameter_name"] == "sketch_weight")["parameter_default"] == 0.25
    _, info = digits.sketch_to_printed(drawn_one(), samples=1, steps=2)
    assert "λ_sketch 0.25" in info and "λ_label" not in info
    _, info = digits.sketch_to_printed(drawn_one(), label="3", sketch_weight=2, label_weight=1.5, samples=1, steps=2)
    assert "λ_sketch 2 · λ_label 1.5" in info
    _, info = digits.sketch_to_printed(None, label="3", samples=1, steps=2)
    assert "λ_sketch" not in info and "λ_label 1" in info


def test_the_digit_preview_has_a_height(app):
    demo = app.build_demo()
    preview = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "a printed digit (photo or crop)")
    assert preview.height == digits.PREVIEW_HEIGHT  # without one, a 32-px digit was shown as a strip


def copies_of(paths, folder) -> list[str]:
    """Copies of example files, as Gradio hands them to a handler."""
    out = []
    for i, path in enumerate(paths):
        out.append(str(folder / f"copy{i}.png"))
        Path(out[-1]).write_bytes(Path(path).read_bytes())
    return out


def test_picking_a_novelview_example_moves_the_camera_to_a_true_view(app, tmp_path, views):
    _, paths = novelview.example_sets()[0]
    gallery = [(p, None) for p in copies_of(paths[:3], tmp_path)]  # the tiny model takes 3 views
    controls = (True, 0.75)
    sampling = (2, "heun", 1.0, 0.0, 0, False)
    _, truth, info, _ = novelview.new_view(gallery, *controls, 90, 25, *sampling)  # the tab's default camera
    assert truth is None and "no true view within 15° of this camera" in info and "+35°/21°" in info
    azimuth, elevation = novelview.snap_to_true_view(gallery, 90, 25)
    assert azimuth % novelview.CAMERA_STEP == 0 and elevation % novelview.CAMERA_STEP == 0
    _, truth, info, _ = novelview.new_view(gallery, *controls, azimuth, elevation, *sampling)
    assert truth is not None and truth.size == (256, 256) and "right: the true view" in info
    assert novelview.snap_to_true_view([(p, None) for p in views(2)], 90, 25) == (gr.skip(), gr.skip())


def test_the_novelview_tab_says_its_views_are_blurry(app):
    demo = app.build_demo()
    texts = [b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown) and b.value]
    assert any("Expect blurry views" in text and "16×16-px views" in text for text in texts)  # the tiny model's side
    labels = [getattr(b, "label", "") or "" for b in demo.blocks.values()]
    assert "generated view (16 px, enlarged: blurry)" in labels


# ---- Views → 3D: fixing a cut-out ------------------------------------------------------------------------


def click(picture, x, y):
    """A click on the fix picture at (x, y), fractions of its size, as Gradio's select event reports it."""
    return gr.SelectData(None, {"index": [round(x * picture.size[0]), round(y * picture.size[1])], "value": None,
                                "selected": True})


def test_a_box_drawn_on_a_real_photo_fixes_its_cut_out_for_the_next_run(app, tmp_path):
    """The coffee cup on a wood table (assets/realphotos): the automatic cut-out misses it; two clicks (a box)
    cut it out, "what the model sees" follows at once, and the next Generate uses it."""
    from lddbm.data.realphotos import mask_iou, real_photo_set

    _, rgb, truth = next(p for p in real_photo_set() if p[0] == "coffee")
    path = str(tmp_path / "coffee.png")
    Image.fromarray(rgb).save(path)
    gallery = [(path, None)]
    seen, radio, picture, _, message = views3d.upload_previewed(gallery, True, 0.75, {}, False)
    assert seen[0][1].startswith("view 1: cut out") and "Nothing has run yet" in message
    ys, xs = np.nonzero(truth)
    h, w = truth.shape
    fixes, picture, seen, message = views3d.fix_clicked(gallery, "view 1", views3d.BOX_CORNERS, True, 0.75, {},
                                                        click(picture, (xs.min() - 12) / w, (ys.min() - 12) / h))
    assert "click the opposite corner" in message and seen[0][1].startswith("view 1: cut out")
    fixes, picture, seen, message = views3d.fix_clicked(gallery, "view 1", views3d.BOX_CORNERS, True, 0.75, fixes,
                                                        click(picture, (xs.max() + 12) / w, (ys.max() + 12) / h))
    assert "cut out from your box" in message and seen[0][1] == "view 1: your box"
    (fix,) = fixes.values()
    assert fix["corner"] is None and fix["box"][0] == pytest.approx((xs.min() - 12) / w, abs=0.01)
    pipe = common.pipeline("multiview3d")
    mask = views3d.cut_and_frame(pipe, path, Image.open(path), True, 0.75, fix)[1] > 127
    assert mask_iou(mask, truth) > 0.85
    out = run3d([path], fixes=fixes)
    assert out[3][0][1] == "view 1: your box" and out[-1].startswith("**Done")  # the run used the fixed view
    fixes, picture, seen, message = views3d.fix_clicked(gallery, "view 1", views3d.ON_BACKGROUND, True, 0.75, fixes,
                                                        click(picture, xs.mean() / w, ys.mean() / h))
    assert len(fixes[common.digest(path)]["bg"]) == 1 and "removed what you clicked on" in message
    fixes, picture, seen, message = views3d.fix_cleared(gallery, "view 1", True, 0.75, fixes)
    assert fixes == {} and seen[0][1].startswith("view 1: cut out") and "automatic" in message


def test_fix_events_never_raise(app, tmp_path):
    """Every preview event answers with its message: a fix before any upload, a box of one point."""
    clicked = views3d.quiet(views3d.fix_clicked, "fixing the cut-out", 4)
    out = clicked([], "view 1", views3d.BOX_CORNERS, True, 0.75, {},
                  gr.SelectData(None, {"index": [3, 4], "value": None}))
    assert out[:3] == (gr.skip(),) * 3 and "Upload views" in out[3]
    path = object_views(tmp_path)[0]
    picture = views3d.upload_previewed([(path, None)], True, 0.75, {}, False)[2]
    fixes, *_ = views3d.fix_clicked([(path, None)], "view 1", views3d.BOX_CORNERS, True, 0.75, {},
                                    click(picture, .5, .5))
    fixes, _, _, message = views3d.fix_clicked([(path, None)], "view 1", views3d.BOX_CORNERS, True, 0.75, fixes,
                                               click(picture, .505, .5))
    assert "too small" in message and next(iter(fixes.values()))["box"] is None


def test_rgba_cut_outs_are_used_as_they_are(app, tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[10:50, 20:40] = (200, 30, 30, 255)
    path = str(tmp_path / "cut.png")
    Image.fromarray(rgba, "RGBA").save(path)
    for remove_background in (True, False):
        seen = views3d.upload_previewed([(path, None)], remove_background, 0.75, {}, False)[0]
        assert seen[0][1] == "view 1: its own transparency"


def test_what_the_model_sees_shows_every_view_whole(app, views):
    """One picture per view, square and whole (the gallery is not cut to a strip for 1-2 views)."""
    seen = views3d.upload_previewed([(p, None) for p in views(2)], True, 0.75, {}, False)[0]
    assert len(seen) == 2 and all(im.size == (160, 160) for im, _ in seen)
    demo = app.build_demo()
    gallery = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "views3d-seen")
    assert gallery.columns == 4 and gallery.fit_columns is False and gallery.object_fit == "contain"


def test_views_in_order_reach_the_encoder_as_the_turntable_order():
    """The "views go round the object in order" box: the turntable order for a model with azimuth classes
    (the shipped one), any order when unticked, nothing for a model that takes the views as a set; a
    non-boolean from an API client is a clear error."""
    from types import SimpleNamespace

    pipe = common.pipeline("multiview3d")
    assert pipe.source_encoder.config.azimuth_bins > 0
    assert views3d.view_order_for(pipe, True) == {"view_order": "turntable"}
    assert views3d.view_order_for(pipe, False) == {"view_order": "any"}
    pooled = SimpleNamespace(source_encoder=SimpleNamespace(config=SimpleNamespace()))
    assert views3d.view_order_for(pooled, True) == {}
    with pytest.raises(gr.Error, match="in_order"):
        views3d.view_order_for(pipe, "sideways")
