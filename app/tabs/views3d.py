"""Views → 3D: 1 to 12 photos of one object -> its voxel shape (figure, GLB / OBJ / STL), with the
bridge's intermediate estimates ("along the bridge") kept in the session. Endpoint: /views_to_3d.

Uploading only previews *what the model sees* (unless "run on upload" is ticked); Generate runs the
model once. A cut-out can be fixed per view: a box drawn on the view (two clicks on opposite corners)
and clicks on the object or the background refine it (``lddbm.framing.segment_with_box``); the fixes
live in the session (a gr.State keyed by the file's content) and the next Generate uses them. In the
tab, every error is one message beside Generate and the inputs stay as they were; the public
endpoint, for API clients, raises it as before."""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from app import common
from app.common import HEAVY_EVENT, STATE_TTL_S, as_number, guarded, is_stochastic, shown, whole_number
from lddbm.errors import ConfigError
from lddbm.export import export_mesh, plotly_figure, voxels_to_mesh
from lddbm.framing import (DEFAULT_FOREGROUND_RATIO, WORK_SIDE, BoxPrompt, NormalizedView, cut_out, flatten,
                           frame_cut_out, to_rgba8, view_warnings)
from lddbm.hosting import StrictCheckbox, StrictSlider
from lddbm.inputs import InputError, open_image
from lddbm.modalities.lifting import takes_view_order
from lddbm.tasks.multiview3d.prediction import predict_shape

TITLE = "Views → 3D"
ORDER = 10
MODELS = ("multiview3d",)
EXAMPLES = common.ASSETS / "multiview3d"
MAX_FRAMES = 12  # bridge frames a 3D result keeps in its session for the "along the bridge" slider
FIX_SIDE = 768  # the "fix the cut-out" picture's longer side: never drawn larger, so a click maps to its pixels
BOX_CORNERS = "box (two opposite corners)"
ON_OBJECT, ON_BACKGROUND = "a point on the object", "a point on the background"
CLICK_MODES = (BOX_CORNERS, ON_OBJECT, ON_BACKGROUND)
MIN_BOX = 0.02  # a box narrower than this share of the view is a double click, not a box
CACHED_VIEWS = 48  # framed views kept (by content, settings and fix), so a fix re-cuts only the view it changes


def example_sets() -> list[tuple[str, list[str]]]:
    """(label, view paths) of each shipped example: held-out renders, and held-out renders
    composited onto held-out photographs (folders whose meta says "background": "photo")."""
    sets = []
    for folder in sorted(EXAMPLES.glob("*/"), key=lambda f: (f.name.endswith("-photo"), f.name)):
        meta = json.loads((folder / "meta.json").read_text())
        label = meta["name"] + (" · on a photo" if meta.get("background") == "photo" else "")
        sets.append((label, sorted(str(p) for p in folder.glob("view_*.png"))))
    return sets


@lru_cache(maxsize=1)
def example_digests() -> dict[str, Path]:
    return {common.digest(p): p.parent for p in EXAMPLES.glob("*/view_*.png")}


def ground_truth_for(paths) -> np.ndarray | None:
    """The example's voxels when every uploaded view is a view of the same shipped example
    (Gradio hands the handler copies of the files, so they are matched by content)."""
    folders = {example_digests().get(common.digest(p)) for p in paths or []}
    if len(folders) == 1 and None not in folders:
        voxels = folders.pop() / "voxels.npy"
        return np.load(voxels) if voxels.is_file() else None
    return None


def without_example_views(paths: list[str]) -> list[str] | None:
    """A new upload replaces an example's views: when the gallery holds both, the user's own files
    only; None when there is nothing to drop."""
    digests = example_digests()
    from_example = [p for p in paths if Path(p).is_file() and common.digest(p) in digests]
    if from_example and len(from_example) < len(paths):
        return [p for p in paths if p not in from_example]
    return None


