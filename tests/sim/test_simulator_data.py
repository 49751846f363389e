"""Simulator data: determinism, visibility over time, stable pagination, people."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aicode_sim import Simulator

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)
QODER = {"Authorization": "Bearer sim-key"}
CURSOR = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
ORG = "/v1/organizations/org_sim"

JULY = "start_date=2025-07-01T00:00:00Z&end_date=2025-07-30T00:00:00Z"
PATHS = [
    (f"{ORG}/ai-code/stats/overview?{JULY}", QODER),
    (f"{ORG}/ai-code/stats/daily-trend?{JULY}", QODER),
    (f"{ORG}/ai-code-tracking/commits?pageSize=200&page=2", QODER),
    (f"{ORG}/ai-code-tracking/changes/export?startDate=2025-07-25T00:00:00Z", QODER),
    ("/analytics/ai-code/commits.csv", CURSOR),
    ("/analytics/ai-code/changes?pageSize=500", CURSOR),
]


def body_of(sim: Simulator, path: str, headers: dict[str, str]) -> bytes:
    status, _, chunks = sim.app("GET", path, headers, b"")
    data = b"".join(chunks)
    assert status == 200, data
    return data


def items(sim: Simulator, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(body_of(sim, path, QODER))["data"]["items"]
    return found


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    one = Simulator(seed=11, users=20, days=40, now=lambda: NOW, cursor_rate_limit_per_minute=0)
    two = Simulator(seed=11, users=20, days=40, now=lambda: NOW, cursor_rate_limit_per_minute=0)
    other = Simulator(seed=12, users=20, days=40, now=lambda: NOW, cursor_rate_limit_per_minute=0)
    for path, headers in PATHS:
        first = body_of(one, path, headers)
        assert first == body_of(two, path, headers), path
        assert first != body_of(other, path, headers), path
    # Data is anchored to UTC days, not to when the simulator started or what it served.
    later = Simulator(seed=11, users=20, days=40, now=lambda: NOW, cursor_rate_limit_per_minute=0)
    path, headers = PATHS[2]
    assert body_of(later, path, headers) == body_of(one, path, headers)


def test_late_arrival_appears_with_a_commit_time_in_the_past() -> None:
    clock = [NOW]
    sim = Simulator(seed=5, users=40, days=10, now=lambda: clock[0])
    # Find a commit ingested hours after it was made, using only the public API.
    records = []
    page = 1
    while batch := items(sim, f"{ORG}/ai-code-tracking/commits?pageSize=200&page={page}"):
        records += batch
        page += 1

    def ts(value: str) -> datetime:
        return datetime.fromisoformat(value)

    late = next(
        r
        for r in records
        if ts(r["createdAt"]) - ts(r["commitTs"]) > timedelta(hours=2)
        and ts(r["createdAt"]) < NOW - timedelta(hours=1)
    )
    made, ingested = ts(late["commitTs"]), ts(late["createdAt"])
    before = made + (ingested - made) / 2  # after the commit, before its ingestion
    window = (
        f"{ORG}/ai-code-tracking/commits?pageSize=200"
        f"&startDate={(made - timedelta(hours=1)).isoformat()}".replace("+00:00", "Z")
        + f"&endDate={before.isoformat()}".replace("+00:00", "Z")
    )
    clock[0] = before
    hashes_then = {r["commitHash"] for r in items(sim, window)}
    assert late["commitHash"] not in hashes_then
    clock[0] = ingested + timedelta(hours=1)
    hashes_later = {r["commitHash"] for r in items(sim, window)}
    assert late["commitHash"] in hashes_later
    assert hashes_then < hashes_later


def test_future_records_are_invisible_and_appear_as_time_passes() -> None:
    clock = [NOW]
    sim = Simulator(seed=5, users=40, days=5, now=lambda: clock[0])
    path = f"{ORG}/ai-code-tracking/changes?pageSize=200&endDate=2025-07-31T00:00:00Z"
    newest = items(sim, path)[0]["createdAt"]
    assert datetime.fromisoformat(newest) <= NOW
    first_page = items(sim, path)
    clock[0] = NOW + timedelta(hours=3)
    moved = items(sim, path)
    assert moved[0]["createdAt"] > newest
    # A page stays the same while nothing new became visible.
    clock[0] = NOW
    assert items(sim, path) == first_page


def test_people_are_shared_across_vendors() -> None:
    sim = Simulator(seed=2, users=30, now=lambda: NOW)
    people = sim.population.people
    emails = [p.email for p in people]
    assert "" in emails
    assert "" in [p.display_name for p in people]
    named = [e for e in emails if e]
    assert len(set(named)) == len(named)
    assert all(e.endswith("@example.com") and e.isascii() for e in named)
    assert len({p.qoder_id for p in people}) == len(people)
    assert all(p.cursor_id.startswith("user_") for p in people)
    assert any("/" not in r for r in sim.population.repos)
    assert any("/" in r for r in sim.population.repos)
    assert len(set(sim.population.repos)) == len(sim.population.repos)


def test_record_volume_follows_the_rates() -> None:
    sim = Simulator(
        seed=4,
        users=50,
        days=14,
        commits_per_user_day=2.0,
        changes_per_user_day=8.0,
        now=lambda: NOW,
    )
    window = "startDate=2025-07-14T00:00:00Z&endDate=2025-07-27T23:59:59Z&pageSize=1"
    commits = json.loads(body_of(sim, f"{ORG}/ai-code-tracking/commits?{window}", QODER))
    changes = json.loads(body_of(sim, f"{ORG}/ai-code-tracking/changes?{window}", QODER))
    # 50 people x 14 days, weekends quieter, some people idle: roughly 0.5-1.5x the rate.
    assert 0.5 * 2 * 50 * 14 < commits["data"]["pagination"]["totalItems"] < 1.5 * 2 * 50 * 14
    assert 0.5 * 8 * 50 * 14 < changes["data"]["pagination"]["totalItems"] < 1.5 * 8 * 50 * 14


def test_late_qoder_changes_appear_with_an_old_created_at() -> None:
    """Qoder's change createdAt is the event time: a late change shows up in the past."""
    clock = [NOW]
    sim = Simulator(seed=5, users=60, days=3, now=lambda: clock[0])
    window = (
        f"{ORG}/ai-code-tracking/changes?pageSize=200"
        "&startDate=2025-07-30T00:00:00Z&endDate=2025-07-30T15:00:00Z"
    )

    def ids() -> set[str]:
        found, page = set(), 1
        while batch := items(sim, f"{window}&page={page}"):
            found |= {r["changeId"] for r in batch}
            page += 1
        return found

    before = ids()
    clock[0] = NOW + timedelta(hours=12)
    after = ids()
    assert before < after  # same window, nothing lost, late records added
