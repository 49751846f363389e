"""The daemon and --once against the built-in simulator, over loopback."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aicode_sim import Simulator, teams_csv
from tests.ops.helpers import unserved_contract_metrics
from tests.support.exposition import RECORD_COUNTERS, names, parse
from tests.support.processes import (
    exporter_cmd,
    free_port,
    get,
    running,
    sigkill_once_after,
    wait_for,
    write_config,
)

SHARE = 'aicode_ai_share_ratio{org="sim",provider="qoder",window="7d"}'
UP_OVERVIEW = 'aicode_up{endpoint="overview",org="sim",provider="qoder"}'


def test_daemon_keeps_serving_last_values_when_the_vendor_dies(tmp_path: Path) -> None:
    sim_port, port = free_port(), free_port()
    sim_cmd = exporter_cmd("simulate", "--listen", f"127.0.0.1:{sim_port}", "--users", "20")
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "qoder", "name": "sim", "base_url": f"http://127.0.0.1:{sim_port}",
        "organization_id": "org_sim", "api_key": "sim-key", "poll_interval": "2s",
        "windows": ["1d", "7d"], "rate_limit_per_minute": 600, "request_timeout": "2s"}])
    url = f"http://127.0.0.1:{port}"
    with running(sim_cmd, tmp_path / "sim.log") as sim, \
            running(exporter_cmd("--config.file", str(cfg), "--web.listen-address",
                                 f"127.0.0.1:{port}"), tmp_path / "exp.log") as exp:
        wait_for(lambda: (r := get(f"{url}/-/ready")) and r.status_code == 200, 60, "ready")
        before = parse(get(f"{url}/metrics").text)  # type: ignore[union-attr]
        assert before[UP_OVERVIEW] == 1 and 0 < before[SHARE] < 1
        sim.send_signal(signal.SIGKILL)
        sim.wait()
        after = wait_for(lambda: (m := parse(get(f"{url}/metrics").text))  # type: ignore[union-attr]
                         and m.get(UP_OVERVIEW) == 0 and m, 30, "aicode_up to drop")
        assert after[SHARE] == before[SHARE]  # last good value still served
        assert exp.poll() is None
        assert get(f"{url}/-/healthy").status_code == 200  # type: ignore[union-attr]
        page = get(f"{url}/").text  # type: ignore[union-attr]
        assert "<td>down</td>" in page and "cannot reach" in page
    log = (tmp_path / "exp.log").read_text()
    assert "endpoint poll failed" in log and "Traceback" not in log


def test_once_fills_every_contract_metric_and_promtool_accepts_it(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: install Debian's prometheus package (make test does)"
    sim = Simulator(users=30, repos=8, cursor_rate_limit_per_minute=1000)
    sim.start()
    try:
        common = {"name": "sim", "base_url": sim.url, "api_key": "sim-key",
                  "rate_limit_per_minute": 6000}
        (tmp_path / "teams.csv").write_text(teams_csv(sim))
        cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [
            {"type": "qoder", "organization_id": "org_sim", **common},
            {"type": "cursor", **common}, {"type": "claude_code", **common},
            {"type": "copilot", "organization": "sim-org", **common}],
            users={"per_user_counters": True}, teams={"file": "teams.csv"})
        out = subprocess.run(exporter_cmd("--config.file", str(cfg), "--once"),
                             capture_output=True, timeout=120, check=True)
    finally:
        sim.stop()
    text = out.stdout.decode()
    check = subprocess.run([promtool, "check", "metrics"], input=out.stdout,
                           capture_output=True, timeout=30)
    assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check
    got = parse(text)
    missing = unserved_contract_metrics(got)
    assert not missing, f"--once lacks {missing}"
    ups = {k: v for k, v in got.items() if k.startswith("aicode_up{")}
    # 11 Qoder (member_quota with per-user data), 16 Cursor (tracking, Analytics, Admin,
    # with per-user data), 4 Copilot endpoints and 1 Claude Code
    assert len(ups) == 32 and set(ups.values()) == {1.0}, ups
    for provider in ("qoder", "cursor"):
        assert any(k.startswith("aicode_commits_total{") and f'provider="{provider}"' in k
                   and v > 0 for k, v in got.items())


@pytest.mark.parametrize("kill_after_requests", [2, 12])
def test_sigkill_mid_poll_then_restart_equals_uninterrupted(tmp_path: Path,
                                                            kill_after_requests: int) -> None:
    frozen = datetime.now(UTC).replace(microsecond=0)
    sim = Simulator(users=150, repos=10, days=3, now=lambda: frozen,
                    cursor_rate_limit_per_minute=10_000)
    sim.start()
    try:
        def config(name: str) -> Path:
            common = {"name": "sim", "base_url": sim.url, "api_key": "sim-key",
                      "rate_limit_per_minute": 1200, "initial_backfill": "7d"}
            return write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", [
                {"type": "qoder", "organization_id": "org_sim", **common, "endpoints": {
                    ep: {"enabled": False} for ep in ("overview", "daily_trend",
                                                      "member_ranking", "repos",
                                                      "file_extensions")}},
                {"type": "cursor", **common, "endpoints": {"changes": {"format": "json"}}}])

        clean = subprocess.run(exporter_cmd("--config.file", str(config("clean"), ), "--once"),
                               capture_output=True, timeout=120, check=True)
        expected = parse(clean.stdout, RECORD_COUNTERS)
        assert sum(v for k, v in expected.items() if "ingested" in k) > 1000

        sigkill_once_after(config("killed"), lambda: len(sim.requests), kill_after_requests,
                           60, "requests before the kill")
        resumed = subprocess.run(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                 capture_output=True, timeout=120, check=True)
    finally:
        sim.stop()
    assert parse(resumed.stdout, RECORD_COUNTERS) == expected


def test_sigkill_mid_backfill_resumes_with_what_was_left(tmp_path: Path) -> None:
    """A long first read killed half-way: the restart asks only for the slices that were
    not committed (plus the one in flight and `overlap`), and the counters equal an
    uninterrupted run exactly."""
    frozen = datetime.now(UTC).replace(microsecond=0)
    # The exporter's clock is not frozen: each run's 7-day window starts a little later
    # than the one before. Data from at most 6 days back lies inside every run's window.
    sim = Simulator(users=250, repos=10, days=5, now=lambda: frozen,
                    cursor_rate_limit_per_minute=10_000)
    sim.start()

    def changes_requests() -> int:
        return sum(1 for r in sim.requests if r.path.endswith("/analytics/ai-code/changes"))

    try:
        def config(name: str) -> Path:
            return write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", [{
                "type": "cursor", "name": "sim", "base_url": sim.url, "api_key": "sim-key",
                "rate_limit_per_minute": 300, "initial_backfill": "7d",
                "backfill_slice": "1d", "endpoints": {"commits": {"enabled": False},
                                                      "changes": {"format": "json"}}}])

        clean = subprocess.run(exporter_cmd("--config.file", str(config("clean")), "--once"),
                               capture_output=True, timeout=120, check=True)
        expected = parse(clean.stdout, RECORD_COUNTERS)
        full = changes_requests()
        assert full >= 10  # several pages per one-day slice

        done = sigkill_once_after(config("killed"), changes_requests, full // 2, 60,
                                  "half the backfill's requests")

        before = changes_requests()
        resumed = subprocess.run(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                 capture_output=True, timeout=120, check=True)
        after = changes_requests() - before
    finally:
        sim.stop()
    # What was left, plus at most the slice in flight (weekdays hold more pages than the
    # average slice, hence the factor 2) and the `overlap` tail.
    pages_per_slice = -(-full // 6)  # the oldest of the seven slices holds no data
    assert after <= full - done + 2 * pages_per_slice + 1, (full, done, after)
    assert after < full
    assert parse(resumed.stdout, RECORD_COUNTERS) == expected


AGGREGATES = (
    "aicode_committed_lines_edited", "aicode_committed_ai_lines_edited",
    "aicode_accepted_ai_lines_edited", "aicode_ai_share_ratio", "aicode_agent_edits",
    "aicode_tab_completions", "aicode_chat_messages", "aicode_user_lines_added",
    "aicode_user_ai_lines_added", "aicode_user_ai_share_ratio", "aicode_user_commits",
    "aicode_repo_commits", "aicode_repo_lines_added", "aicode_extension_changes",
    "aicode_extension_lines_added", "aicode_extension_ai_share_ratio",
    "aicode_daily_ai_lines_added", "aicode_daily_other_lines_added", "aicode_daily_commits",
    "aicode_daily_ai_share_ratio", "aicode_daily_extension_lines_added",
    "aicode_daily_extension_ai_lines_added", "aicode_daily_tab_suggestions",
    "aicode_daily_tab_accepts", "aicode_daily_tab_accept_ratio",
    "aicode_daily_date_timestamp_seconds")


def test_demo_fills_every_aggregate_gauge_within_30s(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(exporter_cmd("demo", "--web.listen-address", f"127.0.0.1:{port}"),
                 tmp_path / "demo.log") as proc:
        def filled() -> bool:
            r = get(f"{url}/metrics")
            return set(AGGREGATES) <= (names(r.text) if r else set())

        wait_for(filled, 30, "every aggregate gauge")
        assert proc.poll() is None
    out = (tmp_path / "demo.log").read_text()
    assert f"http://127.0.0.1:{port}/metrics" in out and f"http://127.0.0.1:{port}/" in out


MEMBERS_AND_USAGE = (
    "aicode_seats", "aicode_members", "aicode_member_quota_used_credits",
    "aicode_member_quota_limit_credits", "aicode_member_quota_restricted",
    "aicode_member_quota_next_reset_timestamp_seconds", "aicode_resource_packages",
    "aicode_resource_package_limit_credits", "aicode_resource_package_used_credits",
    "aicode_resource_package_remaining_credits",
    "aicode_resource_package_expiry_timestamp_seconds", "aicode_credits_used_total",
    "aicode_user_credits_used_total", "aicode_team_credits_used_total",
    "aicode_daily_suggestions", "aicode_daily_suggestions_accepted")


def test_demo_fills_the_qoder_members_and_usage_metrics(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(exporter_cmd("demo", "--poll-interval", "5s", "--web.listen-address",
                              f"127.0.0.1:{port}"), tmp_path / "demo.log") as proc:
        def filled() -> bool:
            r = get(f"{url}/metrics")
            return set(MEMBERS_AND_USAGE) <= (names(r.text) if r else set())

        wait_for(filled, 60, "the Members and Usage metrics")
        got = parse(get(f"{url}/metrics").text)  # type: ignore[union-attr]
        assert proc.poll() is None
    assert got['aicode_seats{org="demo",provider="qoder"}'] == 50  # the demo's people
    assert got['aicode_members{org="demo",provider="qoder",role="org_member",'
               'status="deleted"}'] > 0
    assert sum(v for k, v in got.items() if k.startswith("aicode_credits_used_total")) > 0


def test_sigterm_mid_poll_exits_0_within_10s_and_commits_nothing_partial(
        tmp_path: Path) -> None:
    port = free_port()
    # Cursor JSON at 5/min, 1000 records a page: dense enough that even one weekend day of
    # either stream (the smallest slice the exporter may commit on its own) takes more
    # than one page, so after its first page the poll sits in the rate limiter for minutes.
    sim = Simulator(users=400, commits_per_user_day=12, changes_per_user_day=24)
    sim.start()
    try:
        cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
            "type": "cursor", "name": "sim", "base_url": sim.url,
            "api_key": "sim-key", "endpoints": {"commits": {"format": "json"},
                                                "changes": {"format": "json"}}}])
        log = tmp_path / "exp.log"
        with running(exporter_cmd("--config.file", str(cfg), "--web.listen-address",
                                  f"127.0.0.1:{port}"), log) as exp:
            streams = ("/analytics/ai-code/commits", "/analytics/ai-code/changes")
            first = wait_for(lambda: [r for r in sim.requests if r.path in streams],
                             60, "the poll's first page request",
                             abort=lambda: exp.poll() is not None and "the exporter exited",
                             details=log.read_text)
            # Evidence that a poll is in flight: a page of a stream was served, and
            # nothing of the poll has finished yet.
            assert first[0].status == 200 and first[0].query.get("page") == "1", first
            text = log.read_text()
            assert "stream slice committed" not in text and "endpoint polled" not in text
            t0 = time.monotonic()
            exp.send_signal(signal.SIGTERM)
            rc = exp.wait(15)
            took = time.monotonic() - t0
    finally:
        sim.stop()
    assert rc == 0 and took < 10, (rc, took)
    from aicode_exporter.pipeline.state import StateStore

    store = StateStore(tmp_path / "state.db")
    assert store.counters("cursor", "sim") == {}  # the unfinished poll left nothing
    store.close()
