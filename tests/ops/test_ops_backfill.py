"""History from day one, end to end: `aicode-exporter backfill` against the simulator ->
the real `promtool tsdb create-blocks-from openmetrics` -> a real Prometheus on those
blocks that also scrapes the daemon, started afterwards on the same state file.

The simulator's data ends 4 hours before the test starts (nothing new arrives), so the
live counters must equal the last backfilled values; PromQL must see, for every past day,
the vendor's own per-day figures and, for every past midnight, the number of records (and
their lines) with an event time before it; and no counter may decrease anywhere.
"""

from __future__ import annotations

import math
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from aicode_exporter.vendors.registry import stream_specs
from aicode_sim import Simulator
from tests.ops.helpers import tool
from tests.support import simhistory
from tests.support.processes import ROOT, exporter_cmd, free_port, get, running, wait_for

DAY = 86_400
SINCE_DAYS = 25
JOB = "aicode"
STREAM_COUNTERS = {s.name for s in stream_specs()}


@dataclass
class Stack:
    prometheus: str
    since: float
    until: float
    started: float  # when the daemon started
    events: dict[tuple[str, str], simhistory.Events]
    daily: dict[float, dict[str, Any]]
    backfill_log: str

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        r = httpx.get(f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode(params),
                      timeout=30)
        body = r.json()
        assert body.get("status") == "success", (expr, body)
        return list(body["data"]["result"])

    def raw(self, selector: str) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
        """Every stored sample of the matching series over the whole test's range."""
        span = math.ceil((self.started - self.since) / DAY) + 2
        out = {}
        for r in self.query(f"{selector}[{span}d]"):
            key = tuple(sorted(r["metric"].items()))
            out[key] = [(float(t), float(v)) for t, v in r["values"]]
        return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("ops-backfill")
    now = datetime.now(UTC)
    frozen = now - timedelta(hours=4)
    sim = Simulator(users=20, repos=6, days=20, now=lambda: frozen,
                    cursor_rate_limit_per_minute=0)
    sim.start()
    try:
        exporter_port, prom_port = free_port(), free_port()
        instance = f"127.0.0.1:{exporter_port}"
        common = {"name": "demo", "base_url": sim.url, "api_key": "sim-key",
                  "rate_limit_per_minute": 6000, "backfill_slice": "7d",
                  "poll_interval": "2s"}
        config = {"state_path": str(tmp / "state.db"), "users": {"per_user_counters": True},
                  "providers": [{"type": "qoder", "organization_id": "org_sim",
                                 "windows": ["7d"], **common},
                                {"type": "cursor", **common}]}
        (tmp / "exporter.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        since = (now - timedelta(days=SINCE_DAYS)).strftime("%Y-%m-%d")
        backfill = subprocess.run(
            exporter_cmd("backfill", "--config.file", str(tmp / "exporter.yml"),
                         "--since", since, "--label", f"job={JOB}",
                         "--label", f"instance={instance}",
                         "--output", str(tmp / "history.om")),
            capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert backfill.returncode == 0, backfill.stderr
        blocks = subprocess.run(
            [tool("promtool"), "tsdb", "create-blocks-from", "openmetrics",
             "--max-block-duration=24h", str(tmp / "history.om"), str(tmp / "tsdb")],
            capture_output=True, text=True, timeout=600)
        assert blocks.returncode == 0, blocks.stderr
        with httpx.Client(base_url=sim.url) as c:
            events = simhistory.records(c, now.timestamp() - (SINCE_DAYS + 2) * DAY,
                                        now.timestamp())
            daily = simhistory.qoder_daily(c, now.timestamp() - SINCE_DAYS * DAY,
                                           now.timestamp() - DAY)
        started = datetime.now(UTC).timestamp()
        prom_config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [{"job_name": JOB,
                                "static_configs": [{"targets": [instance]}]}]}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_config), encoding="utf-8")
        daemon = exporter_cmd("--config.file", str(tmp / "exporter.yml"),
                              "--web.listen-address", instance)
        prometheus = [tool("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
                      f"--storage.tsdb.path={tmp / 'tsdb'}",
                      "--storage.tsdb.retention.time=100d",
                      f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"]
        with running(daemon, tmp / "exporter.log") as d, \
                running(prometheus, tmp / "prometheus.log") as p:
            url = f"http://127.0.0.1:{prom_port}"
            st = Stack(url, datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp(),
                       _until(backfill.stderr), started, events, daily, backfill.stderr)

            def live_scrapes() -> bool | None:
                if d.poll() is not None or p.poll() is not None:
                    pytest.fail(f"a process exited: {(tmp / 'exporter.log').read_text()}"
                                f"{(tmp / 'prometheus.log').read_text()}")
                r = get(f"{url}/api/v1/query?query=" + urllib.parse.quote(
                    f'count_over_time(aicode_commits_total{{job="{JOB}"}}[1m]) > 5'
                    f' and on() (count(aicode_up{{job="{JOB}"}} == 1) >= 7)'))
                return bool(r is not None and r.status_code == 200
                            and r.json()["data"]["result"]) or None

            wait_for(live_scrapes, 120, "live scrapes of the daemon on top of the blocks")
            yield st
    finally:
        sim.stop()


def _until(stderr: str) -> float:
    """The end of the history, from the summary's first line ("... history A .. B")."""
    line = next(ln for ln in stderr.splitlines() if ln.startswith("backfill: done"))
    end = line.rsplit(" .. ", 1)[1].strip()
    return datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()


def _ready(url: str) -> bool | None:
    r = get(f"{url}/-/ready")
    return (r is not None and r.status_code == 200) or None


def midnights(st: Stack) -> list[float]:
    return [float(m) for m in range(math.ceil(st.since / DAY) * DAY, int(st.until), DAY)]


def test_past_days_hold_the_vendors_per_day_figures(stack: Stack) -> None:
    sel = f'{{job="{JOB}",provider="qoder"}}'
    commits = dict(next(iter(stack.raw(f"aicode_daily_commits{sel}").values())))
    dates = dict(next(iter(stack.raw(f"aicode_daily_date_timestamp_seconds{sel}").values())))
    past = {t: v for t, v in commits.items() if t <= stack.until}
    assert len(past) >= SINCE_DAYS - 2
    checked = 0
    for t, v in past.items():
        day = t - DAY  # the day a sample at 00:00 shows: the day before
        if day in stack.daily:
            assert v == stack.daily[day]["commitCount"], datetime.fromtimestamp(day, UTC)
            assert dates[t] == day
            checked += 1
    assert checked >= 15 and sum(past.values()) > 0
    # What a dashboard panel over the past reads: the last value within a day, at noon.
    for day, item in stack.daily.items():
        noon = day + DAY + DAY / 2
        if stack.since <= day + DAY and noon < stack.until:
            got = stack.query(f"last_over_time(aicode_daily_commits{sel}[1d])", noon)
            assert [float(r["value"][1]) for r in got] == [item["commitCount"]]


def test_counters_at_past_times_count_the_records_up_to_then(stack: Stack) -> None:
    for m in midnights(stack):
        for (vendor, stream), ev in stack.events.items():
            count, lines = ev.before(m)
            name = "aicode_commits_total" if stream == "commits" else "aicode_changes_total"
            got = stack.query(f'sum(aicode_{name[7:]}{{job="{JOB}",provider="{vendor}"}})', m)
            assert [float(r["value"][1]) for r in got] == [count], (vendor, stream, m)
            if stream == "changes":
                got = stack.query("sum(aicode_change_lines_added_total"
                                  f'{{job="{JOB}",provider="{vendor}"}})', m)
                assert [float(r["value"][1]) for r in got] == [lines], (vendor, m)


def test_no_counter_decreases_and_the_backfill_meets_the_live_series(stack: Stack) -> None:
    series = stack.raw(f'{{__name__=~"aicode_.+_total",job="{JOB}",provider!=""}}')
    met = 0
    names = set()
    for key, points in series.items():
        labels = dict(key)
        if labels["__name__"] not in STREAM_COUNTERS:
            continue  # the daemon's own bookkeeping (requests, records ingested): no history
        values = [v for _, v in points]
        assert values == sorted(values), labels  # never decreases, backfill and live
        past = [(t, v) for t, v in points if t <= stack.until]
        live = [(t, v) for t, v in points if t >= stack.started]
        assert past and live, labels
        assert past[-1][0] == stack.until
        assert live[0][1] == past[-1][1], labels  # the last backfilled = the first live
        met += 1
        names.add(labels["__name__"])
    assert met >= 50
    assert {"aicode_commits_total", "aicode_changes_total", "aicode_commit_lines_added_total",
            "aicode_user_changes_total"} <= names
    for name in sorted(names):  # what PromQL says too
        assert not stack.query(f'resets({name}{{job="{JOB}"}}[60d]) > 0'), name


def test_the_history_is_there_from_the_first_day(stack: Stack) -> None:
    """A dashboard's range over the past: counters rise across the simulated days."""
    first = midnights(stack)[0]
    got = stack.query(f'sum(increase(aicode_commits_total{{job="{JOB}"}}[{SINCE_DAYS}d]))',
                      stack.until)
    assert got and float(got[0]["value"][1]) > 0
    assert stack.query(f'count(aicode_commits_total{{job="{JOB}"}})', first)
    assert "promtool tsdb create-blocks-from openmetrics" in stack.backfill_log


def test_remote_write_to_a_prometheus_with_an_out_of_order_window(tmp_path: Path) -> None:
    """The same history pushed over remote write: a Prometheus whose out-of-order window
    covers it holds what the file would have given; one without it refuses, and the
    backfill says what to set and exits 1."""
    frozen = datetime.now(UTC) - timedelta(hours=4)
    sim = Simulator(users=6, repos=3, days=8, now=lambda: frozen,
                    cursor_rate_limit_per_minute=0)
    sim.start()
    ports = {"ooo": free_port(), "plain": free_port()}
    try:
        common = {"name": "demo", "base_url": sim.url, "api_key": "sim-key",
                  "rate_limit_per_minute": 6000, "backfill_slice": "7d"}
        config = {"state_path": str(tmp_path / "state.db"), "providers": [
            {"type": "qoder", "organization_id": "org_sim", "windows": ["7d"], **common},
            {"type": "cursor", **common}]}
        (tmp_path / "exporter.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        for name, window in (("ooo", {"storage": {"tsdb": {
                "out_of_order_time_window": "30d"}}}), ("plain", {})):
            (tmp_path / f"{name}.yml").write_text(yaml.safe_dump(
                {"global": {"scrape_interval": "15s"}, **window}), encoding="utf-8")
        proms = {name: [tool("prometheus"), f"--config.file={tmp_path / name}.yml",
                        f"--storage.tsdb.path={tmp_path / name}",
                        "--storage.tsdb.retention.time=100d",
                        "--web.enable-remote-write-receiver",
                        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
                 for name, port in ports.items()}
        with running(proms["ooo"], tmp_path / "ooo.log"), \
                running(proms["plain"], tmp_path / "plain.log"):
            for port in ports.values():
                wait_for(lambda p=port: _ready(f"http://127.0.0.1:{p}"), 30, "prometheus")

            def push(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(exporter_cmd(
                    "backfill", "--config.file", str(tmp_path / "exporter.yml"),
                    "--since", "10d", "--label", f"job={JOB}", *extra, "--remote-write",
                    f"http://127.0.0.1:{ports[name]}/api/v1/write"),
                    capture_output=True, text=True, timeout=300, cwd=ROOT)

            ok = push("ooo", "--output", str(tmp_path / "history.om"))
            assert ok.returncode == 0, ok.stderr
            assert "pushed to http://127.0.0.1:" in ok.stderr
            refused = push("plain")
            assert refused.returncode == 1, refused.stderr
            assert "out_of_order_time_window" in refused.stderr
            assert "Traceback" not in refused.stderr
            text = (tmp_path / "history.om").read_text()
            want = {}
            for line in text.splitlines():
                if line.startswith("aicode_commits_total{") and 'provider="cursor"' in line:
                    _, value, at = line.rsplit(" ", 2)
                    want[float(at)] = want.get(float(at), 0.0) + float(value)
            url = f"http://127.0.0.1:{ports['ooo']}"
            checked = 0
            for at, value in sorted(want.items()):
                if at % DAY:
                    continue
                r = httpx.get(f"{url}/api/v1/query", params={
                    "query": f'sum(aicode_commits_total{{job="{JOB}",provider="cursor"}})',
                    "time": f"{at:.0f}"}, timeout=30).json()
                assert [float(x["value"][1]) for x in r["data"]["result"]] == [value], at
                checked += 1
            assert checked >= 8
    finally:
        sim.stop()
