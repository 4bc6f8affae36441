"""What a public Gradio demo needs beyond its handlers: strict inputs, bounded uploads, a fair queue.

Gradio 6.31 as it ships lets one client do a lot (each found by a hostile-client run against app.py):

- a string or NaN in a number field, a file path that is not an upload, a body that does not validate
  fail *before* the handler runs and reach the visitor as a bare "Error" (``friendly_input_errors``);
- a Checkbox passes any value through (``"false"`` is truthy), a Slider passes NaN
  (``StrictNumber``, ``StrictSlider``, ``StrictCheckbox`` refuse both with a sentence); an image
  upload it cannot read gets a generic sentence (``CheckedImage`` says what is wrong with the file);
- the Sketchpad decodes every layer a client sends, in any number and at any size, and stores
  blobs under ids the client picks (``BoundedSketchpad``);
- gr.Image and gr.Gallery accept ``{"path": ...}`` without Gradio's file meta, so an API client can
  point them at any file on the server, a URL or a ``data:`` URL (``file_reference_problem``);
- the upload route has no total size and writes as it receives, the file route answers a multi-range
  request with HTTP 500, a form part without a file name gives HTTP 500 (``RequestGuard``);
- a job whose client never reads the answer still runs, and one client can fill the queue
  (``guard_queue``: a few slots per client, and queued jobs nobody listens to are dropped).

Each piece reaches into Gradio where no public hook exists (named in its docstring); the contract tests
(tests/test_hosting.py, the soak) fail if a Gradio release moves them.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import os
import time
import warnings
from urllib.parse import parse_qs

import gradio as gr
from PIL import Image

from .inputs import MAX_PIXELS, MAX_SIDE, InputError, check_size, open_image
from .serving import ResultStore, StorageFull

logger = logging.getLogger(__name__)

PER_CLIENT = 4  # queue slots (waiting or running) one client may hold
LISTEN_GRACE_S = 5.0  # a queued job whose client opened no result stream this long after joining is dropped
MAX_LAYERS = 4  # sketch layers (the canvas draws on one)
MAX_BLOB_BYTES = 4 * 2**20  # one sketch layer as the browser sends it (a 280 px canvas is ~10 KB)
MAX_BLOB_IDS = 64  # sketches received but not yet used, kept per component
MAX_COMPONENT_BODY = 8 * 2**20  # a component-server request (sketch blobs)
MAX_MESSAGE = 300  # characters of an error message shown; Gradio's choice errors echo the value whole


# ---- input values ---------------------------------------------------------------------------------


def _label(component) -> str:
    return f"'{component.label}'" if getattr(component, "label", None) else "a number field"


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class StrictNumber(gr.Number):
    """gr.Number that refuses strings, booleans, NaN and infinities with a sentence naming the field."""

    def get_block_name(self) -> str:
        return "number"

    get_block_class = get_block_name

    def preprocess(self, payload):
        if payload is not None and not _finite_number(payload):
            raise gr.Error(f"{_label(self)} must be a number; got {str(payload)[:40]!r}.")
        return super().preprocess(payload)


class StrictSlider(gr.Slider):
    """gr.Slider that refuses anything but a finite number (Gradio's passes NaN and fails on strings)."""

    def get_block_name(self) -> str:
        return "slider"

    get_block_class = get_block_name

    def preprocess(self, payload):
        if not _finite_number(payload):
            raise gr.Error(f"{_label(self)} must be a number from {self.minimum:g} to {self.maximum:g}; "
                           f"got {str(payload)[:40]!r}.")
        return super().preprocess(payload)


class StrictCheckbox(gr.Checkbox):
    """gr.Checkbox that takes true or false only (Gradio's passes any value, and "false" is truthy)."""

    def get_block_name(self) -> str:
        return "checkbox"

    get_block_class = get_block_name

    def preprocess(self, payload):
        if not isinstance(payload, bool):
            raise gr.Error(f"{_label(self)} must be true or false; got {str(payload)[:40]!r}.")
        return super().preprocess(payload)


class CheckedImage(gr.Image):
    """gr.Image whose upload is opened by ``lddbm.inputs.open_image`` before Gradio touches it: a file
    it cannot read (or one over the limits) is refused with that function's sentence, not Gradio's
    generic one."""

    def get_block_name(self) -> str:
        return "image"

    get_block_class = get_block_name

    def preprocess(self, payload):
        path = getattr(payload, "path", None)
        if path:
            try:
                open_image(path)
            except InputError as err:
                raise gr.Error(str(err)) from err
        return super().preprocess(payload)


class BoundedSketchpad(gr.Sketchpad):
    """gr.Sketchpad whose layers are size-checked from their headers before any is decoded, at most
    MAX_LAYERS of them, and whose blob store (``accept_blobs``, which Gradio 6.31 leaves unbounded in
    layer index, blob size and ids) is bounded."""

    def get_block_name(self) -> str:
        return "imageeditor"

    get_block_class = get_block_name

    def convert_and_format_image(self, file, flatten_on_white: bool = False):
        if file is not None:
            source = io.BytesIO(bytes(file)) if isinstance(file, (bytes, bytearray, memoryview)) else file.path
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(source, formats=["PNG", "WEBP", "JPEG"]) as header:
                        size = header.size
                check_size(*size, "The drawing", MAX_PIXELS // 4, MAX_SIDE // 2)
            except InputError as err:
                raise gr.Error(str(err)) from err
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise gr.Error("The drawing is too large (over the pixel limit); clear the canvas and draw "
                               "again.") from err
            except Exception as err:
                raise gr.Error("The drawing could not be read; clear the canvas and draw again.") from err
        return super().convert_and_format_image(file, flatten_on_white)

    def preprocess(self, payload):
        if payload is not None:
            stored = self.blob_storage.get(payload.id) if payload.id else None
            layers = stored.layers if stored is not None else (payload.layers or [])
            if len(layers) > MAX_LAYERS:
                if payload.id:
                    self.blob_storage.pop(payload.id, None)
                raise gr.Error(f"The drawing has {len(layers)} layers; at most {MAX_LAYERS} are read. Clear the "
                               "canvas and draw again.")
        return super().preprocess(payload)

    @gr.components.base.server
    def accept_blobs(self, data):
        index = data.data.get("index")
        if index not in (None, "", "null"):
            try:
                ok = 0 <= int(index) < MAX_LAYERS
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise gr.Error(f"A drawing has at most {MAX_LAYERS} layers.")
        if not data.files or len(data.files[0][1]) > MAX_BLOB_BYTES:
            raise gr.Error("The drawing is too large; clear the canvas and draw again.")
        while len(self.blob_storage) >= MAX_BLOB_IDS:
            self.blob_storage.pop(next(iter(self.blob_storage)))
        return super().accept_blobs(data)


def friendly_input_errors() -> None:
    """Input failures Gradio raises before a handler runs (a value a component cannot read, a file path
    that is not an upload, a body that does not validate) shown as a sentence, and any other failure
    outside a handler (postprocessing, say) as a plain one, logged: never a bare "Error". Wraps
    ``gradio.utils.error_payload`` (and the queue's copy of the name); idempotent."""
    from gradio import queueing, utils
    from gradio.exceptions import AppError, ComponentProcessingError, InvalidPathError
    from pydantic import ValidationError

    if getattr(utils.error_payload, "original", None) is not None:
        return
    original = utils.error_payload

    def error_payload(error, show_error):
        if isinstance(error, (ComponentProcessingError, InvalidPathError, ValidationError)):
            logger.info("input refused before the handler: %s", type(error).__name__)
            error = gr.Error("An input could not be read: check each value's type (numbers as numbers, files "
                             "uploaded to this server first) and try again.")
        elif isinstance(error, ValueError) and "didn't receive enough input values" in str(error):
            error = gr.Error("The request has too few values for this endpoint; see /gradio_api/info for its "
                             "parameters.")
        elif error is not None and not isinstance(error, AppError):
            logger.error("request failed outside a handler", exc_info=error)
            error = gr.Error("Something went wrong on the server while handling this request; the details were "
                             "logged. Please try again.")
        elif isinstance(error, AppError) and len(str(error.message)) > MAX_MESSAGE:
            # Gradio's own refusals repeat the value sent (a 5 MiB "choice"): cut, keep the sentence's start
            error = gr.Error(str(error.message)[:MAX_MESSAGE] + "… (the value sent was too long to repeat)")
        return original(error, show_error)

    error_payload.original = original
    utils.error_payload = queueing.error_payload = error_payload


# ---- file references ------------------------------------------------------------------------------


def file_reference_problem(data, upload_folder: str) -> str | None:
    """Why a request's data may not be run, or None: every file it names must be an upload in
    ``upload_folder`` (no other server path, no URL the server would fetch, no ``data:`` URL)."""
    from gradio.utils import is_in_or_equal

    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path, url = item.get("path"), item.get("url")
            if path is not None and (not isinstance(path, str) or "://" in path
                                     or not is_in_or_equal(path, upload_folder)):
                return "Files must be uploaded to this server first (POST them to /gradio_api/upload)."
            if isinstance(url, str) and url.startswith("data:"):
                return "data: URLs are not accepted; upload the file instead."
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return None


# ---- the queue ------------------------------------------------------------------------------------


def client_key(request) -> str:
    """Who sent a request: the first X-Forwarded-For address behind a known proxy (a Space: SPACE_ID is
    set, or LDDBM_BEHIND_PROXY=1), else the peer address."""
    if request is None:
        return "?"
    if os.environ.get("SPACE_ID") or os.environ.get("LDDBM_BEHIND_PROXY") == "1":
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "?"


class Listeners:
    """Sessions and events that opened a result stream (``/queue/data``, ``GET /call/<api>/<id>``), with
    the time; entries older than an hour are forgotten."""

    def __init__(self):
        self.seen: dict[str, float] = {}

    def saw(self, key: str) -> None:
        now = time.monotonic()
        self.seen[key] = now
        if len(self.seen) > 10_000:
            self.seen = {k: t for k, t in self.seen.items() if now - t < 3600}

    def __contains__(self, key: str) -> bool:
        return key in self.seen


def guard_queue(demo: gr.Blocks, listeners: Listeners, per_client: int = PER_CLIENT,
                grace_s: float = LISTEN_GRACE_S) -> None:
    """Wrap the queue's push (a private API: ``Queue.push(body, request, username)`` returning
    ``(ok, message_or_event_id, kind)``): refuse data naming files that are not uploads, refuse a client
    holding ``per_client`` slots already, and drop a queued job when nobody opened its result stream
    within ``grace_s``. Call after any other wrapper of push (its message is then the one shown)."""
    from gradio.utils import get_upload_folder

    queue = getattr(demo, "_queue", None)
    push = getattr(queue, "push", None)
    if push is None:
        logger.warning("cannot guard the queue in this Gradio version")
        return

    def held(key: str) -> int:
        waiting = sum(client_key(e.request) == key for q in queue.event_queue_per_concurrency_id.values()
                      for e in q.queue)
        return waiting + sum(client_key(e.request) == key for job in queue.active_jobs if job for e in job)

    async def reap(event_id: str) -> None:
        await asyncio.sleep(grace_s)
        event = queue.event_ids_to_events.get(event_id)
        if event is None or event.session_hash in listeners or event_id in listeners:
            return
        if any(event in q.queue for q in queue.event_queue_per_concurrency_id.values()):
            await queue.clean_events(event_id=event_id)
            queue.pending_event_ids_session.get(event.session_hash, set()).discard(event_id)
            logger.info("dropped a queued job nobody is listening for (%s)", event.fn.name if event.fn else "?")

    async def guarded_push(body, request, username):
        problem = file_reference_problem(body.data, get_upload_folder())
        if problem is not None:
            return False, problem, "error"
        if held(client_key(request)) >= per_client:
            return False, (f"You already have {per_client} requests waiting or running; wait for them to finish, "
                           "then try again."), "queue_full"
        try:
            ok, event_id, kind = await push(body, request, username)
        except (KeyError, IndexError):  # Gradio looks the fn_index up unchecked
            return False, "No such endpoint (unknown fn_index); see /gradio_api/info for the endpoints.", "error"
        if ok:
            asyncio.get_running_loop().create_task(reap(event_id))
        return ok, event_id, kind

    queue.push = guarded_push


# ---- HTTP ---------------------------------------------------------------------------------------------


class RequestGuard:
    """Pure ASGI middleware (no BaseHTTPMiddleware: the event streams must pass untouched) for Gradio's
    routes: uploads admitted against the store's byte cap before a byte is written (``reserve``), with a
    total size; a malformed upload a 400 with a sentence, not a 500; multi-range requests served whole;
    component-server bodies bounded; result-stream openings recorded in ``listeners``."""

    def __init__(self, app, store: ResultStore, listeners: Listeners, max_upload_request: int,
                 max_component_body: int = MAX_COMPONENT_BODY):
        self.app, self.store, self.listeners = app, store, listeners
        self.max_upload_request, self.max_component_body = max_upload_request, max_component_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if path.endswith("/queue/data"):
            session = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [""])[0]
            self.listeners.saw(session)
        elif "/call/" in path and method == "GET":
            self.listeners.saw(path.rstrip("/").rsplit("/", 1)[-1])
        if "/file=" in path:
            scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if not (k == b"range" and b"," in v)])
        length = _content_length(scope)
        if method == "POST" and path.rstrip("/").endswith("/component_server"):
            if length is None or length > self.max_component_body:
                return await _reply(send, 413, "The request is too large (or has no Content-Length).")
        if method == "POST" and path.rstrip("/").endswith("/upload"):
            return await self._upload(scope, receive, send, length)
        return await self._answered(scope, receive, send)

    async def _answered(self, scope, receive, send,
                        fallback: str = "The request could not be handled; check the endpoint and its values "
                                        "(see /gradio_api/info).") -> None:
        """The app's answer; an exception before it started answering (Gradio raises on an unknown
        endpoint name, on a form part without a file name, ...) becomes a 4xx with a sentence
        (``fallback``) instead of a 500 and a dropped connection."""
        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as err:
            if started:
                raise
            if type(err).__name__ == "FnIndexInferError":
                return await _reply(send, 404, "No such endpoint; see /gradio_api/info for the endpoints.")
            logger.info("request refused after an exception: %s %s", scope["method"], scope["path"], exc_info=True)
            await _reply(send, 400, fallback)

    async def _upload(self, scope, receive, send, length: int | None):
        if length is None:
            return await _reply(send, 411, "Send uploads with a Content-Length header.")
        if length > self.max_upload_request:
            return await _reply(send, 413, f"The upload is too large: at most {self.max_upload_request // 2**20} MB "
                                           "in one request. Upload fewer or smaller files.")
        try:
            with self.store.reserve(length):
                await self._answered(scope, receive, send, "The upload could not be read: send each image as a "
                                                           "'files' form field with a file name.")
        except StorageFull as err:  # raised on entering reserve(), before anything was sent
            await _reply(send, 507, str(err))


def _content_length(scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
