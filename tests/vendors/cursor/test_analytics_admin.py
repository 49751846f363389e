"""Cursor's Analytics API and Admin API from the documented examples
(tests/fixtures/cursor/analytics-*.json, admin-*.json): golden expositions, and one test
per quirk the documentation warns of.

What the fixtures give (checked by hand against the golden files):
- analytics, read on 2025-01-17 (newest complete day 2025-01-16): dau 38 (cli 4, cloud
  agents 34, bugbot 12 as code_review); tabs 4980 suggested, 3050 accepted (ratio
  0.6124...), lines 7890/5780; agent edits 132/89 diffs, lines 1100/890; models of the
  16th (claude-sonnet-4.5 1180 messages by 26 users, gpt-4o 420 by 14). The extension
  and version examples are of other days: the 16th has none of them (their series are
  absent). The leaderboard of the 16th (its two documented users, both boards) and the
  by-user examples (the 15th: not the newest day, so empty).
- admin, read on 2024-03-19: 2 seats; spend (2450.125487 + 1875.500123) / 100 =
  43.2562561 USD on demand, 56.50875943 overall, per user; the cycle starting 1708992000;
  groups Engineering 2450, Design 875, Unassigned 150 USD with 12, 5, 3 members; daily
  usage of 2024-03-18: requests chat 128, composer 45, agent 12, cmdk 67, bugbot 3, user
  12345 active (acceptedLinesAdded 1102, team core), 12346 not (team web).
- usage events, read on 2025-06-27: three events, two of claude-4.5-sonnet (Usage-based:
  21.36232 + 37.33 cents, their tokens) and one of claude-4-sonnet-thinking (Included in
  Business, 8 cents, no tokens).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.daily import DailyJob
from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.cursor import analytics
from aicode_exporter.vendors.cursor.config import ENDPOINTS, CursorProvider
from tests.support.exposition import parse
from tests.support.fakes import (
    CURSOR_KEY,
    CursorFake,
    FakeClock,
    cursor_config,
    fixture,
    make_app,
    make_config,
)
from tests.support.golden import check_golden

ANALYTICS_NOW = datetime(2025, 1, 17, 10, tzinfo=UTC)
ADMIN_NOW = datetime(2024, 3, 19, 10, tzinfo=UTC)
USAGE_NOW = datetime(2025, 6, 27, 10, tzinfo=UTC)
ANALYTICS = ("dau", "tabs", "agent_edits", "models", "top_file_extensions",
             "client_versions", "leaderboard", "by_user_models", "by_user_client_versions")
ADMIN = ("members", "spend", "groups", "daily_usage")
PER_USER = {"per_user_counters": True}
OP = 'org="acme",provider="cursor"'


def only(*endpoints: str, **overrides: dict[str, Any]) -> dict[str, Any]:
    return {ep: {"enabled": ep in endpoints, **overrides.get(ep, {})} for ep in ENDPOINTS}


def app_at(tmp_path: Path, now: datetime, fake: CursorFake | Any, *endpoints: str,
           users: dict[str, Any] | None = None, **provider: Any) -> App:
    cfg = cursor_config(tmp_path, users, tracking_only=False, endpoints=only(*endpoints),
                        **provider)
    return make_app(cfg, fake, FakeClock(wall_time=now.timestamp()))


def teams_file(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "teams.csv"
    path.write_text("team,email,user_id\ncore,Developer@Company.com,\nweb,,12346\n")
    return path


def admin_app(tmp_path: Path, fake: Any, users: dict[str, Any] | None = None) -> App:
    """The Admin endpoints, per-user data on, and a teams map."""
    cfg = make_config(tmp_path, [{"type": "cursor", "name": "acme",
                                  "base_url": "http://cursor.test", "api_key": CURSOR_KEY,
                                  "endpoints": only(*ADMIN)}], users or PER_USER,
                      {"teams": {"file": str(teams_file(tmp_path))}})
    return make_app(cfg, fake, FakeClock(wall_time=ADMIN_NOW.timestamp()))


def test_analytics_golden(tmp_path: Path) -> None:
    fake = CursorFake()
    app = app_at(tmp_path, ANALYTICS_NOW, fake, *ANALYTICS, users=PER_USER)
    check_golden("cursor-analytics.prom", app.run_once())
    # ranges of plain dates, today left out: [today - 7, yesterday]
    team = [r for r in fake.requests if r.url.path == "/analytics/team/dau"]
    assert dict(team[0].url.params) == {"startDate": "2025-01-10", "endDate": "2025-01-16"}
    (board,) = [r for r in fake.requests if r.url.path == "/analytics/team/leaderboard"]
    assert dict(board.url.params) == {"startDate": "2025-01-16", "endDate": "2025-01-16",
                                      "page": "1", "pageSize": "500"}


def test_admin_golden(tmp_path: Path) -> None:
    fake = CursorFake()
    app = admin_app(tmp_path, fake)
    check_golden("cursor-admin.prom", app.run_once())
    (usage,) = [json.loads(r.content) for r in fake.requests
                if r.url.path == "/teams/daily-usage-data"]
    # whole UTC days, epoch ms, every member (paginated): 2024-03-17 and 18
    assert usage == {"startDate": 1710633600000, "endDate": 1710806399999, "page": 1,
                     "pageSize": 1000}
    assert all(r.method == "POST" for r in fake.requests if r.url.path in (
        "/teams/spend", "/teams/daily-usage-data"))


def test_usage_events_golden(tmp_path: Path) -> None:
    fake = CursorFake()
    app = app_at(tmp_path, USAGE_NOW, fake, "usage_events", initial_backfill="1d")
    check_golden("cursor-usage-events.prom", app.run_once())


# -- the quirks --------------------------------------------------------------------------------

def samples(app: App) -> dict[str, float]:
    return parse(app.publisher.render().text)


def test_fractional_cents_are_usd_never_truncated(tmp_path: Path) -> None:
    app = app_at(tmp_path, ADMIN_NOW, CursorFake(), "spend", "groups", users=PER_USER)
    app.poller.poll_all_once()
    got = samples(app)
    assert math.isclose(got[f"aicode_billing_cycle_spend_usd{{{OP}}}"],
                        (2450.125487 + 1875.500123) / 100, rel_tol=1e-12)
    assert math.isclose(got[f'aicode_user_billing_cycle_spend_usd{{{OP},'
                            f'user="developer@company.com"}}'], 24.50125487, rel_tol=1e-12)
    assert got[f"aicode_billing_cycle_start_timestamp_seconds{{{OP}}}"] == 1708992000
    assert got[f'aicode_billing_group_spend_usd{{group="Engineering",{OP}}}'] == 2450.0


class Conditional:
    """The dau example with an ETag; a matching If-None-Match gets 304, no body."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            self.statuses.append(304)
            return httpx.Response(304, headers={"ETag": '"v1"'})
        self.statuses.append(200)
        return httpx.Response(200, json=fixture("cursor", "analytics-dau.json"),
                              headers={"ETag": '"v1"', "Cache-Control": "public, max-age=900"})


