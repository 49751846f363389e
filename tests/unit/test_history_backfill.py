"""aicode-exporter backfill in one process against the simulator (no socket, fake clock):
the daily gauges are the vendor's per-day values, the counters at past times count the
records with an event time up to then and end at the live value, a second run changes
no counter, and a stream the daemon already counted is left alone."""

from __future__ import annotations

import io
import itertools
import math
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from aicode_exporter import backfill
from aicode_exporter.backfill import Backfill, counter_points, parse_labels, parse_since
from aicode_exporter.pipeline.state import StateStore
from aicode_sim import Simulator
from tests.support import simhistory
from tests.support.exposition import parse
from tests.support.fakes import FakeClock, make_app, make_config, sim_transport

NOW = datetime(2026, 6, 10, 15, 20, tzinfo=UTC)
DAY = 86_400
Series = dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]


class World:
    """A simulator whose data ends 4 hours before NOW, and configs pointing at it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = FakeClock(wall_time=NOW.timestamp())
        frozen = NOW - timedelta(hours=4)
        self.sim = Simulator(users=12, repos=4, days=10, now=lambda: frozen,
                             clock=self.clock.monotonic, cursor_rate_limit_per_minute=0)

    def config(self, **extra: Any) -> Any:
        common = {"name": "acme", "api_key": "sim-key", "base_url": "http://sim",
                  "rate_limit_per_minute": 6000, "backfill_slice": "3d", **extra}
        return make_config(self.tmp, [
            {"type": "qoder", "organization_id": "org_sim", "windows": ["7d"], **common},
            {"type": "cursor", **common}])

    def backfill(self, cfg: Any, since: str = "14d",
                 stop_after: int | None = None) -> tuple[Backfill, str]:
        """Run and write; with `stop_after`, a stop (SIGINT) comes after that many
        requests."""
        until, _ = backfill.parse_until(None, NOW)
        stopping = threading.Event()
        inner = sim_transport(self.sim)
        sent = 0

        def handle(request: httpx.Request) -> httpx.Response:
            nonlocal sent
            sent += 1
            if stop_after is not None and sent >= stop_after:
                stopping.set()
            return inner.handle_request(request)

        b = Backfill(cfg, since=parse_since(since, NOW), until=until,
                     transport=httpx.MockTransport(handle), clock=self.clock.monotonic,
                     wall=self.clock.wall, sleep=self.clock.sleep, now=NOW,
                     stopping=stopping)
        try:
            b.run()
            out = io.BytesIO()
            self.result = b.result(b.write(out, [("job", "aicode")]), 0.0)
        finally:
            b.close()
        return b, out.getvalue().decode()

    def client(self) -> httpx.Client:
        return httpx.Client(transport=sim_transport(self.sim), base_url="http://sim")


def series(text: str) -> Series:
    out: Series = defaultdict(list)
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            assert s.timestamp is not None
            key = (s.name, tuple(sorted(s.labels.items())))
            out[key].append((float(s.timestamp), s.value))
    return out


def total_at(data: Series, name: str, provider: str, t: float) -> float:
    """Sum over a metric's series of the value of the sample at exactly t."""
    got = 0.0
    for (n, labels), points in data.items():
        if n == name and dict(labels)["provider"] == provider:
            got += dict(points)[t]
    return got


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.mark.slow  # over a second of CPU
def test_daily_gauges_are_the_vendors_days_at_the_next_midnight(world: World) -> None:
    b, text = world.backfill(world.config())
    assert all(t.state == "done" for t in b.tasks), [(t.name, t.detail) for t in b.tasks]
    data = series(text)
    with world.client() as c:
        want = simhistory.qoder_daily(c, NOW.timestamp() - 14 * DAY, NOW.timestamp() - DAY)
    commits = dict(data[("aicode_daily_commits", (("job", "aicode"), ("org", "acme"),
                                                  ("provider", "qoder")))])
    dates = dict(data[("aicode_daily_date_timestamp_seconds",
                       (("job", "aicode"), ("org", "acme"), ("provider", "qoder")))])
    assert len(commits) == 14  # the days before today whose next midnight is in range
    assert sum(commits.values()) > 0
    for day, item in want.items():
        if day + DAY in commits:
            assert commits[day + DAY] == item["commitCount"], day
            assert dates[day + DAY] == day
    # A window aggregate: one sample at the last second of each past day.
    share = data[("aicode_ai_share_ratio", (("job", "aicode"), ("org", "acme"),
                                            ("provider", "qoder"), ("window", "7d")))]
    assert {t % DAY for t, _ in share} == {DAY - 1}


