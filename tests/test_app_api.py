"""The demo's API is a contract: the endpoints gradio_client sees, their parameter and return names,
and the README's gradio_client snippet, run against the demo served on localhost (tiny models).

The snippet is read from README.md (or the file named by LDDBM_README) as the fenced ```python block
right after the line ``<!-- snippet: gradio-client -->``.
"""

import contextlib
import io
import os
import re
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from lddbm.samplers import SAMPLERS

ROOT = Path(__file__).resolve().parents[1]
README = Path(os.environ.get("LDDBM_README", ROOT / "README.md"))
SNIPPET_MARKER = "<!-- snippet: gradio-client -->"
SNIPPET_URL = "http://127.0.0.1:7860/"

# endpoint -> the parameter names a client passes by keyword (in order), and the number of returns
ENDPOINTS = {
    "/views_to_3d": (["views", "remove_background", "object_size", "steps", "sampler", "guidance", "randomness",
                      "seed", "random_seed", "threshold", "samples", "in_order"], 4),
    "/new_view": (["views", "remove_background", "object_size", "azimuth", "elevation", "steps", "sampler", "guidance",
                   "randomness", "seed", "random_seed"], 4),
    "/orbit": (["views", "remove_background", "object_size", "elevation", "count", "steps", "sampler", "guidance",
                "randomness", "seed", "random_seed"], 2),
    "/super_resolve": (["image", "scale", "steps", "sampler", "guidance", "randomness", "seed", "random_seed",
                        "large_images", "ensemble"], 3),
    "/sketch_to_printed": (["sketch", "label", "sketch_weight", "label_weight", "samples", "steps", "sampler", "guidance",
                            "randomness", "seed", "random_seed", "candidates"], 2),
    "/printed_to_handwritten": (["image", "samples", "steps", "sampler", "guidance", "randomness", "seed",
                                 "random_seed", "candidates"], 2),
    "/translate_vector": (["centre_x", "centre_y", "radius", "steps", "sampler", "guidance", "randomness", "seed"], 3),
}
GENERIC_NAME = re.compile(r"^(value|param|parameter)_\d+$")


def readme_snippet(text: str, marker: str = SNIPPET_MARKER) -> str:
    """The code of the fenced ```python block that follows ``marker`` in a Markdown text."""
    if marker not in text:
        raise LookupError(f"No line {marker!r} in the README: paste the gradio_client snippet under it.")
    block = re.match(r"\s*```python[ \t]*\n(.*?)^```", text.split(marker, 1)[1], re.S | re.M)
    if block is None:
        raise LookupError(f"{marker!r} is not followed by a ```python block.")
    return block.group(1)


def test_readme_snippet_helper():
    text = f"intro\n{SNIPPET_MARKER}\n```python\nprint(1)\nprint(2)\n```\n\n```python\nnot this\n```\n"
    assert readme_snippet(text) == "print(1)\nprint(2)\n"
    with pytest.raises(LookupError, match="paste"):
        readme_snippet("no marker here")
    with pytest.raises(LookupError, match="not followed"):
        readme_snippet(f"{SNIPPET_MARKER}\ntext\n")


@pytest.fixture(scope="module")
def client(served_app):
    return Client(served_app[1], verbose=False)


@pytest.fixture(scope="module")
def api(client):
    return client.view_api(return_format="dict", print_info=False)


