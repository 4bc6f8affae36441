"""Browser test: headless Chromium loads the demo, runs an example and sees the Plotly figure.

Needs Debian's chromium (CI installs it) and the playwright package (no browser download: it
drives /usr/bin/chromium). Skips with the reason when either is missing.
"""

import importlib
import os
import shutil
import socket

import pytest

from test_app import tiny_3d  # noqa: F401  (fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run the browser test")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def test_example_click_renders_the_plotly_figure(tiny_3d, monkeypatch, tmp_path):  # noqa: F811
    app = importlib.import_module("app")
    monkeypatch.setattr(app, "CHECKPOINTS", tiny_3d[1])
    monkeypatch.setattr(app, "DOWNLOADS", tmp_path / "downloads")
    app.pipeline.cache_clear()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_demo().queue()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            name = app.example_sets()[0][0]
            page.get_by_text(name, exact=True).first.click()
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
            page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
            if os.environ.get("LDDBM_SCREENSHOT_DIR"):  # keep a copy to look at
                shutil.copy(tmp_path / "demo.png", os.environ["LDDBM_SCREENSHOT_DIR"])
            assert "NFE" in page.inner_text("body")
            browser.close()
    finally:
        demo.close()
        app.pipeline.cache_clear()
    assert (tmp_path / "demo.png").stat().st_size > 10_000
