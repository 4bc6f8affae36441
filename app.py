"""LDDBM web demo (Gradio). UI only: every model computation lives in lddbm/.

Run ``python app.py`` and open http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are
respected). Pipelines load once, offline, from checkpoints/; CUDA is used when present.

The API (gradio_client) is one endpoint per task, a contract checked by tests/test_app_api.py:
/views_to_3d, /new_view, /orbit, /super_resolve, /sketch_to_printed, /printed_to_handwritten and /translate_vector;
every other event is private (api_visibility).
Sampler controls are built from lddbm.samplers (SAMPLERS, OPTIONS): each tab has one "randomness"
slider, set as the chosen sampler's stochastic option, and guidance only applies where it is read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from lddbm.data.digits import example_label
from lddbm.data.synthetic import PARAM_HIGH, PARAM_LOW, render_discs, source_matrix
from lddbm.digits import DigitClassifier, load_judge, photo_to_printed, sketch_to_handwritten
from lddbm.errors import ConfigError, DataError
from lddbm.export import export_mesh, plotly_figure, plotly_side_by_side, voxels_to_mesh
from lddbm.hosting import (BoundedSketchpad, CheckedImage, Listeners, RequestGuard, StrictCheckbox, StrictNumber,
                           StrictSlider, friendly_input_errors, guard_queue)
from lddbm.framing import DEFAULT_FOREGROUND_RATIO, WORK_SIDE, NormalizedView, normalize_views, view_warnings
from lddbm.images import tensor_to_pil
from lddbm.inputs import HIGH_BIT_MODES, MAX_PIXELS, InputError, open_image, open_views
from lddbm.pipeline import CheckpointError, LDDBMPipeline
from lddbm.presets import load_preset
from lddbm.samplers import OPTIONS, SAMPLERS, stochastic_options
from lddbm.scheduler import BridgeScheduler
from lddbm.serving import HeavyWork, ResultStore, StorageFull, atomic_gradio_image_cache
from lddbm.shapes import predict_shape
from lddbm.data.novelview import view_angle
from lddbm.modalities.posedviews import relative_azimuth
from lddbm.novelview import orbit_azimuths, synthesize_views
from lddbm.superres import fit_to_limit, image_metrics, upscale
from lddbm.tiling import MAX_INPUT_SIDE

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints"
EXAMPLES_3D = ROOT / "assets" / "multiview3d"
EXAMPLES_SR = ROOT / "assets" / "sr4x"
EXAMPLES_NV = ROOT / "assets" / "novelview"
# model choice -> checkpoint folder (shown when it exists): "×4" for clean images, "×4 photo" trained on
# JPEG, noise and blur (lddbm/data/degradations.py), "×8" the paper's factor
SR_MODELS = {"×4": "sr4x", "×4 photo (JPEG, noise)": "sr4x_real", "×8": "sr8x"}
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# Disk: results and Gradio's cache (uploads, served files) share one bounded folder (lddbm.serving);
# results are saved there once, so Gradio serves them without copying.
# always a folder of our own (the sweeper deletes in it), under GRADIO_TEMP_DIR when one is set
DOWNLOADS = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "lddbm-app"
KEEP_DOWNLOADS_S = 3600
DISK_CAP_BYTES = int(float(os.environ.get("LDDBM_DISK_CAP_MB", "2048")) * 2**20)  # results + uploads, oldest removed first
MAX_UPLOAD = "25mb"  # per file: a large phone photo or a 16-bit PNG; Gradio refuses bigger uploads while receiving them
MAX_UPLOAD_REQUEST = 13 * 25 * 2**20  # one upload request: 12 views at the per-file limit, and the form around them
MAX_SESSIONS = 500  # sessions whose state (bridge frames, component updates) is kept; the oldest go first
QUEUE_SIZE = 32  # waiting requests; beyond it a visitor is told the server is busy
BUSY = "The demo is busy right now (too many requests waiting). Please try again in a minute."
MAX_SEED = 2**32 - 1
HEAVY_AT_ONCE = 2  # model calls running at once, whichever tab, event or API call they come from
HEAVY = HeavyWork(HEAVY_AT_ONCE)
# every event that runs a model shares one Gradio concurrency group (the queue holds the rest, with its
# position shown) and HEAVY's slots (which also hold for events the group cannot see, e.g. chained ones)
HEAVY_EVENT = dict(concurrency_id="model", concurrency_limit=HEAVY_AT_ONCE)
MAX_FRAMES = 12  # bridge frames a 3D result keeps in its session for the "along the bridge" slider
STATE_TTL_S = 900  # a session's state is dropped this long after its last use
logger = logging.getLogger("lddbm.app")
# Gradio decodes some inputs itself (sketch layers, the SR detail view): past the upload pixel limit PIL refuses
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


# diffusers loads weights inside accelerate's init_empty_weights, which patches torch.nn.Module for the whole
# process: two loads at once can leave it patched (every later module built on the meta device), so loads
# take turns (preload() loads everything before serving; lazy loads, as in tests, may race)
LOADING = threading.Lock()


@lru_cache(maxsize=None)
def pipeline(name: str) -> LDDBMPipeline:
    try:
        with LOADING:
            pipe = LDDBMPipeline.load(CHECKPOINTS / name, device=DEVICE)
    except CheckpointError as err:
        raise gr.Error(f"The '{name}' model could not be loaded: {err}") from err
    pipe.set_progress_bar_config(desc=f"{name}: bridge steps")
    return pipe


@lru_cache(maxsize=None)
def result_store(root: Path) -> ResultStore:
    return ResultStore(root, max_bytes=DISK_CAP_BYTES, max_age_s=KEEP_DOWNLOADS_S, sweep_every_s=300)


# returned images are cached by hash, atomically (same image for two visitors: no broken download) and without
# the upload's metadata; build_demo adds the disk cap
atomic_gradio_image_cache()


def shown(value, limit: int = 40) -> str:
    """A visitor's value as an error message repeats it: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def guarded(fn, what: str, heavy: bool = True):
    """``fn`` as an event handler: under one of HEAVY's slots when it runs a model, and every exception a
    message that says what to do. gr.Error passes as it is; the library's user errors become gr.Error; an
    unexpected one is logged with its trace and shown as a plain sentence (never a bare "Error" badge)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            if not heavy:
                return fn(*args, **kwargs)
            with HEAVY.slot(fn.__name__):
                return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (InputError, ConfigError, DataError, StorageFull) as err:
            raise gr.Error(str(err)) from err
        except MemoryError:
            logger.error("%s: out of memory", fn.__name__)
            raise gr.Error(f"The server ran out of memory while {what}. Try fewer or smaller images, fewer samples "
                           "or steps, or try again when it is less busy.") from None
        except Exception:
            logger.exception("%s failed", fn.__name__)
            raise gr.Error(f"Something went wrong on the server while {what}; the details were logged. Please try "
                           "again, or try other images or settings.") from None

    return run


def session_folder() -> Path:
    """A fresh folder for one request's results (in the bounded store)."""
    try:
        return result_store(DOWNLOADS).new_folder()
    except StorageFull as err:
        raise gr.Error(str(err)) from err


def save_result(path: Path, write) -> str:
    """Write one result atomically (``write(tmp_path)``); a failed write is a message, not a crash."""
    try:
        return str(result_store(DOWNLOADS).save(path, write))
    except StorageFull as err:
        raise gr.Error(str(err)) from err


def as_number(value) -> float:
    """A UI or API value as a float; NaN for anything that is not a number (callers range-check it)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def whole_number(value, what: str, low: int, high: int) -> int:
    """A whole number in [low, high] from a UI or API value; anything else is a gr.Error naming ``what``."""
    number = as_number(value)
    if not np.isfinite(number) or number != int(number) or not low <= number <= high:
        raise gr.Error(f"The {what} must be a whole number from {low} to {high}; got {shown(value)}.")
    return int(number)


def parse_seed(seed, randomize: bool) -> int:
    if randomize:
        return random.randint(0, MAX_SEED)
    return whole_number(seed, "seed", 0, MAX_SEED)


# ---- sampler controls: read from the registry in lddbm.samplers -----------------------------------------

GUIDANCE_UI_RANGE = (0.0, 2.0)  # the useful part of OPTIONS["guidance"]'s range, for the slider


def checkpoint_config(name: str) -> dict:
    """A checkpoint's scheduler config (the sampling settings it was validated with), read by the
    scheduler's own loader (older layouts in today's terms); {} when it has none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return dict(BridgeScheduler.from_pretrained(CHECKPOINTS / name / "scheduler").config)
    except (OSError, ValueError):
        return {}