def why_empty(images, framed: list[NormalizedView], randomness: float, threshold: float) -> str:
    """The most likely reason for an empty prediction, in plain words."""
    if all(np.asarray(im.convert("L")).std() < 2 for im in images):
        return "The views look blank (a single flat colour): upload photos that show the object."
    if framed and all(v.mask_source != "none" and not v.found for v in framed):
        return ("No object was found against the background in any view. Draw a box around the object under "
                "'fix the cut-out', upload cut-out PNGs with transparency, or untick 'remove the background'.")
    if randomness > 0:
        return (f"Random sampling (randomness {randomness:.2f}) gave an empty shape this time: try another seed, or set "
                "the randomness to 0 under Advanced.")
    return (f"The model is not confident about any part of the shape (nothing reaches the occupancy threshold "
            f"{threshold:.2f}). Check *what the model sees*: where a cut-out is wrong, draw a box around the object "
            "under 'fix the cut-out'. Views where the object fills more of the frame help, or lower the occupancy "
            "threshold under Advanced.")


# ---- the cut-out, and a person's fixes ----------------------------------------------------------------------
# A view's fix: {"box": [x0, y0, x1, y1] | None, "corner": [x, y] | None (a box's first corner), "fg": [[x, y], ...],
# "bg": [[x, y], ...]}, every coordinate a fraction of the view's width / height (the same on any copy of it).


def empty_fix() -> dict:
    return {"box": None, "corner": None, "fg": [], "bg": []}


def prompt_for(fix: dict | None, size: tuple[int, int]) -> BoxPrompt | None:
    """A view's fix as a BoxPrompt in pixels of an image of ``size``; None when it has no box and no clicks
    (clicks without a box use the whole view as the box)."""
    if not fix or (fix.get("box") is None and not fix.get("fg") and not fix.get("bg")):
        return None
    w, h = size
    x0, y0, x1, y1 = fix.get("box") or (0.0, 0.0, 1.0, 1.0)
    return BoxPrompt((x0 * w, y0 * h, x1 * w, y1 * h), tuple((x * w, y * h) for x, y in fix.get("fg") or ()),
                     tuple((x * w, y * h) for x, y in fix.get("bg") or ()))


_FRAMED: OrderedDict = OrderedDict()
_FRAMED_LOCK = threading.Lock()


def cut_and_frame(pipe, path: str, image: Image.Image, remove_background: bool, ratio: float,
                  fix: dict | None) -> tuple[NormalizedView, np.ndarray]:
    """(the view framed as the model sees it, its cut-out mask, uint8, at most FIX_SIDE on its longer side): the
    same for the preview, the fix picture and Generate, so the fixed view is what the next run uses."""
    prompt = prompt_for(fix, image.size)
    key = (id(pipe), common.digest(path), bool(remove_background), float(ratio), prompt)
    with _FRAMED_LOCK:
        if key in _FRAMED:
            _FRAMED.move_to_end(key)
            return _FRAMED[key]
    rgba, source = cut_out(image, bool(remove_background), pipe.segmenter, prompt)
    mask = rgba[..., 3].copy()
    view = frame_cut_out(rgba, source, ratio)
    if source == "none" or not view.found:
        mask[:] = 255  # the whole view is used
    if max(mask.shape) > FIX_SIDE:  # all the fix picture shows: kept small in the cache
        k = FIX_SIDE / max(mask.shape)
        mask = np.asarray(Image.fromarray(mask).resize((max(1, round(mask.shape[1] * k)),
                                                         max(1, round(mask.shape[0] * k))), Image.BILINEAR))
    found = (view, mask)
    with _FRAMED_LOCK:
        _FRAMED[key] = found
        while len(_FRAMED) > CACHED_VIEWS:
            _FRAMED.popitem(last=False)
    return found


def frame_all(pipe, paths: list[str], images, remove_background, ratio, fixes) -> list[NormalizedView]:
    return [cut_and_frame(pipe, p, im, remove_background, ratio, (fixes or {}).get(common.digest(p)))[0]
            for p, im in zip(paths, images)]


