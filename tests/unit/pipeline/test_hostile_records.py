"""Round three of a hostile vendor against the record streams, each case against the
vendor's true totals:

* a record from the future (a vendor clock a day ahead, a commit dated 2100) is counted
  but never moves aicode_newest_record_timestamp_seconds past now, so the staleness
  alert can fire; a state file that kept such a time is set right when the job starts;
* one record that cannot be mapped (a CSV field nested 100,000 deep, a date Python
  cannot convert, code that raises) is skipped once, counted invalid, and the stream
  goes on; a JSON page nested that deep is a schema error, not a traceback;
* ids sent as JSON numbers are the same records as the same ids sent as strings;
* a record rejected for a negative, huge or NaN line count is counted once the vendor
  corrects it, once, on the JSON and the CSV path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.config.base import UsersConfig
from aicode_exporter.expose import catalog
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.jobs import PollContext
from aicode_exporter.pipeline.records import Add, IdRecord, Seen, User
from aicode_exporter.pipeline.state import PollBatch, StateStore
from aicode_exporter.pipeline.streams import FUTURE_SKEW, StreamJob, StreamTiming
from aicode_exporter.toolkit.http.csvstream import Skipped
from tests.support import exposition
from tests.support.fakes import FakeClock
from tests.unit.pipeline.test_hostile_values import (
    NOW,
    CursorJson,
    _cursor_change,
    _cursor_commit,
    _stream_figures,
    cursor_app,
    text,
    total,
    value,
)

S = '{org="acme",provider="cursor",stream="changes"}'


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A minute before the first poll: inside every read of the next few polls (a minute
# apart, the overlap is 10 minutes), so a record the vendor changes is read again.
RECENT = iso(NOW - 60)


def change(cid: str, **kw: Any) -> dict[str, Any]:
    return _cursor_change(cid, **{"createdAt": RECENT, **kw})


def polls(app: App, clock: FakeClock, n: int = 1, step: float = 60) -> None:
    for _ in range(n):
        app.poller.poll_all_once()
        clock.wall_time += step
        clock.mono += step


def up(app: App, endpoint: str = "changes") -> bool:
    return (f'aicode_up{{endpoint="{endpoint}",org="acme",provider="cursor"}} 1.0'
            in text(app))


# -- records from the future --------------------------------------------------------------

def test_a_record_from_the_future_is_counted_but_never_moves_newest_past_now(
        tmp_path: Path) -> None:
    vendor = CursorJson(changes=json.dumps([
        _cursor_change("ok", totalLinesAdded=3),
        _cursor_change("ahead", totalLinesAdded=4, createdAt=iso(NOW + 86400)),
        _cursor_change("y2100", totalLinesAdded=5, createdAt="2100-01-01T00:00:00Z"),
        _cursor_change("skew", totalLinesAdded=6, createdAt=iso(NOW + 60)),  # believed
    ]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    read_at = clock.wall_time
    polls(app, clock, 3, step=600)
    assert total(app, "aicode_change_lines_added_total") == 3 + 4 + 5 + 6  # all counted
    assert value(app, f"aicode_records_future_total{S}") == 2  # once each
    newest = value(app, f"aicode_newest_record_timestamp_seconds{S}")
    assert newest == read_at + 60  # the believable record; the others only as read
    assert newest <= clock.wall_time  # time() - newest >= 0: the alert can fire again
    app.close()
    again = cursor_app(tmp_path, vendor, clock)  # and so it stays in the state file
    assert exposition.sample(text(again), f"aicode_newest_record_timestamp_seconds{S}") \
        == newest
    again.close()


def test_a_record_far_ahead_moves_newest_to_when_it_was_read(tmp_path: Path) -> None:
    vendor = CursorJson(changes=json.dumps([
        _cursor_change("y2100", createdAt="2100-01-01T00:00:00Z")]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    read_at = clock.wall_time
    polls(app, clock)
    assert value(app, f"aicode_newest_record_timestamp_seconds{S}") == read_at
    app.close()


def test_a_vendor_clock_a_day_ahead_keeps_newest_moving_with_the_reads(
        tmp_path: Path) -> None:
    vendor = CursorJson()
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    seen = []
    for i in range(3):
        vendor.bodies["changes"] = json.dumps([
            _cursor_change(f"c{j}", createdAt=iso(clock.wall_time + 86400))
            for j in range(i + 1)])
        seen.append(clock.wall_time)
        polls(app, clock, step=300)
        assert value(app, f"aicode_newest_record_timestamp_seconds{S}") == seen[-1]
    assert value(app, f"aicode_records_future_total{S}") == 3
    app.close()


@pytest.mark.parametrize("known", [True, False])
def test_a_future_newest_time_kept_by_an_older_version_is_set_right_at_start(
        tmp_path: Path, known: bool, caplog: pytest.LogCaptureFixture) -> None:
    store = StateStore(tmp_path / "state.db")
    batch = PollBatch("cursor", "acme", "changes", watermark=NOW - 60,
                      newest_record=datetime(2100, 1, 1, tzinfo=UTC).timestamp())
    if known:  # ids still known: the newest of them is the best guess
        batch.new_ids = {"c1": NOW - 7200, "c2": NOW - 3600, "c3": NOW + 3e9}
    store.commit(batch)
    store.close()
    clock = FakeClock()
    with caplog.at_level(logging.WARNING):
        app = cursor_app(tmp_path, CursorJson(), clock)
    expected = NOW - 3600 if known else NOW + FUTURE_SKEW.total_seconds()
    assert exposition.sample(text(app), f"aicode_newest_record_timestamp_seconds{S}") \
        == expected
    assert "newest record time was in the future; set back" in caplog.text
    app.close()


# -- one record that cannot be mapped -----------------------------------------------------

CSV_HEADER = ("change_id,user_id,user_email,source,model,total_lines_added,"
              "total_lines_deleted,created_at,metadata_json\n")
META = '"[{""fileExtension"":""ts"",""linesAdded"":3,""linesDeleted"":1}]"'


def csv_change(cid: str, added: str = "3", deleted: str = "1", meta: str = META,
               created: str = RECENT) -> str:
    return f"{cid},u1,a@x.io,COMPOSER,gpt,{added},{deleted},{created},{meta}\n"


class CursorCsv:
    """Cursor's changes as one CSV export whose rows a test changes between polls."""

    def __init__(self, rows: list[str]) -> None:
        self.rows = rows

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("changes.csv"):
            return httpx.Response(200, content=(CSV_HEADER + "".join(self.rows)).encode(),
                                  headers={"content-type": "text/csv"})
        return httpx.Response(200, json={"items": [], "page": 1, "pageSize": 1000})


