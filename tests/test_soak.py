"""The soak test's small configuration (benchmarks/soak.py): the whole bad-input catalogue once, with
some good requests, from 4 concurrent clients against `python app.py` on 127.0.0.1."""

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~35 s on two idle cores

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_soak_small_configuration_no_deaths_no_tracebacks(tmp_path):
    import soak

    report = soak.main(["--clients", "4", "--requests", "0", "--good-every", "12", "--max-seconds", "240",
                        "--disk-cap-mb", "100", "--json", str(tmp_path / "soak.json")])
    assert report["server_alive"] and all(s["alive"] for s in report["timeline"])
    failures = {k: v for k, v in report["by_kind"].items() if v["failed"]}
    assert not failures, failures  # no traceback shown, no silent error, no file served that should not be
    assert report["kinds_sent"] == report["bad_input_kinds"] + 2 >= 60  # every kind, plus the two good requests
    assert report["served"] >= 10 and report["refused_with_message"] >= 50
    assert report["disk_mb"]["max"] <= 100
