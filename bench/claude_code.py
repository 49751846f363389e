"""Claude Code: what a 90-day backfill and a day of live polls cost, in requests and in
virtual time at the configured rate, for organisations of several sizes.

Drives the real report (the DayFetch the registry builds: client, cursor pages of 1000,
tolerant models, mapping, the data lag and the settled-day cache) against the built-in
simulator, with a fake clock shared by the simulator's rate limit and the exporter's
pacing, so minutes of requests take seconds of CPU. The simulator's organisation: about
half the people active on a weekday and a quarter as many on weekends, some in a local
and a remote row, plus personal and shared API keys.

Printed per organisation size:

* backfill: requests for 90 past days (one request series per day), records read, the
  virtual time at --rate requests per minute, CPU seconds the exporter and the simulator
  spent together, and CPU per 1000 records;
* live: requests of one virtual day of polls every --poll minutes from midnight UTC, by
  an exporter started then (the first poll reads the complete days of the look-back; from
  01:00 yesterday is re-read on every poll until a day after it ended; a settled day is
  never asked again), against the baseline of re-reading every complete day of the
  three-day look-back on every poll (no settled-day cache), and their ratio.

    .venv/bin/python bench/claude_code.py                       # 500 and 5000 people (6 min)
    .venv/bin/python bench/claude_code.py --users 5000 --rate 30
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aicode_exporter.config.file import config_model
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.daily import DailyJob
from aicode_exporter.pipeline.jobs import PollContext
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.claude_code.report import usage_report
from aicode_exporter.vendors.registry import make_api
from aicode_sim import Simulator
from tests.support.fakes import FakeClock, sim_transport

NOW = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)  # midnight: the live day starts here


def run(users: int, rate: int, poll_minutes: int) -> dict[str, float]:
    clock = FakeClock(wall_time=NOW.timestamp())
    sim = Simulator(users=users, days=100, now=lambda: datetime.fromtimestamp(clock.wall(), UTC),
                    clock=clock.monotonic,
                    vendor_options={"claude_code": {"rate_limit_per_minute": rate}})
    cfg = config_model().model_validate({"state_path": ":memory:", "providers": [
        {"type": "claude_code", "name": "bench", "base_url": "http://sim.test",
         "api_key": sim.api_key, "rate_limit_per_minute": rate}]})
    provider = cfg.providers[0]
    wiring = Wiring(telemetry=Telemetry(), users=cfg.users, transport=sim_transport(sim),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep)
    api = make_api(provider, wiring)

    def job() -> DailyJob:  # a fresh report: a restarted exporter
        return DailyJob(vendor="claude_code", org="bench",
                        fetch=usage_report(provider, api, wiring), max_days=1, lookback_days=3)

    # One virtual day of live polls from midnight; and, as the baseline, what the same
    # polls would send re-reading every complete day of the look-back each time.
    live, end = job(), NOW + timedelta(days=1)
    baseline = 0
    while clock.wall() < end.timestamp():
        now = datetime.fromtimestamp(clock.wall(), UTC)
        for back in range(1, 4):
            d = now.date() - timedelta(days=back)
            if now >= datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1, hours=1):
                rows = len(sim.api("claude_code").records(d, int(now.timestamp() * 1000)))
                baseline += max(1, -(-rows // 1000))
        live.run(PollContext(now=now, deadline=clock.monotonic() + poll_minutes * 54))
        clock.wall_time = max(clock.wall(), now.timestamp() + poll_minutes * 60)
    live_requests = len(sim.requests)
    # Then the backfill of the 90 days before that day (all of them complete).
    last = NOW.date() - timedelta(days=1)
    start_cpu, start_wall = time.process_time(), clock.wall()
    days = job().days(last - timedelta(days=89), last, None)
    cpu = time.process_time() - start_cpu
    virtual = clock.wall() - start_wall
    asked = len(sim.requests) - live_requests
    records = sum(len(sim.api("claude_code").records(d, int(clock.wall() * 1000)))
                  for d in days)
    api.close()
    return {"users": users, "requests": asked, "records": records, "virtual_min": virtual / 60,
            "cpu_s": cpu, "cpu_per_1000": cpu / max(records, 1) * 1000,
            "live_requests": live_requests, "baseline": baseline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="*", default=[500, 5000])
    parser.add_argument("--rate", type=int, default=60, help="requests per minute")
    parser.add_argument("--poll", type=int, default=5, help="poll interval in minutes")
    args = parser.parse_args(argv)
    print(f"90-day backfill and one day of live polls (every {args.poll} min) "
          f"at {args.rate} requests/min")
    print(f"{'people':>7} {'requests':>9} {'records':>9} {'virtual':>9} {'cpu':>7} "
          f"{'cpu/1k rec':>10} {'live req/day':>12} {'re-read all':>11} {'ratio':>6}")
    for users in args.users:
        r = run(users, args.rate, args.poll)
        print(f"{users:>7} {r['requests']:>9} {r['records']:>9} {r['virtual_min']:>7.1f}m "
              f"{r['cpu_s']:>6.1f}s {r['cpu_per_1000']:>9.3f}s {r['live_requests']:>12} "
              f"{r['baseline']:>11} {r['live_requests'] / max(r['baseline'], 1):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
