"""A day in the life of a 5,000-developer organisation, in virtual time.

Drives the real poll jobs (App -> Poller.run_endpoint: aggregates, record streams, the
SQLite state, the HTTP client and its token buckets) against the built-in simulator's
data, with a fake clock and sleep: 24 virtual hours take minutes of CPU, no real waiting.
Defaults: --users 5000 --repos 300, Qoder 60 and Cursor 5 requests per minute per
endpoint (the simulator enforces the same limits the exporter is configured with),
poll_interval 5m, every other provider setting at its default (lookback 2d,
lookback_interval 1h, overlap 10m, initial_backfill 7d, backfill_slice 1d, format auto).

Each endpoint is simulated on its own virtual timeline, which is what the daemon does:
every (provider, endpoint) is its own scheduler job with its own token bucket, and the
vendors limit each endpoint separately. A job runs at t=0 and then on the poll grid; a
run still going when the next grid point comes makes that run coalesce (skipped, as
APScheduler does with max_instances=1), and the job runs again at the first grid point
after it ended. Requests take no virtual time: only the pacing (and any Retry-After)
moves the clock. Each endpoint has its own App, state file and clock; the runs of all
timelines are interleaved by start time against one simulator per worker process, whose
clock is switched to the running job's (its data is a pure function of seed and time).
--procs splits the endpoints over processes (default 2).

Nearly all the CPU is the simulator's: its Qoder metrics sum 30 days of rollups on every
request, and re-aggregate today's records each time. The bench keeps a day's rollup for
one virtual minute (MinuteRollups; --exact-sim turns that off), which changes no
request, status or header.

Printed per endpoint, with PASS/FAIL where there is a target:

* requests: sent, 304s (not counted by the vendor), 429s (target 0), mean and peak
  requests per hour against the hourly budget (rate x 60) and the most in any 60 s;
* runs: how many, failed, coalesced, the longest, and for aggregates the maximum
  staleness: the longest time between successful completions, counted from t=0 and up
  to the end of the horizon (target <= 2 poll intervals);
* backfill: time for a stream's first run to commit the 7-day initial backfill, against
  the rate-limit bound pages / rate (target: at most 10% over it);
* stream lag, aicode_stream_lag_seconds (virtual now minus the committed watermark):
  a table of its highest value in every --lag-every window (exact: the lag rises with
  the clock and drops at each commit; the JSON also has the value just before each
  mark), and the exact maximum once caught up, i.e. from the first commit after the
  backfill that leaves the lag within one poll interval (target < 3 poll intervals).

Run (full size: 11-13 minutes on 2 cores, about 15 minutes of CPU, 0.7 GB per process):

    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --users 200 --hours 3        # under 10 seconds
    .venv/bin/python bench/scale.py --only changes --qoder-rate 20   # one stream, tighter
    .venv/bin/python bench/scale.py --json                       # machine-readable

Exit status 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from aicode_exporter.app import App
from aicode_exporter.config.file import Config, config_model
from aicode_exporter.durations import parse_duration
from aicode_exporter.vendors.cursor.config import ENDPOINTS as CURSOR_ENDPOINTS
from aicode_exporter.vendors.cursor.config import TRACKING as CURSOR_TRACKING
from aicode_sim import Simulator
from aicode_sim.qoder.rollup import DayRollup, Rollups

# A Wednesday: fixed, so every run sees the same data (the simulator is seeded by date).
START = datetime(2025, 6, 4, tzinfo=UTC)
MONO_SPAN = 1e7  # each timeline's monotonic clock starts this far after the previous one's

STALENESS_INTERVALS = 2  # aggregates: max time between successes, in poll intervals
LAG_INTERVALS = 3  # streams: max lag once caught up, in poll intervals
BACKFILL_SLACK = 1.10  # backfill time within 10% of pages / rate


class VirtualClock:
    """Monotonic and wall time of one job's timeline; only sleep() and advance_to() move
    it. `elapsed` is virtual seconds since the timeline began."""

    def __init__(self, wall0: float, mono0: float) -> None:
        self.wall0 = wall0
        self.mono0 = mono0
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return self.mono0 + self.elapsed

    def wall(self) -> float:
        return self.wall0 + self.elapsed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.elapsed += seconds

    def advance_to(self, elapsed: float) -> None:
        self.elapsed = max(self.elapsed, elapsed)


@dataclass(frozen=True)
class Hit:
    at: float  # virtual seconds into the timeline
    status: int
    path: str


@dataclass
class Wire:
    """The simulator behind httpx without sockets (as tests/support/fakes.sim_transport),
    on the clock of whichever timeline is running, logging every request."""

    clock: VirtualClock
    hits: list[Hit] = field(default_factory=list)

    def transport(self, sim: Simulator) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            status, headers, body = sim.app(request.method, request.url.raw_path.decode(),
                                            dict(request.headers), request.content)
            self.hits.append(Hit(self.clock.elapsed, status, request.url.path))
            return httpx.Response(status, headers=headers, content=b"".join(body))

        return httpx.MockTransport(handle)


@dataclass(frozen=True)
class Run:
    start: float
    end: float
    ok: bool
    error: str


@dataclass
class JobResult:
    job_id: str
    stream: bool
    rate: float  # requests per minute, exporter- and simulator-side
    interval: float
    runs: list[Run] = field(default_factory=list)
    coalesced: int = 0
    hits: list[Hit] = field(default_factory=list)
    # (virtual seconds, committed watermark as wall time) at every progress report
    marks: list[tuple[float, float | None]] = field(default_factory=list)
    cpu_seconds: float = 0.0


@dataclass
class Settings:
    users: int = 5000
    repos: int = 300
    hours: float = 24.0
    interval: str = "5m"
    qoder_rate: int = 60
    cursor_rate: int = 5
    lag_every: str = "15m"
    start: datetime = START
    seed: int = 1
    only: Sequence[str] = ()
    exact_sim: bool = False
    per_user: bool = False  # users.per_user_counters: also Qoder's per-member quota


def make_config(s: Settings, state_path: Path) -> Config:
    common = {"name": "acme", "api_key": "sim-key", "base_url": "http://sim",
              "poll_interval": s.interval}
    return config_model().model_validate({
        "state_path": str(state_path),
        "users": {"label": "id", "per_user_counters": s.per_user},
        "providers": [
            {"type": "qoder", "organization_id": "org_sim",
             "rate_limit_per_minute": s.qoder_rate, **common},
            # The AI Code Tracking streams: Cursor's Analytics and Admin endpoints share
            # rate buckets, which these per-endpoint timelines do not model
            # (bench/cursor_api.py measures them).
            {"type": "cursor", "rate_limit_per_minute": s.cursor_rate, **common,
             "endpoints": {ep: {"enabled": False} for ep in CURSOR_ENDPOINTS
                           if ep not in CURSOR_TRACKING}},
        ],
    })


class Timeline:
    """One endpoint's App (its own state file and clock) and the runs it made so far."""

    def __init__(self, job_id: str, index: int, s: Settings, wire: Wire,
                 transport: httpx.BaseTransport, tmp: Path) -> None:
        self.clock = clock = VirtualClock(s.start.timestamp(), 1000.0 + index * MONO_SPAN)
        self.job_id = job_id
        self.wire = wire
        self.app = App(make_config(s, tmp / f"state-{index}.db"), transport=transport,
                       clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep)
        provider, endpoint = self.app.poller.job(job_id)
        self.key = key = (provider.vendor, provider.org, endpoint.name)
        rate = float(s.qoder_rate if provider.vendor == "qoder" else s.cursor_rate)
        self.res = res = JobResult(job_id, endpoint.stream, rate,
                                   provider.interval.total_seconds())
        self.grid = 0
        report = self.app.telemetry.progress

        def progress(k: tuple[str, str, str], *, done: int, total: int,
                     watermark: float | None) -> None:
            report(k, done=done, total=total, watermark=watermark)
            if k == key:
                res.marks.append((clock.elapsed, watermark))

        self.app.telemetry.progress = progress  # type: ignore[method-assign,assignment]

    @property
    def next_start(self) -> float:
        return self.grid * self.res.interval

    def step(self) -> None:
        """One run at the next grid point; then the grid point after it ended (the ones
        passed meanwhile are coalesced, as the scheduler does)."""
        cpu0 = time.process_time()
        start = self.next_start
        self.clock.advance_to(start)
        self.wire.clock, self.wire.hits = self.clock, self.res.hits
        self.app.poller.run_endpoint(self.job_id)
        end = self.clock.elapsed
        st = self.app.telemetry.statuses()[self.key]
        self.res.runs.append(Run(start, end, bool(st.up), "" if st.up else st.last_error))
        nxt = max(self.grid + 1, math.ceil(end / self.res.interval - 1e-9))
        self.res.coalesced += nxt - self.grid - 1
        self.grid = nxt
        self.res.cpu_seconds += time.process_time() - cpu0