def checkpoint_steps(name: str, default: int = 10) -> int:
    """The sampling steps a checkpoint was exported with (its validated default)."""
    return int(checkpoint_config(name).get("num_inference_steps", default))


def checkpoint_candidates(name: str) -> int:
    """The candidates per translation a checkpoint ranks by default (1: a single draw)."""
    return int(checkpoint_config(name).get("num_candidates", 1))


def checkpoint_sampler(name: str) -> str:
    """The sampler a checkpoint was exported with, or the registry's first when it names none we know."""
    return _known_sampler(checkpoint_config(name))


def _known_sampler(config: dict) -> str:
    sampler = config.get("sampler")
    return sampler if sampler in SAMPLERS else next(iter(SAMPLERS))


def _meaning(option: str) -> str:
    return OPTIONS[option].help.split(": ", 1)[-1]  # the help without its "sampler: " prefix


def randomness_settings(sampler: str, lead: str) -> dict:
    """Slider settings of a tab's one "randomness" control for ``sampler``: the range of the sampler's
    stochastic option, or a disabled slider for a deterministic sampler."""
    option = SAMPLERS[sampler].stochastic_option
    if option is None:
        return dict(minimum=0, maximum=1, interactive=False, info=f"The {sampler} sampler is deterministic; "
                    "choose another sampler for random draws.")
    spec = OPTIONS[option]
    return dict(minimum=spec.low, maximum=spec.high, interactive=True,
                info=f"{lead} Sets the {sampler} sampler's {option}: {_meaning(option)}.")


def guidance_settings(sampler: str, lead: str) -> dict:
    """Slider settings of the guidance control: editable only for samplers that read guidance."""
    if "guidance" in SAMPLERS[sampler].options:
        return dict(interactive=True, info=lead)
    readers = [name for name, cls in SAMPLERS.items() if "guidance" in cls.options]
    return dict(interactive=False, info=f"Not used by the {sampler} sampler; only {' / '.join(readers) or 'no sampler'} "
                "reads guidance.")


def checkpoint_sampling(name: str) -> tuple[str, float, float]:
    """(sampler, randomness, guidance) a checkpoint was exported with: a tab's starting values, so the demo
    samples as the model was validated (e.g. the digits' eta 0.5: at 0 they are a grey blur)."""
    config = checkpoint_config(name)  # read once: every value below comes from it
    sampler = _known_sampler(config)
    option = SAMPLERS[sampler].stochastic_option
    randomness = float(config.get(option, OPTIONS[option].default)) if option else 0.0
    return sampler, randomness, float(config.get("guidance", OPTIONS["guidance"].default))


def sampler_controls(checkpoint: str, randomness_lead: str, guidance_lead: str):
    """A tab's sampler radio (choices from lddbm.samplers.SAMPLERS), its one randomness slider (set as the
    chosen sampler's stochastic option) and its guidance slider, which follow the chosen sampler; they
    start at the ``checkpoint``'s own settings."""
    default, start_randomness, start_guidance = checkpoint_sampling(checkpoint)
    sampler = gr.Radio([(name, name) for name in SAMPLERS], value=default, label="sampler",
                       info=" · ".join(f"{name}: {cls.summary}" for name, cls in SAMPLERS.items()))
    randomness = StrictSlider(value=start_randomness, step=0.05, label="randomness",
                           **randomness_settings(default, randomness_lead))
    guidance = StrictSlider(*GUIDANCE_UI_RANGE, value=start_guidance, step=0.05, label="guidance",
                         **guidance_settings(default, guidance_lead))

    def follow(name, value):
        if name not in SAMPLERS:
            return gr.skip(), gr.skip()
        settings = randomness_settings(name, randomness_lead)
        value = min(max(float(value or 0), settings["minimum"]), settings["maximum"])
        return gr.update(value=value, **settings), gr.update(**guidance_settings(name, guidance_lead))

    sampler.change(guarded(follow, "switching the sampler", heavy=False), [sampler, randomness], [randomness, guidance],
                   api_visibility="private", queue=False, show_progress="hidden")
    return sampler, randomness, guidance


def sampling_options(sampler, randomness, guidance) -> dict[str, float]:
    """The options ``sampler`` reads, from a tab's controls: the randomness as its stochastic option
    (lddbm.samplers.stochastic_options), guidance only when it reads guidance (passing an option a
    sampler does not read is an error in the library)."""
    if sampler not in SAMPLERS:
        raise gr.Error(f"Choose a sampler: one of {', '.join(SAMPLERS)} (got {shown(sampler)}).")
    options = dict(stochastic_options(sampler, randomness))
    if "guidance" in SAMPLERS[sampler].options:
        options["guidance"] = guidance
    for name, value in options.items():
        try:
            options[name] = OPTIONS[name].check(value)
        except (ConfigError, TypeError, ValueError) as err:
            what = "guidance" if name == "guidance" else f"randomness ({sampler}'s {name})"
            raise gr.Error(f"The {what} must be a number from {OPTIONS[name].low:g} to {OPTIONS[name].high:g}; "
                           f"got {shown(value)}.") from err
    return options


def is_stochastic(options: dict[str, float], sampler: str) -> bool:
    option = SAMPLERS[sampler].stochastic_option
    return option is not None and options.get(option, 0) > 0


# ---- views -> 3D ---------------------------------------------------------------------------------------


