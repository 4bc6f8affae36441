"""Views → new views: 1 to 4 photos of one object and a camera -> the view from that camera, or an
orbit (animated GIF) around the object. Endpoints: /new_view, /orbit."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from app import common
from app.common import HEAVY_EVENT, as_number, guarded, shown, whole_number
from lddbm.errors import ConfigError
from lddbm.framing import DEFAULT_FOREGROUND_RATIO, normalize_views, view_warnings
from lddbm.hosting import StrictCheckbox, StrictSlider
from lddbm.modalities.posedviews import relative_azimuth
from lddbm.tasks.novelview.data import view_angle
from lddbm.tasks.novelview.evaluation import orbit_azimuths, synthesize_views

TITLE = "Views → new views"
ORDER = 20
MODELS = ("novelview",)
EXAMPLES = common.ASSETS / "novelview"
GROUND_TRUTH_WITHIN = 15.0  # degrees: an example's render counts as the requested view's ground truth this close
CAMERA_STEP = 5  # degrees: the azimuth and elevation sliders' step
SHOWN_SIDE = 256  # generated and true views are shown at this size


@lru_cache(maxsize=1)
def example_digests() -> dict[str, tuple[Path, str]]:
    """Content hash of each example input view -> (its example folder, its file name)."""
    return {common.digest(p): (p.parent, p.name) for p in EXAMPLES.glob("*/view_*.png")}


def example_sets() -> list[tuple[str, list[str]]]:
    sets = []
    for folder in sorted(EXAMPLES.glob("*/")):
        meta = json.loads((folder / "meta.json").read_text())
        sets.append((meta["name"], [str(folder / name) for name in meta["views"]]))
    return sets


def true_views(paths) -> list[tuple[float, float, Path]] | None:
    """For an example's views (matched by content: Gradio hands copies): each of its true renders as
    (Δazimuth from the first view given, elevation, file); None for any other views."""
    hits = [example_digests().get(common.digest(p)) for p in paths]
    if not hits or None in hits or len({folder for folder, _ in hits}) != 1:
        return None
    folder, first = hits[0]
    meta = json.loads((folder / "meta.json").read_text())
    reference = meta["cameras"][first][0]  # the camera is relative to the first view given
    return [(float(relative_azimuth(az, reference)), float(el), folder / name) for name, (az, el) in meta["truth"].items()]


def nearest(views: list[tuple[float, float, Path]], azimuth: float, elevation: float) -> tuple[float, tuple]:
    """(angle in degrees, view) of the true view whose camera is nearest the requested one."""
    wanted = np.array([azimuth, elevation])
    return min(((view_angle(np.array(view[:2]), wanted), view) for view in views), key=lambda hit: hit[0])


def ground_truth(paths, azimuth: float, elevation: float) -> tuple[Image.Image, str] | None:
    """For an example's views: its render nearest the requested camera when within GROUND_TRUTH_WITHIN
    degrees, and a caption with that render's camera."""
    views = true_views(paths)
    if not views:
        return None
    angle, (turn, height, path) = nearest(views, azimuth, elevation)
    if angle > GROUND_TRUTH_WITHIN:
        return None
    with Image.open(path) as im:
        return im.convert("RGB"), f"true view at Δazimuth {turn:+.0f}°, elevation {height:.0f}°"


def true_view_cameras(paths) -> str:
    """Where an example has true views, in words (for the run details when the camera is near none)."""
    views = sorted(true_views(paths) or [])
    return ", ".join(f"{turn:+.0f}°/{height:.0f}°" for turn, height, _ in views)


def snap_to_true_view(views, azimuth, elevation):
    """After an example is picked: the camera sliders moved to its true view nearest their current
    setting (on the sliders' steps), so the true-view panel shows it; left as they are for other views."""
    found = true_views(common.gallery_paths(views))
    turn, height = as_number(azimuth), as_number(elevation)
    if not found or not (np.isfinite(turn) and np.isfinite(height)):
        return gr.skip(), gr.skip()
    _, (turn, height, _) = nearest(found, turn, height)
    return on_step(turn, -180, 180), on_step(height, 0, 60)


