"""Claude Code against the simulator (no sockets; virtual time shared by the simulator's
rate limit and the exporter's pacing): a 2,500-actor day read over several cursor pages
gives exactly the simulator's truth, a restart mid-read or between polls never counts
anything twice, and a backfill reads any past day with one request series per day.

What "count" means here: every Claude Code figure is a gauge of one whole day, recomputed
from a complete read of that day; nothing is added to a running total and nothing of it
lives in the state file. A read cut short publishes nothing (the previous day stays), so a
restart can only re-read, never re-add.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.daily import DailyJob
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.claude_code.report import usage_report
from aicode_exporter.vendors.registry import make_api, persisted_names
from aicode_sim import Simulator, teams_csv
from tests.support import exposition
from tests.support.fakes import FakeClock, make_app, sim_transport

B = 'org="acme",provider="claude_code"'
KEY = ("claude_code", "acme", "usage_report")
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday afternoon
YESTERDAY = date(2026, 3, 9)


@dataclass
class World:
    sim: Simulator
    clock: FakeClock
    tmp: Path

    def config(self, **users: Any) -> Any:
        from aicode_exporter.config.file import config_model

        teams = self.tmp / "teams.csv"
        teams.write_text(teams_csv(self.sim))
        provider = {"type": "claude_code", "name": "acme", "base_url": "http://sim.test",
                    "api_key": self.sim.api_key}
        return config_model().model_validate({
            "state_path": str(self.tmp / "state.db"), "teams": {"file": str(teams)},
            "users": {"per_user_counters": True, "max_users": 100_000, **users},
            "providers": [provider]})

    def app(self, transport: httpx.BaseTransport | None = None, **users: Any) -> App:
        return make_app(self.config(**users), transport or sim_transport(self.sim), self.clock)

    def truth(self, day: date = YESTERDAY) -> list[dict[str, Any]]:
        return self.sim.api("claude_code").records(day, int(self.clock.wall() * 1000))


def world(tmp_path: Path, users: int) -> World:
    clock = FakeClock(wall_time=NOW.timestamp())
    sim = Simulator(users=users, days=100, now=lambda: datetime.fromtimestamp(clock.wall(), UTC),
                    clock=clock.monotonic)
    return World(sim, clock, tmp_path)


def poll(app: App) -> tuple[dict[str, float], Any]:
    app.poller.poll_all_once()
    return exposition.parse(app.publisher.render().text), app.telemetry.statuses()[KEY]


def expected(records: list[dict[str, Any]], teams_text: str) -> dict[str, float]:
    """The day's series computed straight from the simulator's records."""
    out: dict[str, float] = defaultdict(float)
    people: dict[str, set[str]] = defaultdict(set)
    keys: dict[str, set[str]] = defaultdict(set)
    lines_by_person: dict[str, float] = defaultdict(float)
    for r in records:
        surface = "cloud_agent" if r.get("is_remote") else "cli"
        actor = r["actor"]
        if actor["type"] == "user_actor":
            who = actor["email_address"].lower()
            people["all"].add(who)
            people[surface].add(who)
            lines_by_person[who] += r["core_metrics"]["lines_of_code"]["added"]
        else:
            keys["all"].add(actor["api_key_name"])
            keys[surface].add(actor["api_key_name"])
        core = r["core_metrics"]
        out[f"aicode_daily_agent_sessions{{{B}}}"] += core["num_sessions"]
        out[f"aicode_daily_agent_commits{{{B}}}"] += core["commits_by_claude_code"]
        out[f"aicode_daily_agent_pull_requests{{{B}}}"] += core["pull_requests_by_claude_code"]
        lines = f'feature="agent",{B},vendor_feature="claude_code"'
        out[f"aicode_daily_lines_accepted{{{lines}}}"] += core["lines_of_code"]["added"]
        out[f"aicode_daily_lines_removed{{{lines}}}"] += core["lines_of_code"]["removed"]
        for tool, d in r["tool_actions"].items():
            labels = f'feature="agent",{B},vendor_feature="{tool}"'
            out[f"aicode_daily_suggestions{{{labels}}}"] += d["accepted"] + d["rejected"]
            out[f"aicode_daily_suggestions_accepted{{{labels}}}"] += d["accepted"]
        for m in r["model_breakdown"]:
            model = m["model"]
            out[f'aicode_daily_cost_usd{{model="{model}",{B}}}'] += (
                m["estimated_cost"]["amount"] / 100)
            for src, kind in (("input", "input"), ("output", "output"),
                              ("cache_read", "cache_read"), ("cache_creation", "cache_write")):
                out[f'aicode_daily_tokens{{model="{model}",{B},type="{kind}"}}'] += (
                    m["tokens"][src])
    for surface in ("all", "cli", "cloud_agent"):
        out[f'aicode_daily_active_users{{{B},surface="{surface}"}}'] = len(people[surface])
        out[f'aicode_daily_active_api_keys{{{B},surface="{surface}"}}'] = len(keys[surface])
    for who, n in lines_by_person.items():
        out[f'aicode_daily_user_lines_accepted{{feature="agent",{B},user="{who}"}}'] = n
    # Teams by e-mail as the map has them (rows without an e-mail name other vendors' ids).
    member: dict[str, set[str]] = defaultdict(set)
    for row in csv.DictReader(io.StringIO(teams_text)):
        if row["email"]:
            member[row["email"].lower()].add(row["team"])
    team_people: dict[str, set[str]] = defaultdict(set)
    for who in people["all"]:
        for team in member.get(who) or {"unassigned"}:
            team_people[team].add(who)
            out[f'aicode_daily_team_lines_accepted{{feature="agent",{B},team="{team}"}}'] += (
                lines_by_person[who])
    for team, who_set in team_people.items():
        out[f'aicode_daily_team_active_users{{{B},team="{team}"}}'] = len(who_set)
    return dict(out)


def as_samples(families: Any) -> dict[str, float]:
    """Families as the exposition's `name{labels}` keys (labels sorted, as rendered)."""
    out = {}
    for f in families:
        for values, v in f.samples:
            labels = ",".join(f'{n}="{lv}"' for n, lv in
                              sorted(zip(f.spec.labelnames, values, strict=True)))
            out[f"{f.spec.name}{{{labels}}}"] = v
    return out


