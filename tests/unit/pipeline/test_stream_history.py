"""The backfill's hook in the StreamJob: each counted record's deltas also filed by the
hour of its event time, in the slice's own transaction, and nothing filed twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aicode_exporter.config.base import UsersConfig
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.jobs import PollContext
from aicode_exporter.pipeline.records import Change, StreamRecord, User
from aicode_exporter.pipeline.state import StateStore
from aicode_exporter.pipeline.streams import StreamJob, StreamTiming
from aicode_exporter.toolkit.http.csvstream import Skipped

T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
H = 3600.0


def change(rid: str, ts: float, added: float = 10.0, created: float | None = None) -> Change:
    return Change(id=rid, ts=ts, created=ts if created is None else created, source="TAB",
                  model="m", user=User("u1"), added=added, deleted=1.0, files=())


class Vendor:
    """Returns the records whose creation time falls in the read's range."""

    def __init__(self, records: list[Change]) -> None:
        self.records = records
        self.reads: list[tuple[float, float]] = []

    def __call__(self, start: datetime, end: datetime) -> Iterator[StreamRecord | Skipped]:
        self.reads.append((start.timestamp(), end.timestamp()))
        return iter([r for r in self.records
                     if start.timestamp() <= r.created < end.timestamp()])


def job(store: StateStore, vendor: Vendor, history_from: float | None) -> StreamJob:
    timing = StreamTiming(lookback=timedelta(days=2), lookback_interval=timedelta(hours=1),
                          overlap=timedelta(minutes=10), initial_backfill=timedelta(days=1),
                          backfill_slice=timedelta(hours=6))
    return StreamJob(vendor="v", org="o", stream="changes", fetch=vendor, store=store,
                     specs=[c.spec() for c in catalog.CHANGE_COUNTERS], timing=timing,
                     users=UsersConfig(), clock=lambda: 0.0, history_from=history_from)


def run(j: StreamJob, now: float) -> None:
    outcome = j.run(PollContext(now=datetime.fromtimestamp(now, UTC), deadline=1e9),
                    deep=False)
    assert not outcome.failures


def history(store: StateStore) -> dict[tuple[str, tuple[str, ...], int], float]:
    return {(s.metric, s.labels, h): d for s in store.history_series() for h, d in s.hours}


def test_deltas_are_filed_by_event_hour_and_add_up_to_the_counters(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    records = [change("a", T0 + 0.5 * H), change("b", T0 + 0.99 * H, added=5),
               change("c", T0 + 1 * H), change("d", T0 + 30 * H, added=7)]
    run(job(store, Vendor(records), history_from=T0), now=T0 + 40 * H)
    got = history(store)
    lines, count = catalog.CHANGE_LINES_ADDED.name, catalog.CHANGES.name
    key = ("tab", "m")
    assert got[(lines, key, int(T0))] == 15  # a and b: the first hour
    assert got[(lines, key, int(T0 + H))] == 10
    assert got[(lines, key, int(T0 + 30 * H))] == 7
    assert got[(count, key, int(T0))] == 2
    totals = store.counters("v", "o")
    for metric in (lines, count, catalog.CHANGE_LINES_DELETED.name):
        assert sum(d for (m, lbl, _), d in got.items() if m == metric) == \
            totals[(metric, key)]
    # The stream's span: from where its first read began to its last watermark.
    span = store.history_span("v", "o", "changes")
    assert span is not None
    assert (span.since, span.until) == (T0, T0 + 40 * H)
    # Bookkeeping counters (ingested, duplicate...) are not history.
    assert {m for m, _, _ in got} == {c.name for c in catalog.CHANGE_COUNTERS
                                      if c.name in {m for m, _ in totals}}


def test_a_resumed_read_files_nothing_twice_and_keeps_the_first_start(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    records = [change(f"r{i}", T0 + i * 1.7 * H) for i in range(30)]
    vendor = Vendor(records)
    run(job(store, vendor, history_from=T0), now=T0 + 24 * H)
    first = history(store)
    # A second run (after a kill, or later) re-reads the overlap, then goes on.
    run(job(store, vendor, history_from=T0 + 20 * H), now=T0 + 60 * H)
    got = history(store)
    assert all(got[k] == v for k, v in first.items() if k[2] < T0 + 23 * H)
    count = catalog.CHANGES.name
    assert sum(d for (m, _, _), d in got.items() if m == count) == 30
    assert store.counters("v", "o")[(count, ("tab", "m"))] == 30
    span = store.history_span("v", "o", "changes")
    assert span is not None and (span.since, span.until) == (T0, T0 + 60 * H)


def test_a_record_stamped_after_the_read_is_filed_in_the_reads_last_hour(
        tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    end = T0 + 5.5 * H
    # created inside the read, stamped three hours in the future (a clock running ahead)
    records = [change("future", end + 3 * H, created=T0 + 2 * H)]
    run(job(store, Vendor(records), history_from=T0), now=end)
    assert set(history(store).values()) >= {1.0}
    assert {h for _, _, h in history(store)} == {int(T0 + 5 * H)}


def test_the_daemon_keeps_no_history(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    run(job(store, Vendor([change("a", T0 + H)]), history_from=None), now=T0 + 10 * H)
    assert store.counters("v", "o")[(catalog.CHANGES.name, ("tab", "m"))] == 1
    assert history(store) == {}
    assert store.history_span("v", "o", "changes") is None


def test_the_backfill_starts_a_fresh_stream_at_history_from(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    vendor = Vendor([])
    run(job(store, vendor, history_from=T0 - 20 * 24 * H), now=T0)
    assert vendor.reads[0][0] == T0 - 20 * 24 * H  # not initial_backfill (1d)
    assert vendor.reads[-1][1] == T0
