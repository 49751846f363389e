"""The Cursor tracking client against httpx MockTransport: Basic auth with the key as user
name, JSON pages {items,totalCount,page,pageSize}, snake_case CSV exports, typed errors, and
Cursor's 5 requests per minute per endpoint kept in virtual time."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from aicode_exporter.errors import AuthError
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped
from aicode_exporter.vendors.changes import ChangeItem
from aicode_exporter.vendors.cursor import VENDOR
from aicode_exporter.vendors.cursor.client import PAGE_SIZE, CursorTrackingClient
from aicode_exporter.vendors.cursor.mapping import cursor_commit
from aicode_exporter.vendors.cursor.models import CursorCommit
from aicode_exporter.vendors.registry import USER_AGENT
from tests.support.fakes import CURSOR_KEY, CursorFake, FakeClock, fixture

START = datetime(2025, 7, 24, tzinfo=UTC)
END = START + timedelta(days=7)
ENDPOINTS = ("commits", "changes", "commit_detail")


def make(fake: CursorFake, clock: FakeClock | None = None,
         telemetry: Telemetry | None = None) -> tuple[CursorTrackingClient, FakeClock, Telemetry]:
    """The client as the registry builds it: the vendor's auth, Cursor's default 5/min."""
    clock = clock or FakeClock()
    telemetry = telemetry or Telemetry()
    api = ApiClient(vendor="cursor", org="acme", base_url="http://cursor.test",
                    auth=VENDOR.auth(fake.key), timeout=5, observer=telemetry,
                    rate_per_minute=dict.fromkeys(ENDPOINTS, 5),
                    transport=fake.transport(), clock=clock.monotonic, wall=clock.wall,
                    sleep=clock.sleep, user_agent=USER_AGENT)
    return CursorTrackingClient(api), clock, telemetry


def records(items: Any) -> list[Any]:
    got = list(items)
    assert not [g for g in got if isinstance(g, Skipped)], got
    return got


def err(status: int, error: str, message: str = "boom", **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": error, "message": message})


def commit(i: int, **fields: Any) -> dict[str, Any]:
    return {"commitHash": f"h{i}", "repoName": "r", "branchName": "main",
            "totalLinesAdded": 3, "tabLinesAdded": 1, "composerLinesAdded": 1,
            "nonAiLinesAdded": 1, "createdAt": "2025-07-30T10:00:00Z", **fields}


def test_commits_json_request_spelling_basic_auth_and_parse() -> None:
    fake = CursorFake()
    client, _, _ = make(fake)
    got = records(client.json_items("commits", START, END))
    assert [c.commitHash for c in got] == ["a1b2c3d4", "e5f6a7b8"]
    assert len(fake.requests) == 1  # totalCount 2: one page
    req = fake.requests[0]
    assert req.url.path == "/analytics/ai-code/commits"
    assert dict(req.url.params) == {"startDate": "2025-07-24T00:00:00Z",
                                    "endDate": "2025-07-31T00:00:00Z", "page": "1",
                                    "pageSize": str(PAGE_SIZE)}
    scheme, _, token = req.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == f"{CURSOR_KEY}:"  # key as user, no password
    assert req.headers["user-agent"].startswith("aicode-exporter/")
    new, old = got
    assert isinstance(new, CursorCommit)
    assert (new.repoName, new.isPrimaryBranch, new.commitSource) == ("company/repo", True, "ide")
    assert (new.tabLinesAdded, new.composerLinesAdded, new.nonAiLinesAdded) == (50, 40, 30)
    # the older shape: no commitSource, no isPrimaryBranch, nulls
    assert (old.repoName, old.isPrimaryBranch, old.commitSource) == ("", None, "")
    assert old.nonAiLinesAdded is None and old.nonAiLinesDeleted is None
    assert old.commitTs is None and old.createdAt is not None


def test_changes_json_parse_privacy_mode_item() -> None:
    fake = CursorFake()
    client, _, _ = make(fake)
    composer, tab = records(client.json_items("changes", START, END))
    assert fake.paths() == ["/analytics/ai-code/changes"]
    assert isinstance(composer, ChangeItem)
    assert (composer.changeId, composer.source, composer.model) == ("749356201", "COMPOSER", "")
    assert [(f.fileName, f.fileExtension, f.linesAdded) for f in composer.metadata] == [
        ("src/analytics/report.ts", "ts", 12), ("src/analytics/ui.tsx", "tsx", 6)]
    assert (tab.model, [(f.fileName, f.fileExtension) for f in tab.metadata]) == (
        "gpt-5", [("", "ts")])


def test_json_pages_until_total_count_at_5_per_minute() -> None:
    def page(n: int) -> httpx.Response:
        return httpx.Response(200, json={
            "items": [commit((n - 1) * 1000 + i) for i in range(1000)],
            "totalCount": 3000, "page": n, "pageSize": 1000})

    # three full pages: only totalCount says there is no fourth (which would be a 404)
    fake = CursorFake(script={"/analytics/ai-code/commits": [page(1), page(2), page(3)]})
    client, clock, _ = make(fake)
    totals: list[int] = []
    got = records(client.json_items("commits", START, END, on_total=totals.append))
    assert len(got) == 3000 and len({c.commitHash for c in got}) == 3000
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2", "3"]
    assert {r.url.params["pageSize"] for r in fake.requests} == {"1000"}
    assert totals == [3]  # pages, from totalCount / pageSize
    # 5 per minute: the second and third page each wait one 12 s slot
    assert len(clock.sleeps) == 2 and all(s >= 12 for s in clock.sleeps)


def test_csv_export_reads_snake_case_columns() -> None:
    fake = CursorFake()
    client, _, _ = make(fake)
    new, old = records(client.csv_items("commits", START, END))
    req = fake.requests[0]
    assert req.url.path == "/analytics/ai-code/commits.csv"
    assert req.url.params["startDate"] == "2025-07-24T00:00:00Z"
    assert "page" not in req.url.params
    assert req.headers["accept"] == "text/csv"
    assert isinstance(new, CursorCommit)
    assert (new.commitHash, new.commitSource, new.repoName, new.isPrimaryBranch) == (
        "a1b2c3d4", "ide", "company/repo", True)
    assert (new.totalLinesAdded, new.tabLinesAdded, new.composerLinesAdded,
            new.nonAiLinesAdded, new.nonAiLinesDeleted) == (120, 50, 40, 30, 15)
    # empty cells of the old-shape row read as absent, as JSON nulls do
    assert (old.commitHash, old.repoName, old.isPrimaryBranch, old.nonAiLinesAdded) == (
        "e5f6a7b8", "", None, None)
    # CSV and JSON give the same records
    json_new, json_old = records(make(CursorFake())[0].json_items("commits", START, END))
    assert new.model_dump() == json_new.model_dump()
    assert old.model_dump() == json_old.model_dump()


def test_csv_changes_metadata_json_column() -> None:
    fake = CursorFake()
    client, _, _ = make(fake)
    composer, tab = records(client.csv_items("changes", START, END))
    assert fake.paths() == ["/analytics/ai-code/changes.csv"]
    assert [(f.fileName, f.fileExtension, f.linesAdded, f.linesDeleted)
            for f in composer.metadata] == [("src/analytics/report.ts", "ts", 12, 3),
                                            ("src/analytics/ui.tsx", "tsx", 6, 1)]
    assert [(f.fileName, f.fileExtension, f.linesAdded) for f in tab.metadata] == [
        ("", "ts", 2)]
    assert (composer.model, tab.model, tab.source) == ("", "gpt-5", "TAB")


def test_csv_with_bad_metadata_json_skips_only_that_row() -> None:
    body = ("change_id,source,total_lines_added,metadata_json\n"
            'c1,TAB,1,"[{""fileExtension"":""ts"",""linesAdded"":1}]"\n'
            "c2,TAB,1,{not json\n")
    fake = CursorFake(script={"/analytics/ai-code/changes.csv": [httpx.Response(
        200, content=body.encode(), headers={"content-type": "text/csv"})]})
    client, _, _ = make(fake)
    good, skipped = list(client.csv_items("changes", START, END))
    assert isinstance(good, ChangeItem) and good.changeId == "c1"
    assert isinstance(skipped, Skipped) and "metadata_json" in str(skipped)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_null_non_ai_lines_are_derived_as_total_minus_ai(fmt: str) -> None:
    fake = CursorFake()
    client, _, _ = make(fake)
    items = (client.json_items if fmt == "json" else client.csv_items)("commits", START, END)
    new, old = (cursor_commit(c, 0.0) for c in records(items))
    # given: taken as sent
    assert dict((s, (a, d)) for s, a, d in new.lines)["non_ai"] == (30, 15)
    # null: added 10 - tab 3 - composer 2 = 5, deleted 4 - tab 1 - composer 0 = 3
    assert dict((s, (a, d)) for s, a, d in old.lines)["non_ai"] == (5, 3)


def test_derived_non_ai_lines_never_go_negative() -> None:
    over = commit(1, totalLinesAdded=2, tabLinesAdded=3, composerLinesAdded=4,
                  nonAiLinesAdded=None, totalLinesDeleted=1, tabLinesDeleted=0,
                  composerLinesDeleted=0, nonAiLinesDeleted=None)
    fake = CursorFake(script={"/analytics/ai-code/commits": [httpx.Response(200, json={
        "items": [over], "totalCount": 1, "page": 1, "pageSize": 1000})]})
    client, _, _ = make(fake)
    (item,) = records(client.json_items("commits", START, END))
    rec = cursor_commit(item, 0.0)
    assert dict((s, (a, d)) for s, a, d in rec.lines)["non_ai"] == (0, 1)


def test_wrong_key_gets_401_as_auth_error_not_retried() -> None:
    fake = CursorFake()
    fake.key = "another"
    client, clock, tel = make(fake)  # the client sends "another"
    fake.key = CURSOR_KEY  # the server wants the real key
    with pytest.raises(AuthError) as e:
        records(client.json_items("commits", START, END))
    assert e.value.status == 401
    assert len(fake.requests) == 1 and clock.sleeps == []
    codes = dict(tel.families()[3].samples)
    assert codes[("cursor", "acme", "commits", "401")] == 1


def test_401_from_the_csv_export_is_final_too() -> None:
    fake = CursorFake(script={"/analytics/ai-code/commits.csv": [
        err(401, "Unauthorized", "Invalid API key")] * 5})
    client, clock, _ = make(fake)
    with pytest.raises(AuthError) as e:
        records(client.csv_items("commits", START, END))
    assert e.value.status == 401 and "Invalid API key" in str(e.value)
    assert len(fake.requests) == 1 and clock.sleeps == []


def test_429_waits_retry_after_then_succeeds() -> None:
    fake = CursorFake(script={"/analytics/ai-code/commits": [
        err(429, "Too Many Requests", "slow down", **{"Retry-After": "30"})]})
    client, clock, tel = make(fake)
    got = records(client.json_items("commits", START, END))
    assert [c.commitHash for c in got] == [
        i["commitHash"] for i in fixture("cursor", "commits.json")["items"]]
    assert len(fake.requests) == 2
    # Retry-After (30 s) is longer than the 12 s pacing slot: it is what was waited
    assert sum(clock.sleeps) == pytest.approx(30, abs=0.01)
    assert tel.families()[4].samples == ((("cursor", "acme", "commits"), 1.0),)
