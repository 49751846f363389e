"""aicode-exporter backfill: the vendors' past as OpenMetrics with timestamps, for
`promtool tsdb create-blocks-from openmetrics`, continuous with the live series.

Every configured provider is read through the capabilities its vendor declares, each
(provider, endpoint) in its own thread, paced by the same ApiClient buckets as the daemon:

- daily reports (`aicode_daily_*`): each past day d in slices of the report's max_days;
  one sample per day at d+1 00:00 UTC, where the live gauges start showing d (they show
  the newest complete day during the following day);
- poll jobs that answer for a past time (Endpoint.history, window aggregates): run as a
  poll at the last second of each past day would have, one sample there;
- record streams: counted into the state file by the StreamJob (the one counting path,
  exactly once), which also keeps each record's deltas by event hour. The value written
  for a time t is what the counter had counted of records up to t: the live counter's
  value at start less what came after t, so the daemon started on the same state file
  continues the series where it ends. Samples at every UTC midnight, at the end of every
  hour that changed something, and at the start and end of the history.

Everything read is kept in the state file (points, history, watermarks) as it arrives, so
an interrupted run resumes where it stopped; the output is written from the state file at
the end. Nothing later than `until` (by default now less SAFETY_MARGIN: Prometheus's head
block) is written.

A stream already counted by the daemon without history is left alone: counting older
records into it would make the live counter jump at the next start, and its history
could only be written below what Prometheus already holds. Only a stream's first count
(on a fresh state file) can carry its history.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

import httpx

from aicode_exporter.app import open_state, team_map
from aicode_exporter.config.base import MAX_WINDOW
from aicode_exporter.config.file import Config
from aicode_exporter.durations import parse_duration
from aicode_exporter.errors import Cancelled, ConfigError, VendorError
from aicode_exporter.expose import catalog
from aicode_exporter.expose.history import (
    HistorySink,
    HistoryStats,
    HistoryWriter,
    check_label_name,
)
from aicode_exporter.expose.remotewrite import RemoteWriteError, RemoteWriter
from aicode_exporter.expose.telemetry import EndpointKey, Telemetry
from aicode_exporter.pipeline.daily import DailyJob, day_ranges
from aicode_exporter.pipeline.jobs import Endpoint, PollContext
from aicode_exporter.pipeline.poller import interruptible_sleep
from aicode_exporter.pipeline.state import HOUR, CounterKey, HistorySeries, HistorySpan
from aicode_exporter.pipeline.streams import StreamJob
from aicode_exporter.toolkit.families import Family, LabelValues, Spec
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.registry import (
    all_specs,
    daily_jobs,
    make_api,
    stream_jobs,
    vendors,
)

logger = logging.getLogger(__name__)

DAY = 86_400
# Prometheus's head block holds the last 2-3 hours and is still being written: blocks
# must not overlap it.
BACKFILL_MAX_WAIT = 3600.0  # seconds one request may wait for a slot or a Retry-After
SAFETY_MARGIN = timedelta(hours=3)
# The longest a past aggregate's request may wait (for its turn in the rate bucket, a
# retry or a vendor's Retry-After) before that day counts as failed.
POINT_DEADLINE = 600.0
PROGRESS_EVERY_TTY = 1.0
PROGRESS_EVERY = 30.0


# -- the command line's times -----------------------------------------------------------

def parse_since(text: str, now: datetime) -> datetime:
    """`90d` (before now) or `YYYY-MM-DD` (00:00 UTC that day); ValueError otherwise."""
    text = text.strip()
    try:
        d = date.fromisoformat(text)
    except ValueError:
        try:
            back = parse_duration(text)
        except ValueError:
            raise ValueError(f"--since {text!r}: expected a duration such as 90d or a "
                             "date YYYY-MM-DD") from None
        if back <= timedelta(0):
            raise ValueError(f"--since {text!r}: must reach back more than 0") from None
        return (now - back).replace(microsecond=0)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def parse_until(text: str | None, now: datetime) -> tuple[datetime, str]:
    """(end of the history, a note when it was cut): `YYYY-MM-DD` means to the end of that
    day, a duration that long before now; never later than now less SAFETY_MARGIN."""
    latest = (now - SAFETY_MARGIN).replace(microsecond=0)
    if text is None:
        return latest, ""
    text = text.strip()
    try:
        d = date.fromisoformat(text)
        until = datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1)
    except ValueError:
        try:
            until = now - parse_duration(text)
        except ValueError:
            raise ValueError(f"--until {text!r}: expected a date YYYY-MM-DD or a duration "
                             "such as 7d") from None
    if until > latest:
        return latest, (f"--until {text}: cut to {_iso(latest.timestamp())}, "
                        f"{_span(SAFETY_MARGIN.total_seconds())} before now (Prometheus's "
                        "head block); the daemon covers what comes after")
    return until.replace(microsecond=0), ""


def parse_labels(items: Sequence[str]) -> list[tuple[str, str]]:
    """`NAME=VALUE` pairs for every series; ValueError naming the bad one."""
    taken = {n for s in all_specs() for n in s.labelnames}
    out: list[tuple[str, str]] = []
    for item in items:
        name, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"--label {item!r}: expected NAME=VALUE")
        why = check_label_name(name)
        if why:
            raise ValueError(f"--label {item!r}: {why}")
        if name in taken:
            raise ValueError(f"--label {item!r}: {name!r} is already a label of the "
                             "exporter's metrics")
        if name in {n for n, _ in out}:
            raise ValueError(f"--label {item!r}: {name!r} given twice")
        out.append((name, value))
    return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


# -- families kept in the state file ----------------------------------------------------

def dump_families(families: Iterable[Family]) -> str:
    """Families as JSON (NaN and infinities as JSON's extensions, which loads reads); the
    HELP is the catalogue's when written, so it is not kept."""
    return json.dumps([[f.spec.name, f.spec.kind, list(f.spec.labelnames),
                        [[list(v), x] for v, x in f.samples]] for f in families],
                      separators=(",", ":"))


def load_families(text: str) -> list[Family]:
    return [Spec(name, kind, name, tuple(labelnames)).family(
        (tuple(v), float(x)) for v, x in samples)
        for name, kind, labelnames, samples in json.loads(text)]


# -- what is read -----------------------------------------------------------------------

class CountingTelemetry(Telemetry):
    """Telemetry that also counts every request sent, for the progress line."""

    def __init__(self, wall: Callable[[], float]) -> None:
        super().__init__(wall=wall)
        self.sent = 0

    def request(self, key: EndpointKey, code: str) -> None:
        super().request(key, code)
        with self._lock:
            self.sent += 1


@dataclass
class Task:
    """One (provider, endpoint) of the backfill and how far it got."""

    key: EndpointKey
    kind: str  # daily | aggregate | stream
    days: float  # days it covers
    run: Callable[[Task], None] = lambda _t: None
    done: float = 0.0  # days read so far
    started: float | None = None  # monotonic
    state: str = "pending"  # pending | running | done | failed | skipped | interrupted
    detail: str = ""  # what it did, or why it failed or was skipped

    @property
    def name(self) -> str:
        vendor, org, endpoint = self.key
        return f"{vendor}/{org} {endpoint}"


@dataclass
class Result:
    tasks: list[Task]
    stats: HistoryStats
    since: datetime
    until: datetime
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(t.state in ("done", "skipped")
                                            for t in self.tasks)


def _days(a: float, b: float) -> float:
    return max(0.0, (b - a) / DAY)


class Backfill:
    """Reads every provider's past into the state file (run), then writes it (write).
    Holds the state file's lock from construction to close()."""

    def __init__(self, cfg: Config, *, since: datetime, until: datetime,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None,
                 stopping: threading.Event | None = None,
                 now: datetime | None = None) -> None:
        """`now`: the wall time since and until were read against (default: wall())."""
        if since >= until:
            raise ConfigError(f"--since {_iso(since.timestamp())} is not before the end of "
                              f"the history, {_iso(until.timestamp())}")
        self.cfg = cfg
        self.since, self.until = since, until
        self.stopping = stopping or threading.Event()
        self._clock, self._wall = clock, wall
        self._now = (now or datetime.fromtimestamp(wall(), UTC)).timestamp()
        self.telemetry = CountingTelemetry(wall)
        self.notes: list[str] = []
        self.lock, self.store = open_state(cfg)
        self.wiring = Wiring(telemetry=self.telemetry, users=cfg.users, store=self.store,
                             teams=team_map(cfg, wall), transport=transport, clock=clock,
                             wall=wall,
                             sleep=sleep or interruptible_sleep(self.stopping))
        self._apis: list[ApiClient] = []
        self.tasks: list[Task] = []
        try:
            for p in cfg.providers:
                self.tasks += self._provider_tasks(p)
        except BaseException:
            self.close()
            raise

    # -- planning -------------------------------------------------------------------------

    def _provider_tasks(self, cfg: Any) -> list[Task]:
        vendor = vendors()[cfg.type]
        api = make_api(cfg, self.wiring)
        # A backfill waits its turn however long a shared bucket's queue is (Cursor's
        # Analytics endpoints share one); a poll's cap, one interval, is for the daemon.
        api.max_wait = BACKFILL_MAX_WAIT
        self._apis.append(api)
        tasks: list[Task] = []
        first, last = self._day_range()
        ndays = max(0, (last - first).days + 1)
        for report, job in daily_jobs(cfg, api, self.wiring):
            tasks.append(Task((vendor.name, cfg.name, report.name), "daily", ndays,
                              self._daily(job, first, last)))
        endpoints = vendor.jobs(cfg, api, self.wiring) if vendor.jobs else []
        for ep in endpoints:
            if ep.history:
                tasks.append(Task((vendor.name, cfg.name, ep.name), "aggregate", ndays,
                                  self._aggregate(ep, first, last)))
        start = max(self.since.timestamp(), self._now - MAX_WINDOW.total_seconds())
        streams = any(cfg.enabled(s.name) for s in vendor.streams)
        if streams and start > self.since.timestamp() + 60:
            self.notes.append(
                f"{vendor.name}/{cfg.name}: record streams read from {_iso(start)}, "
                f"{MAX_WINDOW.days} days back, not from --since (the vendors' limit)")
        for stream, sjob in stream_jobs(cfg, api, self.wiring, self.store,
                                        history_from=start):
            key = (vendor.name, cfg.name, stream.name)
            span = self.store.history_span(*key)
            st = sjob.state
            task = Task(key, "stream", _days(start, self.until.timestamp()))
            if st.watermark is not None and (span is None or span.until is None
                                             or st.watermark > span.until):
                task.state = "skipped"
                task.detail = (
                    "already counted by the daemon (state file watermark "
                    f"{_iso(st.watermark)}) without history, left alone: its counters stay "
                    "exact; their history needs a backfill before the daemon's first start"
                    if span is None else
                    f"history kept to {_iso(span.until or span.since)}, counted by the "
                    "daemon since: that history is written again, nothing is counted")
            else:
                begun = span.since if span is not None else start
                task.days = _days(begun, self.until.timestamp())
                task.run = self._stream(sjob, begun)
            tasks.append(task)
        return tasks

    def _day_range(self) -> tuple[date, date]:
        """The days d whose sample time, d+1 00:00 UTC, lies in [since, until]."""
        first = date.fromordinal(date(1970, 1, 1).toordinal()
                                 + math.ceil(self.since.timestamp() / DAY) - 1)
        last = date.fromordinal(date(1970, 1, 1).toordinal()
                                + math.floor(self.until.timestamp() / DAY) - 1)
        return first, last

    # -- the three kinds of reads ------------------------------------------------------------

    def _daily(self, job: DailyJob, first: date, last: date) -> Callable[[Task], None]:
        def run(task: Task) -> None:
            vendor, org, endpoint = task.key
            have = set(self.store.points(vendor, org, endpoint))
            todo = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            task.done = float(sum(1 for d in todo if _day_at(d) in have))
            for a, b in _runs([d for d in todo if _day_at(d) not in have]):
                for lo, hi in day_ranges(a, b, job.max_days):
                    self._check_stop()
                    found = job.days(lo, hi, None)
                    self.store.store_points(vendor, org, endpoint, {
                        _day_at(d): dump_families(job.day_families(d, fams))
                        for d, fams in found.items()})
                    task.done += (hi - lo).days + 1
            task.detail = f"{len(self.store.points(vendor, org, endpoint))} days kept"
        return run

    def _aggregate(self, ep: Endpoint, first: date, last: date) -> Callable[[Task], None]:
        def run(task: Task) -> None:
            vendor, org, endpoint = task.key
            have = set(self.store.points(vendor, org, endpoint))
            todo = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            task.done = float(sum(1 for d in todo if _day_at(d) - 1 in have))
            for d in todo:
                at = _day_at(d) - 1  # the last second of day d
                if at in have:
                    continue
                self._check_stop()
                ctx = PollContext(now=datetime.fromtimestamp(at, UTC),
                                  deadline=self._clock() + POINT_DEADLINE,
                                  stopping=self.stopping.is_set)
                outcome = ep.run(ctx)
                if outcome.failures:
                    failure = outcome.failures[0]
                    raise _Failed(f"{d}: {failure}")
                families = [f for part in outcome.parts.values() for f in part]
                self.store.store_points(vendor, org, endpoint, {at: dump_families(families)})
                task.done += 1
            task.detail = f"{len(self.store.points(vendor, org, endpoint))} days kept"
        return run

    def _stream(self, job: StreamJob, begun: float) -> Callable[[Task], None]:
        def run(task: Task) -> None:
            total = max(self.until.timestamp() - begun, 1.0)

            def progress(_done: int, _total: int, watermark: float | None) -> None:
                if watermark is not None:
                    task.done = _days(begun, min(watermark, self.until.timestamp()))
                    task.done = min(task.done, task.days)

            before = self._ingested(task.key)
            ctx = PollContext(now=self.until, deadline=self._clock() + 10 * total,
                              progress=progress, stopping=self.stopping.is_set)
            outcome = job.run(ctx, deep=False)
            if outcome.failures:
                raise _Failed(str(outcome.failures[0]))
            counted = self._ingested(task.key) - before
            span = self.store.history_span(*task.key)
            task.detail = (f"{counted:.0f} records counted now; history from "
                           f"{_iso(span.since if span else begun)} to "
                           f"{_iso(span.until or begun) if span else '-'}")
        return run

    def _ingested(self, key: EndpointKey) -> float:
        vendor, org, stream = key
        return self.store.counters(vendor, org).get(
            (catalog.RECORDS_INGESTED.name, (stream,)), 0.0)

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            raise Cancelled()

    # -- running --------------------------------------------------------------------------

    def run(self, progress: Callable[[Backfill], None] | None = None,
            every: float = PROGRESS_EVERY) -> None:
        """Every task in its own thread; `progress` is called every `every` seconds and
        once at the end."""
        todo = [t for t in self.tasks if t.state == "pending"]
        if not todo:
            if progress:
                progress(self)
            return
        with ThreadPoolExecutor(max_workers=len(todo),
                                thread_name_prefix="backfill") as pool:
            futures: list[Future[None]] = [pool.submit(self._run_task, t) for t in todo]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=every, return_when=FIRST_EXCEPTION)
                if progress:
                    progress(self)

    def _run_task(self, task: Task) -> None:
        task.started = self._clock()
        task.state = "running"
        try:
            task.run(task)
            task.state = "done"
            task.done = task.days
        except Cancelled:
            task.state = "interrupted"
            task.detail = "run the same command again to resume"
        except (VendorError, _Failed) as e:
            task.state = "failed"
            task.detail = str(e)
            logger.warning("backfill failed", extra={"provider": task.key[0],
                                                     "org": task.key[1],
                                                     "endpoint": task.key[2],
                                                     "error": str(e)})
        except Exception as e:  # a bug in one endpoint must not stop the others
            task.state = "failed"
            task.detail = f"internal error: {type(e).__name__}: {e}"
            logger.exception("backfill failed unexpectedly", extra={
                "provider": task.key[0], "org": task.key[1], "endpoint": task.key[2]})

    # -- writing --------------------------------------------------------------------------

    def write(self, out: BinaryIO, labels: Sequence[tuple[str, str]] = ()) -> HistoryStats:
        """Everything the state file holds of [since, until], as OpenMetrics."""
        return self.send(HistoryWriter(out, labels))

    def send(self, writer: HistorySink) -> HistoryStats:
        """Everything the state file holds of [since, until], family by family, to a
        writer (the OpenMetrics file, a remote-write push)."""
        catalogue = {s.name: s for s in all_specs()}
        lo, hi = self.since.timestamp(), self.until.timestamp()
        gauges: dict[str, tuple[Spec, dict[LabelValues, dict[float, float]]]] = {}
        for _p, _o, _e, at, text in self.store.all_points():
            if not lo <= at <= hi:
                continue
            for fam in load_families(text):
                spec = catalogue.get(fam.spec.name, fam.spec)
                series = gauges.setdefault(spec.name, (spec, {}))[1]
                for values, v in fam.samples:
                    series.setdefault(values, {})[at] = v
        for name in sorted(gauges):
            spec, series = gauges[name]
            writer.family(spec, ((values, sorted(points.items()))
                                 for values, points in sorted(series.items())))
        spans: dict[tuple[str, str, str], HistorySpan | None] = {}

        def span_of(s: HistorySeries) -> HistorySpan | None:
            key = (s.provider, s.org, s.stream)
            if key not in spans:
                spans[key] = self.store.history_span(*key)
            return spans[key]

        live: dict[tuple[str, str], dict[CounterKey, float]] = {}

        def live_value(s: HistorySeries) -> float | None:
            key = (s.provider, s.org)
            if key not in live:
                live[key] = self.store.counters(*key)
            return live[key].get((s.metric, s.labels))

        current: str | None = None
        batch: list[tuple[LabelValues, list[tuple[float, float]]]] = []

        def flush() -> None:
            if current is not None and batch:
                spec = catalogue.get(current)
                if spec is not None:
                    writer.family(spec, batch)
                else:  # a counter this version no longer has: its history stays unused
                    logger.warning("history of an unknown metric not written",
                                   extra={"metric": current})

        for s in self.store.history_series():
            if s.metric != current:
                flush()
                current, batch = s.metric, []
            span = span_of(s)
            if span is None:
                continue
            points = counter_points(s.hours, since=max(span.since, lo),
                                    until=min(span.until or span.since, hi),
                                    complete=(span.until or 0) <= hi, end=live_value(s))
            if points:
                batch.append(((s.provider, s.org, *s.labels), points))
        flush()
        return writer.close()

    def result(self, stats: HistoryStats, started: float) -> Result:
        interrupted = self.stopping.is_set() or any(t.state == "interrupted"
                                                    for t in self.tasks)
        return Result(self.tasks, stats, self.since, self.until, list(self.notes),
                      self.telemetry.sent, self._clock() - started, interrupted)

    def close(self) -> None:
        for api in self._apis:
            api.close()
        self.store.close()
        self.lock.release()


