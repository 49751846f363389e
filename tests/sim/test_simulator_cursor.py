"""The simulated Cursor AI Code Tracking API: auth, rate limit, shapes, CSV, blame."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from aicode_sim import Simulator

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)
AUTH = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
RANGE = "startDate=2025-07-10&endDate=2025-07-30"


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=3, users=40, days=30, now=lambda: NOW, cursor_rate_limit_per_minute=0)


def call(
    sim: Simulator, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    status, response_headers, chunks = sim.app(
        "GET", path, AUTH if headers is None else headers, b""
    )
    return status, response_headers, b"".join(chunks)


def get_json(sim: Simulator, path: str) -> Any:
    status, _, body = call(sim, path)
    assert status == 200, body
    return json.loads(body)


def all_items(sim: Simulator, path: str, size: int = 1000) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = get_json(sim, f"{path}&page={page}&pageSize={size}")
        assert (body["page"], body["pageSize"]) == (page, size)
        items += body["items"]
        if not body["items"]:
            assert len(items) == body["totalCount"]
            return items
        page += 1


def basic(user: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [{}, basic("wrong"), basic("sim-key", "secret"), {"Authorization": "Bearer sim-key"}],
)
def test_bad_credentials_are_401(sim: Simulator, headers: dict[str, str]) -> None:
    status, response_headers, body = call(sim, "/analytics/ai-code/commits", headers)
    assert status == 401
    assert response_headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == "Unauthorized"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/analytics/ai-code/commits?pageSize=1001", 400),
        ("/analytics/ai-code/changes?page=0", 400),
        ("/analytics/ai-code/changes?startDate=last-week", 400),
        ("/analytics/ai-code/changes?startDate=2025-07-20&endDate=2025-07-10", 400),
        ("/analytics/ai-code/commits/" + ",".join(["ab" * 20] * 51), 400),
        ("/analytics/ai-code/unknown", 404),
    ],
)
def test_bad_requests(sim: Simulator, path: str, status: int) -> None:
    got, _, body = call(sim, path)
    assert got == status
    assert set(json.loads(body)) == {"error", "message"}


def test_rate_limit_is_per_endpoint_with_retry_after() -> None:
    ticks = [1000.0]
    limited = Simulator(users=5, days=3, now=lambda: NOW, clock=lambda: ticks[0])
    for second in range(5):
        ticks[0] = 1000.0 + second
        assert call(limited, "/analytics/ai-code/commits")[0] == 200
    ticks[0] = 1010.0
    status, headers, body = call(limited, "/analytics/ai-code/commits")
    assert status == 429
    assert headers["Retry-After"] == "50"  # the first slot frees at 1060
    assert json.loads(body)["error"] == "Too Many Requests"
    assert call(limited, "/analytics/ai-code/changes")[0] == 200  # another endpoint
    ticks[0] = 1060.0
    assert call(limited, "/analytics/ai-code/commits")[0] == 200  # the refused one took no slot
    assert call(limited, "/analytics/ai-code/commits")[0] == 429
    ticks[0] = 1061.0
    assert call(limited, "/analytics/ai-code/commits")[0] == 200


def test_commit_shapes_old_and_new_and_nullable_fields(sim: Simulator) -> None:
    items = all_items(sim, f"/analytics/ai-code/commits?{RANGE}")
    assert len(items) > 300
    created = [i["createdAt"] for i in items]
    assert created == sorted(created, reverse=True)
    old = [i for i in items if "commitSource" not in i]
    new = [i for i in items if "commitSource" in i]
    assert old and new
    assert all("isPrimaryBranch" not in i for i in old)
    assert {i["commitSource"] for i in new} == {"ide", "cli", "cloud"}
    assert {i["isPrimaryBranch"] for i in new} == {True, False, None}
    for field in ("repoName", "branchName", "nonAiLinesAdded", "message", "commitTs"):
        assert any(i[field] is None for i in items), field
    for i in items:
        ai = i["tabLinesAdded"] + i["composerLinesAdded"]
        if i["nonAiLinesAdded"] is not None:
            assert i["nonAiLinesAdded"] == max(0, i["totalLinesAdded"] - ai)
        assert i["userId"].startswith("user_")
        assert i["createdAt"].endswith("Z") and "." in i["createdAt"]


def test_change_metadata_conventions(sim: Simulator) -> None:
    items = all_items(sim, f"/analytics/ai-code/changes?{RANGE}")
    assert {i["source"] for i in items} == {"TAB", "COMPOSER"}
    assert any(i["model"] is None for i in items)
    assert any(isinstance(i["model"], str) for i in items)
    metadata = [m for i in items for m in i["metadata"]]
    assert all(not m["fileExtension"].startswith(".") for m in metadata)
    assert any(m["fileExtension"] == "ts" or m["fileExtension"] == "py" for m in metadata)
    assert any("fileName" not in m for m in metadata)  # privacy mode
    assert any("fileName" in m for m in metadata)
    for i in items:
        assert i["totalLinesAdded"] == sum(m["linesAdded"] for m in i["metadata"])


def test_user_filter_accepts_email_encoded_and_numeric_ids(sim: Simulator) -> None:
    items = all_items(sim, f"/analytics/ai-code/changes?{RANGE}")
    person = next(p for p in sim.population.people if p.email and p.cursor_activity > 0)
    expected = [i for i in items if i["userId"] == person.cursor_id]
    assert expected
    for value in (person.email, person.cursor_id, str(person.cursor_numeric_id)):
        assert all_items(sim, f"/analytics/ai-code/changes?{RANGE}&user={value}") == expected
    assert all_items(sim, f"/analytics/ai-code/changes?{RANGE}&user=nobody@example.com") == []


def test_relative_and_literal_dates(sim: Simulator) -> None:
    absolute = get_json(
        sim,
        "/analytics/ai-code/changes?startDate=2025-07-23T15:00:00Z&endDate=2025-07-30T15:00:00Z",
    )
    assert get_json(sim, "/analytics/ai-code/changes?startDate=7d&endDate=now") == absolute
    assert get_json(sim, "/analytics/ai-code/changes") == absolute  # the defaults


def test_csv_matches_json(sim: Simulator) -> None:
    commits = all_items(sim, f"/analytics/ai-code/commits?{RANGE}")
    status, headers, body = call(sim, f"/analytics/ai-code/commits.csv?{RANGE}")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    header = next(reader)
    assert header[:2] == ["commit_hash", "commit_source"]
    assert header[2:] == [
        "user_id", "user_email", "repo_name", "branch_name", "is_primary_branch",
        "total_lines_added", "total_lines_deleted", "tab_lines_added", "tab_lines_deleted",
        "composer_lines_added", "composer_lines_deleted", "non_ai_lines_added",
        "non_ai_lines_deleted", "message", "commit_ts", "created_at",
    ]  # fmt: skip
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    assert len(rows) == len(commits)
    for row, item in zip(rows, commits, strict=True):
        assert row["commit_hash"] == item["commitHash"]
        assert row["commit_source"] == item.get("commitSource", "")
        assert (
            row["is_primary_branch"]
            == {True: "true", False: "false", None: ""}[item.get("isPrimaryBranch")]
        )
        assert int(row["total_lines_added"]) == item["totalLinesAdded"]
        assert row["message"] == (item["message"] or "")
        assert row["repo_name"] == (item["repoName"] or "")

    changes = all_items(sim, f"/analytics/ai-code/changes?{RANGE}")
    status, _, body = call(sim, f"/analytics/ai-code/changes.csv?{RANGE}")
    dict_reader = csv.DictReader(io.StringIO(body.decode("utf-8"), newline=""))
    change_rows = list(dict_reader)
    assert dict_reader.fieldnames == [
        "change_id", "user_id", "user_email", "source", "model", "total_lines_added",
        "total_lines_deleted", "created_at", "metadata_json",
    ]  # fmt: skip
    assert [(r["change_id"], json.loads(r["metadata_json"])) for r in change_rows] == [
        (c["changeId"], c["metadata"]) for c in changes
    ]


def test_blame_ranges_cover_ai_lines(sim: Simulator) -> None:
    commits = get_json(sim, f"/analytics/ai-code/commits?{RANGE}&pageSize=50")["items"]
    wanted = [c for c in commits if c["tabLinesAdded"] + c["composerLinesAdded"] > 0][:4]
    hashes = [c["commitHash"] for c in wanted] + ["f" * 40]
    body = get_json(sim, "/analytics/ai-code/commits/" + ",".join(hashes))
    assert [c["commitHash"] for c in body["commits"]] == hashes
    assert body["commits"][-1]["files"] == []
    for commit, blame in zip(wanted, body["commits"], strict=False):
        lines = {"TAB": 0, "COMPOSER": 0}
        for file in blame["files"]:
            assert not file["fileExtension"].startswith(".")
            for r in file["ranges"]:
                lines[r["source"]] += r["end"] - r["start"] + 1
        assert lines == {"TAB": commit["tabLinesAdded"], "COMPOSER": commit["composerLinesAdded"]}
