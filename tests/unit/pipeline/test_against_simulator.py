"""The exporter against the simulator in one process, no socket: both share a fake clock,
so polls that pace for minutes or span hours run in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from aicode_exporter.app import App
from aicode_sim import Simulator
from tests.support.exposition import RECORD_COUNTERS, parse
from tests.support.fakes import FakeClock, make_app, make_config, sim_transport, tracking_only


@pytest.mark.slow  # over a second of CPU
def test_cursor_at_5_per_minute_never_sees_a_429(tmp_path: Path) -> None:
    """Several poll intervals in virtual time: the simulator and the exporter share a fake
    clock, so a poll that paces for minutes runs in milliseconds."""
    clock = FakeClock(wall_time=datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp())
    sim = Simulator(users=120, repos=6, now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    clock=clock.monotonic)
    cfg = make_config(tmp_path, [{
        "type": "cursor", "name": "sim", "base_url": "http://cursor.sim", "api_key": "sim-key",
        "poll_interval": "1m", "endpoints": {"commits": {"format": "json"},
                                             "changes": {"format": "json"}}}])
    app = make_app(cfg, sim_transport(sim), clock)
    start = clock.monotonic()
    for i in range(6):  # the scheduler's intervals, coalesced when a poll overruns
        app.poller.poll_all_once()
        idle = max(0.0, start + (i + 1) * 60 - clock.mono)
        clock.mono += idle
        clock.wall_time += idle
    app.close()
    statuses = [r.status for r in sim.requests]
    assert 429 not in statuses
    pages = [r for r in sim.requests if r.path.endswith("/changes")]
    assert len(pages) > 10  # enough requests that the limit was really in play
    assert sum(clock.sleeps) >= 60 * (len(pages) - 5) / 5 - 1


@pytest.mark.slow  # over a second of CPU
def test_late_records_are_caught_by_the_lookback(tmp_path: Path) -> None:
    """Polls at T and T+6h count exactly what one fresh read at T+6h of the same span
    counts, although some records committed before T are only ingested after it."""
    t0 = datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp()
    clock = FakeClock(wall_time=t0)
    sim = Simulator(users=60, repos=6, now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    clock=clock.monotonic, cursor_rate_limit_per_minute=0)

    def app(name: str, backfill: str) -> App:
        cfg = make_config(tmp_path / name, [{
            "type": "cursor", "name": "sim", "base_url": "http://cursor.sim",
            "api_key": "sim-key", "lookback": "2d", "initial_backfill": backfill,
            "rate_limit_per_minute": 6000}])
        return make_app(cfg, sim_transport(sim), clock)

    def visible_before_t0() -> int:
        with httpx.Client(transport=sim_transport(sim)) as client:
            r = client.get("http://cursor.sim/analytics/ai-code/commits",
                           auth=("sim-key", ""),
                           params={"startDate": "2026-06-07T12:00:00Z",
                                   "endDate": "2026-06-10T12:00:00Z", "pageSize": 1000})
        return int(r.json()["totalCount"])

    at_t0 = visible_before_t0()
    incremental = app("inc", "3d")
    incremental.poller.poll_all_once()
    first = parse(incremental.publisher.snapshot.text.decode(), RECORD_COUNTERS)
    clock.wall_time = t0 + 6 * 3600
    incremental.poller.poll_all_once()
    clock.wall_time = t0 + 6 * 3600  # the fresh read sees the same "now"
    assert visible_before_t0() > at_t0  # records committed before T, ingested after it
    fresh = app("fresh", "3d6h")
    fresh.poller.poll_all_once()
    got = parse(incremental.publisher.snapshot.text.decode(), RECORD_COUNTERS)
    want = parse(fresh.publisher.snapshot.text.decode(), RECORD_COUNTERS)
    incremental.close()
    fresh.close()
    assert got == want
    assert got != first  # the second poll did add records, late ones among them


def test_once_then_the_daemon_keeps_a_sliding_window_limit(tmp_path: Path) -> None:
    """`--once` and then the daemon (or a restart) on the same state file: the new
    process starts where the last one's requests left each rate bucket, so the vendor's
    5 per minute in any 60 s holds across both (before: the sixth request, a 429)."""
    clock = FakeClock(wall_time=datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp())
    sim = Simulator(users=40, repos=4, now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    clock=clock.monotonic)
    cfg = make_config(tmp_path, [{
        "type": "cursor", "name": "sim", "base_url": "http://cursor.sim", "api_key": "sim-key",
        "initial_backfill": "30h", "backfill_slice": "6h",  # five requests per stream
        "endpoints": tracking_only({"commits": {"format": "csv"},
                                    "changes": {"format": "csv"}})}])
    once = make_app(cfg, sim_transport(sim), clock)
    once.run_once()  # closes it, as --once does
    daemon = make_app(cfg, sim_transport(sim), clock)  # a new process: new buckets
    for _ in range(3):
        daemon.poller.poll_all_once()
        clock.mono += 60
        clock.wall_time += 60
    daemon.close()
    per_path: dict[str, int] = {}
    for r in sim.requests:
        per_path[r.path] = per_path.get(r.path, 0) + 1
    assert all(n >= 6 for n in per_path.values())  # more than one window's worth each
    assert [r.status for r in sim.requests if r.status == 429] == []


def test_every_job_gives_back_its_share_of_the_memory_budget(tmp_path: Path) -> None:
    clock = FakeClock(wall_time=datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp())
    sim = Simulator(users=40, repos=4, now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    clock=clock.monotonic, cursor_rate_limit_per_minute=0)
    cfg = make_config(tmp_path, [{
        "type": "cursor", "name": "sim", "base_url": "http://cursor.sim", "api_key": "sim-key",
        "rate_limit_per_minute": 6000,
        "endpoints": {"commits": {"format": "json"}, "changes": {"format": "json"}}}])
    app = make_app(cfg, sim_transport(sim), clock)
    app.poller.poll_all_once()
    assert app.budget.peak > 0 and app.budget.used == 0
    assert all(c.budget is app.budget for p in app.providers for c in p.clients)
    app.close()
