"""Toy: vector -> image, the engine's quickest task (an 8-d vector encoding a disc -> a 16×16 image of it).
Endpoint: /translate_vector."""

from __future__ import annotations

import gradio as gr
import numpy as np
import torch
from PIL import Image

from app import common
from app.common import HEAVY_EVENT, guarded, whole_number
from lddbm.errors import ConfigError
from lddbm.hosting import StrictNumber, StrictSlider
from lddbm.images import tensor_to_pil
from lddbm.presets import load_preset
from lddbm.tasks.synthetic.data import PARAM_HIGH, PARAM_LOW, render_discs, source_matrix

TITLE = "Toy: vector → image"
ORDER = 50
MODELS = ("synthetic",)


def available() -> bool:
    return True  # always shown: the quickest way to see the engine work (a missing model is said on use)


def enlarged(image: torch.Tensor, size: int = 256) -> Image.Image:
    """A (1, S, S) image in [-1, 1], upscaled for display (nearest: the pixels stay visible)."""
    return tensor_to_pil(image).resize((size, size), Image.NEAREST)


def translate_vector(centre_x, centre_y, radius, steps, sampler, guidance, randomness, seed,
                     progress=gr.Progress(track_tqdm=True)):
    """The public /translate_vector endpoint: disc parameters -> (LDDBM's image, the true disc, run details)."""
    pipe = common.pipeline("synthetic")
    data = load_preset(common.CHECKPOINTS / "synthetic" / "preset.json").data
    try:
        params = torch.tensor([[float(centre_x), float(centre_y), float(radius)]], dtype=torch.float32)
    except (TypeError, ValueError) as err:
        raise gr.Error("The disc centre and radius must be numbers.") from err
    if not torch.isfinite(params).all():
        raise gr.Error("The disc centre and radius must be finite numbers.")
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    options = common.sampling_options(sampler, randomness, guidance)
    generator = torch.Generator(common.DEVICE).manual_seed(common.parse_seed(seed, False))
    source = params @ source_matrix(data).T  # (1, dim): the vector the model sees
    try:
        out = pipe(source, num_inference_steps=steps, sampler=sampler, generator=generator, **options)
    except ConfigError as err:
        raise gr.Error(str(err)) from err
    truth = render_discs(params, data.image_size)[0]
    info = f"{sampler} · NFE {out.nfe} · {out.seconds * 1000:.0f} ms · {common.DEVICE} · source vector " + np.array2string(
        source[0].numpy(), precision=2, separator=", ")
    return enlarged(out.outputs[0]), enlarged(truth), info


def build() -> None:
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
            sampler, randomness, guidance = common.sampler_controls(
                "synthetic", "0 gives the same image every time.",
                "How strongly sampling is pulled toward the vector (1 = as trained).")
            seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=common.MAX_SEED)
            run = gr.Button("Translate", variant="primary")
        with gr.Column():
            with gr.Row():
                predicted = gr.Image(label="LDDBM output", type="pil", format="png")
                truth = gr.Image(label="ground truth", type="pil", format="png")
            info = gr.Markdown(label="run details", show_label=False)
    run.click(guarded(translate_vector, "translating the vector"), [cx, cy, r, steps, sampler, guidance, randomness, seed],
              [predicted, truth, info], api_name="translate_vector", **HEAVY_EVENT)