def test_a_304_reuses_the_body_and_spends_no_token(tmp_path: Path) -> None:
    vendor = Conditional()
    clock = FakeClock(wall_time=ANALYTICS_NOW.timestamp())
    cfg = cursor_config(tmp_path, tracking_only=False, endpoints=only("dau"))
    app = make_app(cfg, vendor, clock)
    for _ in range(20):
        app.poller.poll_all_once()
    assert vendor.statuses == [200] + [304] * 19
    got = samples(app)
    assert got[f'aicode_daily_active_users{{{OP},surface="all"}}'] == 38
    assert got[f'aicode_api_requests_total{{code="304",endpoint="dau",{OP}}}'] == 19
    interval = 60 / 100 * 1.02  # the team-level bucket's spacing
    # Without the refund each 304 would take a slot: 19 intervals of pacing.
    assert sum(clock.sleeps) < 2 * interval


def make_fetch(endpoint: str, handler: Any, users: dict[str, Any] | None = None) -> Any:
    from aicode_exporter.config.base import UsersConfig

    cfg = CursorProvider(type="cursor", name="acme", api_key=CURSOR_KEY)
    clock = FakeClock()
    api = ApiClient(vendor="cursor", org="acme", base_url="http://cursor.test",
                    auth=basic_auth(CURSOR_KEY), timeout=5, observer=Telemetry(),
                    rate_per_minute={"x": 6000}, bucket_of=dict.fromkeys(ENDPOINTS, "x"),
                    transport=httpx.MockTransport(handler), clock=clock.monotonic,
                    wall=clock.wall, sleep=clock.sleep)
    w = Wiring(telemetry=Telemetry(), users=UsersConfig(**(users or {})))
    opener = (analytics.team_report(endpoint) if endpoint in analytics.TEAM_REPORTS
              else getattr(analytics, endpoint))
    return opener(cfg, api, w)