def on_step(degrees: float, low: int, high: int) -> int:
    """``degrees`` on the camera sliders' CAMERA_STEP grid, within [low, high]."""
    return int(min(max(CAMERA_STEP * round(degrees / CAMERA_STEP), low), high))


def output_side() -> int | None:
    """The side in pixels of the views the model generates (its decoder's image_size); None when unknown."""
    try:
        config = json.loads((common.CHECKPOINTS / "novelview" / "target_decoder" / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config.get("image_size")


def checked_inputs(views, remove_background, object_size, elevation, steps, sampler, guidance, randomness, seed,
                   random_seed):
    """Checked inputs of both novel-view endpoints: (pipe, framed views, paths, elevation, steps, options, seed)."""
    pipe = common.pipeline("novelview")
    paths, images, notes, ratio = common.opened_views(pipe, views, object_size)
    height = as_number(elevation)
    if not 0 <= height <= 60:
        raise gr.Error(f"The camera height (elevation) must be between 0 and 60 degrees; got {shown(elevation)}.")
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    options = common.sampling_options(sampler, randomness, guidance)
    seed = common.parse_seed(seed, random_seed)
    framed = normalize_views(images, bool(remove_background), ratio, segmenter=pipe.segmenter)
    for note in notes + view_warnings(framed, [Path(p).name for p in paths]):
        gr.Warning(note)
    return pipe, framed, paths, height, steps, options, seed


def new_view(views, remove_background, object_size, azimuth, elevation, steps, sampler, guidance, randomness, seed,
             random_seed, progress=gr.Progress()):
    """The public /new_view endpoint: views + camera -> (the generated view, the true view for examples or
    None, run details, the framed views the model saw)."""
    pipe, framed, paths, height, steps, options, seed = checked_inputs(
        views, remove_background, object_size, elevation, steps, sampler, guidance, randomness, seed, random_seed)
    turn = as_number(azimuth)
    if not -180 <= turn <= 180:
        raise gr.Error(f"The azimuth must be between -180 and 180 degrees; got {shown(azimuth)}.")
    try:
        images, nfe, seconds = synthesize_views(pipe, framed, [turn], height, seed=seed, num_inference_steps=steps,
                                                sampler=sampler, **options)
    except (ConfigError, ValueError) as err:
        raise gr.Error(str(err)) from err
    generated = images[0].resize((SHOWN_SIDE, SHOWN_SIDE), Image.BICUBIC)
    truth = ground_truth(paths, turn, height)
    info = (f"{len(framed)} view(s) · Δazimuth {turn:+.0f}°, elevation {height:.0f}° · {sampler} · {nfe} NFE · "
            f"{seconds:.2f} s on {common.DEVICE} · seed {seed}")
    cameras = true_view_cameras(paths)
    if truth is not None:
        info += f" · right: the {truth[1]}"
    elif cameras:
        info += (f" · no true view within {GROUND_TRUTH_WITHIN:.0f}° of this camera; this example has them at "
                 f"(Δazimuth/elevation) {cameras}")
    shown_truth = truth[0].resize((SHOWN_SIDE, SHOWN_SIDE), Image.BICUBIC) if truth else None
    return generated, shown_truth, info, [common.on_checkerboard(v) for v in framed]


def orbit(views, remove_background, object_size, elevation, count, steps, sampler, guidance, randomness, seed,
          random_seed, progress=gr.Progress()):
    """The public /orbit endpoint: views -> (an animated GIF of ``count`` views around the object, run details)."""
    pipe, framed, _, height, steps, options, seed = checked_inputs(
        views, remove_background, object_size, elevation, steps, sampler, guidance, randomness, seed, random_seed)
    count = whole_number(count, "number of orbit views", 2, 36)

    def done(k: int, total: int) -> None:
        progress(k / total, desc=f"view {k}/{total}")

    try:
        images, nfe, seconds = synthesize_views(pipe, framed, orbit_azimuths(count), height, seed=seed, progress=done,
                                                num_inference_steps=steps, sampler=sampler, **options)
    except (ConfigError, ValueError) as err:
        raise gr.Error(str(err)) from err
    frames = [im.resize((SHOWN_SIDE, SHOWN_SIDE), Image.BICUBIC) for im in images]
    gif = common.save_result(common.session_folder() / "orbit.gif", lambda tmp: frames[0].save(
        tmp, format="GIF", save_all=True, append_images=frames[1:], duration=max(40, 2000 // count), loop=0))
    info = (f"{count} views around the object at elevation {height:.0f}° · {sampler} · {nfe} NFE each · "
            f"{seconds:.2f} s on {common.DEVICE} · seed {seed}")
    return gif, info


def build() -> None:
    side = output_side()
    drawn = f"{side}×{side}-px views (shown enlarged)" if side else "small views (shown enlarged)"
    gr.Markdown(
        "Upload **1 to 4 photos of one object** (the first is the reference; the others help, in any order) or pick "
        "an example, choose where the camera should go — **azimuth** relative to the first photo (positive: the "
        "camera moves to its right around the object) and **elevation** (camera height) — and generate that view, "
        "or an **orbit** around the object. Trained on 654 furniture objects rendered in one studio (one lens and "
        "light, camera heights 15–40°), so it knows furniture on a plain background best; examples are held-out "
        "objects, shown beside their true view when one is near the requested camera (picking an example moves "
        f"the camera to its nearest true view).\n\n**Expect blurry views**: the model draws {drawn} with the "
        "object's rough shape and colours but little of its detail; it scores only a little better than copying "
        "the input view (see its model card, `checkpoints/novelview/README.md`)."
    )
    with gr.Row():
        with gr.Column(scale=1):
            views = gr.Gallery(label="views of the object (1–4 images, the first is the reference)", type="filepath",
                               interactive=True, file_types=["image"], columns=4, height=200, object_fit="contain")
            azimuth = StrictSlider(-180, 180, value=90, step=CAMERA_STEP, label="azimuth (degrees from the first view)")
            elevation = StrictSlider(0, 60, value=25, step=CAMERA_STEP, label="elevation (camera height, degrees)")
            run = gr.Button("Generate the view", variant="primary")
            with gr.Row():
                count = StrictSlider(4, 24, value=12, step=1, label="orbit views")
                run_orbit = gr.Button("Orbit")
            with gr.Accordion("Input and sampling settings", open=False):
                remove_background = StrictCheckbox(True, label="remove the background")
                foreground_ratio = StrictSlider(0.4, 1.0, value=DEFAULT_FOREGROUND_RATIO, step=0.05,
                                                label="object size in the frame")
                steps = StrictSlider(1, 40, value=common.checkpoint_steps("novelview"), step=1, label="sampling steps")
                sampler, randomness, guidance = common.sampler_controls(
                    "novelview", "0 gives the same view every time; higher values draw varied views.",
                    "How strongly sampling is pulled toward the input views (1 = as trained).")
                seed, randomize = common.seed_controls()
            sets = example_sets()
            if sets:
                examples = gr.Examples([[p] for _, p in sets], inputs=[views], label="examples: held-out objects")
                examples.dataset.layout = "gallery"
                examples.load_input_event.then(guarded(snap_to_true_view, "moving the camera", heavy=False),
                                               [views, azimuth, elevation], [azimuth, elevation],
                                               api_visibility="private", queue=False, show_progress="hidden")
        with gr.Column(scale=2):
            seen = gr.Gallery(label="what the model sees", columns=4, height=130, preview=False, object_fit="contain")
            with gr.Row():
                generated = gr.Image(label=f"generated view ({side} px, enlarged: blurry)" if side else "generated view",
                                     type="pil", format="png")
                truth = gr.Image(label="true view (examples, near the camera)", type="pil", format="png")
            info = gr.Markdown(label="run details", show_label=False)
            animation = gr.Image(label="orbit (animated GIF)", type="filepath", format="gif")
            orbit_info = gr.Markdown(label="orbit details", show_label=False)
    shared = [remove_background, foreground_ratio]
    sampling = [steps, sampler, guidance, randomness, seed, randomize]
    run.click(guarded(new_view, "generating the view"), [views, *shared, azimuth, elevation, *sampling],
              [generated, truth, info, seen], api_name="new_view", **HEAVY_EVENT)
    run_orbit.click(guarded(orbit, "generating the orbit"), [views, *shared, elevation, count, *sampling],
                    [animation, orbit_info], api_name="orbit", **HEAVY_EVENT)
