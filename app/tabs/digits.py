"""Digits: a drawn handwritten digit (and / or a class label) -> printed digits, and a printed digit ->
handwriting, each sample captioned with what our digit classifier reads.
Endpoints: /sketch_to_printed, /printed_to_handwritten."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from app import common
from app.common import HEAVY_EVENT, as_number, guarded, shown, whole_number
from lddbm.errors import ConfigError, DataError
from lddbm.hosting import BoundedSketchpad, CheckedImage, StrictCheckbox, StrictNumber, StrictSlider
from lddbm.images import tensor_to_pil
from lddbm.inputs import InputError, open_image
from lddbm.tasks.digits.data import example_label
from lddbm.tasks.digits.judges import DigitClassifier, load_judge, photo_to_printed, sketch_to_handwritten

TITLE = "Digits"
ORDER = 40
# the modality a model generates -> its checkpoint folder (handwritten -> printed takes a class label too)
TARGETS = {"printed": "digits/h2p", "handwritten": "digits/p2h"}
MODELS = tuple(TARGETS.values())
CLASSIFIERS = "digits/classifiers"  # one folder per modality: the judges that caption the samples
EXAMPLES = common.ASSETS / "digits"
NO_LABEL = "none"
WEIGHT_RANGE = (0.0, 5.0)  # lambda_sketch, lambda_label (lddbm.guidance); 1 = as trained
MAX_SAMPLES = 8
MAX_CANDIDATES = 8  # bridge draws per shown digit (re-ranking, LDDBMPipeline's num_candidates)
SHOWN_SIDE = 128  # generated digits are shown enlarged to this size
CANVAS = (280, 280)  # the Sketchpad's drawing size, pixels
PREVIEW_HEIGHT = 280  # the printed digit's preview, pixels
# the preview fills its box (Gradio's scale-down shows a 32-px digit at 32 px), pixels kept sharp
CSS = "#printed-digit img { object-fit: contain; image-rendering: pixelated; }"


def available_models() -> dict[str, str]:
    return {target: name for target, name in TARGETS.items() if common.has_checkpoint(name)}


def available() -> bool:
    return bool(available_models())


def default_sketch_weight() -> float:
    """The printed-digit checkpoint's lambda_sketch (its scheduler config's source_scale; 1 when it names
    none): the tab's and the API's default, and what a call without a sketch weight uses."""
    return float(common.checkpoint_config(TARGETS["printed"]).get("source_scale", 1.0))


def judge(modality: str) -> DigitClassifier | None:
    """Our classifier for one digit modality (checkpoints/digits/classifiers), or None when not shipped."""
    return _classifier(common.CHECKPOINTS / CLASSIFIERS / modality)


@lru_cache(maxsize=None)
def _classifier(folder: Path) -> DigitClassifier | None:
    with common.LOADING:
        found = load_judge(folder)
    return None if found is None else found[0]


def preload() -> None:
    """Load the classifiers that caption the samples: a damaged one stops the start with one message."""
    for modality in available_models():
        folder = common.CHECKPOINTS / CLASSIFIERS / modality
        try:
            judge(modality)
        except Exception as err:  # diffusers/safetensors raise several kinds for a damaged folder
            raise SystemExit(f"error: the {modality}-digit classifier in {folder} could not be loaded ({err}). "
                             f"Restore it (git checkout -- checkpoints/{CLASSIFIERS}/{modality}) or retrain it with "
                             "python -m lddbm digits-classifiers.") from None


def blank_canvas() -> Image.Image:
    """The Sketchpad's starting value: white, so its brush is active at once (empty, it waits for the tool)."""
    return Image.new("RGBA", CANVAS, (255, 255, 255, 255))


def captioned(images: torch.Tensor, modality: str) -> list[tuple[Image.Image, str]]:
    """Generated digits (N, C, 32, 32) as enlarged images, each captioned with the classifier's reading
    (short: a caption is cut to the width of its thumbnail)."""
    found = judge(modality)
    captions = [f"sample {i + 1}" for i in range(len(images))]
    if found is not None:
        with torch.no_grad():
            probs = torch.softmax(found(images.float().cpu()), dim=1)
        captions = [f"reads {int(p.argmax())} ({float(p.max()):.0%})" for p in probs]
    return [(tensor_to_pil(im).resize((SHOWN_SIDE, SHOWN_SIDE), Image.NEAREST), c)
            for im, c in zip(images.float().cpu(), captions)]


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