def _digest(path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def example_sets() -> list[tuple[str, list[str]]]:
    """(label, view paths) of each shipped example: held-out renders, and held-out renders
    composited onto held-out photographs (folders whose meta says "background": "photo")."""
    sets = []
    for folder in sorted(EXAMPLES_3D.glob("*/"), key=lambda f: (f.name.endswith("-photo"), f.name)):
        meta = json.loads((folder / "meta.json").read_text())
        label = meta["name"] + (" · on a photo" if meta.get("background") == "photo" else "")
        sets.append((label, sorted(str(p) for p in folder.glob("view_*.png"))))
    return sets


@lru_cache(maxsize=1)
def example_digests() -> dict[str, Path]:
    return {_digest(p): p.parent for p in EXAMPLES_3D.glob("*/view_*.png")}


def ground_truth_for(paths) -> np.ndarray | None:
    """The example's voxels when every uploaded view is a view of the same shipped example
    (Gradio hands the handler copies of the files, so they are matched by content)."""
    folders = {example_digests().get(_digest(p)) for p in paths or []}
    if len(folders) == 1 and None not in folders:
        voxels = folders.pop() / "voxels.npy"
        return np.load(voxels) if voxels.is_file() else None
    return None


def gallery_paths(items) -> list[str]:
    """A gallery input's value ([(path, caption), ...] or paths) -> file paths."""
    paths = []
    for item in items or []:
        path = item[0] if isinstance(item, (tuple, list)) else item
        path = getattr(path, "name", path)
        if path:
            paths.append(str(path))
    return paths


def without_example_views(paths: list[str]) -> list[str] | None:
    """A new upload replaces an example's views: when the gallery holds both, the user's own files
    only; None when there is nothing to drop."""
    digests = example_digests()
    from_example = [p for p in paths if Path(p).is_file() and _digest(p) in digests]
    if from_example and len(from_example) < len(paths):
        return [p for p in paths if p not in from_example]
    return None


def on_checkerboard(view: NormalizedView, size: int = 160, square: int = 10) -> Image.Image:
    """A framed view over a grey checkerboard, so what was cut away as background is visible."""
    yy, xx = np.mgrid[0:size, 0:size] // square
    board = np.where((yy + xx) % 2 == 0, 205, 160).astype(np.uint8)
    canvas = Image.fromarray(np.dstack([board] * 3 + [np.full_like(board, 255)]), "RGBA")
    return Image.alpha_composite(canvas, view.image.resize((size, size), Image.BICUBIC)).convert("RGB")


def why_empty(images, framed: list[NormalizedView], randomness: float, threshold: float) -> str:
    """The most likely reason for an empty prediction, in plain words."""
    if all(np.asarray(im.convert("L")).std() < 2 for im in images):
        return "The views look blank (a single flat colour): upload photos that show the object."
    if framed and all(v.mask_source != "none" and not v.found for v in framed):
        return ("No object was found against the background in any view. Use photos where the object stands out "
                "from a plain background, upload cut-out PNGs with transparency, or untick 'remove the background'.")
    if randomness > 0:
        return (f"Random sampling (randomness {randomness:.2f}) gave an empty shape this time: try another seed, or set "
                "the randomness to 0 under Advanced.")
    return (f"The model is not confident about any part of the shape (nothing reaches the occupancy threshold "
            f"{threshold:.2f}). Try views where the object fills more of the frame and stands out from the "
            "background, or lower the occupancy threshold under Advanced.")


def opened_views(pipe: LDDBMPipeline, views, object_size) -> tuple[list[str], list[Image.Image], list[str], float]:
    """A gallery's views opened for ``pipe`` (at most its max_views) and the checked object-size ratio:
    (paths, images, notes about the files, ratio); a gr.Error that says what to do otherwise."""
    paths = gallery_paths(views)
    try:
        images, notes = open_views(paths, pipe.source_encoder.config.max_views, shrink_to=WORK_SIDE)
    except InputError as err:
        raise gr.Error(str(err)) from err
    ratio = as_number(object_size)
    if not 0.3 <= ratio <= 1.0:
        raise gr.Error(f"The object size in the frame must be between 0.3 and 1; got {shown(object_size)}.")
    return paths, images, notes, ratio


def views_to_3d(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                threshold, samples, progress=gr.Progress(track_tqdm=True)):
    """The public /views_to_3d endpoint: views -> (shape figure, [GLB, OBJ, STL] files, run details, the
    framed views the model saw) and the trajectory frames (a gr.State, which API clients do not see)."""
    pipe = pipeline("multiview3d")
    paths, images, notes, ratio = opened_views(pipe, views, object_size)
    seed = parse_seed(seed, random_seed)
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    samples = whole_number(samples, "number of samples", 1, 16)
    level = as_number(threshold)
    if not 0 < level < 1:
        raise gr.Error(f"The occupancy threshold must lie between 0 and 1; got {shown(threshold)}.")
    threshold = level
    options = sampling_options(sampler, randomness, guidance)
    framed = normalize_views(images, bool(remove_background), ratio, segmenter=pipe.segmenter)
    for note in notes + view_warnings(framed, [Path(p).name for p in paths]):
        gr.Warning(note)
    if samples > 1 and not is_stochastic(options, sampler):
        gr.Warning("With randomness 0 every sample is the same; raise it to see where the model is unsure.")
    try:
        pred = predict_shape(pipe, framed, num_inference_steps=steps, sampler=sampler, seed=seed, samples=samples,
                             threshold=threshold, trajectory=True, **options)
    except ConfigError as err:
        raise gr.Error(str(err)) from err
    try:
        mesh = voxels_to_mesh(pred.probability, threshold=threshold,
                              values=(pred.agreement - 0.5) * 2 if samples > 1 else None)
    except ValueError as err:
        raise gr.Error(why_empty(images, framed, float(randomness) if is_stochastic(options, sampler) else 0.0,
                                 threshold)) from err
    shapes = [("prediction", mesh)]
    truth = ground_truth_for(paths)
    if truth is not None:
        shapes.append(("ground truth", voxels_to_mesh(truth)))
    title = None if samples == 1 else f"colour: agreement of {samples} samples (1 = all agree)"
    figure = plotly_side_by_side(shapes, title=title, colorbar_title="agreement")
    folder = session_folder()
    downloads = [save_result(folder / f"shape.{ext}", lambda tmp: export_mesh(mesh, tmp)) for ext in ("glb", "obj", "stl")]
    frames = kept_frames(pred.trajectory)
    info = (f"{len(images)} view(s) · {sampler} · {pred.nfe} NFE × {samples} sample(s) · {pred.seconds:.2f} s on "
            f"{DEVICE} · seed {seed}")
    seen = [on_checkerboard(v) for v in framed]
    return figure, downloads, info, seen, frames


def kept_frames(trajectory: list[np.ndarray], limit: int = MAX_FRAMES) -> list[tuple[int, np.ndarray]]:
    """(evaluation number, uint8 grid) of at most ``limit`` bridge frames, evenly spaced, the last always
    kept: what a session holds for the "along the bridge" slider (32 KB a frame at 32³)."""
    keep = np.unique(np.linspace(0, len(trajectory) - 1, min(limit, len(trajectory))).round().astype(int))
    return [(int(k) + 1, (trajectory[k] * 255).astype(np.uint8)) for k in keep] if trajectory else []


def show_trajectory(frames, threshold):
    """The "along the bridge" controls for a new run: the slider over its kept frames, at the last one."""
    last = max(len(frames) - 1, 1)
    slider = gr.update(minimum=0, maximum=last, value=last, step=1, interactive=len(frames) > 1)
    return slider, trajectory_frame(frames, last, threshold)


def views_to_3d_ui(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                   threshold, samples, progress=gr.Progress(track_tqdm=True)):
    """views_to_3d with the "along the bridge" controls updated too (for the events the API does not expose)."""
    out = views_to_3d(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                      threshold, samples, progress)
    return (*out, *show_trajectory(out[-1], threshold))


def views_uploaded(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                   threshold, samples, progress=gr.Progress(track_tqdm=True)):
    """Run on every upload. A fresh upload after an example replaces the example's views (the
    gallery is set to the user's own files); removing all views leaves the outputs as they are."""
    paths = gallery_paths(views)
    if not paths:
        return (gr.skip(),) * 8
    controls = (remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed, threshold,
                samples, progress)
    own = without_example_views(paths)
    if own is not None:
        return (*views_to_3d_ui([(p, None) for p in own], *controls), own)
    return (*views_to_3d_ui(views, *controls), gr.skip())


def trajectory_frame(frames, index, threshold):
    if not frames:
        return None
    k = int(min(max(as_number(index) if np.isfinite(as_number(index)) else 0, 0), len(frames) - 1))
    evaluation, grid = frames[k]
    try:
        return plotly_figure(voxels_to_mesh(grid.astype(np.float32) / 255, threshold=float(threshold)),
                             title=f"x0 estimate after {evaluation} evaluations")
    except ValueError:
        gr.Warning("The shape estimate at this step is empty at the current threshold.")
        return None


def views_tab() -> None:
    gr.Markdown(
        "Upload **1 to 12 photos of one object** from different sides (any order), or pick an example. "
        "The background is removed and each view is framed the way the model was trained; check "
        "*what the model sees* on the right. Plain backgrounds and the whole object in frame work best. "
        "The model was trained on 3,370 objects in 39 classes (furniture, buildings, aircraft, ships, vehicles, "
        "plants, people, …: free 3D models from Debian's packages), each rendered with randomly drawn lenses, "
        "camera heights and lights. Examples are held-out objects the model never saw in training; those marked "
        "*on a photo* were pasted onto held-out photographs."
    )
    with gr.Row():
        with gr.Column(scale=1):
            views = gr.Gallery(label="views of the object (1–12 images)", type="filepath", interactive=True,
                               file_types=["image"], columns=4, height=220, object_fit="contain")
            remove_background = StrictCheckbox(True, label="remove the background",
                                            info="Cut the object out of its background (photos); untick for renders on white.")
            foreground_ratio = StrictSlider(0.4, 1.0, value=DEFAULT_FOREGROUND_RATIO, step=0.05, label="object size in the frame",
                                         info=f"How much of each view the object fills; {DEFAULT_FOREGROUND_RATIO} is how the model was trained.")
            run = gr.Button("Generate 3D shape", variant="primary")
            with gr.Accordion("Advanced", open=False):
                steps = StrictSlider(1, 40, value=10, step=1, label="sampling steps", info="More steps are slower; 10 is plenty.")
                sampler, randomness, guidance = sampler_controls(
                    "multiview3d",
                    "0 gives the same, most accurate shape every time; higher values draw varied shapes, each "
                    "somewhat less accurate (heun at 0.33: 0.36 against 0.46 IoU on our test objects).",
                    "How strongly sampling is pulled toward the views (1 = as trained).")
                samples = StrictSlider(1, 8, value=1, step=1, label="number of samples",
                                    info="Several samples (with randomness > 0) colour the shape by where they agree.")
                threshold = StrictSlider(0.05, 0.95, value=0.5, step=0.05, label="occupancy threshold",
                                      info="Lower keeps parts the model is less sure about.")
                with gr.Row():
                    seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=MAX_SEED)
                    randomize = StrictCheckbox(False, label="random seed")
            sets = example_sets()
            examples = gr.Examples([[p] for _, p in sets], inputs=[views], label="examples: held-out objects (the last "
                                   f"{sum(n.endswith('on a photo') for n, _ in sets)} on held-out photographs)",
                                   examples_per_page=16) if sets else None
            if examples is not None:
                examples.dataset.layout = "gallery"  # thumbnails side by side, not a table
        with gr.Column(scale=2):
            seen = gr.Gallery(label="what the model sees (removed background shown as a checkerboard)", columns=4,
                              height=170, preview=False, object_fit="contain")
            predicted = gr.Plot(label="predicted shape (beside the ground truth for examples; drag to turn both)")
            info = gr.Markdown(label="run details", show_label=False)
            downloads = gr.File(label="download GLB / OBJ / STL", file_count="multiple")
            with gr.Accordion("along the bridge", open=False):
                frame_index = StrictSlider(0, 1, value=0, step=1, label="bridge frame",
                                        info=f"Up to {MAX_FRAMES} frames along the bridge, the last the result.")
                frame_plot = gr.Plot(label="decoded x0 estimate")
    frames = gr.State([], time_to_live=STATE_TTL_S)
    inputs = [views, remove_background, foreground_ratio, steps, sampler, guidance, randomness, seed, randomize,
              threshold, samples]
    outputs = [predicted, downloads, info, seen, frames]  # the public endpoint's (the State is hidden from clients)
    trajectory = [frame_index, frame_plot]
    making = "making the 3D shape"
    run.click(guarded(views_to_3d, making), inputs, outputs, api_name="views_to_3d", **HEAVY_EVENT).success(
        guarded(show_trajectory, making, heavy=False), [frames, threshold], trajectory, api_visibility="private",
        queue=False)
    views.upload(guarded(views_uploaded, making), inputs, outputs + trajectory + [views], api_visibility="private",
                 **HEAVY_EVENT)
    if examples is not None:  # an example click fills the gallery, then runs the model
        examples.load_input_event.then(guarded(views_to_3d_ui, making), inputs, outputs + trajectory,
                                       api_visibility="private", **HEAVY_EVENT)
    frame_index.release(guarded(trajectory_frame, "drawing the bridge frame", heavy=False),
                        [frames, frame_index, threshold], frame_plot, api_visibility="private")