@pytest.mark.slow  # over a second of CPU
def test_counters_count_the_records_up_to_each_time_and_end_at_the_live_value(
        world: World, tmp_path: Path) -> None:
    cfg = world.config()
    b, text = world.backfill(cfg)
    data = series(text)
    until = b.until.timestamp()
    with world.client() as c:
        events = simhistory.records(c, NOW.timestamp() - 20 * DAY, NOW.timestamp())
    midnights = [m for m in range(math.ceil(b.since.timestamp() / DAY) * DAY, int(until), DAY)]
    assert len(midnights) == 14
    for (vendor, stream), ev in events.items():
        assert ev.times, (vendor, stream)
        name = "aicode_commits_total" if stream == "commits" else "aicode_changes_total"
        for m in midnights:
            count, lines = ev.before(m)
            assert total_at(data, name, vendor, m) == count, (vendor, stream, m)
            if stream == "changes":
                assert total_at(data, "aicode_change_lines_added_total", vendor, m) == lines
    # Every series: samples at every midnight, the end value is the live counter's.
    app = make_app(cfg, sim_transport(world.sim), world.clock)  # restores, does not poll
    live = parse(app.publisher.render().text,
                 ("aicode_commit", "aicode_change", "aicode_credits", "aicode_usage"))
    app.close()
    ends = {}
    for (name, labels), points in data.items():
        if not name.endswith("_total"):
            continue
        times = [t for t, _ in points]
        assert set(midnights) <= set(times)
        assert all(t % 3600 == 0 for t in times[1:-1])  # midnights and hour ends only
        assert times[-1] == until
        lbl = ",".join(f'{k}="{v}"' for k, v in labels if k != "job")
        ends[f"{name}{{{lbl}}}"] = points[-1][1]
    assert ends == live


@pytest.mark.slow  # two backfills: over a second
def test_a_second_run_counts_nothing_again_and_writes_the_same_past(world: World) -> None:
    cfg = world.config()
    _, first = world.backfill(cfg)
    store = StateStore(cfg.state_path)
    before = {p: store.counters(p, "acme") for p in ("qoder", "cursor")}
    store.close()
    b, second = world.backfill(cfg)
    store = StateStore(cfg.state_path)
    after = {p: store.counters(p, "acme") for p in ("qoder", "cursor")}
    store.close()
    ingested = ("aicode_records_ingested_total",)
    assert {p: {k: v for k, v in c.items() if k[0] not in ingested} for p, c in after.items()} \
        == {p: {k: v for k, v in c.items() if k[0] not in ingested} for p, c in before.items()}
    assert series(first) == series(second)
    # The second run asked only for the overlap of the streams and no past day again.
    assert b.telemetry.sent <= 4 * 2


def test_a_stream_the_daemon_counted_is_left_alone(world: World) -> None:
    cfg = world.config()
    app = make_app(cfg, sim_transport(world.sim), world.clock)
    app.poller.poll_all_once()  # the daemon's first poll: initial_backfill 7d, counted
    app.close()
    store = StateStore(cfg.state_path)
    before = store.counters("cursor", "acme")
    store.close()
    b, text = world.backfill(cfg)
    streams = [t for t in b.tasks if t.kind == "stream"]
    assert streams and all(t.state == "skipped" for t in streams)
    assert "without history, left alone" in streams[0].detail
    store = StateStore(cfg.state_path)
    assert store.counters("cursor", "acme") == before
    store.close()
    data = series(text)
    assert not [n for n, _ in data if n.endswith("_total")]
    assert [n for n, _ in data if n.startswith("aicode_daily_")]


