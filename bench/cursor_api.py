"""Cursor's Analytics API and Admin API at scale, in virtual time: what a default Cursor
provider costs per endpoint and per hour, and whether it stays within Cursor's limits.

Drives the real App (poll jobs, token buckets, state file, the teams map, per-user data)
against the built-in simulator, which enforces Cursor's documented limits in fixed 60 s
windows (team-level Analytics 100, by-user 50, each Admin endpoint 20, usage events 60),
on a fake clock shared by both: hours of polling take a minute of CPU. Every endpoint runs
on its own schedule (poll_interval, or longer where the endpoint asks: daily usage and
usage events hourly, members and groups at most once a minute, spend every 15 minutes), one
run at a time in virtual time, as the scheduler starts them; a run still going when its
next one is due skips it. The AI Code Tracking streams are left out (bench/scale.py).

    python bench/cursor_api.py                 # 5,000 developers, 3 virtual hours
    python bench/cursor_api.py --users 200 --hours 2 --json

Printed per endpoint: requests sent, of them 304s (not counted by Cursor) and 429s (target
0), requests per hour (all, counted by Cursor, and counted after the first hour, which
holds the usage events' 7-day backfill), runs and the longest against the endpoint's
interval (target: every run finishes within it); per rate bucket, the most requests in any
of Cursor's fixed minutes against its limit (target: within it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aicode_exporter.app import App
from aicode_exporter.config.file import config_model
from aicode_exporter.vendors.cursor.config import TRACKING
from aicode_sim import Simulator, teams_csv

# A Wednesday early in a billing cycle (the simulator's cycles are calendar months).
START = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
# path -> Cursor's rate bucket, as the simulator enforces it
LIMITS = {"analytics_team": 100, "analytics_by_user": 50, "/teams/members": 20,
          "/teams/spend": 20, "/teams/groups": 20, "/teams/daily-usage-data": 20,
          "/teams/filtered-usage-events": 60}


def bucket(path: str) -> str:
    if path.startswith("/analytics/team/"):
        return "analytics_team"
    if path.startswith("/analytics/by-user/"):
        return "analytics_by_user"
    return path


class VirtualClock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class Clock:
    mono: float = 1000.0
    wall_time: float = START.timestamp()

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_time

    def sleep(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_time += seconds


class Logged(httpx.BaseTransport):
    """The simulator behind httpx, no socket; each request logged with the clock's time."""

    def __init__(self, sim: Simulator, clock: VirtualClock) -> None:
        self.sim = sim
        self.clock = clock
        self.log: list[tuple[float, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self.sim.app(request.method, request.url.raw_path.decode(),
                                             dict(request.headers), request.content)
        self.log.append((self.clock.monotonic(), request.url.path, status))
        return httpx.Response(status, headers=headers, content=b"".join(body))


@dataclass
class Settings:
    users: int = 5000
    hours: float = 3.0
    interval: str = "5m"
    seed: int = 1
    events_per_user_day: float = 12.0


@dataclass
class Run:
    endpoint: str
    started: float
    took: float
    ok: bool


@dataclass
class Result:
    settings: Settings
    log: list[tuple[float, str, int]] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    intervals: dict[str, float] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0


def make_app(s: Settings, sim: Simulator, clock: Clock, folder: Path,
             transport: httpx.BaseTransport) -> App:
    (folder / "teams.csv").write_text(teams_csv(sim))
    cfg = config_model().model_validate({
        "state_path": str(folder / "state.db"),
        "users": {"per_user_counters": True},
        "teams": {"file": str(folder / "teams.csv")},
        "providers": [{"type": "cursor", "name": "acme", "base_url": "http://cursor.sim",
                       "api_key": "sim-key", "poll_interval": s.interval,
                       "endpoints": {ep: {"enabled": False} for ep in TRACKING}}]})
    return App(cfg, transport=transport, clock=clock.monotonic, wall=clock.wall,
               sleep=clock.sleep)


def schedule(app: App, clock: VirtualClock, hours: float, result: Result | None = None,
             ) -> Result:
    """Every endpoint at the start, then on its own interval; a run still going when the
    next is due skips that one (APScheduler's coalescing). The clock moves only by
    sleeps: the pacing's, and the idle time to the next run."""
    result = result if result is not None else Result(Settings())
    start = clock.monotonic()
    due = dict.fromkeys(app.poller.job_ids, start)
    for job_id in due:
        p, ep = app.poller.job(job_id)
        result.intervals[ep.name] = p.interval_of(ep).total_seconds()
    while True:
        job_id = min(due, key=lambda j: due[j])
        if due[job_id] > start + hours * 3600:
            return result
        clock.sleep(max(0.0, due[job_id] - clock.monotonic()))
        p, ep = app.poller.job(job_id)
        t0 = clock.monotonic()
        app.poller.run_endpoint(job_id)
        status = app.telemetry.statuses()[(p.vendor, p.org, ep.name)]
        result.runs.append(Run(ep.name, t0 - start, clock.monotonic() - t0, bool(status.up)))
        interval = result.intervals[ep.name]
        due[job_id] += interval
        while due[job_id] <= clock.monotonic():
            result.skipped[ep.name] += 1
            due[job_id] += interval


def run(s: Settings) -> Result:
    t0 = time.monotonic()
    clock = Clock()
    sim = Simulator(seed=s.seed, users=s.users, repos=max(5, s.users // 20), days=10,
                    clock=clock.monotonic,
                    now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    vendor_options={"cursor": {
                        "usage_events_per_user_day": s.events_per_user_day}})
    transport = Logged(sim, clock)
    result = Result(s)
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(s, sim, clock, Path(folder), transport)
        try:
            schedule(app, clock, s.hours, result)
        finally:
            app.close()
    result.log = transport.log
    result.wall_seconds = time.monotonic() - t0
    return result


def analyse(r: Result) -> dict[str, Any]:
    start = min(t for t, _, _ in r.log)
    hours = r.settings.hours
    endpoints: dict[str, Any] = {}
    by_path = Counter(p for _, p, _ in r.log)
    codes = Counter((p, s) for _, p, s in r.log)
    for name, interval in sorted(r.intervals.items()):
        runs = [x for x in r.runs if x.endpoint == name]
        endpoints[name] = {
            "interval_seconds": interval, "runs": len(runs),
            "failed": sum(not x.ok for x in runs), "skipped": r.skipped[name],
            "longest_run_seconds": round(max((x.took for x in runs), default=0.0), 1),
            "within_interval": all(x.took <= interval for x in runs),
        }
    # After the first hour (the usage events' 7-day backfill, the first reads of the day):
    # what the exporter costs from then on.
    later = Counter(p for t, p, s in r.log if t - start >= 3600 and s != 304)
    requests = {path: {"requests": n, "not_modified": codes[(path, 304)],
                       "rate_limited": codes[(path, 429)],
                       "per_hour": round(n / hours, 1),
                       "counted_per_hour": round((n - codes[(path, 304)]) / hours, 1),
                       "counted_per_hour_after_1h": (round(later[path] / (hours - 1), 1)
                                                     if hours > 1 else None)}
                for path, n in sorted(by_path.items())}
    per_minute = Counter((int((t - start) // 60), bucket(p)) for t, p, s in r.log if s != 304)
    peaks: dict[str, int] = {}
    for (_, b), n in per_minute.items():
        peaks[b] = max(peaks.get(b, 0), n)
    buckets = {b: {"peak_per_minute": peaks.get(b, 0), "limit": limit,
                   "ok": peaks.get(b, 0) <= limit} for b, limit in LIMITS.items()}
    passed = (all(v["rate_limited"] == 0 for v in requests.values())
              and all(v["ok"] for v in buckets.values())
              and all(e["within_interval"] and not e["failed"] for e in endpoints.values()))
    return {"settings": vars(r.settings), "endpoints": endpoints, "requests": requests,
            "buckets": buckets, "passed": passed, "wall_seconds": round(r.wall_seconds, 1)}


def render(res: dict[str, Any]) -> str:
    s = res["settings"]
    out = [f"Cursor Analytics + Admin API, {s['users']} developers, poll_interval "
           f"{s['interval']}, {s['hours']:g} virtual hours ({res['wall_seconds']}s of wall "
           "time)", "", f"{'path':<38} {'requests':>8} {'304':>6} {'429':>4} "
           f"{'/hour':>7} {'counted/hour':>12} {'after 1h':>9}"]
    for path, v in res["requests"].items():
        after = v["counted_per_hour_after_1h"]
        out.append(f"{path:<38} {v['requests']:>8} {v['not_modified']:>6} "
                   f"{v['rate_limited']:>4} {v['per_hour']:>7} {v['counted_per_hour']:>12} "
                   f"{'-' if after is None else after:>9}")
    out += ["", f"{'endpoint':<24} {'interval':>8} {'runs':>5} {'failed':>6} {'skipped':>7} "
                f"{'longest':>8}"]
    for name, e in res["endpoints"].items():
        out.append(f"{name:<24} {e['interval_seconds']:>7.0f}s {e['runs']:>5} "
                   f"{e['failed']:>6} {e['skipped']:>7} {e['longest_run_seconds']:>7}s "
                   f"{'PASS' if e['within_interval'] and not e['failed'] else 'FAIL'}")
    out += ["", f"{'rate bucket':<32} {'peak/min':>8} {'limit':>6}"]
    for b, v in res["buckets"].items():
        out.append(f"{b:<32} {v['peak_per_minute']:>8} {v['limit']:>6} "
                   f"{'PASS' if v['ok'] else 'FAIL'}")
    out += ["", "PASS" if res["passed"] else "FAIL"]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--poll-interval", default="5m")
    ap.add_argument("--events-per-user-day", type=float, default=12.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args(argv)
    res = analyse(run(Settings(users=a.users, hours=a.hours, interval=a.poll_interval,
                               seed=a.seed, events_per_user_day=a.events_per_user_day)))
    print(json.dumps(res, indent=1) if a.json else render(res))
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
