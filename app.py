"""LDDBM web demo (Gradio). UI only: every model computation lives in lddbm/.

Run ``python app.py`` and open http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are
respected). Pipelines load once, offline, from checkpoints/; CUDA is used when present.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from lddbm.data.synthetic import PARAM_HIGH, PARAM_LOW, render_discs, source_matrix
from lddbm.export import export_mesh, plotly_figure, voxels_to_mesh
from lddbm.inputs import HIGH_BIT_MODES, InputError, open_image, open_views
from lddbm.modalities.multiview import preview_views
from lddbm.pipeline import CheckpointError, LDDBMPipeline
from lddbm.presets import load_preset
from lddbm.shapes import predict_shape
from lddbm.superres import image_metrics, upscale

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints"
EXAMPLES_3D = ROOT / "assets" / "multiview3d"
EXAMPLES_SR = ROOT / "assets" / "sr4x"
SR_MODELS = {"×4": "sr4x", "×8": "sr8x"}  # scale choice -> checkpoint folder (shown when it exists)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DOWNLOADS = Path(tempfile.gettempdir()) / "lddbm-app"
KEEP_DOWNLOADS_S = 3600
logger = logging.getLogger("lddbm.app")


@lru_cache(maxsize=None)
def pipeline(name: str) -> LDDBMPipeline:
    try:
        pipe = LDDBMPipeline.load(CHECKPOINTS / name, device=DEVICE)
    except CheckpointError as err:
        raise gr.Error(f"The '{name}' model could not be loaded: {err}") from err
    pipe.set_progress_bar_config(desc=f"{name}: bridge steps")
    return pipe


def session_folder() -> Path:
    """A fresh folder for one request's downloads; folders older than an hour are removed."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in DOWNLOADS.iterdir():
        if old.is_dir() and now - old.stat().st_mtime > KEEP_DOWNLOADS_S:
            shutil.rmtree(old, ignore_errors=True)
    folder = DOWNLOADS / uuid.uuid4().hex
    folder.mkdir()
    return folder


# ---- views -> 3D ---------------------------------------------------------------------------------------


