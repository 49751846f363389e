"""A default Cursor provider against the simulator, in one process, on a fake clock shared
by both: every endpoint at its own interval for hours of virtual time draws no 429 from
the simulator's documented limits; the usage-event counters equal the simulator's true
totals across overlapping polls, late events, twins and a restart; a key refused by one
endpoint takes down that endpoint only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aicode_exporter.app import App
from aicode_sim import Simulator
from tests.support.bench import load
from tests.support.exposition import parse, same_totals, usage_counters
from tests.support.fakes import FakeClock, make_app, make_config, sim_transport

T0 = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)
OP = 'org="sim",provider="cursor"'
DAY_MS = 86_400_000


def simulator(clock: FakeClock, users: int = 60, **options: Any) -> Simulator:
    return Simulator(seed=7, users=users, repos=6, days=20, clock=clock.monotonic,
                     now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                     vendor_options={"cursor": options} if options else None)


def provider(**overrides: Any) -> dict[str, Any]:
    """A Cursor entry at its defaults: every endpoint, Cursor's own limits."""
    return {"type": "cursor", "name": "sim", "base_url": "http://cursor.sim",
            "api_key": "sim-key", **overrides}


def load_bench() -> ModuleType:
    """bench/cursor_api.py: its virtual-time scheduler, run and analysis."""
    return load("cursor_api")


def run_for(app: App, clock: FakeClock, hours: float) -> None:
    load_bench().schedule(app, clock, hours)


@pytest.mark.slow  # three virtual hours of every endpoint: seconds of CPU
def test_a_default_provider_never_draws_a_429() -> None:
    """Per-user data and a teams map on, every endpoint on its own schedule: the bench's
    run on a small team, every target met."""
    bench = load_bench()
    result = bench.run(bench.Settings(users=60, hours=3))
    res = bench.analyse(result)
    assert res["passed"], bench.render(res)
    statuses = Counter(status for _, _, status in result.log)
    assert statuses[429] == 0 and set(statuses) <= {200, 304}, statuses
    assert statuses[304] > 0  # the Analytics ETags at work
    assert set(res["endpoints"]) == {
        "dau", "tabs", "agent_edits", "models", "top_file_extensions", "client_versions",
        "leaderboard", "by_user_models", "by_user_client_versions", "members", "spend",
        "groups", "daily_usage", "usage_events"}
    assert all(e["runs"] and not e["failed"] for e in res["endpoints"].values())
    # hourly endpoints: the first run, then once an hour
    assert res["endpoints"]["daily_usage"]["runs"] == 4
    assert res["endpoints"]["spend"]["runs"] == 13  # every 15 minutes for 3 hours


def usage_only(**overrides: Any) -> dict[str, Any]:
    from aicode_exporter.vendors.cursor.config import ENDPOINTS

    return provider(endpoints={ep: {"enabled": ep == "usage_events"} for ep in ENDPOINTS},
                    **overrides)






@pytest.mark.slow  # seven virtual hours of hourly polls: over a second of CPU
def test_usage_counters_equal_the_true_totals_across_polls_and_a_restart(
        tmp_path: Path) -> None:
    clock = FakeClock(wall_time=T0.timestamp())
    sim = simulator(clock, users=20)
    cursor = sim.api("cursor")
    start_ms = int(T0.timestamp() * 1000) - 7 * DAY_MS  # initial_backfill 7d

    def truth() -> dict[str, float]:
        now = int(clock.wall_time * 1000)
        return cursor.admin.usage_totals(start_ms, now, now)

    cfg = make_config(tmp_path, [usage_only()])
    app = make_app(cfg, sim_transport(sim), clock)
    run_for(app, clock, hours=5)  # hourly polls: each reads again what the last one read
    app.close()
    counted = usage_counters(app.publisher.render().text)
    assert same_totals(counted, truth()) and counted
    late = parse(app.publisher.render().text)
    assert late[f'aicode_records_duplicate_total{{{OP},stream="usage_events"}}'] > 0
    # a restart: the same state, the events read again, nothing counted twice
    again = make_app(cfg, sim_transport(sim), clock)
    clock.wall_time += 1800
    clock.mono += 1800
    run_for(again, clock, hours=2)
    again.close()
    assert same_totals(usage_counters(again.publisher.render().text), truth())
    assert usage_counters(again.publisher.render().text) != counted  # more events since


def test_a_key_refused_by_one_endpoint_downs_only_that_one(tmp_path: Path) -> None:
    clock = FakeClock(wall_time=T0.timestamp())
    sim = simulator(clock, users=20, forbidden=["/analytics/by-user/"])
    cfg = make_config(tmp_path, [provider(initial_backfill="1d")], {"per_user_counters": True})
    app = make_app(cfg, sim_transport(sim), clock)
    app.poller.poll_all_once()
    app.close()
    ups = {k: v for k, v in parse(app.publisher.render().text).items()
           if k.startswith("aicode_up{")}
    down = {k for k, v in ups.items() if v == 0}
    assert down == {f'aicode_up{{endpoint="by_user_models",{OP}}}',
                    f'aicode_up{{endpoint="by_user_client_versions",{OP}}}'}
    error = app.telemetry.statuses()[("cursor", "sim", "by_user_models")].last_error
    assert "Enterprise access required" in error and "admin:* scope" in error
