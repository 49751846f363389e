"""The simulated Qoder Members and Usage APIs: cursor paging in both spellings, members
consistent with the people of the tracking records, usage records with exact copies and
no id, quotas and resource packages that add up to the usage records."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from aicode_sim import Simulator
from aicode_sim.timeutil import DAY_MS, day_of, from_ms, to_ms

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)  # a Wednesday afternoon
NOW_MS = to_ms(NOW)
AUTH = {"Authorization": "Bearer sim-key"}
ORG = "/v1/organizations/org_sim"


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=7, users=40, repos=6, days=120, now=lambda: NOW)


def call(sim: Simulator, path: str) -> tuple[int, Any]:
    status, _, chunks = sim.app("GET", ORG + path, AUTH, b"")
    return status, json.loads(b"".join(chunks))


def all_pages(sim: Simulator, path: str, field: str, size: int = 100) -> tuple[list[Any],
                                                                               list[str]]:
    """Every item of a list, and the cursor names its pages answered with; each next
    request sends the cursor back under the name it came with."""
    items: list[Any] = []
    names: list[str] = []
    sep = "&" if "?" in path else "?"
    query = f"{path}{sep}maxResults={size}"
    while True:
        status, body = call(sim, query)
        assert status == 200, body
        items += body[field]
        [name] = [k for k in ("nextToken", "nextCredits") if k in body]
        names.append(name)
        if not body[name]:
            return items, names
        query = f"{path}{sep}maxResults={size}&{name}={body[name]}"


def usage_range(days_back: int, days: int) -> str:
    start = (day_of(NOW_MS) - days_back) * DAY_MS
    return (f"/usage-events?startDate={start}&endDate={start + days * DAY_MS - 1}")


def test_members_are_the_people_plus_deleted_ones(sim: Simulator) -> None:
    enabled, names = all_pages(sim, "/members", "members", size=7)
    everyone, _ = all_pages(sim, "/members?includeDeleted=true", "members")
    assert set(names) == {"nextToken"} and len(names) == 6  # 40 members, 7 a page
    people = sim.population.people
    assert len(enabled) == len(people) and {m["status"] for m in enabled} == {"ENABLED"}
    deleted = [m for m in everyone if m["status"] == "DELETED"]
    assert len(everyone) == len(people) + len(deleted) and len(deleted) == 2
    assert all("deletedAt" in m and m["deletedAt"] < NOW.isoformat() for m in deleted)
    assert {m["email"] for m in enabled if "email" in m} == {p.email for p in people if p.email}
    assert any("email" not in m for m in enabled) and all(m.get("email") != "" for m in everyone)
    assert {m["role"] for m in enabled} == {"org_admin", "org_member"}
    assert len({m["id"] for m in everyone}) == len(everyone)
    assert all(m["id"].startswith("member_") for m in everyone)
    one = enabled[3]["email"] if "email" in enabled[3] else enabled[4]["email"]
    status, body = call(sim, f"/members?email={one.upper()}")
    assert status == 200 and [m["email"] for m in body["members"]] == [one]


def test_usage_records_belong_to_the_tracking_users_and_some_are_exact_copies(
        sim: Simulator) -> None:
    items, names = all_pages(sim, usage_range(3, 3), "usages")
    assert set(names) == {"nextCredits"} and len(items) > 500
    ids = {p.qoder_id: p for p in sim.population.people}
    assert {u["userId"] for u in items} <= set(ids)
    for u in items:
        person = ids[u["userId"]]
        assert u.get("userEmail", "") == person.email and ("userEmail" in u) == bool(person.email)
        assert u["credits"] > 0 and (u["credits"] * 4).is_integer()
        assert set(u) <= {"timestamp", "userId", "userEmail", "source", "operation",
                          "modelTier", "credits", "cost"}
    copies = Counter(json.dumps(u, sort_keys=True) for u in items)
    assert any(n > 1 for n in copies.values())  # no id: exact copies exist
    stamps = [u["timestamp"] for u in items]
    assert stamps == sorted(stamps, reverse=True)
    # The tracking records' users are the same people.
    start = (day_of(NOW_MS) - 3) * DAY_MS
    status, body = call(sim, f"/ai-code-tracking/changes?startDate={start}&pageSize=200")
    tracked = {c["userId"] for c in body["data"]["items"]}
    assert status == 200 and tracked <= set(ids) and tracked & {u["userId"] for u in items}


def test_more_than_ninety_days_of_usage_history(sim: Simulator) -> None:
    items, _ = all_pages(sim, usage_range(100, 2), "usages")
    assert items and all(u["timestamp"] < NOW_MS - 98 * DAY_MS for u in items)


@pytest.mark.parametrize("first,second", [("nextToken", "nextCredits"),
                                          ("nextCredits", "nextToken")])
def test_a_cursor_is_read_under_either_name(sim: Simulator, first: str, second: str) -> None:
    path = usage_range(1, 1) + "&maxResults=50"
    _, page1 = call(sim, path)
    cursor = page1["nextCredits"]
    _, a = call(sim, f"{path}&{first}={cursor}")
    _, b = call(sim, f"{path}&{second}={cursor}")
    assert a == b and a["usages"] != page1["usages"]


def test_alternate_spelling_pages_through_everything_once() -> None:
    plain = Simulator(seed=3, users=25, days=10, now=lambda: NOW)
    mixed = Simulator(seed=3, users=25, days=10, now=lambda: NOW,
                      vendor_options={"qoder": {"cursor_spelling": "alternate"}})
    want, _ = all_pages(plain, usage_range(2, 2), "usages", size=30)
    got, names = all_pages(mixed, usage_range(2, 2), "usages", size=30)
    assert got == want and {"nextToken", "nextCredits"} <= set(names)


@pytest.mark.parametrize("query,message", [
    ("/members?maxResults=101", "maxResults must be between 1 and 100"),
    ("/members?maxResults=0", "maxResults must be between 1 and 100"),
    ("/members?nextToken=garbage!", "invalid nextToken"),
    ("/usage-events?startDate=2025-01-01T00:00:00Z&endDate=2025-07-01T00:00:00Z",
     "time range exceeds 90 days"),
    ("/usage-events?startDate=yesterday", "invalid startDate"),
])
def test_bad_list_requests_are_400_in_qoders_error_shape(sim: Simulator, query: str,
                                                         message: str) -> None:
    status, body = call(sim, query)
    assert status == 400 and body["code"] == "BadRequest" and body["message"] == message
    assert set(body) == {"requestId", "code", "message", "details"}


def test_a_cursor_of_another_query_is_refused(sim: Simulator) -> None:
    _, page = call(sim, "/members?maxResults=5")
    status, body = call(sim, f"/members?includeDeleted=true&nextToken={page['nextToken']}")
    assert status == 400 and body["details"] == ["nextToken: issued for another query"]


def member_of(sim: Simulator) -> dict[str, str]:
    """Qoder user id (of usage and tracking records) -> member id: the same person."""
    ledger = sim.api("qoder").teams.ledger
    people = sim.population.people
    return {people[m.person].qoder_id: m.id for m in ledger.members(NOW_MS)
            if m.person is not None}


def test_quota_is_this_months_usage_up_to_the_limit(sim: Simulator) -> None:
    members, _ = all_pages(sim, "/members?includeDeleted=true", "members")
    month = to_ms(NOW.replace(day=1, hour=0))
    items, _ = all_pages(sim, f"/usage-events?startDate={month}&endDate={NOW_MS}", "usages")
    member = member_of(sim)
    used: Counter[str] = Counter()
    for u in items:
        used[member[u["userId"]]] += u["credits"]
    statuses = set()
    for m in members:
        status, q = call(sim, f"/members/{m['id']}/quota")
        if m["status"] == "DELETED":
            assert status == 404 and q["code"] == "NotFound"
            continue
        s = q["totalQuota"]["quotaSummary"]
        assert s["limitValue"] == (3000 if m["role"] == "org_admin" else 2000)
        assert s["unit"] == "credits" and s["usedValue"] == min(used[m["id"]], s["limitValue"])
        assert (q["status"] == "restricted") == (used[m["id"]] >= s["limitValue"])
        assert q["nextResetAt"] == "2025-08-01T00:00:00Z"
        statuses.add(q["status"])
    assert statuses == {"normal", "restricted"}
    assert call(sim, "/members/member_nope/quota")[0] == 404


@pytest.mark.slow
def test_resource_packages_used_add_up_to_credits_beyond_the_quotas(sim: Simulator) -> None:
    """Over the data window, every credit a member used beyond their monthly quota was
    drawn from a resource package: the packages' usedValue sum to it exactly."""
    members, _ = all_pages(sim, "/members", "members")
    limit = {m["id"]: 3000 if m["role"] == "org_admin" else 2000 for m in members}
    member = member_of(sim)
    start = (day_of(NOW_MS) - 120) * DAY_MS  # the first day of the data window
    mid = start + 60 * DAY_MS
    items = (all_pages(sim, f"/usage-events?startDate={start}&endDate={mid - 1}", "usages")[0]
             + all_pages(sim, f"/usage-events?startDate={mid}&endDate={NOW_MS}", "usages")[0])
    used: Counter[tuple[str, str]] = Counter()  # (member, month) -> credits
    for u in items:
        used[(member[u["userId"]], from_ms(u["timestamp"]).strftime("%Y-%m"))] += u["credits"]
    beyond = sum(max(0.0, c - limit[m]) for (m, _), c in used.items())
    packages, _ = all_pages(sim, "/resource-packages", "resourcePackages")
    assert beyond > 0 and sum(p["usedValue"] for p in packages) == beyond
    for p in packages:
        assert p["remainingValue"] == p["limitValue"] - p["usedValue"] >= 0
        assert p["unit"] == "credits" and p["activatedAt"] <= NOW.isoformat()
    assert {p["status"] for p in packages} >= {"active", "expired"}
    assert sorted({p["name"] for p in packages}) == ["Add-on Credits", "Welcome Credits"]


def test_member_usage_events_are_that_members_records(sim: Simulator) -> None:
    members, _ = all_pages(sim, "/members?includeDeleted=true", "members")
    enabled = next(m for m in members if m["status"] == "ENABLED" and "email" in m)
    deleted = next(m for m in members if m["status"] == "DELETED")
    mine, _ = all_pages(sim, f"/members/{enabled['id']}{usage_range(5, 5)}", "usages")
    everyone, _ = all_pages(sim, usage_range(5, 5), "usages")
    assert mine and mine == [u for u in everyone if u.get("userEmail") == enabled["email"]]
    gone, _ = all_pages(sim, f"/members/{deleted['id']}{usage_range(5, 5)}", "usages")
    assert gone == []


def test_rate_limit_counts_member_paths_as_one_endpoint() -> None:
    limited = Simulator(seed=1, users=5, days=5, now=lambda: NOW,
                        qoder_rate_limit_per_minute=3, clock=lambda: 100.0)
    members, _ = all_pages(limited, "/members", "members")
    statuses = [call(limited, f"/members/{m['id']}/quota")[0] for m in members]
    assert statuses == [200, 200, 200, 429, 429]