def test_ranges_are_cut_to_30_days(tmp_path: Path) -> None:
    asked: list[tuple[date, date]] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        p = request.url.params
        asked.append((date.fromisoformat(p["startDate"]), date.fromisoformat(p["endDate"])))
        return httpx.Response(200, json={"data": [], "params": {}})

    job = DailyJob(vendor="cursor", org="acme", fetch=make_fetch("tabs", vendor),
                   max_days=analytics.MAX_DAYS)
    got = job.days(date(2025, 1, 1), date(2025, 3, 31), None)
    assert [(b - a).days + 1 for a, b in asked] == [30, 30, 30]
    assert asked[0][0] == date(2025, 1, 1) and asked[-1][1] == date(2025, 3, 31)
    assert all(b + (asked[i + 1][0] - b) == asked[i + 1][0] for i, (_, b) in
               enumerate(asked[:-1]))
    assert sorted(got) == [date(2025, 1, 1) + (d - date(2025, 1, 1)) for d in sorted(got)]
    assert len(got) == 90  # every day answered, each with zeros: no activity that day


def test_days_without_activity_are_zero_within_the_answered_range() -> None:
    body = fixture("cursor", "analytics-tabs.json")
    body["params"].update(startDate="2025-01-14", endDate="2025-01-17")
    fetch = make_fetch("tabs", lambda r: httpx.Response(200, json=body))
    got = fetch(date(2025, 1, 10), date(2025, 1, 16), None)
    assert sorted(got) == [date(2025, 1, d) for d in (14, 15, 16)]  # as far as it answered

    def value(d: int, name: str) -> float:
        (family,) = [f for f in got[date(2025, 1, d)] if f.spec.name == name]
        return family.samples[0][1]

    assert value(14, "aicode_daily_suggestions") == 0
    assert value(14, "aicode_daily_tab_accept_ratio") == 0
    assert value(15, "aicode_daily_suggestions") == 5420


@pytest.mark.parametrize("metric", ["top-files", "top-file-extensions", "anything"])
def test_params_metric_is_not_checked(metric: str) -> None:
    body = fixture("cursor", "analytics-top-file-extensions.json")
    body["params"]["metric"] = metric
    fetch = make_fetch("top_file_extensions", lambda r: httpx.Response(200, json=body))
    day = fetch(date(2025, 1, 15), date(2025, 1, 15), None)[date(2025, 1, 15)]
    got = {(f.spec.name, s[0][2]): s[1] for f in day for s in f.samples}
    assert got[("aicode_daily_extension_lines_accepted", ".tsx")] == 2340
    assert got[("aicode_daily_extension_files", ".ts")] == 142


def test_client_versions_of_their_day() -> None:
    body = fixture("cursor", "analytics-client-versions.json")
    fetch = make_fetch("client_versions", lambda r: httpx.Response(200, json=body))
    (family,) = fetch(date(2025, 1, 1), date(2025, 1, 1), None)[date(2025, 1, 1)]
    assert dict((s[0][2], s[1]) for s in family.samples) == {"0.42.3": 35, "0.42.2": 7}


KEYED = ("model_breakdown", "data")  # maps keyed by names (models, e-mails)


def with_unknown_fields(data: Any, keyed: bool = False) -> Any:
    """Every object of a payload with fields Cursor may add one day. A map keyed by names
    gets only a flag: an added object there would just be one more name."""
    if isinstance(data, dict):
        added: dict[str, Any] = {"someFlag": True}
        if not keyed:
            added["addedLater"] = {"nested": [1, "x", None]}
        return {**{k: with_unknown_fields(v, k in KEYED and isinstance(v, dict))
                   for k, v in data.items()}, **added}
    if isinstance(data, list):
        return [with_unknown_fields(v) for v in data]
    return data