class _Failed(Exception):
    """A read that failed; its message names the part (day, time range) and the cause."""


def _day_at(d: date) -> float:
    """Where day d's daily sample goes: 00:00 UTC of the next day."""
    return float(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + DAY)


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days (first, last)."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and out[-1][1] + timedelta(days=1) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def counter_points(hours: Sequence[tuple[int, float]], *, since: float, until: float,
                   complete: bool, end: float | None = None) -> list[tuple[float, float]]:
    """A counter's samples from its deltas by event hour (hour start, delta), in hour
    order: at `since`, at every UTC midnight and at the end of every hour that changed it
    within (since, until), and at `until`. The value at t is the sum of the hours that
    ended by t; at `until`, when it is the end of the history (`complete`), every hour.
    `end` is the live counter: where the sum differs from it only by rounding (the same
    fractional amounts added in another order), the last sample is `end` itself, so the
    backfilled and the live series meet exactly.

    >>> counter_points([(0, 2.0), (7200, 1.0)], since=0, until=9000, complete=True)
    [(0.0, 0.0), (3600.0, 2.0), (9000.0, 3.0)]
    """
    if until < since:
        return []
    times = {since, until}
    first_midnight = math.ceil(since / DAY) * DAY
    times.update(range(first_midnight, math.floor(until) + 1, DAY))
    times.update(h + HOUR for h, d in hours if d and since < h + HOUR < until)
    out: list[tuple[float, float]] = []
    total, i = 0.0, 0
    for t in sorted(times):
        while i < len(hours) and hours[i][0] + HOUR <= t:
            total += hours[i][1]
            i += 1
        value = total
        if t == until and complete:
            value += sum(d for h, d in hours[i:] if h <= until)
        out.append((float(t), value))
    if (complete and out and end is not None and out[-1][0] == until
            and math.isclose(out[-1][1], end, rel_tol=1e-9, abs_tol=1e-9)):
        # Earlier samples above `end` are above it by the same rounding: capped, so the
        # series never decreases.
        out = [(t, min(v, end)) for t, v in out[:-1]] + [(out[-1][0], end)]
    return out


