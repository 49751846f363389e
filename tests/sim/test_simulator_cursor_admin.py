"""The simulated Cursor Analytics API and Admin API: figures that hold together (active
users within seats, accepted within suggested, spend the sum of the cycle's charged
events, billing groups adding up to the team), the documented limits in fixed windows
with Cursor's 429 body, ETags on Analytics only, fractional cents, numeric and string
ids, twin usage events and 90+ days of history."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from aicode_sim import Simulator
from aicode_sim.cursor.activity import TAB
from aicode_sim.records import Ref
from aicode_sim.timeutil import DAY_MS, day_of, to_ms

NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
AUTH = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
WEEK = "startDate=2026-06-03&endDate=2026-06-09"
UNLIMITED = {"analytics_team_per_minute": 0, "analytics_by_user_per_minute": 0,
             "admin_per_minute": 0, "usage_events_per_minute": 0}


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=5, users=40, days=100, now=lambda: NOW,
                     vendor_options={"cursor": UNLIMITED})


def call(sim: Simulator, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    raw = b"" if body is None else json.dumps(body).encode()
    status, out, chunks = sim.app(method, path, {**AUTH, **(headers or {})}, raw)
    return status, out, b"".join(chunks)


def get(sim: Simulator, path: str) -> Any:
    status, _, body = call(sim, "GET", path)
    assert status == 200, body
    return json.loads(body)


def post(sim: Simulator, path: str, body: dict[str, Any]) -> Any:
    status, _, raw = call(sim, "POST", path, body)
    assert status == 200, raw
    return json.loads(raw)


def all_events(sim: Simulator, start: int, end: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        got = post(sim, "/teams/filtered-usage-events",
                   {"startDate": start, "endDate": end, "page": page, "pageSize": 1000})
        out += got["usageEvents"]
        if not got["pagination"]["hasNextPage"]:
            assert len(out) == got["totalUsageEventsCount"]
            return out
        page += 1


def seats(sim: Simulator) -> int:
    return sum(not m["isRemoved"] for m in get(sim, "/teams/members")["teamMembers"])


def test_daily_active_users_stay_within_seats_and_breakdowns_within_all(sim: Simulator) -> None:
    rows = get(sim, f"/analytics/team/dau?{WEEK}")["data"]
    assert len(rows) == 7
    for row in rows:
        assert 0 < row["dau"] <= seats(sim) < 40  # somebody is removed
        assert max(row["cli_dau"], row["cloud_agent_dau"], row["bugbot_dau"]) <= row["dau"]
        assert row["cli_dau"] > 0 and row["cloud_agent_dau"] > 0


@pytest.mark.parametrize(("report", "shown", "taken"), [
    ("tabs", "total_suggestions", "total_accepts"),
    ("agent-edits", "total_suggested_diffs", "total_accepted_diffs")])
def test_accepted_within_suggested_and_lines_add_up(sim: Simulator, report: str, shown: str,
                                                   taken: str) -> None:
    for row in get(sim, f"/analytics/team/{report}?{WEEK}")["data"]:
        assert 0 < row[taken] <= row[shown]
        assert row["total_lines_accepted"] <= row["total_lines_suggested"]
        assert row["total_lines_suggested"] == (row["total_green_lines_suggested"]
                                                + row["total_red_lines_suggested"])
        assert row["total_lines_accepted"] == (row["total_green_lines_accepted"]
                                               + row["total_red_lines_accepted"])


def test_tab_accepts_are_the_days_tab_changes_of_the_tracking_stream(sim: Simulator) -> None:
    api = sim.api("cursor")
    day = day_of(to_ms(datetime(2026, 6, 8, tzinfo=UTC)))
    changes = api.changes.stream
    tab = sum(1 for u in range(40) for row in changes.user_day(day, u)
              if Ref(*row).attr == TAB and Ref(*row).ingest_ms <= to_ms(NOW))
    (row,) = get(sim, "/analytics/team/tabs?startDate=2026-06-08&endDate=2026-06-08")["data"]
    assert row["total_accepts"] == tab > 0


def test_spend_is_the_sum_of_the_cycles_charged_events(sim: Simulator) -> None:
    got = post(sim, "/teams/spend", {"page": 1, "pageSize": 1000})
    start = got["subscriptionCycleStart"]
    assert start == to_ms(datetime(2026, 6, 1, tzinfo=UTC))
    spend = sum(m["spendCents"] for m in got["teamMemberSpend"])
    overall = sum(m["overallSpendCents"] for m in got["teamMemberSpend"])
    events = all_events(sim, start, to_ms(NOW))
    charged = sum(e["chargedCents"] for e in events if e["isChargeable"])
    assert math.isclose(spend, charged, rel_tol=1e-9) and spend > 0
    assert math.isclose(overall, sum(e["chargedCents"] for e in events), rel_tol=1e-9)
    assert any(m["spendCents"] != int(m["spendCents"]) for m in got["teamMemberSpend"])
    assert got["totalMembers"] == seats(sim) and got["totalPages"] == 1


def test_spend_pages_cover_every_member_once(sim: Simulator) -> None:
    first = post(sim, "/teams/spend", {"page": 1, "pageSize": 7})
    ids = []
    for page in range(1, first["totalPages"] + 1):
        ids += [m["userId"] for m in post(sim, "/teams/spend",
                                          {"page": page, "pageSize": 7})["teamMemberSpend"]]
    assert len(ids) == len(set(ids)) == first["totalMembers"]


def test_billing_groups_add_up_and_hold_only_current_members(sim: Simulator) -> None:
    got = get(sim, "/teams/groups")
    groups = [*got["groups"], got["unassignedGroup"]]
    assert got["unassignedGroup"]["name"] == "Unassigned"
    listed = get(sim, "/teams/members")["teamMembers"]
    # members' emails and ids (an older-shape member's numeric id: by e-mail only)
    current = {m.get("email") or m["id"] for m in listed if not m["isRemoved"]}
    seen: list[str] = []
    for g in groups:
        assert g["memberCount"] == len(g["currentMembers"])
        seen += [m["userId"] for m in g["currentMembers"]]
        assert {m["email"] or m["userId"] for m in g["currentMembers"]} <= current
        assert math.isclose(g["spendCents"], sum(m["spendCents"] for m in g["currentMembers"]),
                            abs_tol=1e-5)
    assert len(seen) == len(set(seen)) == seats(sim)  # each member in one group
    spend = post(sim, "/teams/spend", {"pageSize": 1000})["teamMemberSpend"]
    assert math.isclose(sum(g["spendCents"] for g in groups),
                        sum(m["spendCents"] for m in spend), rel_tol=1e-9)
    one = get(sim, f"/teams/groups/{groups[0]['id']}")["group"]
    assert one["name"] == groups[0]["name"]


def test_members_mix_string_and_numeric_ids_and_may_lack_an_email(sim: Simulator) -> None:
    members = get(sim, "/teams/members")["teamMembers"]
    assert any(isinstance(m["id"], int) for m in members)
    assert any(isinstance(m["id"], str) and m["id"].startswith("user_") for m in members)
    assert any("email" not in m for m in members)
    assert any(m["isRemoved"] for m in members)


def test_daily_usage_paginated_lists_every_member_numeric_ids(sim: Simulator) -> None:
    day = to_ms(datetime(2026, 6, 8, tzinfo=UTC))
    body = {"startDate": day, "endDate": day + DAY_MS - 1}
    active = post(sim, "/teams/daily-usage-data", body)
    every = post(sim, "/teams/daily-usage-data", {**body, "page": 1, "pageSize": 1000})
    assert "pagination" not in active and every["pagination"]["totalUsers"] == seats(sim)
    assert len(every["data"]) == seats(sim)
    assert all(r["isActive"] for r in active["data"])
    assert {r["userId"] for r in active["data"]} < {r["userId"] for r in every["data"]}
    assert all(isinstance(r["userId"], int) and r["day"] == "2026-06-08" for r in every["data"])
    (agent,) = get(sim, "/analytics/team/agent-edits?startDate=2026-06-08&"
                        "endDate=2026-06-08")["data"]
    assert sum(r["acceptedLinesAdded"] for r in every["data"]) == \
        agent["total_green_lines_accepted"]
    (dau,) = get(sim, "/analytics/team/dau?startDate=2026-06-08&endDate=2026-06-08")["data"]
    assert len(active["data"]) == dau["dau"]
    status, _, raw = call(sim, "POST", "/teams/daily-usage-data",
                          {"startDate": day - 31 * DAY_MS, "endDate": day})
    assert status == 400 and b"30 days" in raw


def test_usage_events_have_fractional_cents_twins_and_no_id(sim: Simulator) -> None:
    start = to_ms(datetime(2026, 5, 1, tzinfo=UTC))
    events = all_events(sim, start, start + 30 * DAY_MS)
    assert len(events) > 1000
    assert all("id" not in e and isinstance(e["timestamp"], str) for e in events)
    assert any(e["chargedCents"] != int(e["chargedCents"]) for e in events)
    times = [int(e["timestamp"]) for e in events]
    assert times == sorted(times, reverse=True)  # newest first
    keyed = [json.dumps(e, sort_keys=True) for e in events]
    assert len(set(keyed)) < len(keyed)  # twins: alike in every field
    assert any("userEmail" not in e for e in events)


def test_90_days_of_history(sim: Simulator) -> None:
    old = "startDate=2026-03-05&endDate=2026-03-05"
    assert get(sim, f"/analytics/team/dau?{old}")["data"]
    day = to_ms(datetime(2026, 3, 5, tzinfo=UTC))
    assert all_events(sim, day, day + DAY_MS - 1)


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/analytics/team/dau?startDate=2026-05-01&endDate=2026-06-09", None, 400),
    ("GET", "/analytics/team/dau?startDate=junk", None, 400),
    ("GET", "/analytics/team/tabs?users=nobody@example.com", None, 400),
    ("GET", "/analytics/team/unknown", None, 404),
    ("POST", "/teams/members", None, 405),
    ("POST", "/teams/filtered-usage-events", {"hostingType": "MOON"}, 400),
    ("POST", "/teams/daily-usage-data", {}, 400),
    ("POST", "/teams/spend", {"sortBy": "mood"}, 400),
])
def test_bad_requests(sim: Simulator, method: str, path: str, body: Any, status: int) -> None:
    got, _, raw = call(sim, method, path, body)
    assert got == status
    assert set(json.loads(raw)) == {"error", "message"}


def test_analytics_dates_and_top_five_extensions(sim: Simulator) -> None:
    today = get(sim, "/analytics/team/tabs?startDate=today&endDate=today")
    assert today["params"]["startDate"] == today["params"]["endDate"] == "2026-06-10"
    shortcut = get(sim, "/analytics/team/tabs?startDate=7d&endDate=yesterday")["params"]
    assert (shortcut["startDate"], shortcut["endDate"]) == ("2026-06-03", "2026-06-09")
    timed = get(sim, "/analytics/team/tabs?startDate=2026-06-03T14:30:00Z&endDate=2026-06-09")
    assert timed["data"] == get(sim, f"/analytics/team/tabs?{WEEK}")["data"]
    exts = get(sim, f"/analytics/team/top-file-extensions?{WEEK}")
    assert exts["params"]["metric"] == "top-files"
    per_day: dict[str, int] = {}
    for row in exts["data"]:
        per_day[row["event_date"]] = per_day.get(row["event_date"], 0) + 1
        assert "." not in row["file_extension"]
    assert max(per_day.values()) == 5


def test_leaderboard_and_by_user_page_over_users(sim: Simulator) -> None:
    board = get(sim, f"/analytics/team/leaderboard?{WEEK}&pageSize=5")
    assert board["pagination"]["totalPages"] > 1
    tab = board["data"]["tab_leaderboard"]["data"]
    assert [r["rank"] for r in tab] == [1, 2, 3, 4, 5]
    assert all("accept_ratio" not in r for r in board["data"]["agent_leaderboard"]["data"])
    seen: set[str] = set()
    page = 1
    while True:
        got = get(sim, f"/analytics/by-user/client-versions?{WEEK}&page={page}&pageSize=15")
        assert set(got["data"]) >= {m["email"] for m in got["params"]["userMappings"]
                                    if m["email"]}
        seen |= set(got["data"])
        if not got["pagination"]["hasNextPage"]:
            break
        page += 1
    assert len(seen) == seats(sim)


def test_limits_are_per_bucket_in_fixed_windows_with_cursors_429() -> None:
    clock = [0.0]
    sim = Simulator(seed=5, users=5, days=10, now=lambda: NOW, clock=lambda: clock[0],
                    vendor_options={"cursor": {"analytics_team_per_minute": 3,
                                               "admin_per_minute": 2}})
    statuses = [call(sim, "GET", f"/analytics/team/dau?startDate={d}d")[0] for d in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, headers, raw = call(sim, "GET", "/analytics/team/tabs")
    assert status == 429 and "Retry-After" not in headers
    assert json.loads(raw) == {"error": "Too Many Requests",
                               "message": "Rate limit exceeded. Please try again later."}
    assert call(sim, "GET", "/analytics/by-user/models")[0] == 200  # its own bucket
    assert [call(sim, "GET", "/teams/members")[0] for _ in range(3)] == [200, 200, 429]
    assert call(sim, "GET", "/teams/groups")[0] == 200  # per Admin endpoint
    clock[0] = 59.9
    assert call(sim, "GET", "/analytics/team/dau")[0] == 429
    clock[0] = 60.0  # a new window: the count starts again
    assert call(sim, "GET", "/analytics/team/dau?startDate=9d")[0] == 200


def test_retry_after_only_when_asked_for() -> None:
    sim = Simulator(seed=5, users=5, days=10, now=lambda: NOW, clock=lambda: 30.0,
                    vendor_options={"cursor": {"admin_per_minute": 1, "retry_after": True}})
    call(sim, "GET", "/teams/members")
    status, headers, _ = call(sim, "GET", "/teams/members")
    assert status == 429 and headers["Retry-After"] == "30"


def test_etag_and_free_304_on_analytics_only() -> None:
    sim = Simulator(seed=5, users=5, days=10, now=lambda: NOW, clock=lambda: 0.0,
                    vendor_options={"cursor": {"analytics_team_per_minute": 1}})
    status, headers, _ = call(sim, "GET", f"/analytics/team/dau?{WEEK}")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=900"
    for _ in range(3):  # the limit is used up, yet a revalidation is answered
        again, _, body = call(sim, "GET", f"/analytics/team/dau?{WEEK}",
                              headers={"If-None-Match": headers["ETag"]})
        assert again == 304 and body == b""
    assert call(sim, "GET", f"/analytics/team/dau?{WEEK}")[0] == 429
    _, admin, _ = call(sim, "GET", "/teams/members")
    assert "ETag" not in admin


def test_a_forbidden_path_is_403_enterprise_access_required() -> None:
    sim = Simulator(seed=5, users=5, days=10, now=lambda: NOW,
                    vendor_options={"cursor": {"forbidden": ["/analytics/by-user/"]}})
    status, _, raw = call(sim, "GET", "/analytics/by-user/models")
    assert status == 403
    assert json.loads(raw) == {"error": "Forbidden", "message": "Enterprise access required"}
    assert call(sim, "GET", "/analytics/team/models")[0] == 200
    assert call(sim, "GET", "/teams/members", headers={"Authorization": "Basic eDo="})[0] == 401
