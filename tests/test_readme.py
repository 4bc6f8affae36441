"""The README and the pages under docs/ stay true: every library snippet in them runs as written (each from a
scratch folder that sees the repository's checkpoints/ and assets/ at the same relative paths), the README
stays short, and every relative link and image path in them points at a file (and heading) that exists."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 300
# snippets run elsewhere: the gradio_client block needs the served demo (tests/test_app_api.py runs it)
RUN_ELSEWHERE = {"gradio-client"}
# snippets that must exist somewhere, and the file each one writes into its scratch folder
EXPECTED = {"multiview3d": "shape.glb", "sr4x": "big.png", "synthetic": "disc.png", "diffusers": None}

SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\s*```python\n(.*?)```", re.S)
MARKER = re.compile(r"<!-- snippet: ([\w-]+) -->")
FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMG_TAG = re.compile(r"<img\s[^>]*\bsrc=\"([^\"]+)\"", re.I)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def readme_snippets(text: str) -> dict[str, str]:
    """``<!-- snippet: NAME -->`` followed by a fenced python block -> {NAME: code}; a name used twice is an error."""
    snippets: dict[str, str] = {}
    for name, code in SNIPPET.findall(text):
        if name in snippets:
            raise ValueError(f"snippet {name!r} appears twice")
        snippets[name] = code
    return snippets


def _page_snippets() -> list[tuple[str, Path, str]]:
    return [(name, page, code) for page in PAGES for name, code in readme_snippets(page.read_text("utf-8")).items()]


SNIPPETS = _page_snippets()
RUNNABLE = [(name, page, code) for name, page, code in SNIPPETS if name not in RUN_ELSEWHERE]


def prose(text: str) -> str:
    """Markdown without its fenced blocks and code spans (where brackets are code, not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def link_targets(text: str) -> list[str]:
    """Every link and image target in a Markdown text, outside code."""
    body = prose(text)
    return LINK.findall(body) + IMG_TAG.findall(body)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to '-', repeats numbered."""
    anchors: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def test_snippet_extraction():
    text = "x\n<!-- snippet: a -->\n```python\nprint(1)\n```\n<!-- snippet: b-c -->\n\n```python\ny = 2\n```\n"
    assert readme_snippets(text) == {"a": "print(1)\n", "b-c": "y = 2\n"}
    with pytest.raises(ValueError, match="twice"):
        readme_snippets(text + "<!-- snippet: a -->\n```python\nz = 3\n```\n")


def test_link_helpers():
    text = ("# Views → 3D: data\n## A (`x_y`, not shipped)\n## A (`x_y`, not shipped)\n"
            "See [a](b.md#c), ![img](images/p.png \"t\") and <img src=\"q.png\">; `[not](a link)`\n"
            "```bash\n[also not](code.md)\n```\n")
    assert link_targets(text) == ["b.md#c", "images/p.png", "q.png"]
    assert heading_anchors(text) == {"views--3d-data", "a-x_y-not-shipped", "a-x_y-not-shipped-1"}


def test_every_snippet_marker_has_a_python_block():
    for page in PAGES:
        text = page.read_text("utf-8")
        assert MARKER.findall(text) == [name for name, _ in SNIPPET.findall(text)], (
            f"{page.relative_to(ROOT)}: a '<!-- snippet: NAME -->' line is not followed by a ```python block")


def test_snippet_names_are_unique_and_expected_ones_exist():
    names = [name for name, _, _ in SNIPPETS]
    assert len(names) == len(set(names)), f"a snippet name is used on two pages: {sorted(names)}"
    assert set(EXPECTED) <= set(names), f"missing snippets: {sorted(set(EXPECTED) - set(names))}"
    # tests/test_app_api.py reads the gradio_client block from the README itself
    assert "gradio-client" in readme_snippets(README.read_text("utf-8"))


@pytest.mark.parametrize(("name", "page", "code"), RUNNABLE,
                         ids=[f"{page.relative_to(ROOT)}:{name}" for name, page, _ in RUNNABLE])
def test_snippet_runs(name, page, code, tmp_path, monkeypatch):
    """From a scratch folder that has the example inputs (assets/) but not the models: those are found
    through LDDBM_CHECKPOINTS, as after `pip install .` anywhere (lddbm.checkpoints)."""
    os.symlink(ROOT / "assets", tmp_path / "assets")
    monkeypatch.setenv("LDDBM_CHECKPOINTS", str(ROOT / "checkpoints"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page.relative_to(ROOT)}:{name}", "exec"), {"__name__": f"snippet_{name}"})
    written = EXPECTED.get(name)
    if written:
        assert (tmp_path / written).stat().st_size > 100


def test_readme_is_short():
    lines = len(README.read_text("utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move details to a page under docs/"


def test_links_and_images_exist():
    broken = []
    for page in PAGES:
        for target in link_targets(page.read_text("utf-8")):
            if SCHEME.match(target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: {target}"
            if not file.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file.read_text("utf-8")):
                broken.append(f"{where} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in link_targets(README.read_text("utf-8"))}
    orphans = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link to: {orphans}"