# -- progress and summary ---------------------------------------------------------------

def progress_line(b: Backfill) -> str:
    """backfill: 45/90 days, 1,234 requests, 3m12s, ETA 3m40s (slowest: x/y changes 40/90)"""
    now = b._clock()
    active = [t for t in b.tasks if t.state != "skipped"]
    if not active:
        return "backfill: nothing to read"
    done = sum(min(t.done, t.days) for t in active)
    total = sum(t.days for t in active)
    started = [t.started for t in active if t.started is not None]
    elapsed = now - min(started) if started else 0.0
    eta = 0.0
    slowest: Task | None = None
    for t in active:
        if t.state != "running" or t.started is None:
            continue
        left = t.days - t.done
        took = now - t.started
        guess = math.inf if t.done <= 0 else took * left / t.done
        if slowest is None or guess > eta:
            eta, slowest = guess, t
    days = round(done / len(active))
    line = (f"backfill: {days}/{round(total / len(active))} days, "
            f"{b.telemetry.sent:,} requests, {_span(elapsed)}")
    if slowest is not None:
        line += (f", ETA {'?' if math.isinf(eta) else _span(eta)} (slowest: "
                 f"{slowest.name} {slowest.done:.0f}/{slowest.days:.0f} days)")
    failed = sum(1 for t in b.tasks if t.state == "failed")
    if failed:
        line += f", {failed} failed"
    return line


