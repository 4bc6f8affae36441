"""LDDBM web demo (Gradio). UI only: every model computation lives in lddbm/.

Run ``python app.py`` and open http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are
respected). Pipelines load once, offline, from checkpoints/.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from lddbm.data.synthetic import PARAM_HIGH, PARAM_LOW, render_discs, source_matrix
from lddbm.pipeline import CheckpointError, LDDBMPipeline
from lddbm.presets import load_preset

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
logger = logging.getLogger("lddbm.app")


@lru_cache(maxsize=None)
def pipeline(name: str) -> LDDBMPipeline:
    pipe = LDDBMPipeline.load(CHECKPOINTS / name, device=DEVICE)
    pipe.set_progress_bar_config(desc=f"{name} bridge")
    return pipe


def _show(image: torch.Tensor, size: int = 256) -> Image.Image:
    """A (1, S, S) image in [-1, 1] as an upscaled grey PIL image (nearest: pixels stay visible)."""
    u8 = ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(u8).resize((size, size), Image.NEAREST)


def synthetic_translate(cx, cy, r, steps, sampler, churn, seed, progress=gr.Progress(track_tqdm=True)):
    try:
        pipe = pipeline("synthetic")
    except CheckpointError as err:
        raise gr.Error(f"The synthetic checkpoint could not be loaded: {err}") from err
    data = load_preset(CHECKPOINTS / "synthetic" / "preset.json").data
    params = torch.tensor([[cx, cy, r]], dtype=torch.float32)
    source = params @ source_matrix(data).T  # (1, dim): the vector the model sees
    out = pipe(source, num_inference_steps=int(steps), sampler=sampler, churn=float(churn),
               generator=torch.Generator(DEVICE).manual_seed(int(seed)))
    truth = render_discs(params, data.image_size)[0]
    info = f"NFE {out.nfe} · {out.seconds * 1000:.0f} ms · {DEVICE} · source vector " + np.array2string(
        source[0].numpy(), precision=2, separator=", ")
    return _show(out.outputs[0]), _show(truth), info


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="LDDBM: general modality translation") as demo:
        gr.Markdown(
            "# LDDBM — latent denoising diffusion bridges\n"
            "Translate between modalities of different shapes through one shared latent space "
            "([paper](https://arxiv.org/abs/2510.20819)). All models here were trained by this project."
        )
        with gr.Tab("Vector → image (toy task)"):
            gr.Markdown(
                "An 8-d vector that encodes a disc (centre and radius, mixed by a fixed random matrix) is "
                "translated into a 16×16 image of that disc. Move the sliders to build the vector."
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
            demo.load(synthetic_translate, [cx, cy, r, steps, sampler, churn, seed], [predicted, truth, info])
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_demo().queue(default_concurrency_limit=2).launch()
