"""The daemon and --once against the built-in simulator, over loopback."""

from __future__ import annotations

import shutil
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from aicode_sim import Simulator
from tests.ops.helpers import contract_metrics
from tests.simhelpers import (
    exporter_cmd,
    free_port,
    get,
    parse,
    running,
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
        assert "<td>down</td>" in page and "connection failed" in page
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
        cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [
            {"type": "qoder", "organization_id": "org_sim", **common},
            {"type": "cursor", **common}],
            users={"per_user_counters": True})
        out = subprocess.run(exporter_cmd("--config.file", str(cfg), "--once"),
                             capture_output=True, timeout=120, check=True)
    finally:
        sim.stop()
    text = out.stdout.decode()
    check = subprocess.run([promtool, "check", "metrics"], input=out.stdout,
                           capture_output=True, timeout=30)
    assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check
    got = parse(text)
    names = {k.split("{")[0] for k in got}
    missing = sorted(contract_metrics() - names)
    assert not missing, f"--once lacks {missing}"
    ups = {k: v for k, v in got.items() if k.startswith("aicode_up{")}
    assert len(ups) == 9 and set(ups.values()) == {1.0}  # 7 Qoder + 2 Cursor endpoints
    for provider in ("qoder", "cursor"):
        assert any(k.startswith("aicode_commits_total{") and f'provider="{provider}"' in k
                   and v > 0 for k, v in got.items())


def counters_of(text: str) -> dict[str, float]:
    return {k: v for k, v in parse(text).items()
            if k.startswith(("aicode_commit", "aicode_change", "aicode_records_ingested"))}


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
        expected = counters_of(clean.stdout.decode())
        assert sum(v for k, v in expected.items() if "ingested" in k) > 1000

        seen = len(sim.requests)
        proc = subprocess.Popen(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(sim.requests) - seen >= kill_after_requests or proc.poll() is not None,
                 60, "requests before the kill")
        proc.kill()
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the poll ended before it could be killed"
        resumed = subprocess.run(exporter_cmd("--config.file", str(config("killed")), "--once"),
                                 capture_output=True, timeout=120, check=True)
    finally:
        sim.stop()
    assert counters_of(resumed.stdout.decode()) == expected


def test_cursor_at_5_per_minute_never_sees_a_429(tmp_path: Path) -> None:
    """Several poll intervals in virtual time: the simulator and the exporter share a fake
    clock, so a poll that paces for minutes runs in milliseconds."""
    from exporter.app import App
    from tests.helpers import FakeClock, make_config
    from tests.simhelpers import sim_transport

    clock = FakeClock(wall_time=datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp())
    sim = Simulator(users=120, repos=6, now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    clock=clock.monotonic)
    cfg = make_config(tmp_path, [{
        "type": "cursor", "name": "sim", "base_url": "http://cursor.sim", "api_key": "sim-key",
        "poll_interval": "1m", "endpoints": {"commits": {"format": "json"},
                                             "changes": {"format": "json"}}}])
    app = App(cfg, transport=sim_transport(sim), clock=clock.monotonic, wall=clock.wall,
              sleep=clock.sleep)
    start = clock.monotonic()
    for i in range(6):  # the scheduler's intervals, coalesced when a poll overruns
        app.poller.poll_all_once()
        idle = max(0.0, start + (i + 1) * 60 - clock.mono)
        clock.mono += idle
        clock.wall_time += idle
    app.close()
    statuses = [r.status for r in sim.requests]
    assert 429 not in statuses
    pages = [r for r in sim.requests if r.path.endswith("/changes")]
    assert len(pages) > 10  # enough requests that the limit was really in play
    assert sum(clock.sleeps) >= 60 * (len(pages) - 5) / 5 - 1


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
            names = {k.split("{")[0] for k in parse(r.text)} if r else set()
            return set(AGGREGATES) <= names

        wait_for(filled, 30, "every aggregate gauge")
        assert proc.poll() is None
    out = (tmp_path / "demo.log").read_text()
    assert f"http://127.0.0.1:{port}/metrics" in out and f"http://127.0.0.1:{port}/" in out