@dataclass(frozen=True)
class Delivered:
    """Where the history went: a file (or standard output) or a remote-write push."""

    where: str  # a file name, "-", or the receiver's URL
    pushed: bool
    stats: HistoryStats
    error: str = ""


def summary(r: Result, delivered: Sequence[Delivered]) -> list[str]:
    lines = [f"backfill: {'done' if r.ok else 'incomplete'} in {_span(r.seconds)}, "
             f"{r.requests:,} requests; history {_iso(r.since.timestamp())} .. "
             f"{_iso(r.until.timestamp())}"]
    for t in r.tasks:
        what = t.detail or t.state
        lines.append(f"  {t.name}: {t.state}" + (f": {what}" if what != t.state else ""))
    lines += [f"  note: {n}" for n in r.notes]
    for d in delivered:
        st = d.stats
        where = "standard output" if d.where == "-" else d.where
        what = (f"{st.families} families, {st.series:,} series, {st.samples:,} samples, "
                f"{st.days} days, {_iso(st.first or 0)} .. {_iso(st.last or 0)}, "
                f"{st.bytes / 1e6:.1f} MB" if st.samples else "no samples")
        if d.pushed:
            lines.append(f"pushed to {where}: {what}" if not d.error else
                         f"push to {where} failed: {d.error}")
            continue
        lines.append(f"wrote {where}: {what}")
        if st.samples:
            target = "history.om" if d.where == "-" else d.where
            retention = math.ceil((time.time() - (st.first or 0)) / DAY) + 1
            lines += [
                "next: promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "
                f"{target} ./blocks",
                "      then move ./blocks/* into Prometheus's data directory "
                "(--storage.tsdb.path); its retention must reach back "
                f"{retention} days (--storage.tsdb.retention.time={retention}d) or the "
                "blocks are deleted",
            ]
    return lines


