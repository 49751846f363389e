"""Cursor's usage events (Admin API `POST /teams/filtered-usage-events`) as a record
stream: every billed request counted once, ever, into aicode_usage_requests_total,
aicode_usage_tokens_total and aicode_usage_cost_usd_total (chargedCents / 100, which
Cursor says adds up to what /teams/spend reports).

Events carry no id. Two events are the same event when every field that describes the
request is the same: time (to the millisecond), who (e-mail, service account, cloud
agent, automation), conversation, model, kind, max mode, headless, billable request units
and the four token counts. What is derived from those (cents, the token fee, whether it
is chargeable) is left out, so a cost Cursor re-rates later does not make the event new.
Two real requests can still be alike in all of that (parallel calls of one conversation in
one millisecond); they are told apart by their occurrence number among the alike events
of one answer: the identity is digest + "#" + n. Alike events share their millisecond, so
every read that returns one of them returns all of them (as far as Cursor has them yet):
a re-read finds #0 and #1 again, and a twin Cursor ingests later is #1, new.

That only holds if one answer is one consistent view. A list read page by page is not:
Cursor aggregates hourly and lists newest first, so events ingested between two page
reads shift the pages, and an event can come twice in one read (it would be #0 and #1,
counted twice) or not at all. So a read is never paged. When a time range's events do
not fit one page (1,000, the documented maximum), the page still holds, whole, every
event newer than its oldest one (Cursor lists newest first): those are taken, and the
rest of the range, up to that oldest millisecond, is asked next (about one request per
thousand events). That the list is newest first is checked, not assumed (UsageClient
._newest): should an answer show otherwise, ranges are cut by the count Cursor states
instead, each piece asked again until it fits one answer. Only a single millisecond with
more events than a page is paged (never seen; said in the log).

Cursor asks for at most one poll an hour (hourly aggregation) and allows 60 requests a
minute; both bounds are inclusive, so a piece ends one millisecond before the next
starts. Ranges are at most 30 days.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aicode_exporter.errors import AuthError, SchemaError
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.labels import or_unknown
from aicode_exporter.pipeline.records import Add, IdRecord, StreamRecord, User, bad_count
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped, validate_items
from aicode_exporter.toolkit.http.paging import MAX_PAGES
from aicode_exporter.vendors.base import Fetch, RecordStream, Wiring
from aicode_exporter.vendors.cursor import hints
from aicode_exporter.vendors.cursor.metrics import USAGE_EVENTS
from aicode_exporter.vendors.cursor.models import UsageEventItem, UsageEventsPage
from aicode_exporter.vendors.tolerant import parse_as

logger = logging.getLogger(__name__)

PATH = "/teams/filtered-usage-events"
PAGE_SIZE = 1000  # the documented maximum
MAX_RANGE_MS = 30 * 86_400_000
FILL = 0.75  # a piece is cut to hold about this share of a page
MAX_PIECES = 64  # pieces one over-full range is cut into at once
MAX_TOKENS = 1e12  # per event: beyond this a count is broken, not big
MAX_CENTS = 1e9


@dataclass(frozen=True, slots=True)
class UsageEvent(IdRecord):
    """One usage event, identified by its digest and occurrence number (module docstring)."""

    id: str
    ts: float
    user: User
    model: str
    kind: str
    tokens: tuple[tuple[str, float], ...]  # (type, count); none for non-token calls
    cents: float
    untimed: bool = False  # no timestamp: `ts` is when it was read, and it is not counted

    def latest_time(self) -> float:
        return self.ts

    def invalid_reason(self) -> str | None:
        if self.untimed:
            return "timestamp missing"
        return (bad_count(self.tokens, MAX_TOKENS, "token count")
                or bad_count([("chargedCents", self.cents)], MAX_CENTS, "cost in cents"))

    def increments(self, add: Add, user: str | None) -> None:
        """aicode_usage_requests_total{kind="Usage-based",model="claude-4.5-sonnet",...} +1
        aicode_usage_cost_usd_total{model="claude-4.5-sonnet",org="acme",...} +0.2136232"""
        model, kind = or_unknown(self.model), or_unknown(self.kind)
        add(catalog.USAGE_REQUESTS.name, (model, kind), 1)
        for kind_of_token, n in self.tokens:
            add(catalog.USAGE_TOKENS.name, (model, kind_of_token), n)
        add(catalog.USAGE_COST.name, (model,), self.cents / 100)

    def team_increments(self, add: Add, teams: Sequence[str]) -> None:
        return None  # no per-team usage counters


def _number(v: float | None) -> str:
    """A number as the digest sees it: 5 and 5.0 alike."""
    return repr(float(v)) if v is not None and math.isfinite(v) else str(v)


def digest(e: UsageEventItem) -> str:
    """What makes an event itself (module docstring), as a short hex digest."""
    t = e.tokenUsage
    ms = None if e.timestamp is None else round(e.timestamp)
    fields = [
        _number(ms), e.userEmail.strip().lower(), e.serviceAccountId, e.cloudAgentId,
        e.automationId, e.conversationId, e.model, e.kind or e.kindLabel, str(e.maxMode),
        str(e.isHeadless), _number(e.requestsCosts),
        *([_number(t.inputTokens), _number(t.outputTokens), _number(t.cacheReadTokens),
           _number(t.cacheWriteTokens)] if t is not None else ["-"]),
    ]
    raw = json.dumps(fields, ensure_ascii=True).encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def to_record(e: UsageEventItem, key: str, seen_at: float) -> UsageEvent:
    t = e.tokenUsage
    tokens = (() if t is None else
              (("input", t.inputTokens), ("output", t.outputTokens),
               ("cache_read", t.cacheReadTokens), ("cache_write", t.cacheWriteTokens)))
    ts = seen_at if e.timestamp is None else e.timestamp / 1000
    return UsageEvent(id=key, ts=ts, untimed=e.timestamp is None,
                      user=User(e.serviceAccountId, e.userEmail), model=e.model,
                      kind=e.kind or e.kindLabel, tokens=tokens, cents=e.chargedCents)


def numbered(items: list[Any], seen_at: float) -> Iterator[StreamRecord | Skipped]:
    """One answer's events with their identities: digest#n, n counting alike events."""
    seen: dict[str, int] = {}
    for item in validate_items(UsageEventItem, items):
        if isinstance(item, Skipped):
            yield item
            continue
        d = digest(item)
        n = seen.get(d, 0)
        seen[d] = n + 1
        yield to_record(item, f"{d}#{n}", seen_at)


