"""Counting exactly once against vendors that return more than was asked for, and commits
whose branch changes or goes missing.

* A vendor that ignores startDate/endDate, or honours only their date part, counts every
  record exactly once over many polls: a record from before a read's window (less a
  5-minute tolerance) is not counted by that read but tallied in
  aicode_records_out_of_window_total; the ids a slice inserts are never pruned by the
  transaction that inserts them.
* Commit identity (pipeline/records.py): the same hash on two non-empty branches is two
  records; a null or empty branch matches the hash's record on any branch; a branchName
  the vendor changed on the same ingestion (createdAt, isPrimaryBranch) is one record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.pipeline.state import PollBatch, StateStore
from tests.support import exposition
from tests.support.fakes import FakeClock, cursor_config, make_app

MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def day_start(t: float) -> float:
    d = datetime.fromtimestamp(t, UTC)
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def parse_time(raw: str) -> float:
    if len(raw) == 10:  # a bare date
        return datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp()
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


class Vendor:
    """Cursor's commits or changes list over a record store. `mode` is how it reads the
    range: "filter" on createdAt like the real one, "ignore" (everything it has, 90 days),
    or "dates" (whole UTC days: the date part of startDate and endDate). A record exists
    from its `visible` time on (a late one is ingested after its createdAt)."""

    def __init__(self, clock: FakeClock, mode: str, stream: str) -> None:
        self.clock, self.mode, self.stream = clock, mode, stream
        self.records: list[tuple[float, float, str, int]] = []  # created, visible, id, lines

    def add(self, created: float, rid: str, lines: int, visible: float | None = None) -> None:
        self.records.append((created, created if visible is None else visible, rid, lines))

    def item(self, created: float, rid: str, lines: int) -> dict[str, Any]:
        if self.stream == "changes":
            return {"changeId": rid, "userId": "u1", "source": "TAB", "model": "m",
                    "totalLinesAdded": lines, "totalLinesDeleted": 1, "createdAt": iso(created)}
        return {"commitHash": rid, "userId": "u1", "repoName": "r", "branchName": "main",
                "isPrimaryBranch": True, "totalLinesAdded": lines + 1, "totalLinesDeleted": 0,
                "tabLinesAdded": lines, "tabLinesDeleted": 0, "composerLinesAdded": 0,
                "composerLinesDeleted": 0, "nonAiLinesAdded": 1, "nonAiLinesDeleted": 0,
                "commitTs": iso(created - 90), "createdAt": iso(created)}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        p = request.url.params
        start, end = parse_time(p["startDate"]), parse_time(p["endDate"])
        if self.mode == "dates":
            start, end = day_start(start), day_start(end) + DAY - 0.001
        elif self.mode == "ignore":
            start, end = self.clock.wall() - 90 * DAY, self.clock.wall()
        now = self.clock.wall()
        items = [self.item(c, rid, n) for c, v, rid, n in sorted(self.records)
                 if start <= c <= end and v <= now]
        size, page = int(p["pageSize"]), int(p["page"])
        return httpx.Response(200, json={"items": items[(page - 1) * size:page * size],
                                         "totalCount": len(items), "page": page,
                                         "pageSize": size})


def app_for(tmp_path: Path, vendor: Vendor, clock: FakeClock) -> App:
    other = "commits" if vendor.stream == "changes" else "changes"
    cfg = cursor_config(tmp_path, rate_limit_per_minute=6000, poll_interval="5m",
                        initial_backfill="7d", lookback="2d", lookback_interval="1h",
                        endpoints={other: {"enabled": False},
                                   vendor.stream: {"format": "json"}})
    return make_app(cfg, vendor, clock)


def figures(app: App, stream: str) -> dict[str, float]:
    got = exposition.parse(app.publisher.render().text)
    lines = "change_lines_added" if stream == "changes" else "commit_lines_added"
    return {
        "records": sum(v for k, v in got.items()
                       if k.startswith(("aicode_changes_total{", "aicode_commits_total{"))),
        "lines": sum(v for k, v in got.items()
                     if k.startswith(f"aicode_{lines}_total{{") and 'source="non_ai"' not in k),
        "ingested": got.get(f'aicode_records_ingested_total{{org="acme",provider="cursor",'
                            f'stream="{stream}"}}', 0.0),
        "out_of_window": got.get(f'aicode_records_out_of_window_total{{org="acme",'
                                 f'provider="cursor",stream="{stream}"}}', 0.0),
    }


def populate(vendor: Vendor, now: float) -> None:
    """Ten days of records (three before the 7-day backfill), at odd seconds so none
    sits on a slice boundary."""
    for d in range(10):
        for i in range(12):
            vendor.add(now - (d + 1) * DAY + i * 2 * HOUR + 37.25, f"r{d}-{i}", 1 + i)


@pytest.mark.parametrize("stream", ["changes", "commits"])
@pytest.mark.parametrize("mode", ["ignore", "dates"])
def test_a_vendor_that_returns_more_than_asked_counts_each_record_once(
        tmp_path: Path, mode: str, stream: str) -> None:
    clocks = {m: FakeClock() for m in ("filter", mode)}
    vendors = {m: Vendor(clocks[m], m, stream) for m in clocks}
    apps = {m: app_for(tmp_path / m, vendors[m], clocks[m]) for m in clocks}
    t0 = clocks["filter"].wall()
    for v in vendors.values():
        populate(v, t0)
    for poll in range(20):  # 20 polls, 5 minutes apart: 100 minutes, one deep re-read
        for m in clocks:
            v, clock = vendors[m], clocks[m]
            if poll:
                clock.wall_time += 5 * MINUTE
                clock.mono += 5 * MINUTE
                for i in range(3):
                    v.add(clock.wall() - 17.5 - i * MINUTE, f"p{poll}-{i}", poll + i)
            if poll == 4:  # ingested 3 hours late: only the deep re-read can find it
                v.add(clock.wall() - 3 * HOUR, "late", 100, visible=clock.wall())
            apps[m].poller.poll_all_once()
        honest, hostile = (figures(apps[m], stream) for m in ("filter", mode))
        assert (hostile["records"], hostile["lines"], hostile["ingested"]) == (
            honest["records"], honest["lines"], honest["ingested"]), f"poll {poll}"
    truth = [(c, n) for c, vis, _, n in vendors[mode].records if c >= t0 - 7 * DAY]
    end = figures(apps[mode], stream)
    assert end["records"] == len(truth) == 7 * 12 + 19 * 3 + 1
    assert end["lines"] == sum(n for _, n in truth)
    assert end["out_of_window"] > 0  # what it sent from before each window is tallied
    assert figures(apps["filter"], stream)["out_of_window"] == 0
    for app in apps.values():
        app.close()


def test_an_id_is_never_pruned_by_the_transaction_that_inserts_it(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    batch = PollBatch("cursor", "acme", "changes", new_ids={"old": 100.0, "new": 900.0})
    store.commit(batch, prune_before=500.0)
    assert store.known_ids("cursor", "acme", "changes", ["old", "new"]) == {"old", "new"}
    store.commit(PollBatch("cursor", "acme", "changes"), prune_before=500.0)  # a later one
    assert store.known_ids("cursor", "acme", "changes", ["old", "new"]) == {"new"}
    store.close()


# -- commit identity -----------------------------------------------------------------------

NOW = FakeClock().wall_time
# Two ingestion times, recent enough that every poll below (one a minute) has them inside
# its window [watermark - overlap, now]: identity, not the window, decides.
C1, C2 = NOW - 90, NOW - 30
Sighting = tuple[str, "str | None", "float | None", "bool | None"]  # hash, branch, ...


def commit(h: str, branch: str | None, created: float | None,
           primary: bool | None) -> dict[str, Any]:
    return {"commitHash": h, "userId": "u1", "repoName": "r", "branchName": branch,
            "isPrimaryBranch": primary, "totalLinesAdded": 10, "totalLinesDeleted": 0,
            "tabLinesAdded": 4, "tabLinesDeleted": 0, "composerLinesAdded": 0,
            "composerLinesDeleted": 0, "nonAiLinesAdded": 6, "nonAiLinesDeleted": 0,
            "commitTs": iso(NOW - 3 * MINUTE),
            "createdAt": None if created is None else iso(created)}


def count_commits(tmp_path: Path, polls: list[list[Sighting]]) -> tuple[float, float]:
    """(commits counted, tab lines counted) after one poll per list of sightings."""
    queue = [[commit(*s) for s in sightings] for sightings in polls]

    def handler(request: httpx.Request) -> httpx.Response:
        items = queue.pop(0) if queue else []
        return httpx.Response(200, json={"items": items, "page": 1, "pageSize": 1000})

    clock = FakeClock()
    cfg = cursor_config(tmp_path, backfill_slice="7d", endpoints={
        "commits": {"format": "json"}, "changes": {"enabled": False}})
    app = make_app(cfg, handler, clock)
    for _ in polls:
        app.poller.poll_all_once()
        clock.wall_time += MINUTE
        clock.mono += MINUTE
    got = exposition.parse(app.publisher.render().text)
    app.close()
    assert got['aicode_records_out_of_window_total{org="acme",provider="cursor",'
               'stream="commits"}'] == 0
    return (sum(v for k, v in got.items() if k.startswith("aicode_commits_total{")),
            sum(v for k, v in got.items()
                if k.startswith("aicode_commit_lines_added_total{") and 'source="tab"' in k))


@pytest.mark.parametrize(("polls", "records"), [
    # a null or empty branch after the hash was counted on a named one: the same record
    ([[("h", "main", C1, True)], [("h", None, C1, True)], [("h", "", C1, True)]], 1),
    ([[("h", "main", C1, True)], [("h", "  ", None, None)]], 1),
    # ...and the other way round: the named sighting takes over the no-branch record
    ([[("h", None, C1, True)], [("h", "main", C1, True)], [("h", None, C1, True)]], 1),
    ([[("h", None, None, None)], [("h", "feature/x", C2, False)]], 1),
    # the same commit on two branches, ingested twice: two records, whatever comes later
    ([[("h", "feature/x", C1, False)], [("h", "main", C2, True)],
      [("h", None, C2, True)], [("h", "feature/x", C1, False)]], 2),
    # a branchName the vendor changed on one ingestion: one record
    ([[("h", "feature/x", C1, False)], [("h", "main", C1, False)], [("h", None, C1, False)],
      [("h", "main", C1, False)], [("h", "release", C1, False)]], 1),
    # no branch first, then two ingestions on two branches: the null one is the feature's
    ([[("h", None, C1, False)], [("h", "main", C2, True)], [("h", "feature/x", C1, False)],
      [("h", "feature/x", C1, False)]], 2),
    # all of it in one page, in one slice
    ([[("h", "main", C2, True), ("h", None, C2, True), ("h", "feature/x", C1, False),
       ("h", "main", C2, True), ("h", "", C1, False)]], 2),
    # other hashes are other records
    ([[("h", None, C1, True), ("g", None, C1, True), ("h1", "main", C1, True)]], 3),
], ids=["named-then-null", "named-then-blank", "null-then-named", "null-without-time",
        "two-branches", "relabelled", "null-then-two-branches", "one-page", "hashes"])
def test_commit_identity_survives_a_changed_or_null_branch(
        tmp_path: Path, polls: list[list[Sighting]], records: int) -> None:
    assert count_commits(tmp_path, polls) == (records, 4 * records)


def test_ids_stored_before_the_identity_rules_still_deduplicate(tmp_path: Path) -> None:
    """Older state files hold "<hash>\\x1f<branch>" keys only."""
    store = StateStore(tmp_path / "state.db")
    store.commit(PollBatch("cursor", "acme", "commits",
                           new_ids={"h\x1fmain": NOW, "g\x1f": NOW}))
    store.close()
    assert count_commits(tmp_path, [[("h", "main", C1, True), ("h", None, C1, True),
                                     ("g", None, C2, True), ("g", "main", C2, True)]]) == (0, 0)
