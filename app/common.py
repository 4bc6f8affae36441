"""What every tab shares: where the checkpoints and results live, pipelines loaded once, the handler
guard (one limit on model calls, every error a sentence), checked numbers and seeds, and the sampler
controls built from lddbm.samplers (one "randomness" slider per tab, guidance where it is read)."""

from __future__ import annotations

import functools
import hashlib
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

from lddbm.checkpoints import ENV as CHECKPOINTS_ENV
from lddbm.errors import ConfigError, DataError
from lddbm.framing import WORK_SIDE, NormalizedView
from lddbm.hosting import StrictCheckbox, StrictNumber, StrictSlider
from lddbm.inputs import MAX_PIXELS, InputError, open_views
from lddbm.pipeline import CheckpointError, LDDBMPipeline
from lddbm.samplers import OPTIONS, SAMPLERS, stochastic_options
from lddbm.scheduler import BridgeScheduler
from lddbm.serving import HeavyWork, ResultStore, StorageFull, atomic_gradio_image_cache

ROOT = Path(__file__).resolve().parents[1]
# the models: LDDBM_CHECKPOINTS when set (lddbm.checkpoints), else the repository's; read at call time (tests
# point it at tiny checkpoints)
CHECKPOINTS = Path(os.environ.get(CHECKPOINTS_ENV) or ROOT / "checkpoints")
ASSETS = ROOT / "assets"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# Disk: results and Gradio's cache (uploads, served files) share one bounded folder (lddbm.serving);
# results are saved there once, so Gradio serves them without copying.
# always a folder of our own (the sweeper deletes in it), under GRADIO_TEMP_DIR when one is set
DOWNLOADS = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "lddbm-app"
KEEP_DOWNLOADS_S = 3600
DISK_CAP_BYTES = int(float(os.environ.get("LDDBM_DISK_CAP_MB", "2048")) * 2**20)  # results + uploads, oldest removed first
MAX_SEED = 2**32 - 1
HEAVY_AT_ONCE = 2  # model calls running at once, whichever tab, event or API call they come from
HEAVY = HeavyWork(HEAVY_AT_ONCE)
# every event that runs a model shares one Gradio concurrency group (the queue holds the rest, with its
# position shown) and HEAVY's slots (which also hold for events the group cannot see, e.g. chained ones)
HEAVY_EVENT = dict(concurrency_id="model", concurrency_limit=HEAVY_AT_ONCE)
STATE_TTL_S = 900  # a session's state is dropped this long after its last use
logger = logging.getLogger("lddbm.app")
# Gradio decodes some inputs itself (sketch layers, the SR detail view): past the upload pixel limit PIL refuses
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

# diffusers loads weights inside accelerate's init_empty_weights, which patches torch.nn.Module for the whole
# process: two loads at once can leave it patched (every later module built on the meta device), so loads
# take turns (preload() loads everything before serving; lazy loads, as in tests, may race)
LOADING = threading.Lock()


def has_checkpoint(name: str) -> bool:
    """Whether the checkpoint folder ``name`` (under CHECKPOINTS) is here."""
    return (CHECKPOINTS / name).is_dir()


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


# ---- the handler boundary ---------------------------------------------------------------------------------


def shown(value, limit: int = 40) -> str:
    """A visitor's value as an error message repeats it: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def guarded(fn, what: str, heavy: bool = True):
    """``fn`` as an event handler: under one of HEAVY's slots when it runs a model, and every exception a
    message that says what to do. gr.Error passes as it is; the library's user errors become gr.Error; both
    are expected refusals (an empty shape, a bad upload), logged as one line, no traceback. An unexpected
    one is logged with its trace and shown as a plain sentence (never a bare "Error" badge)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            if not heavy:
                return fn(*args, **kwargs)
            with HEAVY.slot(fn.__name__):
                return fn(*args, **kwargs)
        except gr.Error as err:
            refused(fn.__name__, err)
            raise
        except (InputError, ConfigError, DataError, StorageFull) as err:
            raise refused(fn.__name__, gr.Error(str(err))) from err
        except MemoryError:
            logger.error("%s: out of memory", fn.__name__)
            raise gr.Error(f"The server ran out of memory while {what}. Try fewer or smaller images, fewer samples "
                           "or steps, or try again when it is less busy.") from None
        except Exception:
            logger.exception("%s failed", fn.__name__)
            raise gr.Error(f"Something went wrong on the server while {what}; the details were logged. Please try "
                           "again, or try other images or settings.") from None

    return run


def refused(name: str, err: gr.Error) -> gr.Error:
    """An expected refusal: one line in the log, and Gradio told not to print its traceback."""
    err.print_exception = False
    logger.info("%s refused: %s", name, " ".join(str(err.message).split()))
    return err


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


# ---- checked values -------------------------------------------------------------------------------------


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


def seed_controls():
    """A tab's seed box and its "random seed" checkbox, side by side."""
    with gr.Row():
        seed = StrictNumber(0, precision=0, label="seed", minimum=0, maximum=MAX_SEED)
        randomize = StrictCheckbox(False, label="random seed")
    return seed, randomize


# ---- uploaded views (Views → 3D, Views → new views) ---------------------------------------------------------


def digest(path) -> str:
    """A file's content hash: Gradio hands handlers copies of example files, so examples are matched by it."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def gallery_paths(items) -> list[str]:
    """A gallery input's value ([(path, caption), ...] or paths) -> file paths."""
    paths = []
    for item in items or []:
        path = item[0] if isinstance(item, (tuple, list)) else item
        path = getattr(path, "name", path)
        if path:
            paths.append(str(path))
    return paths


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


def on_checkerboard(view: NormalizedView, size: int = 160, square: int = 10) -> Image.Image:
    """A framed view over a grey checkerboard, so what was cut away as background is visible."""
    yy, xx = np.mgrid[0:size, 0:size] // square
    board = np.where((yy + xx) % 2 == 0, 205, 160).astype(np.uint8)
    canvas = Image.fromarray(np.dstack([board] * 3 + [np.full_like(board, 255)]), "RGBA")
    return Image.alpha_composite(canvas, view.image.resize((size, size), Image.BICUBIC)).convert("RGB")


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