def daily(samples: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in samples.items() if k.startswith("aicode_daily_")
            and not k.startswith(("aicode_daily_date", "aicode_daily_user_agent",
                                  "aicode_daily_user_cost"))}


def assert_truth(samples: dict[str, float], w: World) -> None:
    want = expected(w.truth(), teams_csv(w.sim))
    assert daily(samples) == pytest.approx(want, rel=1e-12)
    assert samples[f"aicode_daily_date_timestamp_seconds{{{B}}}"] == (
        datetime(2026, 3, 9, tzinfo=UTC).timestamp())


@pytest.mark.slow  # about a second: 5,000 people, three days of records
def test_a_2500_actor_day_over_several_pages_is_exact(tmp_path: Path) -> None:
    w = world(tmp_path, users=5000)
    truth = w.truth()
    actors = {(r["actor"]["type"], r["actor"].get("email_address") or r["actor"]["api_key_name"])
              for r in truth}
    assert len(actors) >= 2500 and len(truth) > 2000  # several pages of 1000
    assert any(r.get("is_remote") for r in truth) and any("is_remote" not in r for r in truth)
    app = w.app()
    samples, st = poll(app)
    app.close()
    assert st.up, st.last_error
    pages = [q for q in w.sim.requests if q.query.get("starting_at") == "2026-03-09"]
    assert len(pages) >= 3 and all(q.query["limit"] == "1000" for q in pages)
    assert len({q.query.get("page") for q in pages}) == len(pages)  # a new cursor each
    assert_truth(samples, w)
    # Today (partial, growing) is never shown as the newest complete day.
    assert not [q for q in w.sim.requests if q.query.get("starting_at") == "2026-03-10"]