class Extended(CursorFake):
    def serve(self, request: httpx.Request, name: str) -> httpx.Response:
        got = super().serve(request, name)
        return httpx.Response(200, json=with_unknown_fields(json.loads(got.content)))


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    plain = app_at(tmp_path / "a", ANALYTICS_NOW, CursorFake(), *ANALYTICS, users=PER_USER)
    extended = app_at(tmp_path / "b", ANALYTICS_NOW, Extended(), *ANALYTICS, users=PER_USER)
    assert samples_of(plain) == samples_of(extended)
    plain = admin_app(tmp_path / "c", CursorFake())
    extended = admin_app(tmp_path / "d", Extended())
    assert samples_of(plain) == samples_of(extended)


def samples_of(app: App) -> dict[str, float]:
    return {k: v for k, v in parse(app.run_once()).items()
            if not k.startswith(("aicode_poll_duration", "aicode_last_success", "process_",
                                 "python_"))}


class Edited(CursorFake):
    """The fixtures, changed by `edit(name, data)` before they are sent."""

    def __init__(self, edit: Any) -> None:
        super().__init__()
        self.edit = edit

    def serve(self, request: httpx.Request, name: str) -> httpx.Response:
        got = super().serve(request, name)
        data = copy.deepcopy(json.loads(got.content))
        self.edit(name, data)
        return httpx.Response(200, json=data)


def test_missing_emails_and_numeric_or_string_ids_are_one_identity(tmp_path: Path) -> None:
    def edit(name: str, data: dict[str, Any]) -> None:
        if name == "admin-daily-usage.json":
            active, inactive = data["data"]
            del active["email"]  # 12345 (a number) without an e-mail: by its id
            inactive["userId"] = "12346"  # a string this time
            data["data"].append({**active, "userId": "12345", "day": "2024-03-18"})
        if name == "admin-members.json":
            del data["teamMembers"][0]["email"]
            data["teamMembers"].append({"id": 12345, "name": "Old", "isRemoved": False})
            data["teamMembers"].append({"id": "12345", "name": "Old", "isRemoved": False})
        if name == "admin-spend.json":
            del data["teamMemberSpend"][1]["email"]

    cfg_users = {"per_user_counters": True, "label": "id"}
    app = admin_app(tmp_path, Edited(edit), cfg_users)
    got = parse(app.run_once())
    assert got[f"aicode_seats{{{OP}}}"] == 3  # 12345 as a number and as a string: one
    assert got[f'aicode_daily_user_active{{{OP},user="12345"}}'] == 1
    assert got[f'aicode_daily_user_active{{{OP},user="12346"}}'] == 0
    assert f'aicode_daily_user_active{{{OP},user="unknown"}}' not in got
    teams = {k: v for k, v in got.items() if k.startswith("aicode_daily_team_active_users")}
    # 12346 is in team web by user id, whether Cursor sends it as a number or a string
    assert teams[f'aicode_daily_team_active_users{{{OP},team="web"}}'] == 0
    assert teams[f'aicode_daily_team_active_users{{{OP},team="unassigned"}}'] == 1
    assert got[f'aicode_user_billing_cycle_spend_usd{{{OP},'
               'user="user_kljUvI0ASZORvSEXf9hV0ydcso"}'] == 18.75500123


def test_older_daily_usage_rows_without_day_or_user_id(tmp_path: Path) -> None:
    def edit(name: str, data: dict[str, Any]) -> None:
        if name == "admin-daily-usage.json":
            for row in data["data"]:
                del row["day"], row["userId"], row["isActive"]
            del data["pagination"]  # the mode without paging: all in one answer

    app = admin_app(tmp_path, Edited(edit))
    got = parse(app.run_once())
    assert got[f'aicode_daily_requests{{mode="chat",{OP}}}'] == 128
    assert got[f'aicode_daily_user_active{{{OP},user="developer@company.com"}}'] == 1
    assert got[f'aicode_daily_user_active{{{OP},user="inactive-user@company.com"}}'] == 0


