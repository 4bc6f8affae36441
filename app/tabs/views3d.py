"""Views → 3D: 1 to 12 photos of one object -> its voxel shape (figure, GLB / OBJ / STL), with the
bridge's intermediate estimates ("along the bridge") kept in the session. Endpoint: /views_to_3d."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np

from app import common
from app.common import HEAVY_EVENT, STATE_TTL_S, as_number, guarded, is_stochastic, shown, whole_number
from lddbm.errors import ConfigError
from lddbm.export import export_mesh, plotly_figure, plotly_side_by_side, voxels_to_mesh
from lddbm.framing import DEFAULT_FOREGROUND_RATIO, NormalizedView, normalize_views, view_warnings
from lddbm.hosting import StrictCheckbox, StrictSlider
from lddbm.tasks.multiview3d.prediction import predict_shape

TITLE = "Views → 3D"
ORDER = 10
MODELS = ("multiview3d",)
EXAMPLES = common.ASSETS / "multiview3d"
MAX_FRAMES = 12  # bridge frames a 3D result keeps in its session for the "along the bridge" slider


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
        return ("No object was found against the background in any view. Use photos where the object stands out "
                "from a plain background, upload cut-out PNGs with transparency, or untick 'remove the background'.")
    if randomness > 0:
        return (f"Random sampling (randomness {randomness:.2f}) gave an empty shape this time: try another seed, or set "
                "the randomness to 0 under Advanced.")
    return (f"The model is not confident about any part of the shape (nothing reaches the occupancy threshold "
            f"{threshold:.2f}). Try views where the object fills more of the frame and stands out from the "
            "background, or lower the occupancy threshold under Advanced.")


def views_to_3d(views, remove_background, object_size, steps, sampler, guidance, randomness, seed, random_seed,
                threshold, samples, progress=gr.Progress(track_tqdm=True)):
    """The public /views_to_3d endpoint: views -> (shape figure, [GLB, OBJ, STL] files, run details, the
    framed views the model saw) and the trajectory frames (a gr.State, which API clients do not see)."""
    pipe = common.pipeline("multiview3d")
    paths, images, notes, ratio = common.opened_views(pipe, views, object_size)
    seed = common.parse_seed(seed, random_seed)
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    samples = whole_number(samples, "number of samples", 1, 16)
    level = as_number(threshold)
    if not 0 < level < 1:
        raise gr.Error(f"The occupancy threshold must lie between 0 and 1; got {shown(threshold)}.")
    threshold = level
    options = common.sampling_options(sampler, randomness, guidance)
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
    folder = common.session_folder()
    downloads = [common.save_result(folder / f"shape.{ext}", lambda tmp: export_mesh(mesh, tmp))
                 for ext in ("glb", "obj", "stl")]
    frames = kept_frames(pred.trajectory)
    info = (f"{len(images)} view(s) · {sampler} · {pred.nfe} NFE × {samples} sample(s) · {pred.seconds:.2f} s on "
            f"{common.DEVICE} · seed {seed}")
    seen = [common.on_checkerboard(v) for v in framed]
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
    paths = common.gallery_paths(views)
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


def build() -> None:
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
                                               info="Cut the object out of its background (photos); untick for "
                                                    "renders on white.")
            foreground_ratio = StrictSlider(0.4, 1.0, value=DEFAULT_FOREGROUND_RATIO, step=0.05,
                                            label="object size in the frame",
                                            info=f"How much of each view the object fills; {DEFAULT_FOREGROUND_RATIO} "
                                                 "is how the model was trained.")
            run = gr.Button("Generate 3D shape", variant="primary")
            with gr.Accordion("Advanced", open=False):
                steps = StrictSlider(1, 40, value=10, step=1, label="sampling steps",
                                     info="More steps are slower; 10 is plenty.")
                sampler, randomness, guidance = common.sampler_controls(
                    "multiview3d",
                    "0 gives the same, most accurate shape every time; higher values draw varied shapes, each "
                    "somewhat less accurate (heun at 0.33: 0.36 against 0.46 IoU on our test objects).",
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