def run_command(cfg: Config, *, now: datetime, since: datetime, until: datetime,
                labels: Sequence[tuple[str, str]], output: str | None, stderr: IO[str],
                remote_write: str | None = None, notes: Sequence[str] = (),
                stopping: threading.Event | None = None,
                transport: httpx.BaseTransport | None = None,
                progress_every: float | None = None) -> int:
    """The backfill subcommand after its arguments were checked: 0 all read (and
    delivered), 1 not. The history goes to `output` and, when given, to `remote_write`."""
    started = time.monotonic()
    b = Backfill(cfg, since=since, until=until, transport=transport, stopping=stopping,
                 now=now)
    b.notes += notes
    delivered: list[Delivered] = []
    try:
        tty = stderr.isatty()
        every = progress_every or (PROGRESS_EVERY_TTY if tty else PROGRESS_EVERY)

        def show(bf: Backfill) -> None:
            line = progress_line(bf)
            stderr.write(f"\r\x1b[K{line}" if tty else f"{line}\n")
            stderr.flush()

        b.run(show, every)
        if tty:
            stderr.write("\n")
        if output is not None:
            with AtomicOutput(output) as out:
                delivered.append(Delivered(output, False, b.write(out, labels)))
        if remote_write is not None:
            push = RemoteWriter(remote_write, labels, transport=transport)
            try:
                delivered.append(Delivered(remote_write, True, b.send(push)))
            except RemoteWriteError as e:
                push.close()
                delivered.append(Delivered(remote_write, True, push.stats,
                                           f"{e} ({push.accepted:,} samples were taken)"))
        result = b.result(delivered[0].stats if delivered else HistoryStats(), started)
    finally:
        b.close()
    for line in summary(result, delivered):
        print(line, file=stderr)
    return 0 if result.ok and not any(d.error for d in delivered) else 1


