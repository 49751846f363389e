"""Record streams: each record counts once, whichever path and however often it is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from tests.support import exposition
from tests.support.fakes import (
    FIXTURES,
    CursorFake,
    FakeClock,
    QoderFake,
    cursor_config,
    make_app,
    qoder_config,
)

# These tests replay one recorded page per request: a window read in one slice keeps
# their request counts readable (slicing itself is tested in test_backfill.py).
ONE_SLICE = "7d"


def counters(app: App) -> dict[str, float]:
    return exposition.parse(app.publisher.snapshot.text, exposition.STREAM_COUNTERS)


def sample(app: App, name: str) -> float | None:
    return exposition.sample(app.publisher.snapshot.text, name)


def run(cfg: Any, fake: Any, clock: FakeClock | None = None, polls: int = 1) -> App:
    clock = clock or FakeClock()
    app = make_app(cfg, fake, clock)
    for _ in range(polls):
        app.poller.poll_all_once()
    return app


def only_streams(**extra: Any) -> dict[str, Any]:
    off = {ep: {"enabled": False} for ep in
           ("overview", "daily_trend", "member_ranking", "repos", "file_extensions",
            "members", "resource_packages", "credits")}
    return {"endpoints": {**off, **extra}}


# -- same values through JSON and CSV ---------------------------------------------------

def test_qoder_commits_json_and_csv_count_the_same(tmp_path: Path) -> None:
    results = []
    for fmt in ("json", "csv"):
        cfg = qoder_config(tmp_path / fmt, **only_streams(commits={"format": fmt}))
        fake = QoderFake()
        app = run(cfg, fake)
        assert any(p.endswith("/export") == (fmt == "csv") for p in fake.paths())
        results.append(counters(app))
        app.close()
    assert results[0] == results[1]
    assert results[0]['aicode_commit_lines_added_total{org="acme",provider="qoder",'
                      'repo="my-project",source="ide_agent"}'] == 50


def test_cursor_json_and_csv_count_the_same_with_old_and_new_shapes(tmp_path: Path) -> None:
    results = []
    for fmt in ("json", "csv"):
        cfg = cursor_config(tmp_path / fmt, endpoints={"commits": {"format": fmt},
                                                       "changes": {"format": fmt}})
        app = run(cfg, CursorFake())
        results.append(counters(app))
        app.close()
    assert results[0] == results[1]
    got = results[0]
    o, p = 'org="acme"', 'provider="cursor"'
    base = f"{o},{p}"
    # old-shape record: repo null -> unknown, isPrimaryBranch absent -> unknown,
    # nonAiLinesAdded null -> derived as max(0, total - tab - composer) = 10 - 3 - 2
    assert got[f'aicode_commits_total{{{o},primary_branch="unknown",{p},repo="unknown"}}'] == 1
    assert got[f'aicode_commits_total{{{o},primary_branch="true",{p},repo="company/repo"}}'] == 1
    assert got[f'aicode_commit_lines_added_total{{{base},repo="unknown",source="non_ai"}}'] == 5
    # Cursor's "ts" gains its dot; the privacy-mode item (no fileName) still counts
    assert got[f'aicode_change_file_lines_added_total{{extension=".ts",{base},'
               f'source="tab"}}'] == 2
    assert got[f'aicode_change_file_lines_added_total{{extension=".ts",{base},'
               f'source="composer"}}'] == 12
    assert got[f'aicode_changes_total{{model="unknown",{base},source="composer"}}'] == 1


def test_auto_picks_csv_where_complete_and_json_for_qoder_changes(tmp_path: Path) -> None:
    fake = QoderFake()
    app = run(qoder_config(tmp_path, **only_streams()), fake)
    assert set(fake.paths()) == {"/ai-code-tracking/commits/export",
                                 "/ai-code-tracking/changes"}
    app.close()
    cfake = CursorFake()
    app = run(cursor_config(tmp_path / "c"), cfake)
    assert set(cfake.paths()) == {"/analytics/ai-code/commits.csv",
                                  "/analytics/ai-code/changes.csv"}
    app.close()


# -- pagination --------------------------------------------------------------------------

def qoder_change(i: int) -> dict[str, Any]:
    return {"changeId": f"c{i}", "userId": f"u{i % 7}", "userEmail": f"u{i % 7}@x.io",
            "source": "AGENT" if i % 2 else "NEXT", "model": "auto", "totalLinesAdded": i,
            "totalLinesDeleted": 1, "createdAt": "2025-06-03T10:00:00Z",
            "metadata": [{"fileName": "a.go", "fileExtension": ".go", "linesAdded": i,
                          "linesDeleted": 1}]}


def paged_qoder(n: int, page_size: int = 200) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        assert request.url.params["pageSize"] == "200"
        items = [qoder_change(i) for i in range((page - 1) * page_size,
                                                min(n, page * page_size))]
        return httpx.Response(200, json={"success": True, "data": {
            "items": items, "pagination": {"currentPage": page, "pageSize": page_size,
                                           "totalItems": n,
                                           "totalPages": -(-n // page_size)}}})
    return handler


def test_qoder_json_pages_until_total_pages(tmp_path: Path) -> None:
    fake = QoderFake()
    fake.script["/ai-code-tracking/changes"] = [paged_qoder(450)(httpx.Request(
        "GET", f"http://x/?page={p}&pageSize=200")) for p in (1, 2, 3)]
    app = run(qoder_config(tmp_path, backfill_slice=ONE_SLICE,
                           **only_streams(commits={"enabled": False})), fake)
    pages = [r.url.params["page"] for r in fake.requests]
    assert pages == ["1", "2", "3"]
    c = counters(app)
    assert sum(v for k, v in c.items() if k.startswith("aicode_changes_total")) == 450
    assert c['aicode_change_lines_added_total{model="auto",org="acme",provider="qoder",'
             'source="agent"}'] == sum(i for i in range(450) if i % 2)
    app.close()


def cursor_commit(i: int) -> dict[str, Any]:
    return {"commitHash": f"h{i}", "userId": "user_1", "userEmail": "d@x.io",
            "repoName": "r", "branchName": "main", "isPrimaryBranch": True,
            "totalLinesAdded": 3, "totalLinesDeleted": 0, "tabLinesAdded": 1,
            "tabLinesDeleted": 0, "composerLinesAdded": 1, "composerLinesDeleted": 0,
            "nonAiLinesAdded": 1, "nonAiLinesDeleted": 0,
            "createdAt": "2025-06-03T10:00:00Z"}


class CursorPages:
    """A Cursor JSON list of n commits, with 429s injected before chosen pages."""

    def __init__(self, n: int, throttle_pages: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.n = n
        self.throttle = set(throttle_pages)
        self.calls: list[tuple[int, int]] = []
        self.sizes: set[int] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["pageSize"])
        self.sizes.add(size)
        if page in self.throttle:
            self.throttle.discard(page)
            self.calls.append((page, 429))
            return httpx.Response(429, headers={"Retry-After": "13"},
                                  json={"error": "Too Many Requests", "message": "slow down"})
        self.calls.append((page, 200))
        items = [cursor_commit(i) for i in range((page - 1) * size, min(self.n, page * size))]
        return httpx.Response(200, json={"items": items, "totalCount": self.n, "page": page,
                                         "pageSize": size})


def cursor_app(tmp_path: Path, pages: CursorPages, clock: FakeClock) -> App:
    cfg = cursor_config(tmp_path, backfill_slice=ONE_SLICE,
                        endpoints={"commits": {"format": "json"}, "changes": {"enabled": False}})
    return make_app(cfg, pages, clock)


def test_cursor_json_pages_at_5_per_minute_and_429_loses_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    pages = CursorPages(3500, throttle_pages={2, 4})
    app = cursor_app(tmp_path, pages, clock)
    app.poller.poll_all_once()
    assert [p for p, code in pages.calls if code == 200] == [1, 2, 3, 4]
    assert pages.sizes == {1000}
    c = counters(app)
    assert c['aicode_commits_total{org="acme",primary_branch="true",provider="cursor",'
             'repo="r"}'] == 3500
    # paced: no two requests of the endpoint closer than 12 s, Retry-After honoured;
    # 6 requests (4 pages, 2 refused) mean 5 waits
    assert len(clock.sleeps) >= 5 and all(s >= 12 for s in clock.sleeps)
    assert sample(app, 'aicode_api_rate_limited_total{endpoint="commits",org="acme",'
                       'provider="cursor"}') == 2
    app.close()


# -- de-dup, restart, failures ----------------------------------------------------------

def test_overlapping_polls_count_each_record_once(tmp_path: Path) -> None:
    app = run(cursor_config(tmp_path, backfill_slice=ONE_SLICE), CursorFake(), polls=3)
    c = counters(app)
    assert c['aicode_commits_total{org="acme",primary_branch="true",provider="cursor",'
             'repo="company/repo"}'] == 1
    assert sample(app, 'aicode_records_duplicate_total{org="acme",provider="cursor",'
                       'stream="commits"}') == 4
    assert sample(app, 'aicode_records_ingested_total{org="acme",provider="cursor",'
                       'stream="commits"}') == 2
    app.close()


def test_same_commit_on_two_branches_is_two_records(tmp_path: Path) -> None:
    body = json.loads((FIXTURES / "cursor/commits.json").read_text())
    twin = dict(body["items"][0], branchName="release", isPrimaryBranch=False)
    body["items"].append(twin)
    fake = CursorFake()
    fake.script["/analytics/ai-code/commits"] = [httpx.Response(200, json=body)]
    app = run(cursor_config(tmp_path, endpoints={"commits": {"format": "json"}}), fake)
    c = counters(app)
    assert c['aicode_commits_total{org="acme",primary_branch="false",provider="cursor",'
             'repo="company/repo"}'] == 1
    app.close()


def test_restart_resumes_exact_values_before_any_poll(tmp_path: Path) -> None:
    cfg = cursor_config(tmp_path)
    first = run(cfg, CursorFake())
    before = counters(first)
    first.close()
    fake = CursorFake()
    second = make_app(cfg, fake)
    second.publisher.render()
    assert counters(second) == before and fake.requests == []
    second.close()


def test_second_poll_reads_from_watermark_minus_overlap_and_deep_rereads_lookback(
        tmp_path: Path) -> None:
    clock = FakeClock()
    fake = CursorFake()
    app = run(cursor_config(tmp_path, lookback="2d", initial_backfill="7d", overlap="10m",
                            lookback_interval="1h", backfill_slice="7d"), fake, clock)
    from datetime import UTC, datetime
    start = lambda r: datetime.fromisoformat(r.url.params["startDate"])  # noqa: E731
    t0 = datetime.fromtimestamp(FakeClock().wall_time, UTC)
    assert (t0 - start(fake.requests[0])).days == 7
    clock.wall_time += 600
    app.poller.poll_all_once()
    assert (t0 - start(fake.requests[-1])).total_seconds() == 600  # watermark - overlap
    clock.wall_time += 3600
    n = len(fake.requests)
    app.poller.poll_all_once()
    starts = sorted((t0 - start(r)).total_seconds() for r in fake.requests[n:])
    # The hot read, then the deep re-read from now - lookback.
    assert starts[-1] == pytest.approx(2 * 86400 - 4200, abs=60)
    app.close()


@pytest.mark.parametrize("damage", ["truncated", "html", "cut"])
def test_damaged_csv_commits_nothing_then_recovers(tmp_path: Path, damage: str) -> None:
    good = (FIXTURES / "cursor/changes.csv").read_bytes()
    bad = {
        "truncated": httpx.Response(200, content=good[: good.index(b"\n") + 60],
                                    headers={"content-type": "text/csv"}),
        "html": httpx.Response(200, content=b"<html><body>Sign in</body></html>\n",
                               headers={"content-type": "text/html"}),
        "cut": httpx.Response(200, stream=_Cut(good[:200])),
    }[damage]
    fake = CursorFake()
    fake.script["/analytics/ai-code/changes.csv"] = [bad]
    app = run(cursor_config(tmp_path, endpoints={"commits": {"enabled": False}}), fake)
    assert sample(app, 'aicode_up{endpoint="changes",org="acme",provider="cursor"}') == 0
    assert not any(k.startswith("aicode_changes_total") and v for k, v in
                   counters(app).items())
    app.poller.poll_all_once()
    assert sample(app, 'aicode_up{endpoint="changes",org="acme",provider="cursor"}') == 1
    assert sum(v for k, v in counters(app).items() if k.startswith("aicode_changes_total")) == 2
    app.close()


class _Cut(httpx.SyncByteStream):
    def __init__(self, head: bytes) -> None:
        self.head = head

    def __iter__(self) -> Any:
        yield self.head
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


# -- per-user counters -------------------------------------------------------------------

def test_per_user_counters_fold_beyond_max_users(tmp_path: Path) -> None:
    fake = QoderFake()
    fake.script["/ai-code-tracking/changes"] = [paged_qoder(30)(httpx.Request(
        "GET", "http://x/?page=1&pageSize=200"))]
    cfg = qoder_config(tmp_path, backfill_slice=ONE_SLICE,
                       users={"per_user_counters": True, "max_users": 3},
                       **only_streams(commits={"enabled": False}))
    app = run(cfg, fake)
    users = {k.split('user="')[1].split('"')[0] for k in counters(app)
             if k.startswith("aicode_user_changes_total")}
    assert users == {"u0@x.io", "u1@x.io", "u2@x.io", "__other__"}
    total = sum(v for k, v in counters(app).items() if k.startswith("aicode_user_changes"))
    assert total == 30
    folded = sample(app, 'aicode_user_records_folded_total{org="acme",provider="qoder",'
                         'stream="changes"}')
    assert folded == sum(1 for i in range(30) if i % 7 >= 3)
    app.close()


def test_no_per_user_series_by_default(tmp_path: Path) -> None:
    app = run(cursor_config(tmp_path), CursorFake())
    assert not any(k.startswith("aicode_user_") for k in counters(app))
    app.close()


def test_over_budget_poll_is_logged_once_with_the_numbers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    pages = CursorPages(3500)  # 4 pages; 5/min over a 30 s interval allows 2
    cfg = cursor_config(tmp_path, poll_interval="30s",
                        endpoints={"commits": {"format": "json"}, "changes": {"enabled": False}})
    app = make_app(cfg, pages, clock)
    with caplog.at_level("WARNING", logger="aicode_exporter.streams"):
        app.poller.poll_all_once()
        app.poller.poll_all_once()
    warnings = [vars(r) for r in caplog.records if "more requests" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0]["requests"] == 4 and warnings[0]["budget_per_interval"] == 2
    assert warnings[0]["rate_per_minute"] == 5
    assert (warnings[0]["provider"], warnings[0]["stream"]) == ("cursor", "commits")
    # spread, not burst: 8 requests over two polls, each after a wait of one interval
    assert len(clock.sleeps) >= 7 and all(s >= 12 for s in clock.sleeps)
    app.close()
