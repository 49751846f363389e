"""The simulated Qoder API: auth, validation, and metrics consistent with tracking records."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicode_sim import Simulator

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)  # a Wednesday afternoon
AUTH = {"Authorization": "Bearer sim-key"}
ORG = "/v1/organizations/org_sim"
RANGE = "start_date=2025-07-01T00:00:00Z&end_date=2025-07-30T23:59:59Z"


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=7, users=30, repos=12, days=40, now=lambda: NOW)


def call(
    sim: Simulator,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    status, response_headers, chunks = sim.app(
        method, path, AUTH if headers is None else headers, body
    )
    return status, response_headers, b"".join(chunks)


def get_json(sim: Simulator, path: str, **kwargs: Any) -> Any:
    status, _, body = call(sim, path, **kwargs)
    assert status == 200, body
    return json.loads(body)


def assert_error(status: int, body: bytes, expected: int, code: str) -> dict[str, Any]:
    assert status == expected, body
    error: dict[str, Any] = json.loads(body)
    assert error["code"] == code
    assert error["requestId"].startswith("req_")
    assert "status" not in error
    return error


# ---- auth and errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic c2ltLWtleTo="}],
)
def test_missing_or_wrong_key_is_401(sim: Simulator, headers: dict[str, str]) -> None:
    status, response_headers, body = call(sim, f"{ORG}/ai-code/repos", headers=headers)
    assert_error(status, body, 401, "Unauthorized")
    assert response_headers["Content-Type"] == "application/json"


def test_other_organization_is_403(sim: Simulator) -> None:
    status, _, body = call(sim, "/v1/organizations/org_other/ai-code/repos")
    assert_error(status, body, 403, "Forbidden")


def test_unknown_path_is_404_and_wrong_method_405(sim: Simulator) -> None:
    status, _, body = call(sim, f"{ORG}/ai-code/nothing-here")
    assert_error(status, body, 404, "NotFound")
    status, headers, body = call(sim, f"{ORG}/ai-code-tracking/commits", method="POST")
    assert status == 405
    assert headers["Allow"] == "GET"


@pytest.mark.parametrize("endpoint", ["overview", "daily-trend", "member-ranking"])
@pytest.mark.parametrize("missing", ["start_date", "end_date"])
def test_stats_require_both_dates(sim: Simulator, endpoint: str, missing: str) -> None:
    params = {"start_date": "2025-07-01T00:00:00Z", "end_date": "2025-07-02T00:00:00Z"}
    del params[missing]
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, _, body = call(sim, f"{ORG}/ai-code/stats/{endpoint}?{query}")
    error = assert_error(status, body, 400, "BadRequest")
    assert missing in error["message"]


@pytest.mark.parametrize(
    "path",
    [
        # more than 90 days
        f"{ORG}/ai-code/stats/overview?start_date=2025-01-01T00:00:00Z&end_date=2025-07-01T00:00:00Z",
        # end before start
        f"{ORG}/ai-code/stats/overview?start_date=2025-07-02T00:00:00Z&end_date=2025-07-01T00:00:00Z",
        # not RFC 3339 nor Unix milliseconds
        f"{ORG}/ai-code/stats/overview?start_date=yesterday&end_date=2025-07-01T00:00:00Z",
        f"{ORG}/ai-code-tracking/commits?pageSize=201",
        f"{ORG}/ai-code-tracking/changes?pageSize=0",
        f"{ORG}/ai-code-tracking/changes?source=agent",
        f"{ORG}/ai-code-tracking/commits?userId=not-a-uuid",
        f"{ORG}/ai-code-tracking/commits?startDate=2025-07-30",
        f"{ORG}/ai-code/stats/member-ranking?{RANGE}&limit=0",
    ],
)
def test_bad_parameters_are_400(sim: Simulator, path: str) -> None:
    status, _, body = call(sim, path)
    assert_error(status, body, 400, "BadRequest")


def test_times_accept_offsets_fractions_and_unix_ms(sim: Simulator) -> None:
    base = get_json(sim, f"{ORG}/ai-code/stats/overview?{RANGE}")
    for start, end in [
        ("2025-07-01T02:00:00%2B02:00", "2025-07-30T23:59:59.999Z"),
        ("1751328000000", "1753919999000"),
    ]:
        same = get_json(sim, f"{ORG}/ai-code/stats/overview?start_date={start}&end_date={end}")
        assert same == base


# ---- metrics are consistent with each other ------------------------------------------------


def test_overview_equals_sum_of_daily_trend(sim: Simulator) -> None:
    overview = get_json(sim, f"{ORG}/ai-code/stats/overview?{RANGE}")
    trend = get_json(sim, f"{ORG}/ai-code/stats/daily-trend?{RANGE}")
    ranking = get_json(sim, f"{ORG}/ai-code/stats/member-ranking?{RANGE}&limit=1000")["items"]

    days = [item["date"] for item in trend["items"]]
    assert days[0] == "2025-07-01T00:00:00Z"
    assert days[-1] == "2025-07-30T00:00:00Z"  # today's partial day included
    assert len(days) == 30
    assert [n["date"] for n in trend["nextItems"]] == days

    assert overview["tabCompletionCount"] == sum(n["nextAcceptedCount"] for n in trend["nextItems"])
    added = sum(i["aiLinesAdded"] + i["otherLinesAdded"] for i in trend["items"])
    assert added == sum(m["totalLinesAdded"] for m in ranking)
    assert sum(i["aiLinesAdded"] for i in trend["items"]) == sum(m["aiLinesAdded"] for m in ranking)
    assert sum(i["commitCount"] for i in trend["items"]) == sum(m["commitCount"] for m in ranking)
    assert overview["committedTotalLinesEdit"] >= added
    assert overview["aiShareRate"] == round(
        100 * overview["committedAiLinesEdit"] / overview["committedTotalLinesEdit"], 2
    )
    for item in trend["items"]:
        ext_total = sum(
            e["totalLinesAdded"] for e in trend["extItems"] if e["date"] == item["date"]
        )
        assert ext_total == item["aiLinesAdded"] + item["otherLinesAdded"]
    for name in ("agentEditCount", "messageCount", "acceptedLinesEdit"):
        assert overview[name] > 0


def test_overview_of_a_range_is_the_sum_of_its_days(sim: Simulator) -> None:
    whole = get_json(sim, f"{ORG}/ai-code/stats/overview?{RANGE}")
    totals = dict.fromkeys(whole, 0)
    for day in range(1, 31):
        date = f"2025-07-{day:02d}"
        one = get_json(
            sim,
            f"{ORG}/ai-code/stats/overview?start_date={date}T00:00:00Z&end_date={date}T23:59:59Z",
        )
        for name, value in one.items():
            totals[name] += value
    for name, value in whole.items():
        if name != "aiShareRate":
            assert totals[name] == value, name


def test_member_ranking_is_sorted_limited_and_shares_are_ratios(sim: Simulator) -> None:
    top = get_json(sim, f"{ORG}/ai-code/stats/member-ranking?{RANGE}")["items"]
    everyone = get_json(sim, f"{ORG}/ai-code/stats/member-ranking?{RANGE}&limit=1000")["items"]
    assert len(top) == 10  # the documented default limit
    assert top == everyone[:10]
    assert [m["aiLinesAdded"] for m in everyone] == sorted(
        (m["aiLinesAdded"] for m in everyone), reverse=True
    )
    for member in everyone:
        assert member["aiShareRate"] == round(
            100 * member["aiLinesAdded"] / member["totalLinesAdded"], 2
        )
    assert any(m["email"] == "" for m in everyone)  # "may be empty"


def test_repos_pages_cover_every_repo_once(sim: Simulator) -> None:
    first = get_json(sim, f"{ORG}/ai-code/repos?{RANGE}&per_page=5")
    total = first["totalCount"]
    assert first["perPage"] == 5
    assert total > 5
    names: list[str] = []
    commits = 0
    for page in range(1, total // 5 + 2):
        body = get_json(sim, f"{ORG}/ai-code/repos?{RANGE}&per_page=5&page={page}")
        assert body["page"] == page
        names += [r["repoName"] for r in body["repos"]]
        commits += sum(r["commitCount"] for r in body["repos"])
    assert len(names) == len(set(names)) == total
    assert names == sorted(names)
    trend = get_json(sim, f"{ORG}/ai-code/stats/daily-trend?{RANGE}")
    assert commits == sum(i["commitCount"] for i in trend["items"])
    clamped = get_json(sim, f"{ORG}/ai-code/repos?per_page=500")
    assert clamped["perPage"] == 100
    some = names[0].split("/")[-1][:4]
    filtered = get_json(sim, f"{ORG}/ai-code/repos?{RANGE}&query={some}")
    assert filtered["repos"]
    assert all(some in r["repoName"] for r in filtered["repos"])


def test_file_extensions_have_leading_dots(sim: Simulator) -> None:
    body = get_json(sim, f"{ORG}/ai-code/file-extensions?{RANGE}")
    extensions = [e["extension"] for e in body["fileExtensions"]]
    assert ".py" in extensions or ".go" in extensions or ".ts" in extensions
    assert all(e == "" or e.startswith(".") for e in extensions)
    for item in body["fileExtensions"]:
        assert 0 <= item["aiShareRate"] <= 100


def test_metrics_commit_count_matches_tracking_records(sim: Simulator) -> None:
    """Aggregates count a fast-forwarded commit once; tracking lists it per branch."""
    trend = get_json(
        sim,
        f"{ORG}/ai-code/stats/daily-trend?start_date=2025-07-20T00:00:00Z"
        "&end_date=2025-07-24T12:00:00Z",
    )
    commits = sum(i["commitCount"] for i in trend["items"])
    records = all_pages(
        sim,
        f"{ORG}/ai-code-tracking/commits?startDate=2025-07-20T00:00:00Z"
        "&endDate=2025-07-24T23:59:59.999Z",
    )
    assert commits == len({r["commitHash"] for r in records})
    identities = [(r["commitHash"], r["branchName"]) for r in records]
    assert len(identities) == len(set(identities))


# ---- tracking ------------------------------------------------------------------------------


def all_pages(sim: Simulator, path: str, size: int = 200) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = get_json(sim, f"{path}&pageSize={size}&page={page}")
        assert body["success"] is True
        pagination = body["data"]["pagination"]
        assert pagination["currentPage"] == page
        assert pagination["pageSize"] == size
        items += body["data"]["items"]
        if page >= pagination["totalPages"]:
            assert len(items) == pagination["totalItems"]
            past = get_json(sim, f"{path}&pageSize={size}&page={page + 1}")
            assert past["data"]["items"] == []
            return items
        page += 1


def test_commit_records_are_complete_and_consistent(sim: Simulator) -> None:
    records = all_pages(sim, f"{ORG}/ai-code-tracking/commits?startDate=2025-07-01T00:00:00Z")
    assert len(records) > 200
    times = [r["commitTs"] for r in records]
    assert times == sorted(times, reverse=True)
    prefixes = (
        "ideNext", "pluginNext", "ideAgent", "pluginAgent", "cliAgent",
        "ideQuest", "ideInlineChat", "jbInlineChat", "nonAi",
    )  # fmt: skip
    for r in records:
        assert r["totalLinesAdded"] == sum(r[f"{p}LinesAdded"] for p in prefixes)
        assert r["totalLinesDeleted"] == sum(r[f"{p}LinesDeleted"] for p in prefixes)
        assert r["isPrimaryBranch"] == (r["branchName"] in ("main", "master"))
        assert r["createdAt"] >= r["commitTs"]
    messages = [r["message"] for r in records]
    assert any("," in m for m in messages)
    assert any('"' in m for m in messages)
    assert any("\n" in m for m in messages)
    assert any(not m.isascii() for m in messages)
    assert "" in messages
    by_hash: dict[str, set[str]] = {}
    for r in records:
        by_hash.setdefault(r["commitHash"], set()).add(r["branchName"])
    assert any(len(branches) == 2 for branches in by_hash.values())  # feature + main


def test_change_records_and_filters(sim: Simulator) -> None:
    records = all_pages(sim, f"{ORG}/ai-code-tracking/changes?startDate=2025-07-25T00:00:00Z")
    assert {r["source"] for r in records} == {"AGENT", "NEXT", "QUEST", "INLINECHAT"}
    assert {r["model"] for r in records} == {"lite", "efficient", "auto", ""}
    assert len({r["changeId"] for r in records}) == len(records)
    assert any(r["metadata"] == [] for r in records)
    for r in records:
        if r["metadata"]:
            assert r["totalLinesAdded"] == sum(m["linesAdded"] for m in r["metadata"])
            assert all(
                m["fileExtension"] == "" or m["fileExtension"].startswith(".")
                for m in r["metadata"]
            )
    quests = all_pages(
        sim, f"{ORG}/ai-code-tracking/changes?startDate=2025-07-25T00:00:00Z&source=QUEST"
    )
    assert quests == [r for r in records if r["source"] == "QUEST"]
    someone = next(r for r in records if r["userEmail"])
    by_email = all_pages(
        sim,
        f"{ORG}/ai-code-tracking/changes?startDate=2025-07-25T00:00:00Z"
        f"&userEmail={someone['userEmail']}",
    )
    assert by_email == [r for r in records if r["userId"] == someone["userId"]]
    # userId wins over userEmail
    by_id = all_pages(
        sim,
        f"{ORG}/ai-code-tracking/changes?startDate=2025-07-25T00:00:00Z"
        f"&userId={someone['userId']}&userEmail=nobody@example.com",
    )
    assert by_id == by_email


def test_json_and_csv_export_hold_the_same_records(sim: Simulator) -> None:
    query = "startDate=2025-07-20T00:00:00Z&endDate=2025-07-29T00:00:00Z"
    records = all_pages(sim, f"{ORG}/ai-code-tracking/commits?{query}")
    status, headers, body = call(sim, f"{ORG}/ai-code-tracking/commits/export?{query}")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="ai-code-commits.csv"'
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    assert list(rows[0])[:4] == ["commitHash", "userId", "userEmail", "userName"]
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        assert row["commitHash"] == record["commitHash"]
        assert row["branchName"] == record["branchName"]
        assert int(row["totalLinesAdded"]) == record["totalLinesAdded"]
        assert int(row["ideAgentLinesAdded"]) == record["ideAgentLinesAdded"]
        assert row["isPrimaryBranch"] == ("true" if record["isPrimaryBranch"] else "false")
        assert row["message"] == record["message"]  # commas, quotes, newlines round-trip
    messages = [row["message"] for row in rows]
    for special in (",", '"', "\n"):
        assert any(special in m for m in messages), special

    changes = all_pages(sim, f"{ORG}/ai-code-tracking/changes?{query}")
    status, headers, body = call(sim, f"{ORG}/ai-code-tracking/changes/export?{query}")
    assert headers["Content-Disposition"] == 'attachment; filename="ai-code-changes.csv"'
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    header = next(reader)
    assert header == [
        "changeId", "userId", "userEmail", "source", "model",
        "totalLinesAdded", "totalLinesDeleted", "createdAt",
    ]  # fmt: skip
    rows_ = list(reader)
    assert [(r[0], int(r[5])) for r in rows_] == [
        (c["changeId"], c["totalLinesAdded"]) for c in changes
    ]


def test_commit_detail_ranges_match_line_counts(sim: Simulator) -> None:
    records = get_json(sim, f"{ORG}/ai-code-tracking/commits?pageSize=60")["data"]["items"]
    wanted = [r for r in records if r["totalLinesAdded"] - r["nonAiLinesAdded"] > 0][:5]
    hashes = [r["commitHash"] for r in wanted] + ["0" * 40]
    body = get_json(
        sim,
        f"{ORG}/ai-code-tracking/commits/detail",
        method="POST",
        body=json.dumps({"commitHashes": hashes}).encode(),
    )
    assert body["success"] is True
    commits = body["data"]["commits"]
    assert [c["commitHash"] for c in commits] == hashes  # request order
    assert commits[-1]["rangeAnnotations"] == []
    column = {
        ("NEXT", "ide"): "ideNext", ("NEXT", "plugin"): "pluginNext",
        ("AGENT", "ide"): "ideAgent", ("AGENT", "plugin"): "pluginAgent",
        ("AGENT", "cli"): "cliAgent", ("QUEST", "ide"): "ideQuest",
        ("INLINECHAT", "ide"): "ideInlineChat", ("INLINECHAT", "plugin"): "jbInlineChat",
    }  # fmt: skip
    for record, detail in zip(wanted, commits, strict=False):
        added: dict[str, int] = {}
        for annotation in detail["rangeAnnotations"]:
            assert annotation["filePath"]
            for group in annotation["groups"]:
                assert group["conversationId"]
                if group["type"] == "added":
                    name = column[(group["source"], group["productType"])]
                    lines = sum(r["end"] - r["start"] + 1 for r in group["ranges"])
                    added[name] = added.get(name, 0) + lines
        expected = {
            name: record[f"{name}LinesAdded"]
            for name in column.values()
            if record[f"{name}LinesAdded"]
        }
        assert added == expected


@pytest.mark.parametrize(
    "payload",
    [{"commitHashes": []}, {"commitHashes": ["a" * 40] * 51}, {"branch": "main"}, "not json"],
)
def test_commit_detail_validation(sim: Simulator, payload: object) -> None:
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    status, _, body = call(sim, f"{ORG}/ai-code-tracking/commits/detail", method="POST", body=raw)
    assert_error(status, body, 400, "BadRequest")


def test_optional_qoder_rate_limit_sends_headers() -> None:
    ticks = [0.0]
    limited = Simulator(
        users=3, days=2, now=lambda: NOW, clock=lambda: ticks[0], qoder_rate_limit_per_minute=2
    )
    path = f"{ORG}/ai-code/repos"
    assert call(limited, path)[1]["X-RateLimit-Remaining"] == "1"
    assert call(limited, path)[0] == 200
    status, headers, body = call(limited, path)
    assert_error(status, body, 429, "TooManyRequests")
    assert headers["Retry-After"] == "60"


@settings(max_examples=15, deadline=None)
@given(size=st.integers(min_value=1, max_value=200))
def test_any_page_size_pages_through_each_record_once(sim: Simulator, size: int) -> None:
    path = f"{ORG}/ai-code-tracking/changes?startDate=2025-07-29T00:00:00Z&source=QUEST"
    records = all_pages(sim, path, size)
    assert len({r["changeId"] for r in records}) == len(records) > 0