def _digest(path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def example_sets() -> list[tuple[str, list[str]]]:
    sets = []
    for folder in sorted(EXAMPLES_3D.glob("*/")):
        meta = json.loads((folder / "meta.json").read_text())
        sets.append((meta["name"], sorted(str(p) for p in folder.glob("view_*.png"))))
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


def views_to_3d(files, steps, sampler, guidance, churn, seed, randomize, threshold, samples,
                progress=gr.Progress(track_tqdm=True)):
    pipe = pipeline("multiview3d")
    paths = [getattr(f, "name", f) for f in (files or [])]
    try:
        images, notes = open_views(paths, pipe.source_encoder.config.max_views)
    except InputError as err:
        raise gr.Error(str(err)) from err
    for note in notes:
        gr.Warning(note)
    seed = random.randint(0, 2**31 - 1) if randomize else int(seed)
    samples = int(samples)
    if samples > 1 and churn == 0:
        gr.Warning("With stochasticity 0 every sample is the same; raise it to see where the model is unsure.")
    pred = predict_shape(pipe, images, int(steps), sampler, float(guidance), float(churn), seed, samples,
                         float(threshold), trajectory=True)
    try:
        mesh = voxels_to_mesh(pred.probability, threshold=float(threshold),
                              values=(pred.agreement - 0.5) * 2 if samples > 1 else None)
    except ValueError as err:
        raise gr.Error(f"The predicted shape is empty at threshold {threshold:.2f}: lower the occupancy threshold.") from err
    title = "prediction" if samples == 1 else f"prediction: agreement of {samples} samples"
    figure = plotly_figure(mesh, title=title)
    folder = session_folder()
    downloads = [str(export_mesh(mesh, folder / f"shape.{ext}")) for ext in ("glb", "obj", "stl")]
    truth = ground_truth_for(paths)
    truth_figure = plotly_figure(voxels_to_mesh(truth), title="ground truth") if truth is not None else None
    frames = [(f * 255).astype(np.uint8) for f in pred.trajectory]
    info = (f"{len(images)} view(s) · {pred.nfe} NFE × {samples} sample(s) · {pred.seconds:.2f} s on {DEVICE} · "
            f"seed {seed}")
    last = max(len(frames) - 1, 1)
    slider = gr.Slider(0, last, value=last, step=1, interactive=len(frames) > 1)
    return figure, truth_figure, downloads, info, frames, slider, preview_views(images)


def views_changed(files, *controls):
    """Run on upload or example click; clearing the files leaves the outputs as they are."""
    if not files:
        return (gr.skip(),) * 7
    return views_to_3d(files, *controls)


def trajectory_frame(frames, index, threshold):
    if not frames:
        return None
    k = int(min(max(index, 0), len(frames) - 1))
    grid = frames[k].astype(np.float32) / 255
    try:
        return plotly_figure(voxels_to_mesh(grid, threshold=float(threshold)), title=f"x0 estimate after {k + 1} evaluations")
    except ValueError:
        gr.Warning("The shape estimate at this step is empty at the current threshold.")
        return None


def views_tab() -> None:
    gr.Markdown(
        "Upload **1 to 12 photos or renders of one object** from different sides (any order), or pick an "
        "example from the held-out test set. The model was trained on renders of furniture models, so "
        "objects on a plain light background work best."
    )
    with gr.Row():
        with gr.Column(scale=1):
            files = gr.File(file_count="multiple", file_types=["image"], label="views of the object")
            gallery = gr.Gallery(label="views used", columns=4, height=140, preview=False)
            sets = example_sets()
            if sets:
                gr.Examples([[p] for _, p in sets], inputs=[files], example_labels=[n for n, _ in sets],
                            label="examples (test split)")
            with gr.Accordion("sampling", open=True):
                steps = gr.Slider(1, 40, value=10, step=1, label="sampling steps")
                sampler = gr.Radio(["heun", "fast"], value="heun", label="sampler")
                churn = gr.Slider(0, 1, value=0.0, step=0.05, label="stochasticity (churn)")
                guidance = gr.Slider(0, 2, value=1.0, step=0.05, label="guidance w")
                samples = gr.Slider(1, 8, value=1, step=1, label="samples (colour = agreement)")
                threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="occupancy threshold")
                with gr.Row():
                    seed = gr.Number(0, precision=0, label="seed")
                    randomize = gr.Checkbox(False, label="random seed")
            run = gr.Button("Generate 3D shape", variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                predicted = gr.Plot(label="predicted shape")
                truth = gr.Plot(label="ground truth (examples)")
            info = gr.Markdown()
            downloads = gr.File(label="download GLB / OBJ / STL", file_count="multiple")
            with gr.Accordion("along the bridge", open=False):
                frame_index = gr.Slider(0, 1, value=0, step=1, label="network evaluation")
                frame_plot = gr.Plot(label="decoded x0 estimate")
    frames = gr.State([])
    inputs = [files, steps, sampler, guidance, churn, seed, randomize, threshold, samples]
    outputs = [predicted, truth, downloads, info, frames, frame_index, gallery]
    run.click(views_to_3d, inputs, outputs)
    files.change(views_changed, inputs, outputs)
    frame_index.release(trajectory_frame, [frames, frame_index, threshold], frame_plot)


# ---- super-resolution ----------------------------------------------------------------------------------


def sr_scales() -> list[str]:
    return [label for label, name in SR_MODELS.items() if (CHECKPOINTS / name).is_dir()]


def checkpoint_steps(name: str) -> int:
    """The sampling steps a checkpoint was exported with (its validated default)."""
    config = json.loads((CHECKPOINTS / name / "scheduler" / "scheduler_config.json").read_text())
    return int(config["num_inference_steps"])


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


def super_resolve(file, scale, steps, churn, seed, randomize, progress=gr.Progress()):
    path = getattr(file, "name", file)
    if not path:
        raise gr.Error("Upload an image (PNG, JPEG, WebP, ...) or pick an example first.")
    if scale not in SR_MODELS or not (CHECKPOINTS / SR_MODELS[scale]).is_dir():
        raise gr.Error(f"No super-resolution model for scale {scale}; choose one of {', '.join(sr_scales()) or 'none'}.")
    pipe = pipeline(SR_MODELS[scale])
    try:
        image, notes = open_image(path)
    except InputError as err:
        raise gr.Error(str(err)) from err
    for note in notes + mode_notes(image):
        gr.Warning(note)
    seed = random.randint(0, 2**31 - 1) if randomize else int(seed)

    def tiles_done(done: int, total: int) -> None:
        progress(done / total, desc=f"tiles {done}/{total}")

    try:
        result = upscale(pipe, image, steps=int(steps), churn=float(churn), seed=seed, progress=tiles_done)
    except InputError as err:
        raise gr.Error(str(err)) from err
    out = session_folder() / f"{Path(path).stem}_x{result.scale}.png"
    result.image.save(out)
    w, h = image.size
    info = (f"{w}×{h} → {result.image.width}×{result.image.height} · {result.tiles} tiles × {result.nfe} NFE · "
            f"{result.seconds:.2f} s on {DEVICE} · seed {seed}")
    original = sr_originals().get(_digest(path))
    if original is not None:
        with Image.open(original) as hr:
            hr = hr.convert("RGB")
            scores = {name: image_metrics(im, hr, border=result.scale) for name, im in
                      (("bicubic", result.bicubic), ("LDDBM", result.image))}
        info += "\n\n| against the original | PSNR (dB) | SSIM |\n|---|---|---|\n" + "\n".join(
            f"| {name} | {m['psnr_rgb']:.2f} | {m['ssim_rgb']:.3f} |" for name, m in scores.items())
    return (result.bicubic, result.image), str(out), info


def sr_changed(file, *controls):
    """Run on upload or example click; clearing the input leaves the outputs as they are."""
    if not file:
        return (gr.skip(),) * 3
    return super_resolve(file, *controls)


def sr_tab() -> None:
    scales = sr_scales()
    gr.Markdown(
        "Upload a **small photograph (longest side ≤ 512 px)** or pick an example from the held-out test photos; "
        "drag the slider to compare bicubic interpolation (left) with LDDBM (right). The model was trained on "
        "crops of sixteen natural photographs, so expect sharper edges rather than invented detail."
    )
    with gr.Row():
        with gr.Column(scale=1):
            file = gr.File(file_types=["image"], label="low-resolution image")
            examples = sr_examples()
            if examples:
                gr.Examples([[p] for p in examples], inputs=[file], example_labels=[Path(p).parent.name for p in examples],
                            label="examples (test photos; PSNR/SSIM shown against the original)")
            scale = gr.Radio(scales, value=scales[0], label="scale")
            steps = gr.Slider(1, 20, value=checkpoint_steps(SR_MODELS[scales[0]]), step=1, label="sampling steps")
            churn = gr.Slider(0, 1, value=0.0, step=0.05, label="stochasticity (eta)")
            with gr.Row():
                seed = gr.Number(0, precision=0, label="seed")
                randomize = gr.Checkbox(False, label="random seed")
            run = gr.Button("Upscale", variant="primary")
        with gr.Column(scale=2):
            slider = gr.ImageSlider(label="bicubic ↔ LDDBM", type="pil", format="png", image_mode=None)
            info = gr.Markdown()
            download = gr.File(label="download the upscaled PNG")
    inputs = [file, scale, steps, churn, seed, randomize]
    outputs = [slider, download, info]
    run.click(super_resolve, inputs, outputs)
    file.change(sr_changed, inputs, outputs)


# ---- toy task: vector -> image -------------------------------------------------------------------------


def _show(image: torch.Tensor, size: int = 256) -> Image.Image:
    """A (1, S, S) image in [-1, 1] as an upscaled grey PIL image (nearest: pixels stay visible)."""
    u8 = ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(u8).resize((size, size), Image.NEAREST)


def synthetic_translate(cx, cy, r, steps, sampler, churn, seed, progress=gr.Progress(track_tqdm=True)):
    pipe = pipeline("synthetic")
    data = load_preset(CHECKPOINTS / "synthetic" / "preset.json").data
    params = torch.tensor([[cx, cy, r]], dtype=torch.float32)
    source = params @ source_matrix(data).T  # (1, dim): the vector the model sees
    out = pipe(source, num_inference_steps=int(steps), sampler=sampler, churn=float(churn),
               generator=torch.Generator(DEVICE).manual_seed(int(seed)))
    truth = render_discs(params, data.image_size)[0]
    info = f"NFE {out.nfe} · {out.seconds * 1000:.0f} ms · {DEVICE} · source vector " + np.array2string(
        source[0].numpy(), precision=2, separator=", ")
    return _show(out.outputs[0]), _show(truth), info


def toy_tab() -> None:
    gr.Markdown(
        "The engine's quickest task: an 8-d vector that encodes a disc (centre and radius, mixed by a fixed "
        "random matrix) is translated into a 16×16 image of that disc."
    )
    with gr.Row():
        with gr.Column():
            cx = gr.Slider(PARAM_LOW[0], PARAM_HIGH[0], value=0.1, label="disc centre x")
            cy = gr.Slider(PARAM_LOW[1], PARAM_HIGH[1], value=-0.2, label="disc centre y")
            r = gr.Slider(PARAM_LOW[2], PARAM_HIGH[2], value=0.3, label="disc radius")
            steps = gr.Slider(1, 40, value=10, step=1, label="sampling steps")
            sampler = gr.Radio(["heun", "fast"], value="heun", label="sampler")
            churn = gr.Slider(0, 1, value=0.0, label="stochasticity (churn)")
            seed = gr.Number(0, precision=0, label="seed")
            run = gr.Button("Translate", variant="primary")
        with gr.Column():
            with gr.Row():
                predicted = gr.Image(label="LDDBM output", type="pil", format="png")
                truth = gr.Image(label="ground truth", type="pil", format="png")
            info = gr.Markdown()
    run.click(synthetic_translate, [cx, cy, r, steps, sampler, churn, seed], [predicted, truth, info])


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="LDDBM: general modality translation", delete_cache=(KEEP_DOWNLOADS_S, KEEP_DOWNLOADS_S)) as demo:
        gr.Markdown(
            "# LDDBM — latent denoising diffusion bridges\n"
            "Translate between modalities of different shapes through one shared latent space "
            "([paper](https://arxiv.org/abs/2510.20819)). Every model here was trained by this project."
        )
        if (CHECKPOINTS / "multiview3d").is_dir():
            with gr.Tab("Views → 3D"):
                views_tab()
        if sr_scales():
            with gr.Tab("Super-resolution"):
                sr_tab()
        with gr.Tab("Toy: vector → image"):
            toy_tab()
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_demo().queue(default_concurrency_limit=2, max_size=32).launch()