@pytest.mark.slow  # over a second of CPU
def test_a_failing_endpoint_fails_the_run_and_the_rest_is_written(world: World) -> None:
    world.sim.faults.add("/v1/organizations/org_sim/ai-code/stats/daily-trend", status=500,
                         times=1000)
    b, text = world.backfill(world.config())
    states = {t.key[2]: t.state for t in b.tasks if t.key[0] == "qoder"}
    assert states["daily_trend"] == "failed"
    assert states["commits"] == "done"
    assert not world.result.ok
    data = series(text)
    assert not [n for n, _ in data if n.startswith("aicode_daily_commits")]
    assert [n for n, _ in data if n == "aicode_commits_total"]


@pytest.mark.slow  # over a second of CPU
def test_a_stop_ends_the_run_and_the_output_holds_what_was_read(world: World) -> None:
    cfg = world.config()
    b, text = world.backfill(cfg, stop_after=25)
    assert not world.result.ok and world.result.interrupted
    assert {t.state for t in b.tasks} <= {"done", "interrupted"}
    assert "interrupted" in {t.state for t in b.tasks}
    partial = series(text)  # valid OpenMetrics, counters from where they began
    assert partial
    b, text = world.backfill(cfg)  # resumes
    assert world.result.ok
    whole = series(text)
    for key, points in partial.items():
        if key[0].endswith("_total"):  # what was written stays true, up to its last hour
            assert set(points[:-1]) <= set(whole[key]), key


def test_counter_points_are_sparse() -> None:
    h = 3600
    hours = [(0, 1.0), (5 * h, 0.0), (30 * h, 2.0), (47 * h, 4.0)]
    assert counter_points(hours, since=0, until=47.5 * h, complete=True) == [
        (0.0, 0.0), (h, 1.0), (DAY, 1.0), (31 * h, 3.0), (47.5 * h, 7.0)]
    # An earlier end of the output than of the history: only hours ended by then.
    assert counter_points(hours, since=0, until=47.5 * h, complete=False)[-1] == (
        47.5 * h, 3.0)
    # Records before the start (a late record's event time) are in the first value.
    assert counter_points(hours, since=2 * h, until=2 * h, complete=False) == [(2 * h, 1.0)]
    assert counter_points(hours, since=3 * h, until=2 * h, complete=True) == []


def test_fractional_counters_end_at_the_live_value_exactly() -> None:
    # The same cents summed by hour and in record order differ in the last bits; the
    # written series ends at the live value and never decreases on the way.
    h = 3600
    hours = [(0, 0.1), (h, 0.2), (2 * h, 0.3)]
    live = 0.3 + 0.2 + 0.1  # 0.6, where the hourly sum is 0.6000000000000001
    points = counter_points(hours, since=0, until=4 * h, complete=True, end=live)
    assert points[-1] == (4 * h, live)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(points))
    # A live value that is not the same sum (the daemon counted more since) is not used.
    assert counter_points(hours, since=0, until=4 * h, complete=True, end=5.0)[-1][1] < 1


@pytest.mark.parametrize(("text", "error"), [
    ("job", "expected NAME=VALUE"), ("9=x", "not a label name"), ("org=x", "already a label"),
    ("__x=1", "reserved")])
def test_bad_labels_are_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_labels([text])
    assert parse_labels(["job=aicode", "instance=a:1"]) == [("job", "aicode"),
                                                            ("instance", "a:1")]
    with pytest.raises(ValueError, match="given twice"):
        parse_labels(["job=a", "job=b"])


def test_since_and_until() -> None:
    assert parse_since("2026-03-01", NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_since("90d", NOW) == NOW - timedelta(days=90)
    for bad in ("0d", "yesterday", "2026-13-01"):
        with pytest.raises(ValueError, match="--since"):
            parse_since(bad, NOW)
    assert backfill.parse_until("2026-06-01", NOW) == (datetime(2026, 6, 2, tzinfo=UTC), "")
    until, note = backfill.parse_until("2026-06-10", NOW)
    assert until == NOW - timedelta(hours=3) and "head block" in note
    assert backfill.parse_until(None, NOW) == (NOW - timedelta(hours=3), "")
