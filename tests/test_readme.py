"""The README's library snippets run as written (each from a scratch folder that sees the repository's
checkpoints/ and assets/ at the same relative paths)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_SNIPPETS = ("multiview3d", "sr4x", "synthetic", "diffusers")


def readme_snippets(text: str) -> dict[str, str]:
    """``<!-- snippet: NAME -->`` followed by a fenced python block -> {NAME: code}."""
    pattern = re.compile(r"<!-- snippet: ([\w-]+) -->\s*```python\n(.*?)```", re.S)
    return {name: code for name, code in pattern.findall(text)}


def test_snippet_extraction():
    text = "x\n<!-- snippet: a -->\n```python\nprint(1)\n```\n<!-- snippet: b-c -->\n\n```python\ny = 2\n```\n"
    assert readme_snippets(text) == {"a": "print(1)\n", "b-c": "y = 2\n"}


@pytest.mark.parametrize("name", LIBRARY_SNIPPETS)
def test_readme_library_snippet_runs(name, tmp_path, monkeypatch):
    snippets = readme_snippets((ROOT / "README.md").read_text())
    assert name in snippets, f"README.md has no '<!-- snippet: {name} -->' python block"
    for folder in ("checkpoints", "assets"):
        os.symlink(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippets[name], f"README.md:{name}", "exec"), {"__name__": f"readme_{name}"})
    written = {"multiview3d": "shape.glb", "sr4x": "big.png", "synthetic": "disc.png"}.get(name)
    if written:
        assert (tmp_path / written).stat().st_size > 100