# ---- views -> new views ------------------------------------------------------------------------------

GROUND_TRUTH_WITHIN = 15.0  # degrees: an example's render counts as the requested view's ground truth this close


@lru_cache(maxsize=1)
def nv_example_digests() -> dict[str, tuple[Path, str]]:
    """Content hash of each example input view -> (its example folder, its file name)."""
    return {_digest(p): (p.parent, p.name) for p in EXAMPLES_NV.glob("*/view_*.png")}


def nv_example_sets() -> list[tuple[str, list[str]]]:
    sets = []
    for folder in sorted(EXAMPLES_NV.glob("*/")):
        meta = json.loads((folder / "meta.json").read_text())
        sets.append((meta["name"], [str(folder / name) for name in meta["views"]]))
    return sets


def nv_ground_truth(paths, azimuth: float, elevation: float) -> tuple[Image.Image, str] | None:
    """For an example's views (matched by content: Gradio hands copies): its render nearest the
    requested camera when within GROUND_TRUTH_WITHIN degrees, and a caption with that render's camera."""
    hits = [nv_example_digests().get(_digest(p)) for p in paths]
    if not hits or None in hits or len({folder for folder, _ in hits}) != 1:
        return None
    folder, first = hits[0]
    meta = json.loads((folder / "meta.json").read_text())
    reference = meta["cameras"][first][0]  # the camera is relative to the first view given
    wanted = np.array([azimuth, elevation])
    angle, name, turn, height = min((view_angle(np.array([relative_azimuth(az, reference), el]), wanted), name,
                                     relative_azimuth(az, reference), el) for name, (az, el) in meta["truth"].items())
    if angle > GROUND_TRUTH_WITHIN:
        return None
    with Image.open(folder / name) as im:
        return im.convert("RGB"), f"true view at Δazimuth {turn:+.0f}°, elevation {height:.0f}°"


def nv_inputs(views, remove_background, object_size, elevation, steps, sampler, guidance, randomness, seed, random_seed):
    """Checked inputs of both novel-view endpoints: (pipe, framed views, paths, elevation, steps, options, seed)."""
    pipe = pipeline("novelview")
    paths, images, notes, ratio = opened_views(pipe, views, object_size)
    height = as_number(elevation)
    if not 0 <= height <= 60:
        raise gr.Error(f"The camera height (elevation) must be between 0 and 60 degrees; got {shown(elevation)}.")
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    options = sampling_options(sampler, randomness, guidance)
    seed = parse_seed(seed, random_seed)
    framed = normalize_views(images, bool(remove_background), ratio, segmenter=pipe.segmenter)
    for note in notes + view_warnings(framed, [Path(p).name for p in paths]):
        gr.Warning(note)
    return pipe, framed, paths, height, steps, options, seed


def new_view(views, remove_background, object_size, azimuth, elevation, steps, sampler, guidance, randomness, seed,
             random_seed, progress=gr.Progress()):
    """The public /new_view endpoint: views + camera -> (the generated view, the true view for examples or
    None, run details, the framed views the model saw)."""
    pipe, framed, paths, height, steps, options, seed = nv_inputs(
        views, remove_background, object_size, elevation, steps, sampler, guidance, randomness, seed, random_seed)
    turn = as_number(azimuth)
    if not -180 <= turn <= 180:
        raise gr.Error(f"The azimuth must be between -180 and 180 degrees; got {shown(azimuth)}.")
    try:
        images, nfe, seconds = synthesize_views(pipe, framed, [turn], height, seed=seed, num_inference_steps=steps,
                                                sampler=sampler, **options)
    except (ConfigError, ValueError) as err:
        raise gr.Error(str(err)) from err
    generated = images[0].resize((256, 256), Image.BICUBIC)
    truth = nv_ground_truth(paths, turn, height)
    info = (f"{len(framed)} view(s) · Δazimuth {turn:+.0f}°, elevation {height:.0f}° · {sampler} · {nfe} NFE · "
            f"{seconds:.2f} s on {DEVICE} · seed {seed}")
    if truth is not None:
        info += f" · right: the {truth[1]}"
    return generated, truth[0].resize((256, 256), Image.BICUBIC) if truth else None, info, [on_checkerboard(v) for v in framed]


