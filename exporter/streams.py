"""A record stream as a poll job: read [watermark - lookback, now], count each record once,
commit everything the poll learnt in one transaction, publish the totals."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from exporter import catalog
from exporter.config import MAX_WINDOW, UsersConfig
from exporter.csvrecords import Skipped
from exporter.errors import VendorError
from exporter.families import Family
from exporter.records import OTHER_USER, Record, increments
from exporter.state import PollBatch, StateStore
from exporter.userlabels import UserLabeler
from exporter.vendors.base import Outcome, PollContext

logger = logging.getLogger(__name__)

CHUNK = 2000  # records checked against the seen-ids table per query

# (start, end) -> records as they are read
Fetch = Callable[[datetime, datetime], Iterator[Record | Skipped]]

STREAM_METRICS = {
    "commits": (catalog.COMMITS, catalog.COMMIT_LINES_ADDED, catalog.COMMIT_LINES_DELETED,
                catalog.USER_COMMIT_LINES_ADDED),
    "changes": (catalog.CHANGES, catalog.CHANGE_LINES_ADDED, catalog.CHANGE_LINES_DELETED,
                catalog.CHANGE_FILE_LINES_ADDED, catalog.CHANGE_FILE_LINES_DELETED,
                catalog.USER_CHANGES),
}
META = (catalog.RECORDS_INGESTED, catalog.RECORDS_DUPLICATE, catalog.RECORDS_INVALID,
        catalog.USER_RECORDS_FOLDED)


class StreamJob:
    def __init__(self, *, provider: str, org: str, stream: str, fetch: Fetch,
                 store: StateStore, lookback: timedelta, initial_backfill: timedelta,
                 users: UsersConfig) -> None:
        self.provider, self.org, self.stream = provider, org, stream
        self._fetch = fetch
        self._store = store
        self._lookback = lookback
        self._backfill = initial_backfill
        self._users = users
        self._labeler = UserLabeler(users)
        self._per_user = users.per_user_counters and self._labeler.enabled

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        st = self._store.stream_state(self.provider, self.org, self.stream)
        if st.watermark is None:
            start = now - self._backfill
        else:
            start = datetime.fromtimestamp(st.watermark, UTC) - self._lookback
        return max(start, now - MAX_WINDOW), now

    def run(self, ctx: PollContext) -> Outcome:
        start, end = self.window(ctx.now)
        batch = PollBatch(self.provider, self.org, self.stream)
        tally = {"ingested": 0, "duplicate": 0, "invalid": 0, "folded": 0}
        admitted = self._store.users(self.provider, self.org) if self._per_user else set()
        buf: list[Record] = []
        try:
            for item in self._fetch(start, end):
                if isinstance(item, Skipped):
                    tally["invalid"] += 1
                    if tally["invalid"] <= 5:
                        logger.warning("record skipped provider=%s org=%s stream=%s reason=%s",
                                       self.provider, self.org, self.stream, item.reason)
                    continue
                buf.append(item)
                if len(buf) >= CHUNK:
                    self._absorb(buf, batch, tally, admitted)
                    buf.clear()
            self._absorb(buf, batch, tally, admitted)
        except VendorError as e:
            return Outcome(errors=[f"{start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}: {e}"])
        s = (self.stream,)
        batch.add(catalog.RECORDS_INGESTED.name, s, tally["ingested"])
        batch.add(catalog.RECORDS_DUPLICATE.name, s, tally["duplicate"])
        batch.add(catalog.RECORDS_INVALID.name, s, tally["invalid"])
        batch.add(catalog.USER_RECORDS_FOLDED.name, s, tally["folded"])
        batch.watermark = end.timestamp()
        # Ids older than anything a later poll can re-read are no longer needed.
        prune = (start - self._lookback).timestamp()
        self._store.commit(batch, prune_before=prune)
        logger.info("stream polled provider=%s org=%s stream=%s from=%s new=%d duplicate=%d "
                    "invalid=%d", self.provider, self.org, self.stream,
                    start.strftime("%Y-%m-%dT%H:%M:%SZ"), tally["ingested"], tally["duplicate"],
                    tally["invalid"])
        return self.restore()

    def restore(self) -> Outcome:
        """The committed totals as families: used after each poll and at start-up, so
        counters resume at exactly the values they had."""
        return Outcome(parts={"counters": tuple(self.families())})

    def _absorb(self, buf: list[Record], batch: PollBatch, tally: dict[str, int],
                admitted: set[str]) -> None:
        if not buf:
            return
        known = self._store.known_ids(self.provider, self.org, self.stream,
                                      (r.key for r in buf))
        for rec in buf:
            key = rec.key
            if key in known or key in batch.new_ids:
                tally["duplicate"] += 1
                continue
            # Keep the id for as long as any query could return the record again.
            batch.new_ids[key] = max(rec.ts, rec.created)
            tally["ingested"] += 1
            if batch.newest_record is None or rec.ts > batch.newest_record:
                batch.newest_record = rec.ts
            user = None
            if self._per_user:
                user = self._labeler.label(user_id=rec.user.id, email=rec.user.email,
                                           name=rec.user.name)
                if user not in admitted:
                    if len(admitted) < self._users.max_users:
                        admitted.add(user)
                        batch.new_users.add(user)
                    else:
                        user = OTHER_USER
                        tally["folded"] += 1
            increments(rec, batch.add, user)

    def families(self) -> list[Family]:
        base = (self.provider, self.org)
        counters = self._store.counters(self.provider, self.org)
        out = []
        for spec in STREAM_METRICS[self.stream]:
            out.append(spec.family((base + lbl, v) for (m, lbl), v in sorted(counters.items())
                                   if m == spec.name))
        for spec in META:
            out.append(spec.family((base + lbl, v) for (m, lbl), v in sorted(counters.items())
                                   if m == spec.name and lbl == (self.stream,)))
        st = self._store.stream_state(self.provider, self.org, self.stream)
        if st.newest_record:
            out.append(catalog.NEWEST_RECORD.family([((*base, self.stream), st.newest_record)]))
        return out


def plan_pages(*, provider: str, org: str, stream: str, pages: int, per_minute: float,
               interval: timedelta, warned: set[str]) -> None:
    """Say once, with the numbers, when a poll needs more requests than the rate limit
    allows per poll interval; the token bucket then spreads them instead of bursting."""
    budget = math.floor(per_minute * interval.total_seconds() / 60)
    if pages > budget and stream not in warned:
        warned.add(stream)
        logger.warning(
            "poll needs more requests than the rate limit allows per interval provider=%s "
            "org=%s stream=%s requests=%d budget_per_interval=%d rate_per_minute=%g "
            "expected_minutes=%.1f hint=%s", provider, org, stream, pages, budget, per_minute,
            pages / per_minute, "use the CSV export (endpoints.<stream>.format: csv) or a "
            "shorter lookback")