def csv_app(tmp_path: Path, vendor: Any, clock: FakeClock) -> App:
    from tests.support.fakes import cursor_config, make_app

    cfg = cursor_config(tmp_path, backfill_slice="7d", poll_interval="5m",
                        endpoints={"commits": {"format": "json"},
                                   "changes": {"format": "csv"}})
    return make_app(cfg, vendor, clock)


def test_a_csv_field_nested_100000_deep_skips_its_record_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    deep = '"' + "[" * 100_000 + "]" * 100_000 + '"'
    vendor = CursorCsv([csv_change("a"), csv_change("deep", meta=deep), csv_change("b")])
    clock = FakeClock()
    app = csv_app(tmp_path, vendor, clock)
    with caplog.at_level(logging.WARNING):
        polls(app, clock, 3)
    assert up(app)
    assert _stream_figures(app, "changes") == (2, 1, 6)  # counted, invalid once, re-reads
    assert total(app, "aicode_change_lines_added_total") == 6
    [reason] = [getattr(r, "reason", "") for r in caplog.records
                if r.getMessage() == "record skipped"]
    assert "metadata_json is nested deeper than 64 levels" in reason
    assert "endpoint failed unexpectedly" not in caplog.text
    app.close()


def test_a_json_page_nested_100000_deep_is_a_schema_error_not_a_traceback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    vendor = CursorJson(changes="[" + json.dumps(_cursor_change("a"))[:-1]
                        + f', "extra": {deep}}}]')
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    with caplog.at_level(logging.WARNING):
        polls(app, clock)
    assert not up(app)
    status = app.telemetry.statuses()[("cursor", "acme", "changes")]
    assert "nested deeper than 64 levels" in status.last_error
    assert "endpoint failed unexpectedly" not in caplog.text and "Traceback" not in caplog.text
    app.close()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_record_the_vendor_mapping_cannot_convert_is_skipped_not_fatal(
        tmp_path: Path, fmt: str) -> None:
    from aicode_exporter.vendors import tracking
    from aicode_exporter.vendors.base import Wiring
    from aicode_exporter.vendors.cursor.client import CursorTrackingClient
    from aicode_exporter.vendors.cursor.mapping import cursor_commit
    from aicode_exporter.vendors.registry import make_api
    from tests.support.fakes import CursorFake, cursor_config

    def convert(item: Any, seen_at: float) -> Any:
        if item.commitHash == "a1b2c3d4":  # the first commit of the fixture
            raise OverflowError("date value out of range")
        return cursor_commit(item, seen_at)

    # The real clock paces the buckets here: a rate that never makes the second read wait.
    cfg = cursor_config(tmp_path, endpoints={"commits": {"format": fmt}},
                        rate_limit_per_minute=6000).providers[0]
    w = Wiring(telemetry=Telemetry(), users=UsersConfig(), transport=CursorFake().transport())
    api = make_api(cfg, w)
    fetch = tracking._fetch(cfg, api, w, CursorTrackingClient(api), "commits", convert, True)
    reads = [list(fetch(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC)))
             for _ in range(2)]
    for got in reads:
        skipped = [r for r in got if isinstance(r, Skipped)]
        assert len(got) == 2 and len(skipped) == 1  # the other one is read on
        assert skipped[0].reason.startswith("cannot be mapped: OverflowError")
    assert reads[0][0] == reads[1][0]  # one key: the stream counts it invalid once