def orbit(views, remove_background, object_size, elevation, count, steps, sampler, guidance, randomness, seed,
          random_seed, progress=gr.Progress()):
    """The public /orbit endpoint: views -> (an animated GIF of ``count`` views around the object, run details)."""
    pipe, framed, _, height, steps, options, seed = nv_inputs(
        views, remove_background, object_size, elevation, steps, sampler, guidance, randomness, seed, random_seed)
    count = whole_number(count, "number of orbit views", 2, 36)

    def done(k: int, total: int) -> None:
        progress(k / total, desc=f"view {k}/{total}")

    try:
        images, nfe, seconds = synthesize_views(pipe, framed, orbit_azimuths(count), height, seed=seed, progress=done,
                                                num_inference_steps=steps, sampler=sampler, **options)
    except (ConfigError, ValueError) as err:
        raise gr.Error(str(err)) from err
    frames = [im.resize((256, 256), Image.BICUBIC) for im in images]
    gif = save_result(session_folder() / "orbit.gif", lambda tmp: frames[0].save(
        tmp, format="GIF", save_all=True, append_images=frames[1:], duration=max(40, 2000 // count), loop=0))
    info = (f"{count} views around the object at elevation {height:.0f}° · {sampler} · {nfe} NFE each · "
            f"{seconds:.2f} s on {DEVICE} · seed {seed}")
    return gif, info


def novelview_tab() -> None:
    gr.Markdown(
        "Upload **1 to 4 photos of one object** (the first is the reference; the others help, in any order) or pick "
        "an example, choose where the camera should go — **azimuth** relative to the first photo (positive: the "
        "camera moves to its right around the object) and **elevation** (camera height) — and generate that view, "
        "or an **orbit** around the object. Trained on 654 furniture objects rendered in one studio (one lens and "
        "light, camera heights 15–40°), so it knows furniture on a plain background best; examples are held-out "
        "objects, shown beside their true view when one is near the requested camera."
    )
    with gr.Row():
        with gr.Column(scale=1):
            views = gr.Gallery(label="views of the object (1–4 images, the first is the reference)", type="filepath",
                               interactive=True, file_types=["image"], columns=4, height=200, object_fit="contain")
            azimuth = StrictSlider(-180, 180, value=90, step=5, label="azimuth (degrees from the first view)")
            elevation = StrictSlider(0, 60, value=25, step=5, label="elevation (camera height, degrees)")
            run = gr.Button("Generate the view", variant="primary")
            with gr.Row():
                count = StrictSlider(4, 24, value=12, step=1, label="orbit views")
                run_orbit = gr.Button("Orbit")
            with gr.Accordion("Input and sampling settings", open=False):
                remove_background = StrictCheckbox(True, label="remove the background")
                foreground_ratio = StrictSlider(0.4, 1.0, value=DEFAULT_FOREGROUND_RATIO, step=0.05,
                                             label="object size in the frame")
                steps = StrictSlider(1, 40, value=checkpoint_steps("novelview"), step=1, label="sampling steps")
                sampler, randomness, guidance = sampler_controls(
                    "novelview", "0 gives the same view every time; higher values draw varied views.",
                    "How strongly sampling is pulled toward the input views (1 = as trained).")
                with gr.Row():
                    seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=MAX_SEED)
                    randomize = StrictCheckbox(False, label="random seed")
            sets = nv_example_sets()
            if sets:
                examples = gr.Examples([[p] for _, p in sets], inputs=[views], label="examples: held-out objects")
                examples.dataset.layout = "gallery"
        with gr.Column(scale=2):
            seen = gr.Gallery(label="what the model sees", columns=4, height=130, preview=False, object_fit="contain")
            with gr.Row():
                generated = gr.Image(label="generated view", type="pil", format="png")
                truth = gr.Image(label="true view (examples)", type="pil", format="png")
            info = gr.Markdown(label="run details", show_label=False)
            animation = gr.Image(label="orbit (animated GIF)", type="filepath", format="gif")
            orbit_info = gr.Markdown(label="orbit details", show_label=False)
    shared = [remove_background, foreground_ratio]
    sampling = [steps, sampler, guidance, randomness, seed, randomize]
    run.click(guarded(new_view, "generating the view"), [views, *shared, azimuth, elevation, *sampling],
              [generated, truth, info, seen], api_name="new_view", **HEAVY_EVENT)
    run_orbit.click(guarded(orbit, "generating the orbit"), [views, *shared, elevation, count, *sampling],
                    [animation, orbit_info], api_name="orbit", **HEAVY_EVENT)


# ---- super-resolution ----------------------------------------------------------------------------------


def sr_scales() -> list[str]:
    return [label for label, name in SR_MODELS.items() if (CHECKPOINTS / name).is_dir()]


def sr_examples() -> list[str]:
    return sorted(str(p) for p in EXAMPLES_SR.glob("*/lr.png"))


@lru_cache(maxsize=1)
def sr_originals() -> dict[str, Path]:
    """Content hash of each example input -> its high-resolution original."""
    return {_digest(p): p.with_name("hr.png") for p in EXAMPLES_SR.glob("*/lr.png")}


def mode_notes(image: Image.Image) -> list[str]:
    if image.mode in HIGH_BIT_MODES:
        return ["16-bit / high-dynamic-range image: converted to 8 bits per channel."]
    if "A" in image.getbands() or "transparency" in image.info:
        return ["The transparency (alpha) channel is upscaled with bicubic interpolation; the colours go through the model."]
    return []


LARGE_IMAGES = {"downscale": "downscale it", "crop": "upscale its central region"}  # fit_to_limit's ways -> UI words
DETAIL = 256  # side of the 1:1 detail view, output pixels


def super_resolve(image, scale, steps, sampler, guidance, randomness, seed, random_seed, large_images="downscale",
                  progress=gr.Progress()):
    """The public /super_resolve endpoint: an image file -> ((bicubic, LDDBM) pair, the upscaled PNG, run details).
    ``large_images``: "downscale" or "crop" an input over the model's 512-px limit (a notice says which)."""
    path = getattr(image, "name", image)
    if not path:
        raise gr.Error("Upload an image (PNG, JPEG, WebP, ...) or pick an example first.")
    if scale not in SR_MODELS or not (CHECKPOINTS / SR_MODELS[scale]).is_dir():
        raise gr.Error(f"No super-resolution model for scale {scale}; choose one of {', '.join(sr_scales()) or 'none'}.")
    pipe = pipeline(SR_MODELS[scale])
    try:
        low_res, notes = open_image(path)
    except InputError as err:
        raise gr.Error(str(err)) from err
    if large_images not in LARGE_IMAGES:
        raise gr.Error(f"For images over {MAX_INPUT_SIDE} px choose one of: {', '.join(LARGE_IMAGES)}; got {shown(large_images)}.")
    notes = notes + mode_notes(low_res)
    low_res, fitted = fit_to_limit(low_res, MAX_INPUT_SIDE, large_images)
    notes += [fitted] if fitted else []
    seed = parse_seed(seed, random_seed)
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    options = sampling_options(sampler, randomness, guidance)
    for note in notes:
        gr.Warning(note)

    def tiles_done(done: int, total: int) -> None:
        progress(done / total, desc=f"tiles {done}/{total}")

    try:
        result = upscale(pipe, low_res, steps=steps, sampler=sampler, seed=seed, progress=tiles_done, **options)
    except (InputError, ConfigError) as err:
        raise gr.Error(str(err)) from err
    out = save_result(session_folder() / f"{Path(path).stem}_x{result.scale}.png",
                      lambda tmp: result.image.save(tmp, format="PNG"))
    w, h = low_res.size
    info = (f"{w}×{h} → {result.image.width}×{result.image.height} · {result.tiles} tiles × {result.nfe} NFE "
            f"({sampler}) · {result.seconds:.2f} s on {DEVICE} · seed {seed}")
    original = sr_originals().get(_digest(path))
    if original is not None:
        info += "\n\n" + against_original(original, result)
    return (result.bicubic, out), out, info  # the saved PNG is served as it is (no second copy)


def against_original(original: Path, result) -> str:
    """PSNR / SSIM of the bicubic and LDDBM results against an example's original, as a Markdown table; a
    sentence instead when the sizes differ (a ×4 example upscaled ×8 has no original at that size)."""
    with Image.open(original) as hr:
        if hr.size != result.image.size:
            return (f"This example's original is {hr.width}×{hr.height}, not the size of the ×{result.scale} result, so "
                    "there is nothing to compare with; choose a ×4 model to see PSNR and SSIM against it.")
        hr = hr.convert("RGB")
    scores = {name: image_metrics(im, hr, border=result.scale) for name, im in
              (("bicubic", result.bicubic), ("LDDBM", result.image))}
    return "| against the original | PSNR (dB) | SSIM |\n|---|---|---|\n" + "\n".join(
        f"| {name} | {m['psnr_rgb']:.2f} | {m['ssim_rgb']:.3f} |" for name, m in scores.items())


def sr_model_settings(scale):
    """A super-resolution model's own sampling settings for the tab's controls (its checkpoint's steps,
    sampler, randomness and guidance), set when the model choice changes."""
    if scale not in SR_MODELS or not (CHECKPOINTS / SR_MODELS[scale]).is_dir():
        return (gr.skip(),) * 4
    name = SR_MODELS[scale]
    sampler, randomness, guidance = checkpoint_sampling(name)
    return gr.update(value=checkpoint_steps(name)), gr.update(value=sampler), randomness, guidance


def sr_changed(image, scale, steps, sampler, guidance, randomness, seed, random_seed, large_images,
               progress=gr.Progress()):
    """Run on upload or example click; clearing the input leaves the outputs as they are."""
    if not image:
        return (gr.skip(),) * 3
    return super_resolve(image, scale, steps, sampler, guidance, randomness, seed, random_seed, large_images, progress)


def sr_detail(pair, x, y):
    """A DETAIL x DETAIL crop of the (bicubic, LDDBM) results at 1:1 (no browser scaling), centred at
    (x, y) percent of the image: the part of a large result the slider box shows shrunk."""
    if not pair or len(pair) != 2 or not all(pair):
        return None
    images = [(Image.open(item) if isinstance(item, (str, os.PathLike)) else item).convert("RGB") for item in pair]
    w, h = images[0].size
    side_w, side_h = min(DETAIL, w), min(DETAIL, h)
    cx, cy = float(x) / 100 * w, float(y) / 100 * h
    left = int(min(max(cx - side_w / 2, 0), w - side_w))
    top = int(min(max(cy - side_h / 2, 0), h - side_h))
    return tuple(im.crop((left, top, left + side_w, top + side_h)) for im in images)


def sr_tab() -> None:
    scales = sr_scales()
    gr.Markdown(
        f"Upload a photograph or pick an example from the held-out test photos; drag the slider to compare bicubic "
        f"interpolation (left) with LDDBM (right), and look at the **1:1 detail** below it. Inputs up to "
        f"{MAX_INPUT_SIDE}×{MAX_INPUT_SIDE} px ({MAX_INPUT_SIDE ** 2 / 1e6:.2f} MP; outputs up to "
        f"{(4 * MAX_INPUT_SIDE) ** 2 / 1e6:.1f} MP at ×4); a larger photo is downscaled to fit, or its central region "
        "kept, with a notice. The models were trained on crops of natural photographs (see each model card), so "
        "expect sharper edges rather than invented detail."
    )
    with gr.Row():
        with gr.Column(scale=1):
            file = gr.File(file_types=["image"], label="low-resolution image")
            examples = sr_examples()
            if examples:
                gr.Examples([[p] for p in examples], inputs=[file], example_labels=[Path(p).parent.name for p in examples],
                            label="examples (test photos; PSNR/SSIM shown against the original)")
            scale = gr.Radio(scales, value=scales[0], label="model",
                             info="×4: clean images; ×4 photo: phone photos and JPEGs (removes blocks and noise); ×8: "
                                  "the paper's factor.")
            large_images = gr.Radio([(words, how) for how, words in LARGE_IMAGES.items()], value="downscale",
                                    label=f"an image over {MAX_INPUT_SIDE} px", info="What to do before upscaling it.")
            # DBIM estimates the conditional mean in one step; more steps add no PSNR (model card), so 1-8
            steps = StrictSlider(1, 8, value=checkpoint_steps(SR_MODELS[scales[0]]), step=1, label="sampling steps",
                              info="1-2 is best for PSNR; more steps with stochasticity > 0 add sampled detail.")
            sampler, randomness, guidance = sampler_controls(
                SR_MODELS[scales[0]], "0 gives the same image every time.",
                "How strongly sampling is pulled toward the low-resolution input (1 = as trained).")
            with gr.Row():
                seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=MAX_SEED)
                randomize = StrictCheckbox(False, label="random seed")
            run = gr.Button("Upscale", variant="primary")
        with gr.Column(scale=2):
            slider = gr.ImageSlider(label="bicubic ↔ LDDBM", type="pil", format="png", image_mode=None)
            info = gr.Markdown(label="run details", show_label=False)
            with gr.Row():
                detail_x = StrictSlider(0, 100, value=50, step=1, label="detail: across (%)")
                detail_y = StrictSlider(0, 100, value=50, step=1, label="detail: down (%)")
            detail = gr.ImageSlider(label=f"1:1 detail ({DETAIL}×{DETAIL} output pixels), bicubic ↔ LDDBM", type="pil",
                                    format="png", image_mode=None)
            download = gr.File(label="download the upscaled PNG")
    inputs = [file, scale, steps, sampler, guidance, randomness, seed, randomize, large_images]
    outputs = [slider, download, info]
    zoom = dict(fn=guarded(sr_detail, "cropping the detail", heavy=False), inputs=[slider, detail_x, detail_y],
                outputs=detail, api_visibility="private", show_progress="hidden")
    upscaling = "upscaling the image"
    run.click(guarded(super_resolve, upscaling), inputs, outputs, api_name="super_resolve", **HEAVY_EVENT).success(**zoom)
    file.change(guarded(sr_changed, upscaling), inputs, outputs, api_visibility="private", **HEAVY_EVENT).success(**zoom)
    scale.change(guarded(sr_model_settings, "switching the model", heavy=False), scale,
                 [steps, sampler, randomness, guidance], api_visibility="private", queue=False, show_progress="hidden")
    detail_x.release(**zoom)
    detail_y.release(**zoom)


# ---- digits: handwritten <-> printed ---------------------------------------------------------------------

# the modality a model generates -> its checkpoint folder (handwritten -> printed takes a class label too)
DIGIT_MODELS = {"printed": "digits/h2p", "handwritten": "digits/p2h"}
NO_LABEL = "none"
DIGIT_WEIGHT_RANGE = (0.0, 5.0)  # lambda_sketch, lambda_label (lddbm.guidance); 1 = as trained
MAX_DIGIT_SAMPLES = 8
MAX_DIGIT_CANDIDATES = 8  # bridge draws per shown digit (re-ranking, LDDBMPipeline's num_candidates)


def digit_models() -> dict[str, str]:
    return {target: name for target, name in DIGIT_MODELS.items() if (CHECKPOINTS / name).is_dir()}


def default_sketch_weight() -> float:
    """The printed-digit checkpoint's lambda_sketch when none is given (its scheduler config; 1 when it names none)."""
    return float(checkpoint_config(DIGIT_MODELS["printed"]).get("source_scale", 1.0))


def digit_judge(modality: str) -> DigitClassifier | None:
    """Our classifier for one digit modality (checkpoints/digits/classifiers), or None when not shipped."""
    return _classifier(CHECKPOINTS / "digits" / "classifiers" / modality)


@lru_cache(maxsize=None)
def _classifier(folder: Path) -> DigitClassifier | None:
    with LOADING:
        judge = load_judge(folder)
    return None if judge is None else judge[0]


def digit_gallery(images: torch.Tensor, modality: str) -> list[tuple[Image.Image, str]]:
    """Generated digits (N, C, 32, 32) as enlarged images, each captioned with the classifier's reading."""
    judge = digit_judge(modality)
    captions = [f"sample {i + 1}" for i in range(len(images))]
    if judge is not None:
        with torch.no_grad():
            probs = torch.softmax(judge(images.float().cpu()), dim=1)
        captions = [f"{c}: reads as {int(p.argmax())} ({float(p.max()):.0%})" for c, p in zip(captions, probs)]
    return [(tensor_to_pil(im).resize((128, 128), Image.NEAREST), c) for im, c in zip(images.float().cpu(), captions)]


def sketch_image(sketch) -> Image.Image | None:
    """The drawing from a Sketchpad value (its composite, else background and layers), an image, or a file path."""
    if sketch is None:
        return None
    if isinstance(sketch, dict):
        if sketch.get("composite") is not None:
            return sketch_image(sketch["composite"])
        parts = [sketch_image(layer) for layer in [sketch.get("background"), *(sketch.get("layers") or [])] if layer is not None]
        if not parts:
            return None
        canvas = Image.new("RGBA", parts[0].size, (255, 255, 255, 0))
        for part in parts:
            canvas.alpha_composite(part.convert("RGBA").resize(canvas.size))
        return canvas
    if isinstance(sketch, np.ndarray):
        return Image.fromarray(sketch)
    if isinstance(sketch, Image.Image):
        return sketch
    try:
        return open_image(getattr(sketch, "name", sketch))[0]
    except InputError as err:
        raise gr.Error(str(err)) from err


def digit_label(label) -> int | None:
    if label in (None, "", NO_LABEL):
        return None
    return whole_number(label, "class label", 0, 9)


def digit_weight(value, what: str) -> float:
    number = as_number(value)
    low, high = DIGIT_WEIGHT_RANGE
    if not np.isfinite(number) or not low <= number <= high:
        raise gr.Error(f"The {what} must be a number from {low:g} to {high:g}; got {shown(value)}.")
    return number


def run_digits(target: str, source: torch.Tensor | None, labels: list[int] | None, samples, steps, sampler, guidance,
               randomness, seed, random_seed, candidates=None, **scales) -> tuple[list, str]:
    """Sample ``samples`` digits of the ``target`` modality, each the best of ``candidates`` draws (None: the
    checkpoint's; a label alone has nothing to rank against and draws one); (captioned gallery, run details)."""
    if target not in digit_models():
        raise gr.Error(f"No {target}-digit model is shipped here (checkpoints/{DIGIT_MODELS[target]}).")
    pipe = pipeline(DIGIT_MODELS[target])
    samples = whole_number(samples, "number of samples", 1, MAX_DIGIT_SAMPLES)
    steps = whole_number(steps, "number of sampling steps", 1, 50)
    candidates = pipe.default_num_candidates if candidates is None else \
        whole_number(candidates, "number of candidates", 1, MAX_DIGIT_CANDIDATES)
    if source is None:  # a label alone: nothing to rank the draws against
        candidates = 1
    options = sampling_options(sampler, randomness, guidance)
    seed = parse_seed(seed, random_seed)
    generator = torch.Generator(DEVICE).manual_seed(seed)
    try:
        out = pipe(None if source is None else source[None], class_labels=labels, num_samples=samples,
                   num_candidates=candidates, num_inference_steps=steps, sampler=sampler, generator=generator,
                   **options, **scales)
    except ConfigError as err:
        raise gr.Error(str(err)) from err
    ranked = f" · each the best of {candidates}" if candidates > 1 else ""
    info = (f"{sampler} · {steps} steps · NFE {out.nfe} · {out.seconds * 1000:.0f} ms for {samples}{ranked} · seed {seed} "
            f"· {DEVICE}")
    return digit_gallery(out.outputs, target), info


def sketch_to_printed(sketch, label=NO_LABEL, sketch_weight=None, label_weight=1.0, samples=4, steps=10,
                      sampler="dbim", guidance=1.0, randomness=0.5, seed=0, random_seed=False, candidates=None,
                      progress=gr.Progress(track_tqdm=True)):
    """The public /sketch_to_printed endpoint: a drawn (or example) handwritten digit and/or a class label ->
    (printed digits with the classifier's reading, run details). ``sketch_weight`` and ``label_weight`` are
    the two guidance weights (lddbm.guidance; 1 = as trained; ``sketch_weight`` None: the checkpoint's);
    ``candidates``: draws per shown digit, the one best aligned with the sketch kept (None: the checkpoint's)."""
    label = digit_label(label)
    drawing = sketch_image(sketch)
    source = None
    if drawing is not None:
        try:
            source = sketch_to_handwritten(drawing)
        except DataError:
            if label is None:
                raise gr.Error("The canvas is empty: draw a digit, pick an example, or choose a class label.") from None
    if source is None and label is None:
        raise gr.Error("Draw a digit, pick an example, or choose a class label first.")
    return run_digits("printed", source, None if label is None else [label], samples, steps, sampler, guidance,
                      randomness, seed, random_seed, candidates,
                      source_scale=None if sketch_weight is None else digit_weight(sketch_weight, "sketch weight"),
                      label_scale=digit_weight(label_weight, "label weight"))


def printed_to_handwritten(image, samples=4, steps=10, sampler="dbim", guidance=1.0, randomness=0.5, seed=0,
                           random_seed=False, candidates=None, progress=gr.Progress(track_tqdm=True)):
    """The public /printed_to_handwritten endpoint: a photo or crop of a printed digit -> (handwritten digits
    with the classifier's reading, run details); ``candidates`` as for /sketch_to_printed."""
    path = getattr(image, "name", image)
    if not path:
        raise gr.Error("Upload a photo or crop of one printed digit, or pick an example first.")
    try:
        picture, _ = open_image(path)
    except InputError as err:
        raise gr.Error(str(err)) from err
    return run_digits("handwritten", photo_to_printed(picture), None, samples, steps, sampler, guidance, randomness,
                      seed, random_seed, candidates)


def digit_examples(modality: str) -> list[str]:
    folder = ROOT / "assets" / "digits" / modality
    return sorted(str(p) for p in folder.glob("*.png")) if folder.is_dir() else []


def digit_sampling_controls(name: str):
    steps = StrictSlider(1, 50, value=checkpoint_steps(name, 10), step=1, label="sampling steps")
    sampler, randomness, guidance = sampler_controls(
        name, "Draws differ with it (many printed digits fit one sketch); 0 gives their blurry mean.",
        "How strongly sampling is pulled toward the input (1 = as trained).")
    with gr.Row():
        samples = StrictSlider(1, MAX_DIGIT_SAMPLES, value=4, step=1, label="samples")
        seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=MAX_SEED)
        randomize = StrictCheckbox(False, label="random seed")
    candidates = StrictSlider(1, MAX_DIGIT_CANDIDATES, value=checkpoint_candidates(name), step=1,
                           label="candidates per sample",
                           info="Draws per shown digit; the one closest to the input in the model's shared latent "
                                "space (its contrastive alignment) is kept. 1: a single draw.")
    return samples, steps, sampler, guidance, randomness, seed, randomize, candidates