@pytest.mark.slow  # over a second of CPU
def test_a_restart_mid_read_or_between_polls_never_counts_twice(tmp_path: Path) -> None:
    w = world(tmp_path, users=2000)
    assert not {"aicode_daily_active_users", "aicode_daily_agent_sessions",
                "aicode_daily_cost_usd"} & persisted_names()
    inner = sim_transport(w.sim)
    calls: list[str] = []

    def dies_on_second_page(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if request.url.params.get("starting_at") == "2026-03-09" and "page" in request.url.params:
            raise KeyboardInterrupt  # the process is killed between two pages
        return inner.handle_request(request)

    app = w.app(httpx.MockTransport(dies_on_second_page))
    with pytest.raises(KeyboardInterrupt):
        app.poller.poll_all_once()
    app.close()
    # Restarted: nothing of the cut read comes back, the first poll reads the day whole.
    app = w.app()
    before = exposition.parse(app.publisher.render().text)
    assert not daily(before)
    samples, st = poll(app)
    assert st.up
    assert_truth(samples, w)
    w.clock.wall_time += 300  # the next poll, five minutes on: the same day, the same values
    samples, _ = poll(app)
    assert_truth(samples, w)
    app.close()
    app = w.app()  # restarted between polls
    samples, _ = poll(app)
    app.close()
    assert_truth(samples, w)


def test_a_failed_page_keeps_the_previous_day_and_the_next_poll_is_exact(
        tmp_path: Path) -> None:
    w = world(tmp_path, users=2000)
    w.clock.wall_time = datetime(2026, 3, 10, 0, 30, tzinfo=UTC).timestamp()
    inner = sim_transport(w.sim)
    broken = [True]

    def second_pages_fail(request: httpx.Request) -> httpx.Response:
        if broken[0] and "page" in request.url.params:
            return httpx.Response(500, content=b'{"type":"error","error":{"type":"api_error",'
                                               b'"message":"Internal server error"}}')
        return inner.handle_request(request)

    app = w.app(httpx.MockTransport(second_pages_fail))
    broken[0] = False
    samples, st = poll(app)  # inside the lag: the 8th is the newest complete day
    assert st.up and samples[f"aicode_daily_date_timestamp_seconds{{{B}}}"] == (
        datetime(2026, 3, 8, tzinfo=UTC).timestamp())
    shown = daily(samples)
    w.clock.wall_time = NOW.timestamp()
    broken[0] = True
    samples, st = poll(app)  # the 9th's second page fails: nothing of it is shown
    assert not st.up and "server error" in st.last_error
    assert daily(samples) == shown
    broken[0] = False
    samples, st = poll(app)
    app.close()
    assert st.up
    assert_truth(samples, w)


def test_backfill_reads_any_past_day_one_request_series_per_day(tmp_path: Path) -> None:
    w = world(tmp_path, users=120)
    cfg = w.config()
    provider = cfg.providers[0]
    wiring = Wiring(telemetry=Telemetry(), users=cfg.users, transport=sim_transport(w.sim),
                    clock=w.clock.monotonic, wall=w.clock.wall, sleep=w.clock.sleep)
    api = make_api(provider, wiring)
    job = DailyJob(vendor="claude_code", org="acme", fetch=usage_report(provider, api, wiring),
                   max_days=1)
    last = YESTERDAY
    first = last - timedelta(days=89)
    days = job.days(first, last, None)
    api.close()
    assert sorted(days) == [first + timedelta(days=i) for i in range(90)]
    asked = [q for q in w.sim.requests if q.path.endswith("/claude_code")]
    assert len(asked) == 90  # 120 people: one page a day
    assert {q.query["starting_at"] for q in asked} == {d.isoformat() for d in days}
    old = first + timedelta(days=10)  # a Saturday, as it happens: fewer people
    want = expected(w.truth(old), "team,email\n")
    org_wide = {k: v for k, v in want.items() if "team" not in k and "user_" not in k}
    got = as_samples(days[old])
    assert {k: v for k, v in got.items() if k in org_wide or "user_" not in k} == (
        pytest.approx(org_wide, rel=1e-12))
    assert got[f'aicode_daily_active_users{{{B},surface="all"}}'] > 0