def class_label(label) -> int | None:
    if label in (None, "", NO_LABEL):
        return None
    return whole_number(label, "class label", 0, 9)


def checked_weight(value, what: str) -> float:
    number = as_number(value)
    low, high = WEIGHT_RANGE
    if not np.isfinite(number) or not low <= number <= high:
        raise gr.Error(f"The {what} must be a number from {low:g} to {high:g}; got {shown(value)}.")
    return number


def translate(target: str, source: torch.Tensor | None, labels: list[int] | None, samples, steps, sampler, guidance,
              randomness, seed, random_seed, candidates=None, weights: str = "", **scales) -> tuple[list, str]:
    """Sample ``samples`` digits of the ``target`` modality, each the best of ``candidates`` draws (None: the
    checkpoint's; a label alone has nothing to rank against and draws one); (captioned gallery, run details).
    ``weights``: the guidance weights used, in words, for the run details."""
    if target not in available_models():
        raise gr.Error(f"No {target}-digit model is shipped here (checkpoints/{TARGETS[target]}).")
    pipe = common.pipeline(TARGETS[target])
    samples = whole_number(samples, "number of samples", 1, MAX_SAMPLES)
    steps = whole_number(steps, "number of sampling steps", 1, 50)
    candidates = pipe.default_num_candidates if candidates is None else \
        whole_number(candidates, "number of candidates", 1, MAX_CANDIDATES)
    if source is None:  # a label alone: nothing to rank the draws against
        candidates = 1
    options = common.sampling_options(sampler, randomness, guidance)
    seed = common.parse_seed(seed, random_seed)
    generator = torch.Generator(common.DEVICE).manual_seed(seed)
    try:
        out = pipe(None if source is None else source[None], class_labels=labels, num_samples=samples,
                   num_candidates=candidates, num_inference_steps=steps, sampler=sampler, generator=generator,
                   **options, **scales)
    except ConfigError as err:
        raise gr.Error(str(err)) from err
    ranked = f" · each the best of {candidates}" if candidates > 1 else ""
    info = (f"{sampler} · {steps} steps · NFE {out.nfe} · {out.seconds * 1000:.0f} ms for {samples}{ranked}{weights} "
            f"· seed {seed} · {common.DEVICE}")
    return captioned(out.outputs, target), info


def sketch_to_printed(sketch, label=NO_LABEL, sketch_weight=None, label_weight=1.0, samples=4, steps=10,
                      sampler="dbim", guidance=1.0, randomness=0.5, seed=0, random_seed=False, candidates=None,
                      progress=gr.Progress(track_tqdm=True)):
    """The public /sketch_to_printed endpoint: a drawn (or example) handwritten digit and/or a class label ->
    (printed digits with the classifier's reading, run details). ``sketch_weight`` and ``label_weight`` are
    the two guidance weights (lddbm.guidance; 1 = as trained; ``sketch_weight`` None: the checkpoint's, as
    in the tab); ``candidates``: draws per shown digit, the one best aligned with the sketch kept (None: the
    checkpoint's)."""
    label = class_label(label)
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
    sketch_scale = default_sketch_weight() if sketch_weight is None else checked_weight(sketch_weight, "sketch weight")
    label_scale = checked_weight(label_weight, "label weight")
    weights = "".join(f" · λ_{name} {value:g}" for name, value, used in
                      (("sketch", sketch_scale, source is not None), ("label", label_scale, label is not None)) if used)
    return translate("printed", source, None if label is None else [label], samples, steps, sampler, guidance,
                     randomness, seed, random_seed, candidates, weights, source_scale=sketch_scale,
                     label_scale=label_scale)


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
    return translate("handwritten", photo_to_printed(picture), None, samples, steps, sampler, guidance, randomness,
                     seed, random_seed, candidates)


def example_files(modality: str) -> list[str]:
    folder = EXAMPLES / modality
    return sorted(str(p) for p in folder.glob("*.png")) if folder.is_dir() else []


