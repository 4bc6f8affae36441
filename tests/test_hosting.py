"""The served demo against a hostile client (lddbm.hosting): values of the wrong type, file references
that are not uploads, malformed and oversized HTTP requests, a client holding many queue slots. Each
answer is a sentence, never a bare "Error" or an HTTP 500 (fixtures: conftest.py)."""

import io

import httpx
import pytest
from PIL import Image

from lddbm.hosting import file_reference_problem

TOY = {"centre_x": 0.1, "centre_y": -0.2, "radius": 0.3, "steps": 2, "sampler": "dbim", "guidance": 1.0,
       "randomness": 0.0, "seed": 0}


@pytest.fixture(scope="module")
def client(served_app):
    from gradio_client import Client

    return Client(served_app[1], verbose=False)


@pytest.mark.parametrize("field, value, message", [
    ("seed", "abc", "'seed' must be a number"),
    ("seed", [1], "'seed' must be a number"),
    ("seed", True, "'seed' must be a number"),
    ("steps", "ten", "'sampling steps' must be a number from 1 to 40"),
])
def test_a_value_of_the_wrong_type_is_a_sentence(client, field, value, message):
    with pytest.raises(Exception, match=message):
        client.predict(**{**TOY, field: value}, api_name="/translate_vector")


def call_raw(url: str, api: str, data: list) -> str:
    """The /call protocol by hand (JSON with NaN and Infinity, which gradio_client cannot send): the
    result stream's text."""
    import json

    with httpx.Client(base_url=url, timeout=60) as http:
        r = http.post(f"gradio_api/call/{api}", content=json.dumps({"data": data}),
                      headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        return http.get(f"gradio_api/call/{api}/{r.json()['event_id']}").text


@pytest.mark.parametrize("field, value", [("radius", float("nan")), ("centre_x", float("inf")), ("seed", float("nan"))])
def test_nan_and_infinity_are_a_sentence(served_app, field, value):
    answer = call_raw(served_app[1], "translate_vector", list({**TOY, field: value}.values()))
    assert "event: error" in answer and "must be a number" in answer and "null" not in answer


def test_a_checkbox_takes_true_or_false_only(client, views):
    from gradio_client import handle_file

    gallery = [{"image": handle_file(views(1)[0]), "caption": None}]
    with pytest.raises(Exception, match="'remove the background' must be true or false"):
        client.predict(gallery, "false", 0.75, 1, "dbim", 1.0, 0.0, 0, False, 0.5, 1, api_name="/views_to_3d")


def test_file_references_must_be_uploads(tmp_path):
    uploads = str(tmp_path)
    assert file_reference_problem([{"image": {"path": str(tmp_path / "a.png")}}], uploads) is None
    for data in ([{"path": "/etc/passwd"}], [{"image": {"path": str(tmp_path / ".." / "x.png")}}],
                 [{"path": "http://127.0.0.1:1/x.png"}], [{"url": "data:image/png;base64,AAAA", "path": None}],
                 [[{"path": 3}]]):
        assert "upload" in file_reference_problem(data, uploads), data


def test_a_server_path_sent_as_a_view_is_refused_with_a_sentence(served_app):
    module, url = served_app
    data = [[{"image": {"path": str(module.common.ROOT / "app.py")}, "caption": None}], True, 0.75, 1, "dbim", 1.0, 0.0, 0,
            False, 0.5, 1]
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.post("gradio_api/call/views_to_3d", json={"data": data})
    assert r.status_code == 400 and "uploaded to this server first" in r.text


def test_malformed_and_multi_range_requests_are_not_server_errors(served_app):
    module, url = served_app
    png = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(png, format="PNG")
    with httpx.Client(base_url=url, timeout=30) as http:
        no_name = http.post("gradio_api/upload", files={"files": (None, png.getvalue(), "image/png")})
        assert no_name.status_code == 400 and "file name" in no_name.text
        path = http.post("gradio_api/upload", files={"files": ("ok.png", png.getvalue(), "image/png")}).json()[0]
        whole = http.get(f"gradio_api/file={path}", headers={"Range": "bytes=0-1,5-6"})
        assert whole.status_code == 200 and whole.content == png.getvalue()
        big = http.post("gradio_api/component_server", content=b"x" * (9 * 2**20),
                        headers={"content-type": "application/json"})
        assert big.status_code == 413


def test_an_upload_that_would_pass_the_disk_cap_is_refused_before_it_is_written(served_app):
    module, url = served_app
    store = module.common.result_store(module.common.DOWNLOADS)
    cap = store.max_bytes
    store.max_bytes = store.usage() + 2**20  # room for 1 MB more
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            r = http.post("gradio_api/upload", files={"files": ("big.png", b"\x89PNG" + b"0" * (3 * 2**20), "image/png")})
        assert r.status_code == 507 and "try again" in r.json()["detail"]
        assert store.usage() <= store.max_bytes
    finally:
        store.max_bytes = cap


def test_one_client_holds_a_few_queue_slots_at_most(served_app):
    from lddbm.hosting import PER_CLIENT

    module, url = served_app
    data = [TOY[k] for k in ("centre_x", "centre_y", "radius")] + [40, "dbim", 1.0, 0.0, 0]
    with httpx.Client(base_url=url, timeout=30) as http:
        answers = [http.post("gradio_api/call/translate_vector", json={"data": data}) for _ in range(PER_CLIENT + 3)]
    refused = [r for r in answers if r.status_code != 200]
    assert refused and all(r.status_code == 503 and "requests waiting or running" in r.text for r in refused)
    assert sum(r.status_code == 200 for r in answers) <= PER_CLIENT