@dataclass(frozen=True)
class Fragile(IdRecord):
    """A record kind whose own code fails on some records, part way through."""

    id: str
    ts: float
    boom: str = ""  # "", "identify", "increments", "lookups"

    @property
    def user(self) -> User:
        return User("u1")

    def latest_time(self) -> float:
        return self.ts

    def lookups(self) -> tuple[list[str], list[str]]:
        if self.boom == "lookups":
            raise KeyError("lookups")
        return super().lookups()

    def identify(self, seen: Seen) -> Any:
        if self.boom == "identify":
            raise TypeError("identify")
        return super().identify(seen)

    def invalid_reason(self) -> str | None:
        return None

    def increments(self, add: Add, user: str | None) -> None:
        add("aicode_changes_total", ("agent", "m"), 1)
        if self.boom == "increments":
            raise RecursionError("maximum recursion depth exceeded")
        add("aicode_change_lines_added_total", ("agent", "m"), 10)

    def team_increments(self, add: Add, teams: Any) -> None:
        return None


def test_a_record_whose_own_code_raises_is_skipped_once_and_counts_nothing(
        tmp_path: Path) -> None:
    records = [Fragile("a", NOW - 60), Fragile("b", NOW - 60, "increments"),
               Fragile("c", NOW - 60, "identify"), Fragile("d", NOW - 60, "lookups"),
               Fragile("e", NOW - 60)]

    def fetch(start: datetime, end: datetime) -> Iterator[Any | Skipped]:
        yield from records

    store = StateStore(tmp_path / "s.db")
    clock = FakeClock()
    job = StreamJob(vendor="v", org="o", stream="changes", fetch=fetch, store=store,
                    specs=[c.spec() for c in catalog.CHANGE_COUNTERS],
                    timing=StreamTiming(timedelta(days=2), timedelta(hours=1),
                                        timedelta(minutes=10), timedelta(days=1),
                                        timedelta(days=1)),
                    users=UsersConfig(), clock=clock.monotonic, wall=clock.wall)
    for i in range(3):
        ctx = PollContext(now=datetime.fromtimestamp(NOW + 60 * i, UTC),
                          deadline=clock.mono + 300)
        outcome = job.run(ctx)
        assert not outcome.failures
    totals = {(m, lbl): v for f in job.families() for lbl, v in f.samples
              for m in [f.spec.name]}
    assert totals[("aicode_changes_total", ("v", "o", "agent", "m"))] == 2  # a and e only
    assert totals[("aicode_change_lines_added_total", ("v", "o", "agent", "m"))] == 20
    meta = {m: totals[(m, ("v", "o", "changes"))] for m in (
        "aicode_records_ingested_total", "aicode_records_invalid_total",
        "aicode_records_duplicate_total")}
    # each failing record invalid once; every later read finds all five known
    assert meta == {"aicode_records_ingested_total": 2, "aicode_records_invalid_total": 3,
                    "aicode_records_duplicate_total": 2 * 5}
    store.close()


# -- ids as JSON numbers -------------------------------------------------------------------