def sampling_controls(name: str):
    steps = StrictSlider(1, 50, value=common.checkpoint_steps(name, 10), step=1, label="sampling steps")
    sampler, randomness, guidance = common.sampler_controls(
        name, "Draws differ with it (many printed digits fit one sketch); 0 gives their blurry mean.",
        "How strongly sampling is pulled toward the input (1 = as trained).")
    with gr.Row():
        samples = StrictSlider(1, MAX_SAMPLES, value=4, step=1, label="samples")
        seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=common.MAX_SEED)
        randomize = StrictCheckbox(False, label="random seed")
    candidates = StrictSlider(1, MAX_CANDIDATES, value=common.checkpoint_candidates(name), step=1,
                              label="candidates per sample",
                              info="Draws per shown digit; the one closest to the input in the model's shared latent "
                                   "space (its contrastive alignment) is kept. 1: a single draw.")
    return samples, steps, sampler, guidance, randomness, seed, randomize, candidates


def examples_of(modality: str, component, label: str) -> None:
    files = example_files(modality)
    if files:
        gr.Examples([[p] for p in files], inputs=[component], label=label, elem_id=f"{modality}-examples",
                    example_labels=[str(example_label(p)) for p in files])


def sketch_column(name: str) -> None:
    gr.Markdown("### Sketch → printed digits")
    brush = gr.Brush(colors=["#000000"], default_size=18, color_mode="fixed")
    sketch = BoundedSketchpad(value=blank_canvas(), type="pil", image_mode="RGBA", canvas_size=CANVAS, brush=brush,
                              label="draw a digit", elem_id="sketch")
    examples_of("handwritten", sketch, "handwritten test digits")
    label = gr.Dropdown([NO_LABEL, *map(str, range(10))], value=NO_LABEL, label="class label (optional)",
                        info="Alone, or with a sketch: both steer the printed digit.")
    with gr.Row():
        sketch_weight = StrictSlider(*WEIGHT_RANGE, value=default_sketch_weight(), step=0.1, label="sketch weight λ_sketch",
                                     info="The bridge always starts from the sketch; above 0 the network also reads "
                                          "it (0: this model's most legible digits).")
        label_weight = StrictSlider(*WEIGHT_RANGE, value=1.0, step=0.1, label="label weight λ_label",
                                    info="Guidance per condition: 1 = as trained, more = follow it harder.")
    controls = sampling_controls(name)
    run = gr.Button("Translate to printed", variant="primary")
    gallery = gr.Gallery(label="printed digits", columns=4, height="auto", elem_id="printed-samples")
    info = gr.Markdown(label="run details", show_label=False)
    run.click(guarded(sketch_to_printed, "translating the digit"), [sketch, label, sketch_weight, label_weight, *controls],
              [gallery, info], api_name="sketch_to_printed", **HEAVY_EVENT)


def printed_column(name: str) -> None:
    gr.Markdown("### Printed digit → handwriting")
    # image_mode None: open_image decodes it, checked; a fixed height and CSS: a 32-px digit is shown
    # enlarged (it was a strip, then 32 px in a large box)
    image = CheckedImage(type="filepath", image_mode=None, label="a printed digit (photo or crop)",
                         sources=["upload", "clipboard"], height=PREVIEW_HEIGHT, elem_id="printed-digit")
    examples_of("printed", image, "printed test digits")
    controls = sampling_controls(name)
    run = gr.Button("Translate to handwriting", variant="primary")
    gallery = gr.Gallery(label="handwritten digits", columns=4, height="auto", elem_id="handwritten-samples")
    info = gr.Markdown(label="run details", show_label=False)
    run.click(guarded(printed_to_handwritten, "translating the digit"), [image, *controls], [gallery, info],
              api_name="printed_to_handwritten", **HEAVY_EVENT)


def build() -> None:
    models = available_models()
    gr.Markdown(
        "Handwritten digits (MNIST) ↔ printed house-number digits (SVHN-like, rendered here from Debian fonts), "
        "paired only by their class: a translation should show the same digit in the other style. Under each "
        "sample: what our digit classifier reads (see `checkpoints/digits`)."
    )
    with gr.Row():
        if "printed" in models:
            with gr.Column():
                sketch_column(models["printed"])
        if "handwritten" in models:
            with gr.Column():
                printed_column(models["handwritten"])
