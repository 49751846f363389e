"""Records per second through the CSV and the JSON path, and peak memory, for about
1,000,000 Cursor change records served by the built-in simulator (in a child process, so
the two don't share a core's worth of Python).

Run: .venv/bin/python bench/records.py [--users 5000] [--per-day 30] [--days 7]
Each path runs in a fresh process with a fresh state file; RSS is that process's peak.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime.now(UTC).replace(microsecond=0)


def serve(port: int, users: int, per_day: float, days: int, ready: mp.Event) -> None:  # type: ignore[valid-type]
    from aicode_sim import Simulator

    sim = Simulator(users=users, repos=50, days=days, changes_per_user_day=per_day,
                    commits_per_user_day=0.5, cursor_rate_limit_per_minute=1_000_000,
                    now=lambda: NOW)
    sim.start("127.0.0.1", port)
    ready.set()  # type: ignore[attr-defined]
    while True:
        time.sleep(3600)


def one_path(url: str, fmt: str, days: int) -> None:
    """Child: one poll of the changes stream through `fmt`; prints a JSON line."""
    from aicode_exporter.app import App
    from aicode_exporter.config.file import config_model

    state = Path(tempfile.mkdtemp()) / "state.db"
    cfg = config_model().model_validate({"state_path": str(state), "providers": [{
        "type": "cursor", "name": "bench", "base_url": url, "api_key": "sim-key",
        "rate_limit_per_minute": 1_000_000, "initial_backfill": f"{days + 1}d",
        "request_timeout": "10m",
        "endpoints": {"commits": {"enabled": False}, "changes": {"format": fmt}}}]})
    app = App(cfg)
    t0 = time.perf_counter()
    app.poller.poll_all_once()
    elapsed = time.perf_counter() - t0
    text = app.publisher.snapshot.text.decode()
    ingested = next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("aicode_records_ingested_total{"))
    requests = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("aicode_api_requests_total{"))
    app.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"fmt": fmt, "records": ingested, "seconds": elapsed,
                      "requests": requests, "peak_mb": peak_mb}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--per-day", type=float, default=30.0)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--port", type=int, default=19899)
    ap.add_argument("--child", nargs=2, metavar=("URL", "FMT"))
    args = ap.parse_args()
    if args.child:
        one_path(args.child[0], args.child[1], args.days)
        return
    ready = mp.Event()
    sim = mp.Process(target=serve, args=(args.port, args.users, args.per_day, args.days,
                                         ready), daemon=True)
    sim.start()
    ready.wait(60)
    url = f"http://127.0.0.1:{args.port}"
    rows = []
    for fmt in ("csv", "json"):
        out = subprocess.run([sys.executable, __file__, "--child", url, fmt, "--days",
                              str(args.days)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    sim.terminate()
    print(f"{'path':>5} {'records':>10} {'requests':>9} {'seconds':>8} {'records/s':>10} "
          f"{'peak RSS':>9}")
    for r in rows:
        print(f"{r['fmt']:>5} {r['records']:>10.0f} {r['requests']:>9.0f} {r['seconds']:>8.1f} "
              f"{r['records'] / r['seconds']:>10.0f} {r['peak_mb']:>7.0f}MB")
    n = rows[0]["records"]
    print(f"\nOne poll of this {args.users}-developer Cursor team (changes stream, "
          f"{args.days + 1}d backfill): CSV 1 request; JSON {math.ceil(n / 1000)} requests "
          f"(pageSize 1000), i.e. {math.ceil(n / 1000) / 5:.0f} minutes at 5/min.")


if __name__ == "__main__":
    main()