def fix_picture(image: Image.Image, mask: np.ndarray, fix: dict | None) -> Image.Image:
    """The view at FIX_SIDE px with the cut-out shown (the rest dimmed, its edge outlined), the box and the clicks."""
    import cv2

    rgb = flatten(np.asarray(to_rgba8(image)), 255)
    h, w = rgb.shape[:2]
    k = FIX_SIDE / max(w, h)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    keep = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR) > 127
    out = rgb.astype(np.float32)
    out[~keep] = out[~keep] * 0.3 + np.array([20, 20, 40]) * 0.7
    out = out.astype(np.uint8)
    edge = cv2.morphologyEx(keep.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    out[edge] = (255, 210, 0)
    fix = fix or {}
    W, H = size
    if fix.get("box"):
        x0, y0, x1, y1 = fix["box"]
        cv2.rectangle(out, (round(x0 * W), round(y0 * H)), (round(x1 * W) - 1, round(y1 * H) - 1), (0, 230, 60), 3)
    for key, colour in (("fg", (0, 230, 60)), ("bg", (240, 40, 40))):
        for x, y in fix.get(key) or []:
            cv2.circle(out, (round(x * W), round(y * H)), 8, (255, 255, 255), -1)
            cv2.circle(out, (round(x * W), round(y * H)), 6, colour, -1)
    if fix.get("corner"):
        x, y = fix["corner"]
        cv2.drawMarker(out, (round(x * W), round(y * H)), (0, 230, 60), cv2.MARKER_CROSS, 28, 3)
    return Image.fromarray(out)


def view_choices(n: int) -> list[str]:
    return [f"view {i + 1}" for i in range(n)]


def chosen_view(views, label) -> tuple[int, str]:
    """(index, path) of the view a "view k" label names in the gallery; a gr.Error when there is none."""
    paths = common.gallery_paths(views)
    if not paths:
        raise gr.Error("Upload views (or pick an example) first.")
    try:
        index = int(str(label).rsplit(" ", 1)[-1]) - 1
    except ValueError:
        index = 0
    if not 0 <= index < len(paths):
        index = 0
    return index, paths[index]


def opened(path: str) -> Image.Image:
    try:
        return open_image(path, shrink_to=WORK_SIDE)[0]
    except InputError as err:
        raise gr.Error(str(err)) from err


def seen_pictures(framed: list[NormalizedView]) -> list[tuple[Image.Image, str]]:
    """"What the model sees": each framed view whole, over a checkerboard, captioned with its number and
    where its cut-out came from."""
    how = {"alpha": "its own transparency", "box": "your box", "segmented": "cut out", "none": "kept whole"}
    return [(common.on_checkerboard(v), f"view {i + 1}: {how.get(v.mask_source, v.mask_source)}"
             + ("" if v.found or v.mask_source == "none" else " (no object found)")) for i, v in enumerate(framed)]


# ---- the run --------------------------------------------------------------------------------------------


def shape_figure(shapes, title: str | None = None, colorbar_title: str | None = None):
    """The prediction and, for examples, the ground truth: one 3D scene each, side by side, each titled (a
    title a browser draws, above the scene), so turning one never hides the other."""
    from plotly.subplots import make_subplots

    figures = [plotly_figure(mesh, colorbar_title=colorbar_title) for _, mesh in shapes]
    fig = make_subplots(rows=1, cols=len(shapes), specs=[[{"type": "scene"}] * len(shapes)],
                        subplot_titles=[label for label, _ in shapes], horizontal_spacing=0.02)
    for k, (single, (label, _)) in enumerate(zip(figures, shapes), start=1):
        fig.add_trace(single.data[0].update(name=label), row=1, col=k)
        scene = single.layout.scene.to_plotly_json()
        scene.pop("domain", None)
        fig.update_layout({f"scene{k if k > 1 else ''}": scene})
    fig.update_annotations(font=dict(size=15))
    fig.update_layout(title=dict(text=title, x=0.5, y=0.98) if title else None, paper_bgcolor="rgba(0,0,0,0)",
                      margin=dict(l=0, r=0, b=0, t=60 if title else 30), showlegend=False)
    return fig


def run_model(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
              threshold, samples, in_order=True, fixes=None, progress=None, seen_holder: dict | None = None):
    """The model run behind both the public endpoint and the tab: (figure, downloads, info, seen, frames, notes).
    ``seen_holder["seen"]`` gets what the model saw as soon as the views are framed (shown even when the run fails)."""
    pipe = common.pipeline("multiview3d")
    paths, images, notes, ratio = common.opened_views(pipe, views, object_size)
    seed = common.parse_seed(seed, random_seed)
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    samples = whole_number(samples, "number of samples", 1, 16)
    level = as_number(threshold)
    if not 0 < level < 1:
        raise gr.Error(f"The occupancy threshold must lie between 0 and 1; got {shown(threshold)}.")
    threshold = level
    view_order = view_order_for(pipe, in_order)
    options = common.sampling_options(sampler, randomness, guidance)
    framed = frame_all(pipe, paths, images, remove_background, ratio, fixes)
    seen = seen_pictures(framed)
    if seen_holder is not None:
        seen_holder["seen"] = seen
    notes = notes + view_warnings(framed, [f"view {i + 1} ({Path(p).name})" for i, p in enumerate(paths)])
    if samples > 1 and not is_stochastic(options, sampler):
        notes.append("With randomness 0 every sample is the same; raise it to see where the model is unsure.")
    try:
        pred = predict_shape(pipe, framed, num_inference_steps=steps, sampler=sampler, seed=seed, samples=samples,
                             threshold=threshold, trajectory=True, preprocess_kwargs=view_order, **options)
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
    figure = shape_figure(shapes, title=title, colorbar_title="agreement")
    folder = common.session_folder()
    downloads = [common.save_result(folder / f"shape.{ext}", lambda tmp: export_mesh(mesh, tmp))
                 for ext in ("glb", "obj", "stl")]
    frames = kept_frames(pred.trajectory)
    refined = " · refined by the views' silhouettes" if pipe.refiner is not None else ""
    info = (f"{len(images)} view(s) · {sampler} · {pred.nfe} NFE × {samples} sample(s){refined} · {pred.seconds:.2f} s on "
            f"{common.DEVICE} · seed {seed}")
    return figure, downloads, info, seen, frames, notes


def views_to_3d(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                threshold, samples, in_order=True, progress=gr.Progress(track_tqdm=True)):
    """The public /views_to_3d endpoint: views -> (shape figure, [GLB, OBJ, STL] files, run details, the
    framed views the model saw) and the trajectory frames (a gr.State, which API clients do not see). A
    client's errors are raised (gr.Error); its warnings are Gradio warnings. Uploads with transparency are
    used as they are (API clients fix a cut-out by sending one). ``in_order``: the views go round the object
    to the right, the first from the front (``IN_ORDER_INFO``)."""
    *out, notes = run_model(views, remove_background, object_size, steps, sampler, guidance, randomness, seed,
                            random_seed, threshold, samples, in_order, progress=progress)
    for note in notes:
        gr.Warning(note)
    return tuple(out)


IN_ORDER_INFO = ("The first photo from the front (or up to a quarter turn to its right), each next one taken further "
                 "round to your right, evenly spaced (4 photos: a quarter turn apart), as the examples are. The model "
                 "then knows roughly where each was taken from and gets the object's front right far more often. "
                 "Untick for photos in any order.")


def view_order_for(pipe, in_order) -> dict:
    """The pipeline's ``preprocess_kwargs`` for the "views go round the object in order" box: the turntable
    order when ticked and the model can use it (an encoder with azimuth classes), else any order."""
    if not isinstance(in_order, bool):
        raise gr.Error(f"in_order must be true or false; got {shown(in_order)}.")
    if not takes_view_order(pipe.source_encoder):
        return {}  # a model without the order (the pooled encoder): it takes the views as a set
    return {"view_order": "turntable" if in_order else "any"}


def status_text(message: str, notes: list[str] = (), error: bool = False) -> str:
    """The one message beside Generate: what happened (or went wrong), then what to check."""
    lines = [f"**{'⚠ ' if error else ''}{message}**"] + [f"- {note}" for note in notes]
    return "\n".join(lines)


def generate(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
             threshold, samples, in_order, fixes, progress=gr.Progress(track_tqdm=True)):
    """The Generate button (and an example click): one run with the session's fixes. Outputs: the endpoint's,
    the "along the bridge" controls and the message beside Generate. An error is that message: the outputs
    that could not be made are cleared (what the model saw stays, to show why), the inputs are left as
    they are, and the server log gets one line."""
    holder: dict = {}
    try:
        figure, downloads, info, seen, frames, notes = guarded(run_model, "making the 3D shape")(
            views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
            threshold, samples, in_order, fixes, progress, holder)
    except gr.Error as err:
        seen = holder.get("seen")
        if seen is None:  # refused before the views were framed: everything stays as it was
            return (*(gr.skip(),) * 7, status_text(err.message, error=True))
        return (None, None, "", seen, [], *show_trajectory([], threshold), status_text(err.message, error=True))
    done = f"Done: the shape from {len(seen)} view(s) is on the right."
    return (figure, downloads, info, seen, frames, *show_trajectory(frames, threshold), status_text(done, notes))


def generate_if_chosen(run_on_upload, views, remove_background, object_size, steps, sampler, guidance, randomness,
                       seed, random_seed, threshold, samples, in_order, fixes, progress=gr.Progress(track_tqdm=True)):
    """After an upload: a run only when "run on upload" is ticked."""
    if not run_on_upload:
        return (gr.skip(),) * 8
    return generate(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                    threshold, samples, in_order, fixes, progress)


def show_trajectory(frames, threshold):
    """The "along the bridge" controls for a new run: the slider over its kept frames, at the last one."""
    last = max(len(frames) - 1, 1)
    slider = gr.update(minimum=0, maximum=last, value=last, step=1, interactive=len(frames) > 1)
    return slider, trajectory_frame(frames, last, threshold)


def kept_frames(trajectory: list[np.ndarray], limit: int = MAX_FRAMES) -> list[tuple[int, np.ndarray]]:
    """(evaluation number, uint8 grid) of at most ``limit`` bridge frames, evenly spaced, the last always
    kept: what a session holds for the "along the bridge" slider (32 KB a frame at 32³)."""
    keep = np.unique(np.linspace(0, len(trajectory) - 1, min(limit, len(trajectory))).round().astype(int))
    return [(int(k) + 1, (trajectory[k] * 255).astype(np.uint8)) for k in keep] if trajectory else []


# ---- previews and fixes (no model run) ---------------------------------------------------------------------


def preview(views, remove_background, object_size, fixes, label=None, intro: str | None = None):
    """What the model sees for the gallery's views, the fix picture of the chosen view and the message:
    (seen, view radio, fix picture, message). Never raises: an error is the message."""
    pipe = common.pipeline("multiview3d")
    try:
        paths, images, notes, ratio = common.opened_views(pipe, views, object_size)
    except gr.Error as err:
        return gr.skip(), gr.skip(), gr.skip(), status_text(err.message, error=True)
    framed = frame_all(pipe, paths, images, remove_background, ratio, fixes)
    index = chosen_view(views, label)[0] if label in view_choices(len(paths)) else 0
    fix = (fixes or {}).get(common.digest(paths[index]))
    _, mask = cut_and_frame(pipe, paths[index], images[index], remove_background, ratio, fix)
    names = [f"view {i + 1} ({Path(p).name})" for i, p in enumerate(paths)]
    message = intro or (f"{len(paths)} view(s) ready. Nothing has run yet: check *what the model sees*, fix a "
                        "wrong cut-out under 'fix the cut-out', then press **Generate 3D shape**.")
    return (seen_pictures(framed), gr.update(choices=view_choices(len(paths)), value=f"view {index + 1}"),
            fix_picture(images[index], mask, fix), status_text(message, notes + view_warnings(framed, names)))


def upload_previewed(views, remove_background, object_size, fixes, run_on_upload):
    """An upload previews (what the model sees, the fix picture); it runs the model only when "run on upload"
    is ticked (the chained event). A fresh upload after an example replaces the example's views (the
    gallery is set to the user's own files); removing all views leaves everything as it is."""
    paths = common.gallery_paths(views)
    if not paths:
        return (gr.skip(),) * 5
    own = without_example_views(paths)
    shown_views = [(p, None) for p in own] if own is not None else views
    intro = "Running the model on the upload…" if run_on_upload else None
    seen, radio, picture, message = preview(shown_views, remove_background, object_size, fixes, intro=intro)
    return seen, radio, picture, own if own is not None else gr.skip(), message


def fix_view_chosen(views, label, remove_background, object_size, fixes):
    """The fix picture of the view chosen in the radio (and the message, left as it is)."""
    pipe = common.pipeline("multiview3d")
    index, path = chosen_view(views, label)
    image = opened(path)
    ratio = common.opened_views(pipe, [path], object_size)[3]
    fix = (fixes or {}).get(common.digest(path))
    return fix_picture(image, cut_and_frame(pipe, path, image, remove_background, ratio, fix)[1], fix), gr.skip()


def fix_clicked(views, label, mode, remove_background, object_size, fixes, evt: gr.SelectData):
    """A click on the fix picture: a box corner, or a point on the object or the background, for the chosen
    view. The view is cut out again at once and "what the model sees" follows; no model run.
    Outputs: (fixes, fix picture, seen, message)."""
    index, path = chosen_view(views, label)
    image = opened(path)
    w, h = image.size
    k = FIX_SIDE / max(w, h)
    width, height = max(1, round(w * k)), max(1, round(h * k))
    if not isinstance(evt.index, (list, tuple)) or len(evt.index) != 2:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    x, y = (min(max(float(evt.index[0]) / width, 0.0), 1.0), min(max(float(evt.index[1]) / height, 0.0), 1.0))
    fixes = dict(fixes or {})
    key = common.digest(path)
    fix = {**empty_fix(), **fixes.get(key, {})}
    name = f"view {index + 1}"
    if mode == BOX_CORNERS:
        if fix["corner"] is None:
            fix["corner"] = [x, y]
            message = f"{name}: one corner set; now click the opposite corner of the box."
        else:
            (cx, cy), fix["corner"] = fix["corner"], None
            if abs(x - cx) < MIN_BOX or abs(y - cy) < MIN_BOX:
                message = f"{name}: that box is too small; click two opposite corners around the whole object."
            else:
                fix["box"] = [min(x, cx), min(y, cy), max(x, cx), max(y, cy)]
                message = (f"{name}: cut out from your box. Check *what the model sees*; click on a wrong part to "
                           "correct it, then press **Generate 3D shape**.")
    else:
        fix["fg" if mode == ON_OBJECT else "bg"] = [*fix["fg" if mode == ON_OBJECT else "bg"], [x, y]]
        message = (f"{name}: {'kept' if mode == ON_OBJECT else 'removed'} what you clicked on. Press **Generate 3D "
                   "shape** when the cut-outs look right.")
    fixes[key] = fix
    seen, _, picture, _ = preview(views, remove_background, object_size, fixes, label)
    return fixes, picture, seen, status_text(message)


def fix_cleared(views, label, remove_background, object_size, fixes):
    """Forget the chosen view's box and clicks (back to the automatic cut-out)."""
    index, path = chosen_view(views, label)
    fixes = {k: v for k, v in (fixes or {}).items() if k != common.digest(path)}
    seen, _, picture, _ = preview(views, remove_background, object_size, fixes, label)
    return fixes, picture, seen, status_text(f"view {index + 1}: back to the automatic cut-out.")


def quiet(fn, what: str, count: int):
    """``fn`` (``count`` outputs, the message last) for a preview event: never raises (an error becomes the
    message; the other outputs stay as they are), so no input or output turns into an "Error" badge."""
    checked = guarded(fn, what, heavy=False)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return checked(*args, **kwargs)
        except gr.Error as err:
            return (*(gr.skip(),) * (count - 1), status_text(err.message, error=True))

    return run


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


def build() -> None:
    gr.Markdown(
        "Upload **1 to 12 photos of one object** from different sides, or pick an example: best going round the "
        "object to your right, the first from the front (untick *views go round the object in order* otherwise). "
        "Uploading only shows *what the model sees* (the object cut out and framed the way the model was trained); "
        "**Generate 3D shape** runs the model. Where a cut-out is wrong, fix it under *fix the cut-out*: draw a box "
        "around the object and click on wrong parts. PNG cut-outs with transparency are used as they are (their alpha "
        "is the cut-out). Plain backgrounds and the whole object in frame work best. "
        "The model was trained on 3,370 objects in 39 classes (furniture, buildings, aircraft, ships, vehicles, "
        "plants, people, …: free 3D models from Debian's packages), each rendered with randomly drawn lenses, "
        "camera heights and lights. Examples are held-out objects the model never saw in training; those marked "
        "*on a photo* were pasted onto held-out photographs."
    )
    with gr.Row():
        with gr.Column(scale=1):
            views = gr.Gallery(label="views of the object (1–12 images)", type="filepath", interactive=True,
                               file_types=["image"], columns=4, height=220, object_fit="contain",
                               elem_id="views3d-views")
            remove_background = StrictCheckbox(True, label="remove the background",
                                               info="Cut the object out of its background (photos); untick for "
                                                    "renders on white. Cut-outs with transparency are kept as they "
                                                    "are.")
            foreground_ratio = StrictSlider(0.4, 1.0, value=DEFAULT_FOREGROUND_RATIO, step=0.05,
                                            label="object size in the frame",
                                            info=f"How much of each view the object fills; {DEFAULT_FOREGROUND_RATIO} "
                                                 "is how the model was trained.")
            in_order = StrictCheckbox(True, label="views go round the object in order", info=IN_ORDER_INFO)
            run_on_upload = StrictCheckbox(False, label="run on upload",
                                           info="Run the model as soon as views are uploaded (otherwise an upload "
                                                "only previews what the model sees).")
            with gr.Row(equal_height=False):
                run = gr.Button("Generate 3D shape", variant="primary", scale=1, min_width=160)
                status = gr.Markdown("", elem_id="views3d-status", padding=False)
            with gr.Accordion("fix the cut-out", open=False, elem_id="fix-cut-out"):
                gr.Markdown("Pick a view, then click two opposite corners of a box around the object on the picture; "
                            "click on a part the cut-out got wrong to keep or remove it. Dimmed: what is cut away. "
                            "The next Generate uses the fixed views.")
                fix_view = gr.Radio(view_choices(1), value="view 1", label="view to fix", elem_id="fix-view")
                click_mode = gr.Radio(list(CLICK_MODES), value=BOX_CORNERS, label="a click on the picture sets",
                                      elem_id="fix-mode")
                fix_image = gr.Image(label="the chosen view: click to fix its cut-out", type="pil", interactive=False,
                                     height=360, elem_id="fix-image", show_label=True)
                clear_fix = gr.Button("clear this view's fix", size="sm")
            with gr.Accordion("Advanced", open=False):
                steps = StrictSlider(1, 40, value=10, step=1, label="sampling steps",
                                     info="More steps are slower; 10 is plenty.")
                sampler, randomness, guidance = common.sampler_controls(
                    "multiview3d",
                    "0 gives the same, most accurate shape every time; higher values draw varied shapes, each "
                    "somewhat less accurate (heun at 0.33: 0.39 against 0.47 IoU on our test objects).",
                    "How strongly sampling is pulled toward the views (1 = as trained).")
                samples = StrictSlider(1, 8, value=1, step=1, label="number of samples",
                                       info="Several samples (with randomness > 0) colour the shape by where they agree.")
                threshold = StrictSlider(0.05, 0.95, value=0.5, step=0.05, label="occupancy threshold",
                                         info="Lower keeps parts the model is less sure about.")
                seed, randomize = common.seed_controls()
            sets = example_sets()
            examples = gr.Examples([[p] for _, p in sets], inputs=[views], label="examples: held-out objects (the last "
                                   f"{sum(n.endswith('on a photo') for n, _ in sets)} on held-out photographs)",
                                   examples_per_page=16) if sets else None
            if examples is not None:
                examples.dataset.layout = "gallery"  # thumbnails side by side, not a table
        with gr.Column(scale=2):
            # four cells a row whatever the number of views (Gradio otherwise widens 1-2 views to the whole row,
            # cut to a strip by the height), each view whole ("contain"); more than four scroll, row by row
            seen = gr.Gallery(label="what the model sees (removed background shown as a checkerboard)", columns=4,
                              fit_columns=False, height=230, preview=False, object_fit="contain",
                              elem_id="views3d-seen")
            predicted = gr.Plot(label="predicted shape (beside the ground truth for examples; drag to turn)")
            info = gr.Markdown(label="run details", show_label=False)
            downloads = gr.File(label="download GLB / OBJ / STL", file_count="multiple")
            with gr.Accordion("along the bridge", open=False):
                frame_index = StrictSlider(0, 1, value=0, step=1, label="bridge frame",
                                           info=f"Up to {MAX_FRAMES} frames along the bridge, the last its end (the shape above is "
                                                "that end refined with the views' silhouettes).")
                frame_plot = gr.Plot(label="decoded x0 estimate")
    frames = gr.State([], time_to_live=STATE_TTL_S)
    fixes = gr.State({}, time_to_live=STATE_TTL_S)
    controls = [remove_background, foreground_ratio, steps, sampler, guidance, randomness, seed, randomize, threshold,
                samples, in_order]
    inputs = [views, *controls]
    outputs = [predicted, downloads, info, seen, frames]  # the public endpoint's (the State is hidden from clients)
    trajectory = [frame_index, frame_plot]
    ui_outputs = outputs + trajectory + [status]
    # the public endpoint, for API clients: errors raised as Gradio errors. The tab's own events below never raise
    # (an error is the message beside Generate), so no input or output turns into an "Error" badge.
    endpoint = gr.Button(visible=False)
    endpoint.click(guarded(views_to_3d, "making the 3D shape"), inputs, outputs, api_name="views_to_3d", **HEAVY_EVENT)
    run.click(generate, [*inputs, fixes], ui_outputs, api_visibility="private", **HEAVY_EVENT)
    fix_inputs = [views, remove_background, foreground_ratio, fixes]
    previewed = [seen, fix_view, fix_image, status]
    views.upload(quiet(upload_previewed, "reading the views", 5), [*fix_inputs, run_on_upload],
                 [seen, fix_view, fix_image, views, status], api_visibility="private").then(
        generate_if_chosen, [run_on_upload, *inputs, fixes], ui_outputs, api_visibility="private", **HEAVY_EVENT)
    if examples is not None:  # an example click fills the gallery, previews it, then runs the model
        examples.load_input_event.then(quiet(preview, "reading the views", 4), fix_inputs, previewed,
                                       api_visibility="private").then(
            generate, [*inputs, fixes], ui_outputs, api_visibility="private", **HEAVY_EVENT)
    fix_view.input(quiet(fix_view_chosen, "showing the view", 2),
                   [views, fix_view, remove_background, foreground_ratio, fixes], [fix_image, status],
                   api_visibility="private")
    fix_image.select(quiet(fix_clicked, "fixing the cut-out", 4),
                     [views, fix_view, click_mode, remove_background, foreground_ratio, fixes],
                     [fixes, fix_image, seen, status], api_visibility="private")
    clear_fix.click(quiet(fix_cleared, "fixing the cut-out", 4), [views, fix_view, remove_background, foreground_ratio,
                                                              fixes], [fixes, fix_image, seen, status],
                    api_visibility="private")
    frame_index.release(guarded(trajectory_frame, "drawing the bridge frame", heavy=False),
                        [frames, frame_index, threshold], frame_plot, api_visibility="private")
