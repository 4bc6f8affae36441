"""The LDDBM web demo (Gradio): UI only, every model computation lives in lddbm/.

``app.common`` holds what the tabs share; ``app.tabs`` one module per tab, found by ``app.tabs.all_tabs``.
This module assembles them (``build_demo``), checks every checkpoint the tabs use before serving
(``preload``) and serves the demo hardened for the public (``serve``); ``python app.py`` does all three.
"""

from __future__ import annotations

import os

import gradio as gr

from app import common
from app.common import HEAVY_AT_ONCE, KEEP_DOWNLOADS_S, logger, result_store
from app.tabs import all_tabs, css, is_shown
from lddbm.hosting import Listeners, RequestGuard, friendly_input_errors, guard_queue
from lddbm.serving import atomic_gradio_image_cache

MAX_UPLOAD = "25mb"  # per file: a large phone photo or a 16-bit PNG; Gradio refuses bigger uploads while receiving them
MAX_UPLOAD_REQUEST = 13 * 25 * 2**20  # one upload request: 12 views at the per-file limit, and the form around them
MAX_SESSIONS = 500  # sessions whose state (bridge frames, component updates) is kept; the oldest go first
QUEUE_SIZE = 32  # waiting requests; beyond it a visitor is told the server is busy
BUSY = "The demo is busy right now (too many requests waiting). Please try again in a minute."


def build_demo() -> gr.Blocks:
    """The demo: a header, then one tab per module in app.tabs whose checkpoints are here."""
    os.environ["GRADIO_TEMP_DIR"] = str(common.DOWNLOADS)  # Gradio's cache in the bounded store (read by gr.Blocks)
    result_store(common.DOWNLOADS).start_sweeper()
    atomic_gradio_image_cache(result_store(common.DOWNLOADS))  # Gradio's own image writes count against the cap too
    with gr.Blocks(title="LDDBM: general modality translation", delete_cache=(600, KEEP_DOWNLOADS_S)) as demo:
        gr.Markdown(
            "# LDDBM — latent denoising diffusion bridges\n"
            "Translate between modalities of different shapes through one shared latent space "
            "([paper](https://arxiv.org/abs/2510.20819)). Every model here was trained by this project. "
            f"Uploads: images up to {MAX_UPLOAD.upper().replace('MB', ' MB')} per file; results are kept for an hour."
        )
        for tab in all_tabs():
            if is_shown(tab):
                with gr.Tab(tab.TITLE):
                    tab.build()
    return demo


def shipped_models() -> list[str]:
    """The checkpoint folders the tabs use (each tab's MODELS, in tab order, once each) that exist here."""
    names = dict.fromkeys(name for tab in all_tabs() for name in tab.MODELS)
    return [name for name in names if common.has_checkpoint(name)]


def preload() -> None:
    """Load every model the tabs use before serving, and whatever else a tab preloads (the digit classifiers
    that caption the Digits tab): a corrupt or truncated file stops the start with one message naming it,
    instead of failing visitors' requests later."""
    for name in shipped_models():
        try:
            common.pipeline(name)
        except gr.Error as err:
            raise SystemExit(f"error: {err.message} Restore the checkpoint (git checkout -- checkpoints/{name}) "
                             "or retrain it; see its README.md.") from None
    for tab in all_tabs():
        if hasattr(tab, "preload") and is_shown(tab):
            tab.preload()


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


def serve(demo: gr.Blocks, **launch_kwargs):
    """Queue (bounded, a few slots per client, jobs nobody listens to dropped), the busy message, input
    errors as sentences, uploads within the disk cap, sessions bounded; then launch (with the tabs' CSS)."""
    from starlette.middleware import Middleware

    demo.queue(default_concurrency_limit=HEAVY_AT_ONCE, max_size=QUEUE_SIZE)
    busy_message(demo)
    listeners = Listeners()
    guard_queue(demo, listeners)  # after busy_message: its per-client message is the one shown
    friendly_input_errors()
    guard = Middleware(RequestGuard, store=result_store(common.DOWNLOADS), listeners=listeners,
                       max_upload_request=MAX_UPLOAD_REQUEST)
    result_store(common.DOWNLOADS).pin_existing()  # what building the page cached (examples, the blank canvas)
    return demo.launch(max_file_size=MAX_UPLOAD, app_kwargs={"middleware": [guard]},
                       state_session_capacity=MAX_SESSIONS, css=css(), **launch_kwargs)
