"""Qoder's Members and Usage endpoints polled against the simulator in one process, on a
fake clock: credit counters equal the simulator's own totals across overlapping polls,
late records, exact copies, a restart and a kill; the default pacing never draws a 429
from a simulator that enforces a limit; the quota sweep spreads over runs."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.vendors.qoder.mapping import vocab
from aicode_sim import Simulator
from aicode_sim.index import Query
from tests.support.exposition import parse
from tests.support.fakes import FakeClock, make_app, make_config, sim_transport

T0 = datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp()
HOUR = 3600.0
OTHERS = ("overview", "daily_trend", "member_ranking", "repos", "file_extensions",
          "commits", "changes")
CREDIT = re.compile(r'aicode_credits_used_total\{model_tier="([^"]*)",operation="([^"]*)",'
                    r'org="sim",provider="qoder",source="([^"]*)"\}')
Key = tuple[str, str, str]  # (source, operation, model tier) as labelled


class Sim:
    """A simulator whose clock is the test's; its `now` moves only between polls, so a
    poll reads one state of the vendor (as a fast real poll would)."""

    def __init__(self, clock: FakeClock, **options: Any) -> None:
        self.now = clock.wall_time
        self.sim = Simulator(users=options.pop("users", 40), repos=4, days=20,
                             now=lambda: datetime.fromtimestamp(self.now, UTC),
                             clock=clock.monotonic, **options)
        self.clock = clock

    def advance(self, seconds: float) -> None:
        self.clock.wall_time += seconds
        self.clock.mono += seconds
        self.now = self.clock.wall_time

    def truth(self, start: float) -> Counter[Key]:
        """Credits of every record the vendor lists from `start` to now, by label."""
        usage = self.sim.api("qoder").teams.usage
        now_ms = round(self.now * 1000)
        out: Counter[Key] = Counter()
        for ref in usage.select(Query(round(start * 1000), now_ms), now_ms).refs():
            source, operation, tier = usage.stream.fields(ref.attr)
            out[(vocab(source), vocab(operation), vocab(tier))] += usage.stream.credits(ref)
        return out


def config(path: Path, users: dict[str, Any] | None = None, **extra: Any) -> Any:
    """Qoder with only the Members and Usage endpoints (unless `endpoints` says)."""
    endpoints = extra.pop("endpoints", {ep: {"enabled": False} for ep in OTHERS})
    return make_config(path, [{
        "type": "qoder", "name": "sim", "base_url": "http://qoder.sim",
        "organization_id": "org_sim", "api_key": "sim-key", "initial_backfill": "3d",
        "endpoints": endpoints, **extra}], users)


def credits(app: App) -> Counter[Key]:
    out: Counter[Key] = Counter()
    for key, value in parse(app.publisher.render().text, ("aicode_credits_used_total",)).items():
        match = CREDIT.fullmatch(key)
        assert match, key
        tier, operation, source = match.groups()
        out[(source, operation, tier)] = value
    return out


@pytest.mark.slow
def test_credits_equal_the_vendors_totals_over_overlapping_polls_and_a_restart(
        tmp_path: Path) -> None:
    """Five-minute polls for three hours (each re-reads the ten minutes before its
    watermark; records arrive late, exact copies among them, some copies later than their
    original), a restart half-way, then the hourly deep re-read: every credit counted once,
    exactly the simulator's total, label by label; pages answered in both spellings."""
    clock = FakeClock(wall_time=T0)
    vendor = Sim(clock, vendor_options={"qoder": {"cursor_spelling": "alternate"}})
    start = T0 - 3 * 24 * HOUR
    cfg = config(tmp_path, rate_limit_per_minute=6000)
    app = make_app(cfg, sim_transport(vendor.sim), clock)
    app.poller.poll_all_once()
    before = credits(app)
    assert before == vendor.truth(start)
    for poll in range(36):
        vendor.advance(300)
        if poll == 18:  # a restart: a new process on the same state file
            app.close()
            app = make_app(cfg, sim_transport(vendor.sim), clock)
            assert credits(app) == before  # served from the state file before any poll
        app.poller.poll_all_once()
        before = credits(app)
    vendor.advance(HOUR)  # the deep re-read is due: records ingested late are read again
    app.poller.poll_all_once()
    got, want = credits(app), vendor.truth(start)
    assert got == want and sum(want.values()) > 3000
    text = app.publisher.render().text.decode()
    app.close()
    stats = parse(text, ("aicode_records_",))
    stream = '{org="sim",provider="qoder",stream="credits"}'
    # The overlaps and the deep re-read did read records again.
    assert stats[f"aicode_records_duplicate_total{stream}"] > 1000
    assert stats[f"aicode_records_invalid_total{stream}"] == 0
    pages = [r for r in vendor.sim.requests if r.path.endswith("/usage-events")]
    assert {"nextToken", "nextCredits"} <= {k for r in pages for k in r.query}
    assert {r.status for r in vendor.sim.requests} == {200}


