"""The soak test's small configuration (benchmarks/soak.py): the whole bad-input catalogue once, with
some good requests, from 4 concurrent clients against `python app.py` on 127.0.0.1, then every scenario
(per-client cap, 12 heavy requests at once, 30 unread jobs, a disk flood) under a 12 GiB address-space cap."""

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~90 s on two idle cores

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

CAP_MB = 50


def test_soak_small_configuration_no_deaths_no_tracebacks(tmp_path):
    import soak

    report = soak.main(["--clients", "4", "--requests", "0", "--good-every", "12", "--max-seconds", "240",
                        "--disk-cap-mb", str(CAP_MB), "--sr8-examples", "1", "--heavy-at-once", "12",
                        "--unread-jobs", "30", "--json", str(tmp_path / "soak.json")])
    assert report["server_alive_throughout"]
    failures = {k: v for k, v in report["by_kind"].items() if v["failed"]}
    assert not failures, failures  # no traceback shown, no silent error, no file served that should not be
    assert not report["scenario_problems"], report["scenario_problems"]
    assert report["kinds_sent"] == report["bad_input_kinds"] + report["good_kinds"]  # every kind was sent
    assert report["bad_input_kinds"] >= 130
    assert report["served"] >= 10 and report["refused_with_message"] >= 130
    assert report["heavy_peak"] <= 2  # one limit on model calls, however they arrive
    flood = report["scenarios"]["disk_flood"]
    assert report["disk_mb"]["max"] <= CAP_MB + flood["largest_request_mb"]  # the cap holds at write time
    assert report["rss_mb"]["peak_over_warm"] < 1024
    unread = report["scenarios"]["unread_jobs"]
    assert unread["normal_result"] == "served" and unread["normal_seconds"] < 30
    assert report["scenarios"]["per_client_cap"]["taken"] <= 4