def test_users_beyond_max_users_are_summed_as_other(tmp_path: Path) -> None:
    users = {"per_user_counters": True, "max_users": 1}
    app = app_at(tmp_path, ANALYTICS_NOW, CursorFake(), "leaderboard", users=users)
    got = parse(app.run_once())
    lines = {k: v for k, v in got.items() if k.startswith("aicode_daily_user_lines_accepted")}
    # alice accepted the most lines: she stays; bob is folded
    assert lines == {
        f'aicode_daily_user_lines_accepted{{feature="agent",{OP},user="alice@example.com"}}':
            65947,
        f'aicode_daily_user_lines_accepted{{feature="tab",{OP},user="alice@example.com"}}':
            3455,
        f'aicode_daily_user_lines_accepted{{feature="agent",{OP},user="__other__"}}': 61709,
        f'aicode_daily_user_lines_accepted{{feature="tab",{OP},user="__other__"}}': 2090}


def test_per_user_reports_need_per_user_data(tmp_path: Path) -> None:
    for users in (None, {"per_user_counters": True, "label": "none"}):
        fake = CursorFake()
        app = app_at(tmp_path / str(users), ANALYTICS_NOW, fake, *ANALYTICS, users=users)
        got = parse(app.run_once())
        assert not any("by-user" in p or "leaderboard" in p for p in fake.paths())
        assert not [k for k in got if "user=" in k]
        assert f'aicode_up{{endpoint="leaderboard",{OP}}}' not in got


@pytest.mark.parametrize(("endpoint", "status", "cause"), [
    ("by_user_models", 403, "lacks the admin:* scope"),
    ("members", 401, "not an Admin API key"),
    ("usage_events", 403, "not an Admin API key of this team"),
])
def test_a_refused_endpoint_flips_only_its_own_up_and_says_why(
        tmp_path: Path, endpoint: str, status: int, cause: str) -> None:
    path = {"by_user_models": "/analytics/by-user/models", "members": "/teams/members",
            "usage_events": "/teams/filtered-usage-events"}[endpoint]
    fake = CursorFake()
    fake.script[path] = [httpx.Response(status, json=fixture("cursor", f"error-{status}.json"))
                         for _ in range(5)]
    wanted = (*ANALYTICS, *ADMIN, "usage_events")
    app = app_at(tmp_path, ANALYTICS_NOW, fake, *wanted, users=PER_USER)
    got = parse(app.run_once())
    ups = {k: v for k, v in got.items() if k.startswith("aicode_up{")}
    assert ups.pop(f'aicode_up{{endpoint="{endpoint}",{OP}}}') == 0
    assert len(ups) == len(wanted) - 1 and set(ups.values()) == {1.0}
    error = app.telemetry.statuses()[("cursor", "acme", endpoint)].last_error
    assert cause in error and f"endpoints.{endpoint}.enabled: false" in error
    assert fake.paths().count(path) == 1  # a refusal is not retried


def test_every_page_of_the_leaderboard_and_by_user_reports_is_read(tmp_path: Path) -> None:
    people = [f"u{i:04d}@x.io" for i in range(1234)]

    def vendor(request: httpx.Request) -> httpx.Response:
        p = request.url.params
        page, size = int(p["page"]), int(p["pageSize"])
        mine = people[(page - 1) * size:page * size]
        pages = -(-len(people) // size)
        paging = {"page": page, "pageSize": size, "totalUsers": len(people),
                  "totalPages": pages, "hasNextPage": page < pages}
        if request.url.path.endswith("leaderboard"):
            rows = [{"email": e, "user_id": f"user_{e[:5]}", "total_accepts": 1,
                     "total_lines_accepted": 2, "total_lines_suggested": 3} for e in mine]
            return httpx.Response(200, json={
                "data": {"tab_leaderboard": {"data": rows}, "agent_leaderboard": {"data": []}},
                "pagination": paging})
        return httpx.Response(200, json={
            "data": {e: [{"event_date": p["endDate"], "client_version": "1.2.3"}]
                     for e in mine},
            "pagination": paging,
            "params": {"userMappings": [{"id": 7, "email": e} for e in mine]}})

    users = {"per_user_counters": True, "max_users": 5000}
    app = app_at(tmp_path, ANALYTICS_NOW, vendor, "leaderboard", "by_user_client_versions",
                 users=users)
    got = parse(app.run_once())
    accepted = [k for k in got if k.startswith("aicode_daily_user_suggestions_accepted{")]
    versions = [k for k in got if k.startswith("aicode_daily_user_client_version{")]
    assert len(accepted) == len(versions) == 1234
