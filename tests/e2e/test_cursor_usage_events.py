"""Cursor's usage events, whose identity the exporter builds itself, counted exactly once
through a kill -9 in the middle of the first read: the restart's counters equal an
uninterrupted run's and the simulator's true totals."""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aicode_exporter.vendors.cursor.config import ENDPOINTS
from aicode_sim import Simulator
from tests.support.exposition import parse, same_totals, usage_counters
from tests.support.processes import exporter_cmd, wait_for, write_config


@pytest.mark.parametrize("kill_after_requests", [2, 6])
def test_sigkill_mid_read_then_restart_counts_each_event_once(tmp_path: Path,
                                                             kill_after_requests: int) -> None:
    frozen = datetime.now(UTC).replace(microsecond=0)
    sim = Simulator(users=120, repos=5, days=3, now=lambda: frozen,
                    vendor_options={"cursor": {"usage_events_per_minute": 0}})
    sim.start()

    def events_requests() -> int:
        return sum(1 for r in sim.requests if r.path == "/teams/filtered-usage-events")

    try:
        def config(name: str) -> Path:
            endpoints = {ep: {"enabled": ep == "usage_events"} for ep in ENDPOINTS}
            endpoints["usage_events"]["rate_limit_per_minute"] = 300
            return write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", [{
                "type": "cursor", "name": "sim", "base_url": sim.url, "api_key": "sim-key",
                "initial_backfill": "7d", "endpoints": endpoints}])

        clean = subprocess.run(exporter_cmd("--config.file", str(config("clean")), "--once"),
                               capture_output=True, timeout=120, check=True)
        expected = usage_counters(clean.stdout)
        assert events_requests() > kill_after_requests + 3  # the kill lands mid-read

        before = events_requests()
        proc = subprocess.Popen(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: events_requests() - before >= kill_after_requests
                 or proc.poll() is not None, 60, "requests before the kill")
        proc.kill()
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the read ended before it could be killed"
        resumed = subprocess.run(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                 capture_output=True, timeout=120, check=True)
    finally:
        sim.stop()
    now = int(frozen.timestamp() * 1000)
    truth = sim.api("cursor").admin.usage_totals(0, now, now)
    assert same_totals(expected, truth) and expected
    assert same_totals(usage_counters(resumed.stdout), truth)


def test_the_demo_fills_every_cursor_metric_without_a_429(tmp_path: Path) -> None:
    from aicode_exporter.expose.catalog import USAGE_COUNTERS
    from aicode_exporter.vendors.cursor import VENDOR
    from tests.support.processes import free_port, get, running

    wanted = ({s.name for s in VENDOR.specs} | set(VENDOR.sources)
              | {c.name for c in USAGE_COUNTERS})
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"

    def cursor_series() -> dict[str, float]:
        r = get(url)
        return {k: v for k, v in parse(r.text).items()
                if 'provider="cursor"' in k} if r else {}

    with running(exporter_cmd("demo", "--poll-interval", "5s", "--web.listen-address",
                              f"127.0.0.1:{port}"), tmp_path / "demo.log") as proc:
        got = wait_for(lambda: (s := cursor_series())
                       and wanted <= {k.split("{")[0] for k in s} and s, 60,
                       "every Cursor metric")
        # a few polls later: every endpoint still up, nothing rate limited
        wait_for(lambda: (s := cursor_series())
                 and s.get('aicode_api_requests_total{code="304",endpoint="dau",org="demo",'
                           'provider="cursor"}', 0) >= 3 and s, 60, "revalidated polls")
        last = cursor_series()
        assert proc.poll() is None
    assert got
    ups = {k: v for k, v in last.items() if k.startswith("aicode_up{")}
    # the tracking streams may still be on their first 5-a-minute backfill
    analytics_admin = {k: v for k, v in ups.items()
                       if 'endpoint="commits"' not in k and 'endpoint="changes"' not in k}
    assert len(analytics_admin) == 14 and set(ups.values()) == {1.0}, ups
    assert not [k for k in last if 'code="429"' in k]
