"""bench/cursor_api.py on a small team: an hour of virtual time in seconds, its JSON
complete and every target met."""

from __future__ import annotations

import json

import pytest

from tests.support.bench import load


@pytest.mark.slow  # seconds of CPU
def test_a_small_run_meets_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load("cursor_api")
    assert bench.main(["--users", "30", "--hours", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["passed"] is True and res["settings"]["users"] == 30
    assert set(res["buckets"]) == set(bench.LIMITS)
    assert all(0 < b["peak_per_minute"] <= b["limit"] for b in res["buckets"].values())
    assert all(r["rate_limited"] == 0 for r in res["requests"].values())
    assert res["requests"]["/teams/filtered-usage-events"]["not_modified"] == 0
    assert res["requests"]["/analytics/team/dau"]["not_modified"] > 0


def test_the_table_names_every_endpoint_and_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load("cursor_api")
    assert bench.main(["--users", "5", "--hours", "0.1"]) == 0
    out = capsys.readouterr().out
    for name in ("dau", "usage_events", "spend", "analytics_team", "/teams/spend"):
        assert name in out
    assert "FAIL" not in out and out.rstrip().endswith("PASS")
