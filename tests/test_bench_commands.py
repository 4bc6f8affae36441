"""The views -> 3D task's own benchmark commands (``bench-robustness``, ``bench-segmentation``): they parse,
the old ``bench`` forms point at them, and ``bench-robustness`` refuses a model of another task."""

from __future__ import annotations

import pytest

from lddbm.__main__ import main
from lddbm.presets import get_preset, save_preset


@pytest.mark.parametrize("command", ["bench-robustness", "bench-segmentation"])
def test_the_benchmark_commands_parse(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "--checkpoint" in capsys.readouterr().out


def test_bench_names_them_among_the_tasks_own_benchmarks(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "bench-robustness" in capsys.readouterr().out


@pytest.mark.parametrize("argv, command", [
    (["bench", "segmentation", "--checkpoint", "x", "--photos", "data/photos"], "bench-segmentation"),
    (["bench", "multiview3d", "--checkpoint", "x", "--robustness", "--views-list", "4", "1"], "bench-robustness"),
])
def test_the_old_bench_forms_point_at_the_new_commands(argv, command, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"python -m lddbm {command}" in err[0]


def test_bench_robustness_refuses_a_model_of_another_task(tiny_sr, tmp_path, capsys):
    tiny_sr.save_pretrained(tmp_path / "sr")
    save_preset(get_preset("sr4x"), tmp_path / "sr" / "preset.json")
    assert main(["bench-robustness", "--checkpoint", str(tmp_path / "sr")]) == 2
    err = capsys.readouterr().err
    assert "bench-robustness scores views -> 3D models" in err and "superres" in err


def test_bench_robustness_refuses_a_pipeline_without_a_views_encoder(tiny_sr, tmp_path, capsys):
    """A folder saved without its preset.json is taken for a views -> 3D one, so its source encoder decides."""
    tiny_sr.save_pretrained(tmp_path / "sr")
    assert main(["bench-robustness", "--checkpoint", str(tmp_path / "sr")]) == 2
    assert "LowResEncoder" in capsys.readouterr().err
