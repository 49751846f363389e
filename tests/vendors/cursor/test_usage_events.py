"""Cursor's usage events carry no id: their identity (a digest of what describes the
request, plus its occurrence number among alike events of one answer) counts each event
once across overlapping reads, late twins and restarts; a read is never paged (a range
that does not fit one answer is cut by the count Cursor states), so events shifting
between page reads can neither be counted twice nor missed."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.vendors.cursor.config import ENDPOINTS
from aicode_exporter.vendors.cursor.models import UsageEventItem
from aicode_exporter.vendors.cursor.usage import PAGE_SIZE, digest, numbered
from tests.support.exposition import parse
from tests.support.fakes import (
    CursorFake,
    FakeClock,
    cursor_config,
    fixture,
    make_app,
    usage_page,
)

T0 = datetime(2025, 6, 27, 10, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)
OP = 'org="acme",provider="cursor"'
HOUR_MS = 3_600_000


def event(ms: int, **fields: Any) -> dict[str, Any]:
    return {"timestamp": str(ms), "userEmail": "dev@company.com", "model": "gpt-5",
            "kind": "Usage-based", "maxMode": False, "requestsCosts": 2,
            "isTokenBasedCall": True, "isChargeable": True, "isHeadless": False,
            "tokenUsage": {"inputTokens": 100, "outputTokens": 20, "cacheWriteTokens": 0,
                           "cacheReadTokens": 0, "totalCents": 1.5},
            "chargedCents": 1.62125, **fields}


class Events:
    """filtered-usage-events over a list that grows (late events, twins): both bounds
    inclusive, newest first, paged, every request body kept."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        page = usage_page({"usageEvents": self.events}, body)
        return httpx.Response(200, content=json.dumps(page).encode(),  # NaN as a bare NaN
                              headers={"content-type": "application/json"})


def app_of(tmp_path: Path, vendor: Any, clock: FakeClock, **provider: Any) -> App:
    endpoints = {ep: {"enabled": ep == "usage_events"} for ep in ENDPOINTS}
    cfg = cursor_config(tmp_path, tracking_only=False, endpoints=endpoints,
                        **{"initial_backfill": "2d", **provider})
    return make_app(cfg, vendor, clock)


def counted(app: App) -> dict[str, float]:
    return {k: v for k, v in parse(app.publisher.render().text).items()
            if k.startswith(("aicode_usage_", "aicode_records_"))}


def items(raw: list[dict[str, Any]]) -> list[Any]:
    return list(numbered(raw, 0.0))


def test_the_identity_is_what_describes_the_request_not_its_cost() -> None:
    a = UsageEventItem.model_validate(event(MS0))
    assert digest(a) == digest(UsageEventItem.model_validate(
        {**event(MS0), "chargedCents": 9.99, "cursorTokenFee": 1.0, "isChargeable": False,
         "timestamp": MS0, "newField": 1}))  # re-rated, a number, a field added later
    for change in ({"timestamp": str(MS0 + 1)}, {"userEmail": "other@company.com"},
                   {"model": "auto"}, {"conversationId": "c2"}, {"requestsCosts": 3},
                   {"tokenUsage": {"inputTokens": 101}}, {"kind": "Included in Business"}):
        assert digest(UsageEventItem.model_validate({**event(MS0), **change})) != digest(a)


def test_alike_events_are_numbered_in_each_answer() -> None:
    got = items([event(MS0), event(MS0), event(MS0 - 5)])
    ids = [r.record_id() for r in got]  # type: ignore[union-attr]
    assert ids[0].endswith("#0") and ids[1].endswith("#1") and ids[2].endswith("#0")
    assert ids[0].split("#")[0] == ids[1].split("#")[0]