class AtomicOutput:
    """Standard output (`-`), or a file written beside its final name and renamed into
    place when complete: an interrupted run never leaves half a file for promtool."""

    def __init__(self, output: str) -> None:
        self.output = output
        self._tmp: Path | None = None
        self._file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.output == "-":
            return sys.stdout.buffer
        final = Path(self.output)
        self._tmp = final.with_name(f".{final.name}.partial")
        try:
            self._file = open(self._tmp, "wb", buffering=1 << 20)
        except OSError as e:
            raise ConfigError(f"--output: cannot write {self.output!r}: {e.strerror}") from None
        return self._file

    def __exit__(self, kind: object, *_: object) -> None:
        if self._file is None or self._tmp is None:
            sys.stdout.buffer.flush()
            return
        self._file.close()
        if kind is None:
            self._tmp.replace(self.output)
        else:
            self._tmp.unlink(missing_ok=True)


def check_output(output: str) -> None:
    """Before hours of reading: can the output be written? ValueError if not."""
    if output == "-":
        return
    folder = Path(output).resolve().parent
    if not folder.is_dir():
        raise ValueError(f"--output {output!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--output {output!r}: the folder {str(folder)!r} is not writable")
    if Path(output).is_dir():
        raise ValueError(f"--output {output!r} is a folder; give a file name")


def check_url(url: str) -> None:
    """A remote-write URL must be http(s) with a host; ValueError if not."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as e:
        raise ValueError(f"--remote-write {url!r}: {e}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"--remote-write {url!r}: expected an http:// or https:// URL, "
                         "e.g. http://prometheus:9090/api/v1/write")