class MinuteRollups:
    """The simulator re-aggregates today's and yesterday's Qoder records on every metrics
    query (records still arriving), about 0.1 s of CPU a day at 5,000 users, and the five
    aggregate endpoints ask 13 times per poll. This keeps each day's rollup for one
    virtual minute, as of the start of that minute: an aggregate answer may miss records
    ingested in the last minute (like any vendor's ingestion delay). No request, status or
    header changes, only the simulator's CPU. --exact-sim turns it off."""

    def __init__(self, inner: Rollups, keep: int = 128) -> None:
        self._inner = inner
        self._keep = keep
        self._cache: OrderedDict[tuple[int, int], DayRollup] = OrderedDict()

    def day(self, day: int, now_ms: int) -> DayRollup:
        minute = now_ms - now_ms % 60_000
        key = (day, minute)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._inner.day(day, minute)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return found


def simulate(s: Settings, job_ids: Sequence[str], worker: int = 0) -> list[JobResult]:
    """The timelines of job_ids against one simulator, interleaved by run start (so the
    simulator's caches see roughly monotonic time); each run goes to its end on its own
    clock."""
    wire = Wire(VirtualClock(s.start.timestamp(), 0.0))
    sim = Simulator(seed=s.seed, users=s.users, repos=s.repos,
                    cursor_rate_limit_per_minute=s.cursor_rate,
                    qoder_rate_limit_per_minute=s.qoder_rate,
                    now=lambda: wire.clock.now(), clock=lambda: wire.clock.monotonic())
    if not s.exact_sim:
        sim.qoder.rollups = MinuteRollups(sim.qoder.rollups)  # type: ignore[assignment]
    horizon = s.hours * 3600
    t0, shown = time.perf_counter(), 0
    with tempfile.TemporaryDirectory(prefix="aicode-scale-") as tmp:
        transport = wire.transport(sim)
        lines = [Timeline(j, i + 1, s, wire, transport, Path(tmp))
                 for i, j in enumerate(job_ids)]
        queue = [(0.0, i) for i in range(len(lines))]
        heapq.heapify(queue)
        try:
            while queue:
                at, i = heapq.heappop(queue)
                if at >= (shown + 1) * 3600:
                    shown = int(at // 3600)
                    print(f"  worker {worker}: virtual +{shown}h after "
                          f"{time.perf_counter() - t0:.0f}s", file=sys.stderr)
                lines[i].step()
                if lines[i].next_start < horizon:
                    heapq.heappush(queue, (lines[i].next_start, i))
        finally:
            for line in lines:
                line.app.close()
    return [line.res for line in lines]


# Rough CPU per virtual hour at 5,000 users (mostly the simulator), to split the
# endpoints between worker processes.
WEIGHTS = {"repos": 6, "overview": 5, "file_extensions": 4, "member_ranking": 3,
           "changes": 3, "commits": 2, "daily_trend": 1}


def partition(job_ids: Sequence[str], procs: int) -> list[list[str]]:
    groups: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(max(1, procs))]
    for j in sorted(job_ids, key=lambda j: -WEIGHTS.get(j.rsplit("/", 1)[-1], 1)):
        i = min(range(len(groups)), key=lambda k: groups[k][0])
        w, members = groups[i]
        groups[i] = (w + WEIGHTS.get(j.rsplit("/", 1)[-1], 1), [*members, j])
    return [members for _, members in groups if members]