def test_exactly_the_named_endpoints(api):
    assert sorted(api["named_endpoints"]) == sorted(ENDPOINTS)
    assert not api["unnamed_endpoints"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_parameter_and_return_names_are_readable(api, endpoint):
    info = api["named_endpoints"][endpoint]
    names, n_returns = ENDPOINTS[endpoint]
    assert [p["parameter_name"] for p in info["parameters"]] == names
    assert len(info["returns"]) == n_returns
    labels = [p["label"] for p in info["parameters"] + info["returns"]]
    assert all(label and not GENERIC_NAME.match(label) for label in labels), labels
    assert not any(GENERIC_NAME.match(name) for name in names)
    assert all(p["parameter_has_default"] for p in info["parameters"][1:])  # only the input itself is required
    sampler = next(p for p in info["parameters"] if p["parameter_name"] == "sampler")
    assert sampler["parameter_default"] in SAMPLERS and set(sampler["type"]["enum"]) == set(SAMPLERS)


@pytest.mark.parametrize("hidden", ["/input_changed", "/detail_view", "/model_settings", "/upload_previewed",
                                    "/trajectory_frame", "/follow", "/fix_cleared", "/generate", "/fix_clicked",
                                    "/snap_to_true_view"])
def test_ui_events_are_not_callable(client, hidden):
    """The UI's own events exist (in the page's config) but are not API endpoints."""
    names = {d.get("api_name") for d in client.config["dependencies"]}
    assert hidden.strip("/") in names, f"no UI event {hidden}: the list is stale"
    with pytest.raises(ValueError, match="Cannot find a function"):
        client.predict(api_name=hidden)


def test_defaults_only_call(client, tmp_path):
    """A client that passes only the input gets the UI's defaults (the README snippet relies on it)."""
    Image.new("RGB", (20, 16), (10, 120, 200)).save(tmp_path / "small.png")
    pair, png, info = client.predict(image=handle_file(str(tmp_path / "small.png")), api_name="/super_resolve")
    assert len(pair) == 2 and Image.open(png).size == (80, 64) and "20×16 → 80×64" in info


def test_readme_snippet_runs(served_app, monkeypatch):
    code = readme_snippet(README.read_text(encoding="utf-8"))
    assert len(code.strip().splitlines()) <= 10, "keep the README's snippet short"
    assert SNIPPET_URL in code, f"the snippet should connect to {SNIPPET_URL} (the URL python app.py serves)"
    monkeypatch.chdir(ROOT)  # the snippet names the example files relative to the repository
    out = io.StringIO()
    namespace = {"__name__": "__snippet__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace(SNIPPET_URL, served_app[1]), "README snippet", "exec"), namespace)
    printed = out.getvalue()
    glb = re.search(r"(\S+\.glb)\b", printed)
    assert glb and Path(glb.group(1)).is_file() and "view(s)" in printed and "NFE" in printed, printed
    png = re.search(r"(\S+\.png)\b", printed)
    assert png and Image.open(png.group(1)).size == (512, 512), printed  # the 128 px example, x4
    assert "PSNR" in printed, printed  # an example's input: scored against its original


def test_digits_endpoints_by_client(client):
    """A printed digit file -> handwriting; a class label alone -> printed digits (the sketch left out)."""
    example = sorted((ROOT / "assets" / "digits" / "printed").glob("*.png"))[0]
    gallery, info = client.predict(image=handle_file(str(example)), samples=2, steps=2, api_name="/printed_to_handwritten")
    assert len(gallery) == 2 and "NFE" in info
    gallery, info = client.predict(sketch=None, label="4", samples=1, steps=2, api_name="/sketch_to_printed")
    assert len(gallery) == 1 and gallery[0]["caption"].startswith("reads ")
    # the sketch left out: the Sketchpad's default, a blank canvas, so the label alone
    gallery, info = client.predict(label="4", samples=1, steps=2, api_name="/sketch_to_printed")
    assert len(gallery) == 1 and "λ_label 1" in info and "λ_sketch" not in info


def test_the_sketch_weight_defaults_to_the_checkpoints_as_in_the_tab(api, client):
    """A client that leaves the sketch weight out gets the checkpoint's (the slider's start), and is told."""
    from app.tabs import digits

    sketch = sorted((ROOT / "assets" / "digits" / "handwritten").glob("*.png"))[0]
    parameters = api["named_endpoints"]["/sketch_to_printed"]["parameters"]
    default = next(p for p in parameters if p["parameter_name"] == "sketch_weight")["parameter_default"]
    assert default == digits.default_sketch_weight()
    drawing = {"background": handle_file(str(sketch)), "layers": [], "composite": None}  # a Sketchpad's value
    _, info = client.predict(sketch=drawing, samples=1, steps=2, api_name="/sketch_to_printed")
    assert f"λ_sketch {default:g}" in info