def _has_more(got: UsageEventsPage, page: int) -> bool:
    """Whether pages follow `page`: as the vendor says it, else by a full page."""
    p = got.pagination
    if p.hasNextPage is not None:
        return p.hasNextPage
    if p.pages is not None:
        return page < p.pages
    return len(got.usageEvents) >= PAGE_SIZE


def _stamp(item: Any) -> int | None:
    """An event's timestamp (epoch ms, a string or a number) as it is listed."""
    raw = item.get("timestamp") if isinstance(item, dict) else None
    try:
        return int(float(str(raw)))
    except (TypeError, ValueError, OverflowError):
        return None


class UsageClient:
    def __init__(self, api: ApiClient, wall: Callable[[], float]) -> None:
        self.api = api
        self._wall = wall
        self.newest_first = True  # until an answer shows otherwise (_newest)

    def page(self, lo: int, hi: int, page: int) -> UsageEventsPage:
        body = {"startDate": lo, "endDate": hi, "page": page, "pageSize": PAGE_SIZE}
        try:
            data = self.api.post_json("usage_events", PATH, body, deadline=None)
        except AuthError as e:
            raise hints.explain(e, hints.ADMIN) from None
        return parse_as(UsageEventsPage, data, "usage_events")

    def events(self, lo: int, hi: int) -> Iterator[StreamRecord | Skipped]:
        """Every event of [lo, hi] (epoch ms, both inclusive), each answer whole."""
        while lo <= hi:  # at most 30 days per request
            end = min(hi, lo + MAX_RANGE_MS - 1)
            yield from self._piece(lo, end)
            lo = end + 1

    def _piece(self, lo: int, hi: int) -> Iterator[StreamRecord | Skipped]:
        got = self.page(lo, hi, 1)
        while True:
            total = got.totalUsageEventsCount
            more = _has_more(got, 1) if total is None else total > len(got.usageEvents)
            if not more:
                yield from numbered(got.usageEvents, self._wall())
                return
            newest = self._newest(lo, got)
            if newest is None:
                break
            events, hi, got = newest  # the page's newest events are all of (hi, old hi]
            yield from numbered(events, self._wall())
        if hi > lo:  # cut by the count Cursor states, each piece asked again
            wanted = math.ceil((total or 2 * PAGE_SIZE) / (PAGE_SIZE * FILL))
            pieces = max(2, min(MAX_PIECES, wanted, hi - lo + 1))
            step = (hi - lo + 1) / pieces
            bounds = [lo + round(i * step) for i in range(pieces)] + [hi + 1]
            for a, b in itertools.pairwise(bounds):
                if a < b:
                    yield from self._piece(a, b - 1)
        else:
            yield from self._paged(lo, got)

    def _newest(self, lo: int, got: UsageEventsPage,
                ) -> tuple[list[Any], int, UsageEventsPage] | None:
        """A full page listed newest first holds every event newer than its oldest one
        (`oldest`): those are one answer's, whole. Whether Cursor lists newest first is
        checked, not assumed: the next answer, for [lo, oldest], must hold at least what
        the page's total leaves (it can only hold more: events ingested meanwhile). If it
        holds less, events of (oldest, hi] were not on the page: ranges are cut from then
        on. -> (the newer events, oldest, the next answer), or None."""
        stamps = [_stamp(e) for e in got.usageEvents]
        total = got.totalUsageEventsCount
        if not self.newest_first or total is None or not stamps or None in stamps:
            return None
        known = [t for t in stamps if t is not None]
        if any(a < b for a, b in itertools.pairwise(known)) or known[-1] < lo:
            return None
        oldest = known[-1]
        newer = [e for e, t in zip(got.usageEvents, known, strict=True) if t > oldest]
        if not newer:
            return None  # one millisecond fills the page
        following = self.page(lo, oldest, 1)
        if (following.totalUsageEventsCount is None
                or total > len(newer) + following.totalUsageEventsCount):
            self.newest_first = False
            logger.warning("usage events are not listed newest first; cutting time ranges "
                           "instead (more requests)",
                           extra={"page_total": total, "on_page": len(newer),
                                  "rest": following.totalUsageEventsCount})
            return None
        return newer, oldest, following

    def _paged(self, ms: int, got: UsageEventsPage) -> Iterator[StreamRecord | Skipped]:
        """More events in one millisecond than one page holds: paged after all."""
        logger.warning("one millisecond holds more usage events than a page; reading it "
                       "page by page", extra={"millisecond": ms,
                                              "events": got.totalUsageEventsCount})
        items = list(got.usageEvents)
        page = 1
        while _has_more(got, page):
            page += 1
            if page > MAX_PAGES:
                raise SchemaError("usage events never reach their last page",
                                  endpoint="usage_events")
            got = self.page(ms, ms, page)
            if not got.usageEvents:
                break
            items += got.usageEvents
        yield from numbered(items, self._wall())


def _open(_cfg: Any, api: ApiClient, w: Wiring) -> Fetch:
    client = UsageClient(api, w.wall)

    def fetch(start: datetime, end: datetime) -> Iterator[StreamRecord | Skipped]:
        # The stream's slices are [start, end); Cursor's bounds are both inclusive.
        lo = round(start.timestamp() * 1000)
        hi = round(end.timestamp() * 1000) - 1
        return client.events(lo, hi)

    return fetch


USAGE_STREAM = RecordStream(
    name="usage_events", source=f"Cursor {USAGE_EVENTS}", counters=catalog.USAGE_COUNTERS,
    open=_open, min_interval=timedelta(hours=1))