# ---- analysis ---------------------------------------------------------------------------


def request_stats(r: JobResult, horizon: float) -> dict[str, Any]:
    inside = [h for h in r.hits if h.at < horizon]
    counted = sorted(h.at for h in inside if h.status != 304)
    per_hour = Counter(int(t // 3600) for t in counted)
    per_poll = Counter(int(t // r.interval) for t in counted)
    polls = sorted(per_poll.get(k, 0) for k in range(math.ceil(horizon / r.interval)))
    peak_minute, lo = 0, 0
    for hi, t in enumerate(counted):
        while counted[lo] <= t - 60:
            lo += 1
        peak_minute = max(peak_minute, hi - lo + 1)
    statuses = Counter(h.status for h in inside)
    return {
        "sent": len(inside),
        "not_modified": statuses[304],
        "rate_limited": statuses[429],
        "errors": sum(v for k, v in statuses.items() if k >= 400 and k != 429),
        "per_hour_mean": len(counted) / (horizon / 3600),
        "per_hour_peak": max(per_hour.values(), default=0),
        # Requests in each poll interval of the horizon: the median and the most.
        "per_interval_median": polls[len(polls) // 2] if polls else 0,
        "per_interval_peak": polls[-1] if polls else 0,
        "budget_per_hour": r.rate * 60,
        "peak_60s": peak_minute,
        "limit_60s": r.rate,
        "csv": any(h.path.endswith((".csv", "/export")) for h in r.hits),
    }


def run_stats(r: JobResult, horizon: float) -> dict[str, Any]:
    done = [x.end for x in r.runs if x.ok and x.end <= horizon]
    gaps = [b - a for a, b in zip([0.0, *done], [*done, horizon], strict=True)]
    failures = [x for x in r.runs if not x.ok]
    return {
        "runs": len(r.runs),
        "failed": len(failures),
        "first_error": failures[0].error if failures else "",
        "coalesced": r.coalesced,
        "longest_run": max((x.end - x.start for x in r.runs), default=0.0),
        "max_staleness": max(gaps) if done else horizon,
    }


def lag_before(r: JobResult, wall0: float, t: float) -> float | None:
    """aicode_stream_lag_seconds just before virtual time t (None: no watermark yet)."""
    times = [m[0] for m in r.marks]
    i = bisect.bisect_left(times, t)
    wm = next((w for _, w in reversed(r.marks[:i]) if w is not None), None)
    return None if wm is None else max(0.0, wall0 + t - wm)


def lag_peak(r: JobResult, wall0: float, a: float, b: float) -> float | None:
    """The highest aicode_stream_lag_seconds in (a, b]: the lag rises with the clock and
    drops at commits, so its peaks are just before each commit and at b."""
    times = [m[0] for m in r.marks]
    i = bisect.bisect_right(times, a)
    wm = next((w for _, w in reversed(r.marks[:i]) if w is not None), None)
    peak: float | None = None
    for t, w in r.marks[i:bisect.bisect_left(times, b)]:
        if wm is not None:
            peak = max(peak or 0.0, wall0 + t - wm)
        if w is not None:
            wm = w
    if wm is not None:
        peak = max(peak or 0.0, wall0 + b - wm)
    return peak


def stream_stats(r: JobResult, wall0: float, horizon: float) -> dict[str, Any]:
    """Backfill: until the watermark first reaches the first run's now (t=0). Caught up:
    the first commit after that leaving the lag within one interval; the maximum lag
    after it is taken just before every commit and at the end of the horizon."""
    backfill_end = next((t for t, w in r.marks if w is not None and w >= wall0 - 1e-6),
                        None)
    out: dict[str, Any] = {"backfill_seconds": backfill_end, "pages": None, "bound": None,
                           "caught_up": None, "max_lag": None}
    if backfill_end is None:
        return out
    pages = sum(1 for h in r.hits if h.at <= backfill_end and h.status != 304)
    out["pages"] = pages
    out["bound"] = pages * 60 / r.rate
    caught = next((i for i, (t, w) in enumerate(r.marks) if t >= backfill_end
                   and w is not None and wall0 + t - w <= r.interval), None)
    if caught is None or r.marks[caught][0] > horizon:
        return out
    out["caught_up"] = r.marks[caught][0]
    wm = r.marks[caught][1]
    assert wm is not None
    worst = 0.0
    for t, w in r.marks[caught + 1:]:
        if t > horizon:
            break
        worst = max(worst, wall0 + t - wm)
        if w is not None:
            wm = w
    out["max_lag"] = max(worst, wall0 + horizon - wm)
    return out


@dataclass(frozen=True)
class Target:
    endpoint: str
    name: str
    value: float | None
    limit: float
    ok: bool
    detail: str = ""


def analyse(results: list[JobResult], s: Settings) -> dict[str, Any]:
    horizon = s.hours * 3600
    wall0 = s.start.timestamp()
    every = parse_duration(s.lag_every).total_seconds()
    endpoints: dict[str, Any] = {}
    targets: list[Target] = []
    samples = [k * every for k in range(int(horizon // every) + 1)]
    lag_table: dict[str, list[float | None]] = {}
    peak_table: dict[str, list[float | None]] = {}
    for r in results:
        req, runs = request_stats(r, horizon), run_stats(r, horizon)
        entry: dict[str, Any] = {"stream": r.stream, "rate_per_minute": r.rate,
                                 "interval": r.interval, "cpu_seconds": r.cpu_seconds,
                                 "requests": req, "runs": runs}
        targets.append(Target(r.job_id, "429s", req["rate_limited"], 0,
                              req["rate_limited"] == 0))
        targets.append(Target(r.job_id, "peak requests/hour <= budget", req["per_hour_peak"],
                              req["budget_per_hour"],
                              req["per_hour_peak"] <= req["budget_per_hour"]))
        if not r.stream:
            limit = STALENESS_INTERVALS * r.interval
            targets.append(Target(r.job_id, "max staleness", runs["max_staleness"], limit,
                                  runs["max_staleness"] <= limit))
        else:
            st = stream_stats(r, wall0, horizon)
            entry["stream_stats"] = st
            lag_table[r.job_id] = [lag_before(r, wall0, t) for t in samples]
            peaks: list[float | None] = [None]  # window k is (at[k-1], at[k]]
            peaks += [lag_peak(r, wall0, a, b) for a, b in itertools.pairwise(samples)]
            peak_table[r.job_id] = peaks
            took, bound = st["backfill_seconds"], st["bound"]
            targets.append(Target(
                r.job_id, "backfill time <= 1.1 x pages/rate", took,
                BACKFILL_SLACK * bound if bound else 0.0,
                took is not None and bound is not None and took <= BACKFILL_SLACK * bound,
                "" if took is not None else "backfill did not finish"))
            limit = LAG_INTERVALS * r.interval
            lag = st["max_lag"]
            targets.append(Target(r.job_id, "max lag once caught up", lag, limit,
                                  lag is not None and lag < limit,
                                  "" if lag is not None else "never caught up"))
        endpoints[r.job_id] = entry
    return {
        "settings": {"users": s.users, "repos": s.repos, "hours": s.hours,
                     "interval": s.interval, "qoder_rate": s.qoder_rate,
                     "cursor_rate": s.cursor_rate, "lag_every": s.lag_every,
                     "start": s.start.isoformat(), "seed": s.seed,
                     "exact_sim": s.exact_sim, "per_user": s.per_user},
        "endpoints": endpoints,
        "lag_samples": {"every_seconds": every, "at": samples, "lag": lag_table,
                        "peak": peak_table},
        "targets": [vars(t) for t in targets],
        "passed": all(t.ok for t in targets),
    }


def fan_out(run: Callable[..., list[Any]], s: Any, job_ids: Sequence[str],
            procs: int) -> tuple[list[Any], int]:
    """run(s, ids, worker) over job_ids split between `procs` processes: the results
    (each with a job_id) in job_ids order, and how many processes ran."""
    groups = partition(job_ids, procs)
    if len(groups) <= 1:
        return run(s, list(job_ids)), 1
    with ProcessPoolExecutor(len(groups)) as pool:
        futures = [pool.submit(run, s, g, i) for i, g in enumerate(groups)]
        done = {r.job_id: r for f in futures for r in f.result()}
    return [done[j] for j in job_ids], len(groups)


def run_bench(s: Settings, procs: int = 1) -> dict[str, Any]:
    """Simulate every endpoint (split over `procs` processes) and analyse the runs."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aicode-scale-") as tmp:
        probe = App(make_config(s, Path(tmp) / "probe.db"))
        job_ids = probe.poller.job_ids
        probe.close()
    selected = [j for j in job_ids if not s.only or any(o in j for o in s.only)]
    results, processes = fan_out(simulate, s, selected, procs)
    out = analyse(results, s)
    out["wall_seconds"] = time.perf_counter() - t0
    out["processes"] = processes
    return out


# ---- printing ---------------------------------------------------------------------------


def dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 100:
        return f"{seconds:.0f}s"
    if seconds < 100 * 60:
        return f"{seconds / 60:.1f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [title, fmt.format(*header), "  ".join("-" * w for w in widths)]
    out += [fmt.format(*map(str, row)) for row in rows]
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(res: dict[str, Any]) -> str:
    s = res["settings"]
    eps: dict[str, Any] = res["endpoints"]
    by = {(t["endpoint"], t["name"]): t for t in res["targets"]}
    parts = [
        f"aicode-exporter scale bench: {s['users']} users, {s['repos']} repos, "
        f"{s['hours']:g} virtual hours from {s['start']}, poll_interval {s['interval']}, "
        f"Qoder {s['qoder_rate']}/min, Cursor {s['cursor_rate']}/min per endpoint",
    ]
    rows = []
    for ep, e in eps.items():
        q = e["requests"]
        ok = by[(ep, "429s")]["ok"] and by[(ep, "peak requests/hour <= budget")]["ok"]
        rows.append([ep, f"{e['rate_per_minute']:g}", q["sent"], q["not_modified"],
                     q["rate_limited"], q["errors"], f"{q['per_hour_mean']:.1f}",
                     q["per_hour_peak"], f"{q['budget_per_hour']:g}",
                     f"{q['per_hour_peak'] / q['budget_per_hour']:.0%}",
                     f"{q['per_interval_median']}/{q['per_interval_peak']}",
                     f"{q['peak_60s']}/{q['limit_60s']:g}", verdict(ok)])
    parts.append(table("Requests (304s are not counted against the budget)",
                       ["endpoint", "rate/min", "sent", "304", "429", "other 4xx/5xx",
                        "req/h mean", "req/h peak", "budget/h", "peak use",
                        "req/poll median/max", "max in 60s", "429=0"], rows))
    rows = []
    for ep, e in eps.items():
        r = e["runs"]
        t = by.get((ep, "max staleness"))
        rows.append([ep, r["runs"], r["failed"], r["coalesced"], dur(r["longest_run"]),
                     dur(r["max_staleness"]), f"<= {dur(t['limit'])}" if t else "-",
                     verdict(t["ok"]) if t else "-", f"{e['cpu_seconds']:.1f}s"])
    parts.append(table("Runs and staleness (time between successful completions)",
                       ["endpoint", "runs", "failed", "coalesced", "longest run",
                        "max staleness", "target", "verdict", "cpu"], rows))
    streams = [ep for ep, e in eps.items() if e["stream"]]
    rows = []
    for ep in streams:
        st = eps[ep]["stream_stats"]
        t = by[(ep, "backfill time <= 1.1 x pages/rate")]
        ratio = (st["backfill_seconds"] / st["bound"]
                 if st["bound"] and st["backfill_seconds"] is not None else None)
        rows.append([ep, "csv" if eps[ep]["requests"]["csv"] else "json",
                     st["pages"] if st["pages"] is not None else "-",
                     dur(st["backfill_seconds"]), dur(st["bound"]),
                     f"{ratio:.2f}" if ratio is not None else "-", verdict(t["ok"])])
    if rows:
        parts.append(table("Initial backfill (7d) per stream vs the rate-limit bound",
                           ["stream", "format", "pages", "took", "pages/rate", "ratio",
                            "<= 1.10"], rows))
    lag = res["lag_samples"]
    if streams:
        every = lag["every_seconds"]
        per_row = max(1, round(3600 / every)) if every < 3600 else 1
        at: list[float] = lag["at"]
        rows = []
        # Window k is (at[k-1], at[k]]; a row holds the windows starting in one hour.
        for i in range(1, len(at), per_row):
            chunk = range(i, min(i + per_row, len(at)))
            rows.append([f"+{at[i - 1] / 3600:05.2f}h"]
                        + [" ".join(f"{dur(lag['peak'][ep][j]):>5}" for j in chunk)
                           for ep in streams])
        parts.append(table(
            f"Stream lag (aicode_stream_lag_seconds): its highest value in each "
            f"{dur(every)} window, {per_row} window(s) per row, '-' = no watermark yet",
            ["from", *streams], rows))
        rows = []
        for ep in streams:
            st = eps[ep]["stream_stats"]
            t = by[(ep, "max lag once caught up")]
            rows.append([ep, dur(st["caught_up"]), dur(st["max_lag"]),
                         f"< {dur(t['limit'])}", verdict(t["ok"])])
        parts.append(table("Stream lag once caught up (exact, between commits)",
                           ["stream", "caught up at", "max lag", "target", "verdict"], rows))
    failed = [t for t in res["targets"] if not t["ok"]]
    summary = (f"Targets: {len(res['targets']) - len(failed)}/{len(res['targets'])} "
               f"PASS -> {verdict(not failed)}")
    for t in failed:
        summary += (f"\n  FAIL {t['endpoint']}: {t['name']}: {t['value']} "
                    f"(limit {t['limit']}) {t['detail']}")
    parts.append(summary)
    parts.append(f"Wall time: {res['wall_seconds']:.1f}s ({res['processes']} process(es); "
                 f"cpu above is per endpoint, simulator included)")
    return "\n\n".join(parts)


def parse_args(argv: Sequence[str] | None) -> tuple[Settings, argparse.Namespace]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--repos", type=int, default=300)
    ap.add_argument("--hours", type=float, default=24.0, help="virtual hours to simulate")
    ap.add_argument("--interval", default="5m", help="poll_interval of both providers")
    ap.add_argument("--qoder-rate", type=int, default=60, help="requests/min per endpoint")
    ap.add_argument("--cursor-rate", type=int, default=5, help="requests/min per endpoint")
    ap.add_argument("--lag-every", default="15m", help="stream lag sampling period")
    ap.add_argument("--start", default=START.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    help="virtual start (UTC)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=[],
                    help="only job ids containing one of these, e.g. cursor/ changes")
    ap.add_argument("--exact-sim", action="store_true",
                    help="no per-minute cache of the simulator's Qoder rollups (slower)")
    ap.add_argument("--per-user", action="store_true",
                    help="users.per_user_counters (adds Qoder's member_quota endpoint)")
    ap.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes the endpoints are split over")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--log-level", default="error", help="the exporter's log level")
    a = ap.parse_args(argv)
    parse_duration(a.interval)
    parse_duration(a.lag_every)
    start = datetime.fromisoformat(a.start.replace("Z", "+00:00")).astimezone(UTC)
    s = Settings(users=a.users, repos=a.repos, hours=a.hours, interval=a.interval,
                 qoder_rate=a.qoder_rate, cursor_rate=a.cursor_rate, lag_every=a.lag_every,
                 start=start, seed=a.seed, only=a.only, exact_sim=a.exact_sim,
                 per_user=a.per_user)
    return s, a


def main(argv: Sequence[str] | None = None) -> int:
    s, a = parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
    res = run_bench(s, a.procs)
    print(json.dumps(res, indent=1) if a.json else render(res))
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