def test_sigterm_mid_poll_exits_0_within_10s_and_commits_nothing_partial(
        tmp_path: Path) -> None:
    import time

    sim_port, port = free_port(), free_port()
    # Cursor JSON at 5/min: the poll sits in the rate limiter for minutes.
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "cursor", "name": "sim", "base_url": f"http://127.0.0.1:{sim_port}",
        "api_key": "sim-key", "endpoints": {"commits": {"format": "json"},
                                            "changes": {"format": "json"}}}])
    with running(exporter_cmd("simulate", "--listen", f"127.0.0.1:{sim_port}", "--users",
                              "400"), tmp_path / "sim.log"), \
            running(exporter_cmd("--config.file", str(cfg), "--web.listen-address",
                                 f"127.0.0.1:{port}"), tmp_path / "exp.log") as exp:
        wait_for(lambda: get(f"http://127.0.0.1:{sim_port}/") is not None, 30, "simulator")
        wait_for(lambda: "stream configured" in (tmp_path / "exp.log").read_text(), 30, "start")
        time.sleep(3)  # first page fetched, now waiting on the bucket
        t0 = time.monotonic()
        exp.send_signal(signal.SIGTERM)
        rc = exp.wait(15)
        took = time.monotonic() - t0
    assert rc == 0 and took < 10, (rc, took)
    from exporter.pipeline.state import StateStore

    store = StateStore(tmp_path / "state.db")
    assert store.counters("cursor", "sim") == {}  # the unfinished poll left nothing
    store.close()


def test_late_records_are_caught_by_the_lookback(tmp_path: Path) -> None:
    """Polls at T and T+6h count exactly what one fresh read at T+6h of the same span
    counts, although some records committed before T are only ingested after it."""
    from exporter.app import App
    from tests.helpers import FakeClock, make_config
    from tests.simhelpers import sim_transport

    t0 = datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp()
    clock = FakeClock(wall_time=t0)
    sim = Simulator(users=60, repos=6, now=lambda: datetime.fromtimestamp(clock.wall_time, UTC),
                    clock=clock.monotonic, cursor_rate_limit_per_minute=0)

    def app(name: str, backfill: str) -> App:
        cfg = make_config(tmp_path / name, [{
            "type": "cursor", "name": "sim", "base_url": "http://cursor.sim",
            "api_key": "sim-key", "lookback": "2d", "initial_backfill": backfill,
            "rate_limit_per_minute": 6000}])
        return App(cfg, transport=sim_transport(sim), clock=clock.monotonic,
                   wall=clock.wall, sleep=clock.sleep)

    def visible_before_t0() -> int:
        with httpx.Client(transport=sim_transport(sim)) as client:
            r = client.get("http://cursor.sim/analytics/ai-code/commits",
                           auth=("sim-key", ""),
                           params={"startDate": "2026-06-07T12:00:00Z",
                                   "endDate": "2026-06-10T12:00:00Z", "pageSize": 1000})
        return int(r.json()["totalCount"])

    at_t0 = visible_before_t0()
    incremental = app("inc", "3d")
    incremental.poller.poll_all_once()
    first = counters_of(incremental.publisher.snapshot.text.decode())
    clock.wall_time = t0 + 6 * 3600
    incremental.poller.poll_all_once()
    clock.wall_time = t0 + 6 * 3600  # the fresh read sees the same "now"
    assert visible_before_t0() > at_t0  # records committed before T, ingested after it
    fresh = app("fresh", "3d6h")
    fresh.poller.poll_all_once()
    got = counters_of(incremental.publisher.snapshot.text.decode())
    want = counters_of(fresh.publisher.snapshot.text.decode())
    incremental.close()
    fresh.close()
    assert got == want
    assert got != first  # the second poll did add records, late ones among them