def digits_tab() -> None:
    models = digit_models()
    gr.Markdown(
        "Handwritten digits (MNIST) ↔ printed house-number digits (SVHN-like, rendered here from Debian fonts), "
        "paired only by their class: a translation should show the same digit in the other style. Under each "
        "sample: what our digit classifier reads (see `checkpoints/digits`)."
    )
    with gr.Row():
        if "printed" in models:
            with gr.Column():
                gr.Markdown("### Sketch → printed digits")
                sketch = BoundedSketchpad(type="pil", image_mode="RGBA", canvas_size=(280, 280), label="draw a digit",
                                      brush=gr.Brush(colors=["#000000"], default_size=18, color_mode="fixed"))
                examples = digit_examples("handwritten")
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[sketch], label="handwritten test digits",
                                example_labels=[str(example_label(p)) for p in examples])
                label = gr.Dropdown([NO_LABEL, *map(str, range(10))], value=NO_LABEL, label="class label (optional)",
                                    info="Alone, or with a sketch: both steer the printed digit.")
                with gr.Row():
                    sketch_weight = StrictSlider(*DIGIT_WEIGHT_RANGE, value=default_sketch_weight(), step=0.1,
                                              label="sketch weight λ_sketch",
                                              info="The bridge always starts from the sketch; above 0 the network "
                                                   "also reads it (0: this model's most legible digits).")
                    label_weight = StrictSlider(*DIGIT_WEIGHT_RANGE, value=1.0, step=0.1, label="label weight λ_label",
                                             info="Guidance per condition: 1 = as trained, more = follow it harder.")
                controls = digit_sampling_controls(models["printed"])
                run = gr.Button("Translate to printed", variant="primary")
                gallery = gr.Gallery(label="printed digits", columns=4, height="auto")
                info = gr.Markdown(label="run details", show_label=False)
                run.click(guarded(sketch_to_printed, "translating the digit"),
                          [sketch, label, sketch_weight, label_weight, *controls], [gallery, info],
                          api_name="sketch_to_printed", **HEAVY_EVENT)
        if "handwritten" in models:
            with gr.Column():
                gr.Markdown("### Printed digit → handwriting")
                image = CheckedImage(type="filepath", image_mode=None, label="a printed digit (photo or crop)",
                                 sources=["upload", "clipboard"])  # image_mode None: open_image decodes it, checked
                examples = digit_examples("printed")
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[image], label="printed test digits",
                                example_labels=[str(example_label(p)) for p in examples])
                controls = digit_sampling_controls(models["handwritten"])
                run = gr.Button("Translate to handwriting", variant="primary")
                gallery = gr.Gallery(label="handwritten digits", columns=4, height="auto")
                info = gr.Markdown(label="run details", show_label=False)
                run.click(guarded(printed_to_handwritten, "translating the digit"), [image, *controls], [gallery, info],
                          api_name="printed_to_handwritten", **HEAVY_EVENT)


