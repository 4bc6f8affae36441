"""Checkpoints are found from any folder once LDDBM_CHECKPOINTS names them, and a folder found nowhere
is one line that says where it looked (never a Hub lookup)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lddbm.__main__ import main
from lddbm.checkpoints import ENV, is_local_spelling, locate
from lddbm.errors import CheckpointError
from lddbm.pipeline import LDDBMPipeline

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"


def test_locate_a_path_a_name_and_the_repository_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV, raising=False)
    assert locate(CHECKPOINTS / "synthetic") == CHECKPOINTS / "synthetic"
    with pytest.raises(CheckpointError, match=f"set {ENV}"):
        locate("checkpoints/synthetic")
    monkeypatch.setenv(ENV, str(CHECKPOINTS))
    assert locate("synthetic") == CHECKPOINTS / "synthetic"
    assert locate("checkpoints/synthetic") == CHECKPOINTS / "synthetic"
    with pytest.raises(CheckpointError) as err:
        locate("checkpoints/nothing-here")
    message = str(err.value)
    assert "\n" not in message and str(CHECKPOINTS / "nothing-here") in message and str(tmp_path) in message


def test_spellings_that_only_mean_a_local_folder():
    assert all(is_local_spelling(s) for s in ("checkpoints/sr4x", "./sr4x", "/abs/sr4x", "sr4x", "a/b/c", Path("x/y")))
    assert not is_local_spelling("someone/lddbm-3d")  # a Hub id: left to diffusers


def test_a_missing_local_folder_is_one_error_without_the_hub(tmp_path, monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise AssertionError("tried the Hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV, raising=False)
    for load in (LDDBMPipeline.from_pretrained, LDDBMPipeline.load):
        with pytest.raises(CheckpointError, match="No pipeline folder 'checkpoints/sr4x'"):
            load("checkpoints/sr4x")


@pytest.mark.skipif(not (CHECKPOINTS / "sr4x" / "model_index.json").is_file(), reason="no sr4x checkpoint")
def test_the_command_line_from_another_folder(tmp_path, monkeypatch, capsys):
    Image.new("RGB", (24, 20), (120, 60, 30)).save(tmp_path / "small.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV, raising=False)
    assert main(["upscale", "--image", "small.png", "--out", "big.png"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"set {ENV}" in err
    monkeypatch.setenv(ENV, str(CHECKPOINTS))
    assert main(["upscale", "--image", "small.png", "--out", "big.png"]) == 0
    assert Image.open(tmp_path / "big.png").size == (96, 80)
