"""bench/scale.py on a tiny organisation: two virtual hours in a few seconds, its JSON
output complete and every target met."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "scale.py"

AGGREGATES = ["qoder/acme/overview", "qoder/acme/daily_trend", "qoder/acme/member_ranking",
              "qoder/acme/repos", "qoder/acme/file_extensions", "qoder/acme/members",
              "qoder/acme/resource_packages"]
STREAMS = ["qoder/acme/commits", "qoder/acme/changes", "qoder/acme/credits",
           "cursor/acme/commits", "cursor/acme/changes"]
# In the order the poller schedules them (each provider's known endpoints, in order).
ORDER = [*AGGREGATES[:5], *STREAMS[:2], *AGGREGATES[5:], *STREAMS[2:]]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # seconds of real threads / a bench run
def test_tiny_run_meets_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    code = bench.main(["--users", "50", "--repos", "20", "--hours", "2", "--procs", "1",
                       "--json"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0
    assert res["passed"] is True
    assert set(res) >= {"settings", "endpoints", "lag_samples", "targets", "wall_seconds"}
    assert res["settings"]["users"] == 50 and res["settings"]["hours"] == 2
    assert list(res["endpoints"]) == ORDER

    for ep, e in res["endpoints"].items():
        req, runs = e["requests"], e["runs"]
        assert req["rate_limited"] == 0, ep
        assert 0 < req["peak_60s"] <= req["limit_60s"], ep
        assert runs["failed"] == 0, ep
        # Two hours of five-minute polls: a run at every grid point (or coalesced).
        assert runs["runs"] + runs["coalesced"] == 24, ep
        assert e["stream"] == (ep in STREAMS)
    for ep in AGGREGATES:
        assert res["endpoints"][ep]["runs"]["max_staleness"] <= 600
    for ep in STREAMS:
        st = res["endpoints"][ep]["stream_stats"]
        assert st["pages"] >= 7  # one request at least per day of the 7-day backfill
        assert 0 < st["backfill_seconds"] <= 1.1 * st["bound"]
        assert st["max_lag"] is not None and st["max_lag"] < 900
        samples = res["lag_samples"]["lag"][ep]
        assert len(samples) == len(res["lag_samples"]["at"]) == 9  # every 15m, both ends
        assert samples[0] is None  # nothing committed before the first run
        assert all(s is not None and s <= 600 for s in samples[1:])
        peaks = res["lag_samples"]["peak"][ep]  # highest lag per 15m window
        assert peaks[0] is None and peaks[1] >= 6 * 86400  # the backfill starts 7d back
        assert all(p is not None and p <= 600 for p in peaks[2:])

    targets = {(t["endpoint"], t["name"]) for t in res["targets"]}
    assert len(targets) == len(res["targets"]) == (2 * len(ORDER) + len(AGGREGATES)
                                                   + 2 * len(STREAMS))
    assert all(t["ok"] for t in res["targets"])


def test_the_tables_name_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    assert bench.main(["--users", "20", "--repos", "5", "--hours", "0.5", "--procs", "1",
                       "--only", "cursor/"]) == 0
    out = capsys.readouterr().out
    for title in ("Requests", "Runs and staleness", "Initial backfill", "Stream lag"):
        assert title in out
    assert "cursor/acme/changes" in out and "qoder/" not in out
    assert "FAIL" not in out and "PASS" in out
