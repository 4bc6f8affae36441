"""End to end: launch the demo on localhost and drive it with gradio_client (fixtures: conftest.py)."""

import pytest
from gradio_client import Client, handle_file
from PIL import Image


@pytest.fixture(scope="module")
def served(served_app):
    return Client(served_app[1], verbose=False)


def gallery(paths):
    return [{"image": handle_file(p), "caption": None} for p in paths]


def test_views_tab_end_to_end_and_bad_inputs(served, views, tmp_path):
    paths = views()
    # remove background, object size, steps, sampler, guidance, randomness, seed, random seed, threshold, samples
    controls = (True, 0.75, 2, "dbim", 1.0, 0.0, 0, False, 0.5, 1)
    fig, downloads, info, seen = served.predict(gallery(paths), *controls, api_name="/views_to_3d")
    assert "plot" in fig and len(downloads) == 3 and "view(s)" in info and len(seen) == 3
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    for bad in ([], gallery([str(tmp_path / "zero.png")]), gallery([str(tmp_path / "text.png")]), gallery(paths * 2)):
        with pytest.raises(Exception, match="views|empty|not an image|at most"):
            served.predict(bad, *controls, api_name="/views_to_3d")
    with pytest.raises(Exception, match="seed|maximum value"):
        served.predict(gallery(paths), *controls[:6], 1e23, *controls[7:], api_name="/views_to_3d")
    with pytest.raises(Exception, match="not in the list of choices"):  # the deprecated name is not offered
        served.predict(gallery(paths), *controls[:3], "fast", *controls[4:], api_name="/views_to_3d")
    # the server keeps serving after the errors
    again = served.predict(gallery(paths[:1]), True, 0.75, 1, "heun", 1.0, 0.0, 0, False, 0.5, 1, api_name="/views_to_3d")
    assert "1 view(s)" in again[2]


def test_sr_tab_end_to_end_and_bad_inputs(served, tmp_path):
    image = tmp_path / "small.png"
    Image.new("RGB", (24, 20), (200, 90, 30)).save(image)
    slider, download, info = served.predict(handle_file(str(image)), "×4", 2, "dbim", 1.0, 0.0, 0, False,
                                            api_name="/super_resolve")
    assert len(slider) == 2 and all(str(p).endswith(".png") for p in slider)  # PNG both sides, not webp
    assert Image.open(slider[1]).size == (96, 80) and "24×20 → 96×80" in info
    (tmp_path / "zero.png").write_bytes(b"")
    big = tmp_path / "big.png"
    Image.new("RGB", (700, 300)).save(big)
    for bad in (None, handle_file(str(tmp_path / "zero.png"))):
        with pytest.raises(Exception, match="Upload|empty"):
            served.predict(bad, "×4", 2, "dbim", 1.0, 0.0, 0, False, api_name="/super_resolve")
    _, download, info = served.predict(handle_file(str(big)), "×4", 1, "dbim", 1.0, 0.0, 0, False, "crop",
                                       api_name="/super_resolve")  # over the limit: its central 512 px region
    assert Image.open(download).size == (2048, 1200) and "512×300 → 2048×1200" in info
    assert "its central 512×300 region was kept" in info  # the notice is in the answer, not only a toast
    again = served.predict(handle_file(str(image)), "×4", 1, "heun", 1.0, 0.2, 1, False, api_name="/super_resolve")
    assert "seed 1" in again[2] and "(heun)" in again[2]  # still serving; heun with churn 0.2 and guidance


def test_toy_tab_end_to_end(served):
    predicted, truth, info = served.predict(0.1, -0.2, 0.3, 2, "dbim", 1.0, 0.0, 0, api_name="/translate_vector")
    assert Image.open(predicted).size == Image.open(truth).size == (256, 256) and info.startswith("dbim · NFE 2")


def test_novelview_tab_end_to_end_and_bad_inputs(served, views, tmp_path):
    paths = views(2)
    # remove background, object size, azimuth, elevation, steps, sampler, guidance, randomness, seed, random seed
    image, truth, info, seen = served.predict(gallery(paths), True, 0.75, -45, 30, 2, "heun", 1.0, 0.0, 0, False,
                                              api_name="/new_view")
    assert Image.open(image).size == (256, 256) and truth is None and "Δazimuth -45°" in info and len(seen) == 2
    gif, info = served.predict(gallery(paths), True, 0.75, 20, 4, 2, "dbim", 1.0, 0.0, 0, False, api_name="/orbit")
    with Image.open(gif) as im:
        assert im.n_frames == 4 and "4 views" in info
    (tmp_path / "text.png").write_text("not an image")
    for bad, turn, height in (([], 0, 20), (gallery([str(tmp_path / "text.png")]), 0, 20), (gallery(paths * 2), 0, 20),
                              (gallery(paths), 0, 75)):
        with pytest.raises(Exception, match="views|not an image|at most|between 0 and 60|maximum"):
            served.predict(bad, True, 0.75, turn, height, 2, "heun", 1.0, 0.0, 0, False, api_name="/new_view")
    again = served.predict(gallery(paths[:1]), True, 0.75, 180, 0, 1, "heun", 1.0, 0.0, 0, False, api_name="/new_view")
    assert "1 view(s)" in again[2]  # still serving