def test_overlapping_polls_late_twins_and_a_restart_count_each_event_once(
        tmp_path: Path) -> None:
    vendor = Events()
    clock = FakeClock(wall_time=T0.timestamp())
    vendor.events = [event(MS0 - 30 * 60_000 - i * 60_000) for i in range(50)]
    vendor.events.append(event(MS0 - 40 * 60_000))  # a twin of one of them
    app = app_of(tmp_path, vendor, clock)
    app.poller.poll_all_once()
    first = counted(app)
    assert first[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 51
    # An hour later: Cursor has ingested a second twin of the same request, an event from
    # before the last read (hourly aggregation), and new ones.
    clock.wall_time += 3600
    vendor.events += [event(MS0 - 40 * 60_000), event(MS0 - 20 * 60_000, model="auto")]
    vendor.events += [event(MS0 + i * 60_000) for i in range(1, 11)]
    app.poller.poll_all_once()
    app.close()
    second = counted(app)
    assert second[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 62
    assert second[f'aicode_usage_requests_total{{kind="Usage-based",model="auto",{OP}}}'] == 1
    assert math.isclose(second[f'aicode_usage_cost_usd_total{{model="gpt-5",{OP}}}'],
                        62 * 0.0162125, rel_tol=1e-12)
    assert second[f'aicode_usage_tokens_total{{model="gpt-5",{OP},type="input"}}'] == 6200
    assert second[f'aicode_records_duplicate_total{{{OP},stream="usage_events"}}'] > 0
    # A restart reads the same events again: nothing more is counted.
    again = app_of(tmp_path, vendor, clock)
    clock.wall_time += 3600
    again.poller.poll_all_once()
    again.close()
    third = counted(again)
    for key in (k for k in second if k.startswith("aicode_usage_")):
        assert third[key] == second[key], key


def test_a_range_that_does_not_fit_one_answer_is_cut_never_paged(tmp_path: Path) -> None:
    vendor = Events()
    clock = FakeClock(wall_time=T0.timestamp())
    # 2,600 events in the last 12 hours, bunched: 1,500 in one minute
    vendor.events = [event(MS0 - 12 * HOUR_MS + i * 15_000, userEmail=f"u{i}@x.io")
                     for i in range(1100)]
    vendor.events += [event(MS0 - 3 * HOUR_MS + i * 40, userEmail=f"v{i}@x.io")
                      for i in range(1500)]
    app = app_of(tmp_path, vendor, clock)
    app.poller.poll_all_once()
    app.close()
    got = counted(app)
    assert got[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 2600
    assert all(b["page"] == 1 and b["pageSize"] == PAGE_SIZE for b in vendor.bodies)
    # both bounds are inclusive: one piece ends a millisecond before the next begins
    pieces = sorted((b["startDate"], b["endDate"]) for b in vendor.bodies)
    assert all(e - s <= 30 * 86_400_000 for s, e in pieces)


def test_one_millisecond_fuller_than_a_page_is_paged(tmp_path: Path) -> None:
    vendor = Events()
    clock = FakeClock(wall_time=T0.timestamp())
    vendor.events = [event(MS0 - HOUR_MS, userEmail=f"u{i}@x.io") for i in range(1200)]
    app = app_of(tmp_path, vendor, clock)
    app.poller.poll_all_once()
    app.close()
    got = counted(app)
    assert got[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 1200
    assert sorted(b["page"] for b in vendor.bodies)[-1] == 2


def test_broken_events_are_skipped_once_and_the_rest_counted(tmp_path: Path) -> None:
    vendor = Events()
    clock = FakeClock(wall_time=T0.timestamp())
    vendor.events = [event(MS0 - HOUR_MS), event(MS0 - HOUR_MS + 1, chargedCents=-5),
                     event(MS0 - HOUR_MS + 2, tokenUsage={"inputTokens": float("nan")}),
                     {**event(MS0 - HOUR_MS + 3), "timestamp": None},
                     event(MS0 - HOUR_MS + 4, userEmail=None, kind=None, kindLabel="Free")]
    app = app_of(tmp_path, vendor, clock)
    for _ in range(2):
        app.poller.poll_all_once()
        clock.wall_time += 3600
    app.close()
    got = counted(app)
    assert got[f'aicode_records_invalid_total{{{OP},stream="usage_events"}}'] == 3
    assert got[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 1
    assert got[f'aicode_usage_requests_total{{kind="Free",model="gpt-5",{OP}}}'] == 1


def test_the_documented_example_is_polled_at_most_hourly(tmp_path: Path) -> None:
    fake = CursorFake()
    clock = FakeClock(wall_time=T0.timestamp())
    app = app_of(tmp_path, fake, clock)
    (ep,) = [e for p in app.providers for e in p.endpoints if e.name == "usage_events"]
    assert app.providers[0].interval_of(ep).total_seconds() == 3600
    app.poller.poll_all_once()
    app.close()
    got = counted(app)
    assert got[f'aicode_usage_cost_usd_total{{model="claude-4.5-sonnet",{OP}}}'] == \
        (21.36232 + 37.33) / 100
    assert fixture("cursor", "admin-usage-events.json")["totalUsageEventsCount"] == 113


def test_newest_first_pages_cost_about_one_request_per_thousand_events(
        tmp_path: Path) -> None:
    vendor = Events()
    clock = FakeClock(wall_time=T0.timestamp())
    vendor.events = [event(MS0 - 20 * HOUR_MS + i * 20_000, userEmail=f"u{i % 97}@x.io",
                           requestsCosts=i) for i in range(3200)]
    vendor.events += [event(MS0 - 2 * HOUR_MS)] * 3  # alike, at a page's edge or not
    app = app_of(tmp_path, vendor, clock, initial_backfill="1d", backfill_slice="1d")
    app.poller.poll_all_once()
    app.close()
    got = counted(app)
    assert got[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 3203
    assert len(vendor.bodies) <= 6  # 3,203 events: 4 full answers, and the edges


class Oldest(Events):
    """Pages the list oldest first, each page newest first: a page looks right but does
    not hold the newest events of its range."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        got = super().__call__(request)
        page = json.loads(got.content)
        body = self.bodies[-1]
        ordered = sorted((e for e in self.events
                          if body["startDate"] <= int(e["timestamp"]) <= body["endDate"]),
                         key=lambda e: int(e["timestamp"]))
        size = body["pageSize"]
        page["usageEvents"] = ordered[(body["page"] - 1) * size:body["page"] * size][::-1]
        return httpx.Response(200, json=page)


def test_a_list_not_newest_first_is_noticed_and_read_by_cutting(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    vendor = Oldest()
    clock = FakeClock(wall_time=T0.timestamp())
    # oldest first and descending look alike in one millisecond per page: spread them
    vendor.events = [event(MS0 - 20 * HOUR_MS + i * 20_000, userEmail=f"u{i % 97}@x.io",
                           requestsCosts=i) for i in range(2500)]
    app = app_of(tmp_path, vendor, clock, initial_backfill="1d", backfill_slice="1d")
    app.poller.poll_all_once()
    app.close()
    got = counted(app)
    assert got[f'aicode_usage_requests_total{{kind="Usage-based",model="gpt-5",{OP}}}'] == 2500
    assert all(b["page"] == 1 for b in vendor.bodies)
    assert [r.message for r in caplog.records].count(
        "usage events are not listed newest first; cutting time ranges instead "
        "(more requests)") == 1
