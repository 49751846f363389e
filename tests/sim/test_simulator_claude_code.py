"""The simulated Claude Code Analytics Admin API: auth and Anthropic's error shape, the
documented envelope and cursor paging, the hour of data lag, both actor types with split
rows and optional fields, people from the population, 90+ days, the rate limit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from aicode_sim import Simulator
from aicode_sim.claude_code.data import NEW_TOOL

PATH = "/v1/organizations/usage_report/claude_code"
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
AUTH = {"x-api-key": "sim-key", "anthropic-version": "2023-06-01"}
YESTERDAY = "2026-03-09"


def make(now: datetime = NOW, **kw: Any) -> Simulator:
    clock = kw.pop("clock", lambda: 0.0)
    options = {"claude_code": {"rate_limit_per_minute": 0, **kw.pop("options", {})}}
    return Simulator(seed=5, users=kw.pop("users", 200), now=lambda: now, clock=clock,
                     vendor_options=options, **kw)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return make()


def call(sim: Simulator, query: str, headers: dict[str, str] | None = None,
         ) -> tuple[int, dict[str, str], Any]:
    status, response_headers, chunks = sim.app("GET", f"{PATH}?{query}",
                                               AUTH if headers is None else headers, b"")
    return status, response_headers, json.loads(b"".join(chunks))


def read_day(sim: Simulator, day: str, limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
    """Every record of the day by following next_page; and how many pages it took."""
    records: list[dict[str, Any]] = []
    query = f"starting_at={day}&limit={limit}"
    pages = 0
    while True:
        status, _, body = call(sim, query)
        assert status == 200, body
        assert set(body) == {"data", "has_more", "next_page"}
        pages += 1
        records += body["data"]
        if not body["has_more"]:
            assert body["next_page"] is None
            return records, pages
        assert body["next_page"].startswith("page_")
        query = f"starting_at={day}&limit={limit}&page={body['next_page']}"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_cursor_pages_give_every_record_once_in_a_stable_order(sim: Simulator) -> None:
    whole, pages = read_day(sim, YESTERDAY, limit=1000)
    small, many = read_day(sim, YESTERDAY, limit=7)
    assert pages == 1 and many == -(-len(whole) // 7) and small == whole
    assert whole == sim.api("claude_code").records(date(2026, 3, 9), ms(NOW))
    emails = [r["actor"].get("email_address", "") for r in whole]
    assert emails != sorted(emails)  # the vendor's order, not alphabetical
    _, _, first = call(sim, f"starting_at={YESTERDAY}")
    assert len(first["data"]) == 20  # the documented default limit


def test_the_records_have_the_documented_shape_and_every_case(sim: Simulator) -> None:
    rows: list[dict[str, Any]] = []
    for back in range(1, 31):
        rows += sim.api("claude_code").records(NOW.date() - timedelta(days=back), ms(NOW))
    r = rows[0]
    assert set(r) >= {"date", "actor", "organization_id", "customer_type", "terminal_type",
                      "core_metrics", "tool_actions", "model_breakdown"}
    assert r["date"].endswith("T00:00:00Z")
    assert set(r["core_metrics"]) == {"num_sessions", "lines_of_code", "commits_by_claude_code",
                                      "pull_requests_by_claude_code"}
    types = {row["actor"]["type"] for row in rows}
    assert types == {"user_actor", "api_actor"}
    assert any("is_remote" not in row for row in rows)
    assert any(row.get("is_remote") is True for row in rows)
    assert any("subscription_type" not in row for row in rows)
    assert any(row.get("subscription_type", "") is None for row in rows)
    assert any(NEW_TOOL in row["tool_actions"] for row in rows)
    amounts = [m["estimated_cost"]["amount"] for row in rows for m in row["model_breakdown"]]
    assert any(isinstance(a, float) and a != int(a) for a in amounts)
    assert any(isinstance(a, int) for a in amounts)
    # Remote and local usage of one actor on one day: separate rows.
    per_actor: dict[tuple[str, str, str], set[Any]] = {}
    for row in rows:
        who = row["actor"].get("email_address") or row["actor"]["api_key_name"]
        per_actor.setdefault((row["date"], row["actor"]["type"], who), set()).add(
            (row.get("is_remote"), row["terminal_type"]))
    assert any(len(kinds) >= 2 for kinds in per_actor.values())
    assert any({k[0] for k in kinds} >= {True, False} for kinds in per_actor.values())


def test_people_come_from_the_population(sim: Simulator) -> None:
    rows, _ = read_day(sim, YESTERDAY)
    people = {p.email.lower() for p in sim.population.people if p.email}
    users = {r["actor"]["email_address"].lower() for r in rows
             if r["actor"]["type"] == "user_actor"}
    assert users and users <= people
    keys = {r["actor"]["api_key_name"] for r in rows if r["actor"]["type"] == "api_actor"}
    without_email = {f"dev-{p.index}" for p in sim.population.people if not p.email}
    assert keys & without_email and keys - without_email  # personal keys and shared ones


def test_only_data_older_than_the_lag_is_shown() -> None:
    day = date(2026, 3, 9)
    api = make().api("claude_code")
    end = datetime(2026, 3, 10, tzinfo=UTC)

    def totals(at: datetime) -> tuple[int, int]:
        rows = api.records(day, ms(at))
        return len(rows), sum(r["core_metrics"]["lines_of_code"]["added"] for r in rows)

    before_noon = totals(datetime(2026, 3, 9, 13, 0, tzinfo=UTC))  # data up to 12:00
    evening = totals(datetime(2026, 3, 9, 20, 0, tzinfo=UTC))
    at_end = totals(end)  # data up to 23:00 of the day
    final = totals(end + timedelta(hours=1))
    assert before_noon < evening < final and at_end <= final
    assert totals(end + timedelta(hours=7)) == final  # complete once an hour has passed
    assert api.records(date(2026, 3, 10), ms(datetime(2026, 3, 10, 0, 59, tzinfo=UTC))) == []


def test_a_sequence_keeps_its_boundary_while_data_arrives() -> None:
    moment = [datetime(2026, 3, 10, 15, 0, tzinfo=UTC)]
    sim = Simulator(seed=5, users=200, now=lambda: moment[0],
                    vendor_options={"claude_code": {"rate_limit_per_minute": 0}})
    today = "2026-03-10"
    status, _, first = call(sim, f"starting_at={today}&limit=10")
    assert status == 200 and first["has_more"]
    moment[0] += timedelta(hours=3)  # more of today becomes visible meanwhile
    rest, cursor = [], first["next_page"]
    while cursor:
        _, _, body = call(sim, f"starting_at={today}&limit=10&page={cursor}")
        rest += body["data"]
        cursor = body["next_page"]
    before = sim.api("claude_code").records(date(2026, 3, 10), ms(datetime(2026, 3, 10, 15,
                                                                           tzinfo=UTC)))
    assert first["data"] + rest == before
    assert sim.api("claude_code").records(date(2026, 3, 10), ms(moment[0])) != before


def test_empty_days_and_the_history(sim: Simulator) -> None:
    empty = {"data": [], "has_more": False, "next_page": None}
    assert call(sim, "starting_at=2026-03-11")[2] == empty  # the future
    assert call(sim, "starting_at=2025-10-01")[2] == empty  # before the 120 days kept
    assert read_day(sim, (NOW.date() - timedelta(days=95)).isoformat())[0]  # 90+ days back


@pytest.mark.parametrize(("headers", "status", "kind", "says"), [
    ({"anthropic-version": "2023-06-01"}, 401, "authentication_error", "x-api-key"),
    ({**AUTH, "x-api-key": "wrong"}, 401, "authentication_error", "invalid x-api-key"),
    ({**AUTH, "x-api-key": "sk-ant-api03-abc"}, 403, "permission_error", "Admin API key"),
    ({"x-api-key": "sim-key"}, 400, "invalid_request_error", "anthropic-version"),
])
def test_auth_errors_in_anthropic_shape(sim: Simulator, headers: dict[str, str], status: int,
                                        kind: str, says: str) -> None:
    got, response_headers, body = call(sim, f"starting_at={YESTERDAY}", headers)
    assert got == status
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert says in body["error"]["message"]
    assert body["request_id"].startswith("req_")
    assert response_headers["request-id"] == body["request_id"]


def test_bearer_oauth_token_is_accepted(sim: Simulator) -> None:
    status, _, _ = call(sim, f"starting_at={YESTERDAY}",
                        {"Authorization": "Bearer sim-key", "anthropic-version": "2023-06-01"})
    assert status == 200


@pytest.mark.parametrize("query", [
    "", "starting_at=2026-3-9", "starting_at=yesterday", f"starting_at={YESTERDAY}&limit=0",
    f"starting_at={YESTERDAY}&limit=1001", f"starting_at={YESTERDAY}&limit=x",
    f"starting_at={YESTERDAY}&page=nonsense",
])
def test_bad_parameters_are_400(sim: Simulator, query: str) -> None:
    status, _, body = call(sim, query)
    assert status == 400 and body["error"]["type"] == "invalid_request_error"


def test_a_cursor_from_another_day_is_refused(sim: Simulator) -> None:
    _, _, body = call(sim, f"starting_at={YESTERDAY}&limit=5")
    status, _, err = call(sim, f"starting_at=2026-03-08&limit=5&page={body['next_page']}")
    assert status == 400 and "another starting_at" in err["error"]["message"]


def test_rate_limit_429_with_retry_after() -> None:
    t = [0.0]
    sim = make(clock=lambda: t[0], options={"rate_limit_per_minute": 2})
    assert call(sim, f"starting_at={YESTERDAY}")[0] == 200
    assert call(sim, f"starting_at={YESTERDAY}")[0] == 200
    status, headers, body = call(sim, f"starting_at={YESTERDAY}")
    assert status == 429 and body["error"]["type"] == "rate_limit_error"
    assert int(headers["retry-after"]) >= 1
    t[0] += 61
    assert call(sim, f"starting_at={YESTERDAY}")[0] == 200


def test_the_default_rate_limit_and_injected_faults_in_anthropic_shape() -> None:
    sim = Simulator(seed=5, users=20, now=lambda: NOW, clock=lambda: 0.0)
    statuses = [call(sim, f"starting_at={YESTERDAY}")[0] for _ in range(121)]
    assert statuses.count(200) == 120 and statuses[-1] == 429
    sim.faults.add(PATH, status=529)
    status, _, body = call(sim, f"starting_at={YESTERDAY}")
    assert status == 529 and body["error"]["type"] == "overloaded_error"


def test_same_seed_same_bytes() -> None:
    a = make().app("GET", f"{PATH}?starting_at={YESTERDAY}&limit=50", AUTH, b"")
    b = make().app("GET", f"{PATH}?starting_at={YESTERDAY}&limit=50", AUTH, b"")
    assert b"".join(a[2]) == b"".join(b[2])


@pytest.mark.parametrize("users", [8, 30])
def test_a_small_organisation_has_a_person_at_work_every_day(users: int) -> None:
    """The demo and the tests read whichever day is newest: a weekend day of a small
    organisation still has someone with an e-mail (the per-user figures) at work."""
    sim = make(users=users)
    for offset in range(1, 43):
        day = (NOW - timedelta(days=offset)).date().isoformat()
        records, _ = read_day(sim, day)
        people = [r for r in records if r["actor"]["type"] == "user_actor"]
        assert people and all(r["core_metrics"]["num_sessions"] > 0 for r in people), day
