"""How fast does the built-in simulator serve large record sets over loopback?

Streams every change record of a ~1,000,000-record data set as CSV (Qoder and Cursor),
cold (skeletons generated on the way) and warm, then pages through the JSON lists.
Prints a table; not a timed test.

    .venv/bin/python bench/simulator_stream.py [--users 5000] [--days 7] [--changes 34]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import resource
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aicode_sim import Simulator

NOW = datetime(2025, 7, 31, 0, 0, tzinfo=UTC)  # fixed: the same data on every run
QODER_AUTH = {"Authorization": "Bearer sim-key"}
CURSOR_AUTH = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
QODER = "/v1/organizations/org_sim/ai-code-tracking"


def fetch(url: str, path: str, headers: dict[str, str]) -> tuple[int, int, float, float]:
    """(rows, bytes, seconds to first byte, total seconds) of one streamed CSV."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status} {response.read()[:200]!r}")
    first = 0.0
    size = lines = 0
    while chunk := response.read(1 << 16):
        if not first:
            first = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")  # change CSVs hold no quoted newlines
    total = time.perf_counter() - started
    conn.close()
    return lines - 1, size, first, total


def page_through(
    url: str, path: str, headers: dict[str, str], size: int, pages: int
) -> tuple[int, float]:
    """(items, seconds) for `pages` JSON pages of `size` from the middle of the list."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    items = 0
    started = time.perf_counter()
    for page in range(100, 100 + pages):
        sep = "&" if "?" in path else "?"
        conn.request("GET", f"{path}{sep}pageSize={size}&page={page}", headers=headers)
        body = json.loads(conn.getresponse().read())
        found = body["data"]["items"] if "data" in body else body["items"]
        items += len(found)
    elapsed = time.perf_counter() - started
    conn.close()
    return items, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--changes", type=float, default=34.0, help="changes per user-day")
    args = parser.parse_args()

    sim = Simulator(
        users=args.users,
        days=args.days,
        repos=50,
        changes_per_user_day=args.changes,
        cursor_rate_limit_per_minute=0,
        now=lambda: NOW,
    )
    since = "2000-01-01T00:00:00Z"
    rows = []
    with sim:
        for label, path, headers in (
            ("qoder changes CSV, cold", f"{QODER}/changes/export?startDate={since}", QODER_AUTH),
            ("qoder changes CSV, warm", f"{QODER}/changes/export?startDate={since}", QODER_AUTH),
            (
                "cursor changes CSV, cold",
                "/analytics/ai-code/changes.csv?startDate=2000-01-01",
                CURSOR_AUTH,
            ),
            (
                "cursor changes CSV, warm",
                "/analytics/ai-code/changes.csv?startDate=2000-01-01",
                CURSOR_AUTH,
            ),
        ):
            count, size, first, total = fetch(sim.url, path, headers)
            rows.append((label, count, size, first, total))
        qoder_items, qoder_secs = page_through(
            sim.url, f"{QODER}/changes?startDate={since}", QODER_AUTH, 200, 50
        )
        cursor_items, cursor_secs = page_through(
            sim.url, "/analytics/ai-code/changes?startDate=2000-01-01", CURSOR_AUTH, 1000, 20
        )

    print(f"users={args.users} days={args.days} changes/user-day={args.changes} now={NOW:%F}")
    print(f"{'stream':<26} {'records':>10} {'MB':>8} {'TTFB s':>7} {'total s':>8} {'rec/s':>9}")
    for label, count, size, first, total in rows:
        print(
            f"{label:<26} {count:>10,} {size / 1e6:>8.1f} {first:>7.2f} {total:>8.2f}"
            f" {count / total:>9,.0f}"
        )
    print(f"{'JSON pages':<26} {'items':>10} {'ms/page':>8}")
    print(f"{'qoder changes x200':<26} {qoder_items:>10,} {1000 * qoder_secs / 50:>8.1f}")
    print(f"{'cursor changes x1000':<26} {cursor_items:>10,} {1000 * cursor_secs / 20:>8.1f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak RSS (simulator and client in one process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