def test_numeric_ids_are_counted(tmp_path: Path) -> None:
    changes = [change(str(749356201 + i)) for i in range(900)]
    raw = json.dumps(changes)
    for c in changes:  # "749356201" -> 749356201 on the wire
        raw = raw.replace(f'"changeId": "{c["changeId"]}"', f'"changeId": {c["changeId"]}')
    assert '"changeId": 749356201,' in raw
    clock = FakeClock()
    app = cursor_app(tmp_path, CursorJson(changes=raw), clock)
    polls(app, clock, 2)
    assert _stream_figures(app, "changes") == (900, 0, 900)
    assert total(app, "aicode_change_lines_added_total") == 900 * 3
    app.close()


def test_an_id_sent_as_a_string_then_as_a_number_is_one_record(tmp_path: Path) -> None:
    vendor = CursorJson(changes=json.dumps([change(str(100 + i)) for i in range(50)]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    polls(app, clock)  # stored under the string spelling
    mixed = [{**change("x"), "changeId": 100 + i} for i in range(60)]
    mixed += [{**change("x"), "changeId": float(100 + i)} for i in range(5)]
    mixed += [change("120")]  # the same record in both spellings in one page
    commits = [{**_cursor_commit("x", createdAt=RECENT), "commitHash": 1234567},
               _cursor_commit("1234567", createdAt=RECENT)]
    vendor.bodies.update(changes=json.dumps(mixed), commits=json.dumps(commits))
    polls(app, clock, 2)
    ingested, invalid, _ = _stream_figures(app, "changes")
    assert (ingested, invalid) == (60, 0)  # 50 known + 10 new numbers, nothing twice
    assert total(app, "aicode_change_lines_added_total") == 60 * 3
    assert _stream_figures(app, "commits")[:2] == (1, 0)
    app.close()


# -- corrections -----------------------------------------------------------------------------

BAD_VALUES = {"negative": "-7", "huge": "1.8e308", "nan": "NaN"}


@pytest.mark.parametrize("fault", list(BAD_VALUES))
def test_a_csv_record_corrected_after_a_bad_value_is_counted_once(
        tmp_path: Path, fault: str) -> None:
    good = [csv_change(f"ok{i}") for i in range(3)]
    vendor = CursorCsv([*good, csv_change("c1", added=BAD_VALUES[fault]),
                        csv_change("c2", deleted=BAD_VALUES[fault])])
    clock = FakeClock()
    app = csv_app(tmp_path, vendor, clock)
    polls(app, clock, 2)
    assert _stream_figures(app, "changes")[:2] == (3, 2)
    assert total(app, "aicode_change_lines_added_total") == 9
    vendor.rows = [*good, csv_change("c1", added="11"), csv_change("c2", deleted="2")]
    polls(app, clock, 3)  # the corrected records: counted on the first read only
    assert _stream_figures(app, "changes")[:2] == (5, 2)
    assert total(app, "aicode_change_lines_added_total") == 9 + 11 + 3
    assert total(app, "aicode_change_lines_deleted_total") == 3 + 1 + 2
    vendor.rows = [*good, csv_change("c1", added=BAD_VALUES[fault]), csv_change("c2")]
    polls(app, clock, 2)  # the bad version again: the record is known, nothing moves
    assert _stream_figures(app, "changes")[:2] == (5, 2)
    assert total(app, "aicode_change_lines_added_total") == 23
    app.close()


def test_a_json_record_corrected_after_a_bad_value_is_counted_once(tmp_path: Path) -> None:
    vendor = CursorJson(changes=json.dumps([change("c1", totalLinesAdded=-7)]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    polls(app, clock, 2)
    assert _stream_figures(app, "changes") == (0, 1, 1)
    vendor.bodies["changes"] = json.dumps([change("c1", totalLinesAdded=7)])
    polls(app, clock, 2)
    assert _stream_figures(app, "changes") == (1, 1, 2)
    assert total(app, "aicode_change_lines_added_total") == 7
    app.close()


def test_a_correction_seen_first_through_csv_is_not_counted_again_through_json(
        tmp_path: Path) -> None:
    rows = [csv_change("c1", added="-7")]
    vendor = CursorCsv(rows)
    clock = FakeClock()
    app = csv_app(tmp_path, vendor, clock)
    polls(app, clock)
    vendor.rows = [csv_change("c1", added="7")]
    polls(app, clock)
    app.close()
    json_vendor = CursorJson(changes=json.dumps([change("c1", totalLinesAdded=7)]))
    app = cursor_app(tmp_path, json_vendor, clock)
    polls(app, clock, 2)
    assert _stream_figures(app, "changes")[:2] == (1, 1)
    assert total(app, "aicode_change_lines_added_total") == 7
    assert all(v >= 0 for v in exposition.parse(text(app)).values())
    app.close()
