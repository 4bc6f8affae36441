"""Super-resolution: a photograph -> the same photograph ×4 or ×8, beside bicubic interpolation, with a
1:1 detail view and, for the examples, PSNR / SSIM against the original. Endpoint: /super_resolve."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import gradio as gr
from PIL import Image

from app import common
from app.common import HEAVY_EVENT, guarded, shown, whole_number
from lddbm.errors import ConfigError
from lddbm.hosting import StrictSlider
from lddbm.inputs import HIGH_BIT_MODES, InputError, open_image
from lddbm.tasks.superres.tiling import MAX_INPUT_SIDE
from lddbm.tasks.superres.upscale import ENSEMBLE_SIZES, fit_to_limit, image_metrics, upscale

TITLE = "Super-resolution"
ORDER = 30
# model choice -> checkpoint folder (shown when it exists): "×4" for clean images, "×4 photo" trained on
# JPEG, noise and blur (lddbm/data/degradations.py); "×8" is the ×4 model then bicubic ×2, which scores
# higher than the ×8 model (+1.24 against +0.98 dB on the test photos, docs/superres.md) at a seventh of its
# time; the ×8 model (the paper's 16 -> 128 setting) stays a choice
# "×4 photo, then ×4 detail": the JPEG/noise model, its result shrunk back and upscaled again by the clean model (+0.54
# against +0.45 dB on JPEG + noise test photos, twice the time; docs/superres.md)
SCALES = {"×4": "sr4x", "×4 photo (JPEG, noise)": "sr4x_real", "×4 photo, then ×4 detail (2× time)": "sr4x_real",
          "×8": "sr4x", "×8, the 16 → 128 px model": "sr8x"}
SECOND_PASS = {"×4 photo, then ×4 detail (2× time)": "sr4x"}  # a choice's second model, when it has one
FACTORS = {"×8": 8, "×8, the 16 → 128 px model": 8}  # a choice's whole factor, when not its model's own
MODELS = tuple(dict.fromkeys(SCALES.values()))
EXAMPLES = common.ASSETS / "sr4x"
LARGE_IMAGES = {"downscale": "downscale it", "crop": "upscale its central region"}  # fit_to_limit's ways -> UI words
DETAIL = 256  # side of the 1:1 detail view, output pixels
# tiles per model call, so progress moves every few tiles on a CPU (a ×8 example: 121 tiles, ~5 s on one
# thread, was two updates at 64); the image is the same at any batch size (tests/test_app.py checks it)
TILE_BATCH = 8 if common.DEVICE == "cpu" else 64


def available_scales() -> list[str]:
    return [label for label, name in SCALES.items()
            if common.has_checkpoint(name) and (label not in SECOND_PASS or common.has_checkpoint(SECOND_PASS[label]))]


def available() -> bool:
    return bool(available_scales())


def example_files() -> list[str]:
    return sorted(str(p) for p in EXAMPLES.glob("*/lr.png"))


@lru_cache(maxsize=1)
def originals() -> dict[str, Path]:
    """Content hash of each example input -> its high-resolution original."""
    return {common.digest(p): p.with_name("hr.png") for p in EXAMPLES.glob("*/lr.png")}


def mode_notes(image: Image.Image) -> list[str]:
    if image.mode in HIGH_BIT_MODES:
        return ["16-bit / high-dynamic-range image: converted to 8 bits per channel."]
    if "A" in image.getbands() or "transparency" in image.info:
        return ["The transparency (alpha) channel is upscaled with bicubic interpolation; the colours go through the model."]
    return []


def super_resolve(image, scale, steps, sampler, guidance, randomness, seed, random_seed, large_images="downscale",
                  ensemble=1, progress=gr.Progress()):
    """The public /super_resolve endpoint: an image file -> ((bicubic, LDDBM) pair, the upscaled PNG, run details).
    ``large_images``: "downscale" or "crop" an input over the model's 512-px limit; what was done to the input
    (fitted, converted) is said in a notice and kept in the run details. ``ensemble``: 1, 2, 4 or 8 flips and
    turns of the input upscaled and averaged (``lddbm.tasks.superres.upscale.upscale``)."""
    path = getattr(image, "name", image)
    if not path:
        raise gr.Error("Upload an image (PNG, JPEG, WebP, ...) or pick an example first.")
    if scale not in available_scales():
        raise gr.Error(f"No super-resolution model for scale {scale}; choose one of "
                       f"{', '.join(available_scales()) or 'none'}.")
    pipe = common.pipeline(SCALES[scale])
    second = common.pipeline(SECOND_PASS[scale]) if scale in SECOND_PASS else None
    try:
        low_res, notes = open_image(path)
    except InputError as err:
        raise gr.Error(str(err)) from err
    if large_images not in LARGE_IMAGES:
        raise gr.Error(f"For images over {MAX_INPUT_SIDE} px choose one of: {', '.join(LARGE_IMAGES)}; "
                       f"got {shown(large_images)}.")
    notes = notes + mode_notes(low_res)
    low_res, fitted = fit_to_limit(low_res, MAX_INPUT_SIDE, large_images)
    notes += [fitted] if fitted else []
    seed = common.parse_seed(seed, random_seed)
    steps = whole_number(steps, "number of sampling steps", 1, 100)
    # None: a client of the API from before the option existed (it sends one value fewer)
    ensemble = 1 if ensemble is None else whole_number(ensemble, "number of flips and turns averaged", 1,
                                                       max(ENSEMBLE_SIZES))
    if ensemble not in ENSEMBLE_SIZES:
        raise gr.Error(f"Average 1, 2, 4 or 8 flips and turns of the image; got {ensemble}.")
    options = common.sampling_options(sampler, randomness, guidance)
    for note in notes:
        gr.Warning(note)

    def tiles_done(done: int, total: int) -> None:
        progress((done, total), desc="upscaling", unit="tiles")

    progress(0, desc="upscaling")
    try:
        result = upscale(pipe, low_res, steps=steps, sampler=sampler, seed=seed, batch_size=TILE_BATCH,
                         progress=tiles_done, ensemble=ensemble, scale=FACTORS.get(scale), second_pass=second, **options)
    except (InputError, ConfigError) as err:
        raise gr.Error(str(err)) from err
    out = common.save_result(common.session_folder() / f"{Path(path).stem}_x{result.scale}.png",
                             lambda tmp: result.image.save(tmp, format="PNG"))
    w, h = low_res.size
    info = (f"{w}×{h} → {result.image.width}×{result.image.height} · {result.tiles} tiles × {result.nfe} NFE "
            f"({sampler}){f' × {ensemble} flips and turns' if ensemble > 1 else ''}"
            f"{f', then bicubic ×{result.interpolated}' if result.interpolated > 1 else ''}"
            f"{', then again by the clean ×4 model from its own down-sampling' if second is not None else ''} · "
            f"{result.seconds:.2f} s on "
            f"{common.DEVICE}{' (bfloat16)' if result.precision == 'bfloat16' else ''} · seed {seed}")
    info += "".join(f"\n\n{note}" for note in notes)  # a notice vanishes; the run details keep it
    original = originals().get(common.digest(path))
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


def model_settings(scale):
    """A super-resolution model's own sampling settings for the tab's controls (its checkpoint's steps,
    sampler, randomness and guidance), set when the model choice changes."""
    if scale not in SCALES or not common.has_checkpoint(SCALES[scale]):
        return (gr.skip(),) * 4
    name = SCALES[scale]
    sampler, randomness, guidance = common.checkpoint_sampling(name)
    return gr.update(value=common.checkpoint_steps(name)), gr.update(value=sampler), randomness, guidance


def input_changed(image, scale, steps, sampler, guidance, randomness, seed, random_seed, large_images, ensemble=1,
                  progress=gr.Progress()):
    """Run on upload or example click; clearing the input leaves the outputs as they are."""
    if not image:
        return (gr.skip(),) * 3
    return super_resolve(image, scale, steps, sampler, guidance, randomness, seed, random_seed, large_images, ensemble,
                         progress)


def detail_view(pair, x, y):
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


def build() -> None:
    scales = available_scales()
    gr.Markdown(
        f"Upload a photograph or pick an example from the held-out test photos; drag the slider to compare bicubic "
        f"interpolation (left) with LDDBM (right), and look at the **1:1 detail** below it. Inputs up to "
        f"{MAX_INPUT_SIDE}×{MAX_INPUT_SIDE} px ({MAX_INPUT_SIDE ** 2 / 1e6:.2f} MP; outputs up to "
        f"{(4 * MAX_INPUT_SIDE) ** 2 / 1e6:.1f} MP at ×4); a larger photo is downscaled to fit, or its central region "
        "kept, as the run details say. The models were trained on crops of natural photographs (see each model "
        "card), so expect sharper edges rather than invented detail."
    )
    with gr.Row():
        with gr.Column(scale=1):
            file = gr.File(file_types=["image"], label="low-resolution image")
            examples = example_files()
            if examples:
                gr.Examples([[p] for p in examples], inputs=[file], example_labels=[Path(p).parent.name for p in examples],
                            label="examples (test photos; PSNR/SSIM shown against the original)")
            scale = gr.Radio(scales, value=scales[0], label="model",
                             info="×4: clean images; ×4 photo: phone photos and JPEGs (removes blocks and noise); "
                                  "“then ×4 detail”: the ×4 model goes over that result again, sharper, twice the time; ×8: "
                                  "the ×4 model, then bicubic ×2 (it scores higher than the ×8 model, the paper's "
                                  "16 → 128 px setting, which is the last choice).")
            large_images = gr.Radio([(words, how) for how, words in LARGE_IMAGES.items()], value="downscale",
                                    label=f"an image over {MAX_INPUT_SIDE} px", info="What to do before upscaling it.")
            # DBIM estimates the conditional mean in one step; more steps add no PSNR (model card), so 1-8
            steps = StrictSlider(1, 8, value=common.checkpoint_steps(SCALES[scales[0]]), step=1, label="sampling steps",
                                 info="1-2 is best for PSNR; more steps with stochasticity > 0 add sampled detail.")
            ensemble = gr.Radio([("off" if k == 1 else str(k), k) for k in ENSEMBLE_SIZES], value=1,
                                label="flips and turns averaged",
                                info="Also upscale the image mirrored and turned, and average: a little sharper and "
                                     "cleaner (+0.1 dB at 8 on the test photos), at that many times the work.")
            sampler, randomness, guidance = common.sampler_controls(
                SCALES[scales[0]], "0 gives the same image every time.",
                "How strongly sampling is pulled toward the low-resolution input (1 = as trained).")
            seed, randomize = common.seed_controls()
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
    inputs = [file, scale, steps, sampler, guidance, randomness, seed, randomize, large_images, ensemble]
    outputs = [slider, download, info]
    zoom = dict(fn=guarded(detail_view, "cropping the detail", heavy=False), inputs=[slider, detail_x, detail_y],
                outputs=detail, api_visibility="private", show_progress="hidden")
    upscaling = "upscaling the image"
    run.click(guarded(super_resolve, upscaling), inputs, outputs, api_name="super_resolve", **HEAVY_EVENT).success(**zoom)
    file.change(guarded(input_changed, upscaling), inputs, outputs, api_visibility="private", **HEAVY_EVENT).success(**zoom)
    scale.change(guarded(model_settings, "switching the model", heavy=False), scale,
                 [steps, sampler, randomness, guidance], api_visibility="private", queue=False, show_progress="hidden")
    detail_x.release(**zoom)
    detail_y.release(**zoom)
