"""Streams read in slices: a kill mid-backfill resumes where it stopped, steady-state
polls cost requests in proportion to new records, and the deep re-read counts a record
the vendor ingested late exactly once."""

from __future__ import annotations

import bisect
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from tests.support.fakes import FakeClock, cursor_config, make_app

HOUR = 3600.0
DAY = 24 * HOUR


class TimedVendor:
    """Cursor's changes list, filtered on createdAt like the real one; a record exists
    only from its `visible` time on (ingested late), and every request is logged."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.records: list[tuple[float, float, str]] = []  # (created, visible, id)
        self.requests: list[tuple[float, float]] = []
        self.fail_after: int | None = None
        self._sorted: list[tuple[float, float, str]] | None = None

    def add(self, created: float, rid: str, visible: float | None = None) -> None:
        self.records.append((created, created if visible is None else visible, rid))

    def _between(self, start: float, end: float) -> list[tuple[float, float, str]]:
        if self._sorted is None or len(self._sorted) != len(self.records):
            self._sorted = sorted(self.records)
        lo = bisect.bisect_left(self._sorted, (start,))
        hi = bisect.bisect_right(self._sorted, (end, math.inf))
        return self._sorted[lo:hi]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail_after is not None and len(self.requests) >= self.fail_after:
            raise KeyboardInterrupt  # the process dies mid-backfill: nothing after this runs
        p = request.url.params
        start = datetime.fromisoformat(p["startDate"]).timestamp()
        end = datetime.fromisoformat(p["endDate"]).timestamp()
        self.requests.append((start, end))
        now = self.clock.wall()
        items = [{"changeId": rid, "userId": "u1", "source": "TAB", "model": "m",
                  "totalLinesAdded": 1, "totalLinesDeleted": 0,
                  "createdAt": datetime.fromtimestamp(c, UTC).isoformat()}
                 for c, v, rid in self._between(start, end) if v <= now]
        size, page = int(p["pageSize"]), int(p["page"])
        chunk = items[(page - 1) * size:page * size]
        return httpx.Response(200, json={"items": chunk, "totalCount": len(items),
                                         "page": page, "pageSize": size})


def config(tmp_path: Path) -> Any:
    return cursor_config(tmp_path, rate_limit_per_minute=6000, poll_interval="5m",
                         endpoints={"commits": {"enabled": False},
                                    "changes": {"format": "json"}})


def app_for(tmp_path: Path, vendor: TimedVendor, clock: FakeClock) -> App:
    return make_app(config(tmp_path), vendor, clock)


def changes_total(app: App) -> float:
    for line in app.publisher.render().text.decode().splitlines():
        if line.startswith('aicode_records_ingested_total{') and 'stream="changes"' in line:
            return float(line.rpartition(" ")[2])
    return 0.0


def populate(vendor: TimedVendor, now: float, per_day: int = 30, days: int = 7) -> None:
    for d in range(days):
        for i in range(per_day):
            vendor.add(now - (d + 1) * DAY + (i + 0.5) * DAY / per_day, f"c{d}-{i}")


def test_kill_mid_backfill_resumes_from_the_last_committed_slice(tmp_path: Path) -> None:
    clock = FakeClock()
    straight = TimedVendor(clock)
    populate(straight, clock.wall())
    whole = app_for(tmp_path / "straight", straight, clock)
    whole.poller.poll_all_once()
    expected = changes_total(whole)
    full_requests = len(straight.requests)
    whole.close()
    assert expected == 7 * 30 and full_requests == 7  # one page per one-day slice

    killed = TimedVendor(clock)
    killed.records = list(straight.records)
    killed.fail_after = 4  # dies while asking for the fifth slice
    first = app_for(tmp_path / "killed", killed, clock)
    with pytest.raises(KeyboardInterrupt):
        first.poller.poll_all_once()
    first.close()

    resumed = TimedVendor(clock)
    resumed.records = list(straight.records)
    second = app_for(tmp_path / "killed", resumed, clock)
    assert changes_total(second) == 4 * 30  # four slices were committed before the kill
    second.poller.poll_all_once()
    # Only what was left: 3 days plus `overlap` before the watermark (a 10-minute tail).
    assert len(resumed.requests) == full_requests - 4 + 1
    assert resumed.requests[0][0] == pytest.approx(clock.wall() - 3 * DAY - 600, abs=1)
    assert changes_total(second) == expected
    second.close()


def test_steady_state_requests_follow_new_records_and_deep_reread_counts_late_ones(
        tmp_path: Path) -> None:
    clock = FakeClock()
    vendor = TimedVendor(clock)
    populate(vendor, clock.wall())
    app = app_for(tmp_path, vendor, clock)
    app.poller.poll_all_once()
    assert changes_total(app) == 210
    for poll in range(1, 11):  # 50 minutes of 5-minute polls, 3 new records each
        clock.wall_time += 300
        clock.mono += 300
        for i in range(3):
            vendor.add(clock.wall() - 60 * (i + 1), f"new{poll}-{i}")
        before = len(vendor.requests)
        app.poller.poll_all_once()
        # One request over [watermark - overlap, now]: nothing like the 2d lookback.
        assert len(vendor.requests) - before == 1
        assert vendor.requests[-1][1] - vendor.requests[-1][0] == pytest.approx(900, abs=1)
    assert changes_total(app) == 210 + 30

    # A record from 3 hours ago that the vendor only ingests now: the hot read misses it.
    clock.wall_time += 300
    clock.mono += 300
    vendor.add(clock.wall() - 3 * HOUR, "late", visible=clock.wall())
    app.poller.poll_all_once()
    assert changes_total(app) == 240
    # The deep re-read (lookback_interval 1h after the backfill) finds it, once.
    for _ in range(2):
        clock.wall_time += HOUR
        clock.mono += HOUR
        before = len(vendor.requests)
        app.poller.poll_all_once()
        assert len(vendor.requests) - before >= 2  # the hot read plus the 2d re-read slices
    assert changes_total(app) == 241
    lines = app.publisher.render().text.decode()
    assert 'aicode_records_duplicate_total{org="acme",provider="cursor",stream="changes"}' in lines
    app.close()


def test_state_file_of_schema_1_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(tmp_path / "state.db")
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE streams (provider TEXT NOT NULL, org TEXT NOT NULL, stream TEXT NOT NULL,
          watermark REAL, newest_record REAL, PRIMARY KEY (provider, org, stream));
        INSERT INTO streams VALUES ('cursor', 'acme', 'changes', 1749000000.0 - 3600, NULL);
    """)
    db.commit()
    db.close()
    clock = FakeClock()
    vendor = TimedVendor(clock)
    app = app_for(tmp_path, vendor, clock)
    app.poller.poll_all_once()
    # Resumed from the old watermark: one hour plus overlap, one slice.
    assert len(vendor.requests) == 1
    assert vendor.requests[0][0] == pytest.approx(clock.wall() - 3600 - 600, abs=1)
    app.close()