def test_a_kill_mid_backfill_then_a_restart_counts_each_record_once(tmp_path: Path) -> None:
    clock = FakeClock(wall_time=T0)
    vendor = Sim(clock)
    cfg = config(tmp_path, rate_limit_per_minute=6000, backfill_slice="6h")
    inner = sim_transport(vendor.sim)
    served = 0

    def dies_after_10(request: httpx.Request) -> httpx.Response:
        nonlocal served
        if request.url.path.endswith("/usage-events"):
            served += 1
            if served > 10:
                raise KeyboardInterrupt  # the process dies: nothing after this runs
        return inner.handle_request(request)

    killed = make_app(cfg, dies_after_10, clock)
    with pytest.raises(KeyboardInterrupt):
        killed.poller.poll_all_once()
    killed.close()
    restarted = make_app(cfg, inner, clock)
    partial = sum(credits(restarted).values())  # what the state file held
    restarted.close()
    resumed = make_app(cfg, inner, clock)
    resumed.poller.poll_all_once()
    want = vendor.truth(T0 - 3 * 24 * HOUR)
    assert 0 < partial < sum(want.values())  # some slices were committed before the kill
    assert credits(resumed) == want
    resumed.close()


@pytest.mark.slow
def test_default_pacing_never_draws_a_429_from_a_limited_vendor(tmp_path: Path) -> None:
    """Qoder at 60 requests a minute per endpoint (member paths counted as one), the
    exporter at its defaults with per-user data on: a week of backfill, 150 quota calls,
    members listed by two jobs, and never a 429."""
    clock = FakeClock(wall_time=T0)
    vendor = Sim(clock, users=150, qoder_rate_limit_per_minute=60)
    cfg = config(tmp_path, initial_backfill="7d", users={"per_user_counters": True})
    app = make_app(cfg, sim_transport(vendor.sim), clock)
    began = clock.monotonic()
    for i in range(4):
        app.poller.poll_all_once()
        vendor.advance(max(0.0, began + (i + 1) * 300 - clock.mono))
    text = app.publisher.render().text.decode()
    app.close()
    statuses = Counter(r.status for r in vendor.sim.requests)
    assert statuses[429] == 0 and set(statuses) == {200}
    usage = [r for r in vendor.sim.requests if r.path.endswith("/usage-events")]
    quota = [r for r in vendor.sim.requests if r.path.endswith("/quota")]
    assert len(usage) > 60 and len(quota) >= 150  # the limit was in play
    got = parse(text, ("aicode_member_quota_limit_credits", "aicode_up"))
    assert sum(1 for k in got if k.startswith("aicode_member_quota_limit")) == 150
    assert {v for k, v in got.items() if k.startswith("aicode_up")} == {1.0}


@pytest.mark.slow
def test_the_quota_sweep_spreads_over_runs_and_keeps_every_members_last_answer(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(wall_time=T0)
    vendor = Sim(clock, users=300)
    only = {ep: {"enabled": False} for ep in (*OTHERS, "credits", "resource_packages",
                                              "members")}
    app = make_app(config(tmp_path, endpoints=only, users={"per_user_counters": True}),
                   sim_transport(vendor.sim), clock)

    def quotas() -> int:
        text = app.publisher.render().text
        return len(parse(text, ("aicode_member_quota_limit_credits",)))

    app.poller.poll_all_once()  # 270 s of a 5-minute interval at 60 a minute
    first = quotas()
    status = app.telemetry.statuses()[("qoder", "sim", "member_quota")]
    assert 250 <= first < 300 and status.up
    assert status.note.startswith(f"sweep in progress: {first} of 300 members asked")
    vendor.advance(300)
    app.poller.poll_all_once()
    assert quotas() == 300
    assert app.telemetry.statuses()[("qoder", "sim", "member_quota")].note == ""
    def asked() -> list[str]:
        return [r.path for r in vendor.sim.requests if r.path.endswith("/quota")]

    assert len(asked()) == len(set(asked())) == 300  # each member once per sweep
    for _ in range(9):  # the rest of the hour: the values stay, nothing is asked
        vendor.advance(300)
        app.poller.poll_all_once()
        assert quotas() == 300 and len(asked()) == 300
    vendor.advance(300)
    app.poller.poll_all_once()  # an hour on, the next sweep, from a fresh member list
    assert quotas() == 300 and len(asked()) > 300
    lists = [r for r in vendor.sim.requests if r.path.endswith("/members")]
    assert len(lists) == 2 * 3 and all(r.query["maxResults"] == "100" for r in lists)
    app.close()

    capped = make_app(config(tmp_path / "capped", endpoints=only,
                             users={"per_user_counters": True, "max_users": 40}),
                      sim_transport(vendor.sim), clock)
    capped.poller.poll_all_once()
    assert len(parse(capped.publisher.render().text,
                     ("aicode_member_quota_limit_credits",))) == 40
    assert any("more enabled members than users.max_users" in r.getMessage()
               for r in caplog.records)
    capped.close()


@pytest.mark.parametrize("per_user,expected", [
    ({"per_user_counters": False}, False), ({"per_user_counters": True, "label": "none"}, False),
    ({"per_user_counters": True}, True)])
def test_member_quota_runs_only_with_per_user_data(tmp_path: Path, per_user: dict[str, Any],
                                                    expected: bool) -> None:
    clock = FakeClock(wall_time=T0)
    vendor = Sim(clock, users=5)
    app = make_app(config(tmp_path, users=per_user), sim_transport(vendor.sim), clock)
    app.poller.poll_all_once()
    ups = parse(app.publisher.render().text, ("aicode_up",))
    app.close()
    assert ('aicode_up{endpoint="member_quota",org="sim",provider="qoder"}' in ups) == expected
    assert not any("/quota" in r.path for r in vendor.sim.requests) or expected