# ---- toy task: vector -> image -------------------------------------------------------------------------


def enlarged(image: torch.Tensor, size: int = 256) -> Image.Image:
    """A (1, S, S) image in [-1, 1], upscaled for display (nearest: the pixels stay visible)."""
    return tensor_to_pil(image).resize((size, size), Image.NEAREST)


def translate_vector(centre_x, centre_y, radius, steps, sampler, guidance, randomness, seed,
                     progress=gr.Progress(track_tqdm=True)):
    """The public /translate_vector endpoint: disc parameters -> (LDDBM's image, the true disc, run details)."""
    pipe = pipeline("synthetic")
    data = load_preset(CHECKPOINTS / "synthetic" / "preset.json").data
    try:
        params = torch.tensor([[float(centre_x), float(centre_y), float(radius)]], dtype=torch.float32)
    except (TypeError, ValueError) as err:
        raise gr.Error("The disc centre and radius must be numbers.") from err
    if not torch.isfinite(params).all():
        raise gr.Error("The disc centre and radius must be finite numbers.")
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    options = sampling_options(sampler, randomness, guidance)
    generator = torch.Generator(DEVICE).manual_seed(parse_seed(seed, False))
    source = params @ source_matrix(data).T  # (1, dim): the vector the model sees
    try:
        out = pipe(source, num_inference_steps=steps, sampler=sampler, generator=generator, **options)
    except ConfigError as err:
        raise gr.Error(str(err)) from err
    truth = render_discs(params, data.image_size)[0]
    info = f"{sampler} · NFE {out.nfe} · {out.seconds * 1000:.0f} ms · {DEVICE} · source vector " + np.array2string(
        source[0].numpy(), precision=2, separator=", ")
    return enlarged(out.outputs[0]), enlarged(truth), info