@pytest.mark.slow  # over a second of CPU
def test_deep_reread_slices_are_sized_to_fit_the_run_when_reads_are_slow(
        tmp_path: Path) -> None:
    """At one request a minute a day of 8,000 records takes 8 minutes to read, and a run
    has 4.5: one-day deep slices would hold the stream (and its next catch-up) up to 8
    minutes past its deadline. Slices sized from the backfill's timing take about a
    quarter of a run each, none starts that would likely end past the deadline, and
    everything is still counted once."""
    clock = FakeClock()
    vendor = TimedVendor(clock)
    populate(vendor, clock.wall(), per_day=8000, days=3)
    cfg = cursor_config(tmp_path, rate_limit_per_minute=1, poll_interval="5m",
                        endpoints={"commits": {"enabled": False},
                                   "changes": {"format": "json"}})
    app = make_app(cfg, vendor, clock)
    app.poller.poll_all_once()  # the 7-day backfill, one-day slices
    assert changes_total(app) == 24000
    clock.wall_time += HOUR  # the deep re-read is due
    clock.mono += HOUR
    deep: list[tuple[float, float]] = []
    runs: list[float] = []
    for _ in range(30):
        before, t0, now = len(vendor.requests), clock.monotonic(), clock.wall()
        app.poller.poll_all_once()
        runs.append(clock.monotonic() - t0)
        deep += [r for r in vendor.requests[before:] if r[0] < now - 2 * HOUR]  # not hot
        if deep and app.store.stream_state("cursor", "acme", "changes").deep_resume is None:
            break  # the deep re-read ran to its end
        clock.wall_time += 300
        clock.mono += 300
    assert deep[-1][1] > deep[0][0] + 47 * HOUR  # all of the 2-day lookback was read
    assert len(runs) >= 4  # over several runs, each stopping at its deadline
    assert max(end - start for start, end in deep) < 6 * HOUR  # not one-day slices
    # Each run ends before the next is due (300 s), so no run is skipped: a slice is not
    # started when the last one's duration would take it past the 270 s deadline.
    assert max(runs) < 300, runs
    assert changes_total(app) == 24000  # re-reading two days counted nothing twice
    app.close()
