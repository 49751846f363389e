"""Qoder's credit usage records against the simulator over loopback: a `--once` killed
with SIGKILL in the middle of its backfill, then run again, ends with exactly the
credits of an uninterrupted run, which are exactly the simulator's own total."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from aicode_sim import Simulator
from aicode_sim.index import Query
from aicode_sim.timeutil import to_ms
from tests.support.exposition import parse
from tests.support.processes import exporter_cmd, sigkill_once_after, write_config

OTHERS = ("overview", "daily_trend", "member_ranking", "repos", "file_extensions",
          "commits", "changes", "members", "resource_packages")


def test_sigkill_mid_credits_backfill_then_restart_equals_the_vendors_total(
        tmp_path: Path) -> None:
    frozen = datetime.now(UTC).replace(microsecond=0)
    # The exporter's 7-day first read covers the simulator's 5 days of data whenever it runs.
    sim = Simulator(users=200, repos=4, days=5, now=lambda: frozen,
                    vendor_options={"qoder": {"cursor_spelling": "alternate"}})
    sim.start()

    def usage_requests() -> int:
        return sum(1 for r in sim.requests if r.path.endswith("/usage-events"))

    def config(name: str) -> Path:
        return write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", [{
            "type": "qoder", "name": "sim", "base_url": sim.url, "api_key": "sim-key",
            "organization_id": "org_sim", "rate_limit_per_minute": 600,
            "initial_backfill": "7d", "backfill_slice": "12h",
            "endpoints": {ep: {"enabled": False} for ep in OTHERS}}])

    try:
        clean = subprocess.run(exporter_cmd("--config.file", str(config("clean")), "--once"),
                               capture_output=True, timeout=180, check=True)
        full = usage_requests()
        assert full > 40  # a page is 100 records: several pages per 12-hour slice

        done = sigkill_once_after(config("killed"), usage_requests, full // 2, 120,
                                  "half the backfill's requests")
        before = usage_requests()
        resumed = subprocess.run(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                 capture_output=True, timeout=180, check=True)
        after = usage_requests() - before
    finally:
        sim.stop()
    # The restart read what was left (plus the slice in flight and `overlap`), not all.
    assert after < full and after <= full - done + full // 5, (full, done, after)
    credits = ("aicode_credits_used_total", "aicode_records_ingested_total")
    want = parse(clean.stdout, credits)
    assert parse(resumed.stdout, credits) == want
    usage = sim.api("qoder").teams.usage
    now_ms = to_ms(frozen)
    truth = sum(usage.stream.credits(r) for r in usage.select(Query(0, now_ms), now_ms).refs())
    got = sum(v for k, v in want.items() if k.startswith("aicode_credits_used_total"))
    assert got == truth > 0