def toy_tab() -> None:
    gr.Markdown(
        "The engine's quickest task: an 8-d vector that encodes a disc (centre and radius, mixed by a fixed "
        "random matrix) is translated into a 16×16 image of that disc."
    )
    with gr.Row():
        with gr.Column():
            cx = StrictSlider(PARAM_LOW[0], PARAM_HIGH[0], value=0.1, label="disc centre x")
            cy = StrictSlider(PARAM_LOW[1], PARAM_HIGH[1], value=-0.2, label="disc centre y")
            r = StrictSlider(PARAM_LOW[2], PARAM_HIGH[2], value=0.3, label="disc radius")
            steps = StrictSlider(1, 40, value=10, step=1, label="sampling steps")
            sampler, randomness, guidance = sampler_controls(
                "synthetic", "0 gives the same image every time.",
                "How strongly sampling is pulled toward the vector (1 = as trained).")
            seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=MAX_SEED)
            run = gr.Button("Translate", variant="primary")
        with gr.Column():
            with gr.Row():
                predicted = gr.Image(label="LDDBM output", type="pil", format="png")
                truth = gr.Image(label="ground truth", type="pil", format="png")
            info = gr.Markdown(label="run details", show_label=False)
    run.click(guarded(translate_vector, "translating the vector"), [cx, cy, r, steps, sampler, guidance, randomness, seed],
              [predicted, truth, info], api_name="translate_vector", **HEAVY_EVENT)


def build_demo() -> gr.Blocks:
    os.environ["GRADIO_TEMP_DIR"] = str(DOWNLOADS)  # Gradio's cache in the bounded store (read by gr.Blocks)
    result_store(DOWNLOADS).start_sweeper()
    atomic_gradio_image_cache(result_store(DOWNLOADS))  # Gradio's own image writes count against the cap too
    with gr.Blocks(title="LDDBM: general modality translation", delete_cache=(600, KEEP_DOWNLOADS_S)) as demo:
        gr.Markdown(
            "# LDDBM — latent denoising diffusion bridges\n"
            "Translate between modalities of different shapes through one shared latent space "
            "([paper](https://arxiv.org/abs/2510.20819)). Every model here was trained by this project. "
            f"Uploads: images up to {MAX_UPLOAD.upper().replace('MB', ' MB')} per file; results are kept for an hour."
        )
        if (CHECKPOINTS / "multiview3d").is_dir():
            with gr.Tab("Views → 3D"):
                views_tab()
        if (CHECKPOINTS / "novelview").is_dir():
            with gr.Tab("Views → new views"):
                novelview_tab()
        if sr_scales():
            with gr.Tab("Super-resolution"):
                sr_tab()
        if digit_models():
            with gr.Tab("Digits"):
                digits_tab()
        with gr.Tab("Toy: vector → image"):
            toy_tab()
    return demo


def busy_message(demo: gr.Blocks) -> None:
    """Replace Gradio's "Queue is full. Max size is N…" with a message that says what to do.

    Wraps the queue's push (a private API): if a Gradio release renames it, the default message stays."""
    queue = getattr(demo, "_queue", None)
    push = getattr(queue, "push", None)
    if push is None:
        logger.warning("cannot customise the queue-full message in this Gradio version")
        return

    async def push_or_busy(*args, **kwargs):
        ok, message, kind = await push(*args, **kwargs)
        return (ok, BUSY, kind) if kind == "queue_full" else (ok, message, kind)

    queue.push = push_or_busy


def shipped_models() -> list[str]:
    """The checkpoint folders the tabs use that exist here."""
    names = ["multiview3d", "novelview", *SR_MODELS.values(), *DIGIT_MODELS.values(), "synthetic"]
    return [name for name in names if (CHECKPOINTS / name).is_dir()]


def preload() -> None:
    """Load every model before serving, the digit classifiers that caption the Digits tab included: a
    corrupt or truncated file stops the start with one message naming it, instead of failing visitors'
    requests later."""
    for name in shipped_models():
        try:
            pipeline(name)
        except gr.Error as err:
            raise SystemExit(f"error: {err.message} Restore the checkpoint (git checkout -- checkpoints/{name}) "
                             "or retrain it; see its README.md.") from None
    for modality in digit_models():
        folder = CHECKPOINTS / "digits" / "classifiers" / modality
        try:
            digit_judge(modality)
        except Exception as err:  # diffusers/safetensors raise several kinds for a damaged folder
            raise SystemExit(f"error: the {modality}-digit classifier in {folder} could not be loaded ({err}). "
                             f"Restore it (git checkout -- checkpoints/digits/classifiers/{modality}) or retrain it with "
                             "python -m lddbm digits-classifiers.") from None


def serve(demo: gr.Blocks, **launch_kwargs):
    """Queue (bounded, a few slots per client, jobs nobody listens to dropped), the busy message, input
    errors as sentences, uploads within the disk cap, sessions bounded; then launch."""
    from starlette.middleware import Middleware

    demo.queue(default_concurrency_limit=HEAVY_AT_ONCE, max_size=QUEUE_SIZE)
    busy_message(demo)
    listeners = Listeners()
    guard_queue(demo, listeners)  # after busy_message: its per-client message is the one shown
    friendly_input_errors()
    guard = Middleware(RequestGuard, store=result_store(DOWNLOADS), listeners=listeners,
                       max_upload_request=MAX_UPLOAD_REQUEST)
    return demo.launch(max_file_size=MAX_UPLOAD, app_kwargs={"middleware": [guard]},
                       state_session_capacity=MAX_SESSIONS, **launch_kwargs)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    preload()
    serve(build_demo())
