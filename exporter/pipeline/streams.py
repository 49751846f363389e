"""A record stream as a poll job: read [watermark - lookback, now], count each record once,
commit everything the poll learnt in one transaction, publish the totals.

The totals live in memory: loaded from the state file once, then moved by exactly the
deltas each commit wrote, so publishing after a poll reads no SQLite.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from exporter.configmodels import MAX_WINDOW, UsersConfig
from exporter.errors import VendorError
from exporter.expose import catalog
from exporter.expose.families import Family, Spec
from exporter.fetch.csvreader import Skipped
from exporter.pipeline.jobs import Failure, Outcome, PollContext
from exporter.pipeline.records import OTHER_USER, Record, increments
from exporter.pipeline.state import CounterKey, PollBatch, StateStore
from exporter.pipeline.userlabels import UserLabeler

logger = logging.getLogger(__name__)

CHUNK = 2000  # records checked against the seen-ids table per query

# (start, end) -> records as they are read
Fetch = Callable[[datetime, datetime], Iterator[Record | Skipped]]


class StreamJob:
    def __init__(self, *, vendor: str, org: str, stream: str, fetch: Fetch,
                 store: StateStore, specs: Sequence[Spec], lookback: timedelta,
                 initial_backfill: timedelta, users: UsersConfig) -> None:
        self.vendor, self.org, self.stream = vendor, org, stream
        self._fetch = fetch
        self._store = store
        self._specs = tuple(specs)
        self._lookback = lookback
        self._backfill = initial_backfill
        self._users = users
        self._labeler = UserLabeler(users)
        self._per_user = users.per_user_counters and self._labeler.enabled
        mine = {s.name for s in self._specs}
        self._totals: dict[CounterKey, float] = {
            (m, lbl): v for (m, lbl), v in store.counters(vendor, org).items()
            if m in mine or lbl == (stream,)}
        self._state = store.stream_state(vendor, org, stream)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        if self._state.watermark is None:
            start = now - self._backfill
        else:
            start = datetime.fromtimestamp(self._state.watermark, UTC) - self._lookback
        return max(start, now - MAX_WINDOW), now

    def run(self, ctx: PollContext) -> Outcome:
        start, end = self.window(ctx.now)
        batch = PollBatch(self.vendor, self.org, self.stream)
        tally = {"ingested": 0, "duplicate": 0, "invalid": 0, "folded": 0}
        admitted = self._store.users(self.vendor, self.org) if self._per_user else set()
        buf: list[Record] = []
        try:
            for item in self._fetch(start, end):
                if isinstance(item, Skipped):
                    tally["invalid"] += 1
                    if tally["invalid"] <= 5:
                        logger.warning("record skipped provider=%s org=%s stream=%s reason=%s",
                                       self.vendor, self.org, self.stream, item.reason)
                    continue
                buf.append(item)
                if len(buf) >= CHUNK:
                    self._absorb(buf, batch, tally, admitted)
                    buf.clear()
            self._absorb(buf, batch, tally, admitted)
        except VendorError as e:
            return Outcome(failures=[
                Failure(f"{start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}", e)])
        s = (self.stream,)
        batch.add(catalog.RECORDS_INGESTED.name, s, tally["ingested"])
        batch.add(catalog.RECORDS_DUPLICATE.name, s, tally["duplicate"])
        batch.add(catalog.RECORDS_INVALID.name, s, tally["invalid"])
        batch.add(catalog.USER_RECORDS_FOLDED.name, s, tally["folded"])
        batch.watermark = end.timestamp()
        # Ids older than anything a later poll can re-read are no longer needed.
        prune = (start - self._lookback).timestamp()
        self._state = self._store.commit(batch, prune_before=prune)
        for key, delta in batch.deltas.items():
            self._totals[key] = self._totals.get(key, 0.0) + delta
        logger.info("stream polled provider=%s org=%s stream=%s from=%s new=%d duplicate=%d "
                    "invalid=%d", self.vendor, self.org, self.stream,
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
        known = self._store.known_ids(self.vendor, self.org, self.stream,
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
        base = (self.vendor, self.org)
        by_metric: dict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        for (m, lbl), v in sorted(self._totals.items()):
            by_metric[m].append((base + lbl, v))
        out = [spec.family(by_metric.get(spec.name, ())) for spec in self._specs]
        out += [spec.family(by_metric.get(spec.name, ())) for spec in catalog.STREAM_META]
        if self._state.newest_record:
            out.append(catalog.NEWEST_RECORD.family(
                [((*base, self.stream), self._state.newest_record)]))
        return out


def plan_pages(*, vendor: str, org: str, stream: str, pages: int, per_minute: float,
               interval: timedelta, warned: set[str]) -> None:
    """Say once, with the numbers, when a poll needs more requests than the rate limit
    allows per poll interval; the token bucket then spreads them instead of bursting."""
    budget = math.floor(per_minute * interval.total_seconds() / 60)
    if pages > budget and stream not in warned:
        warned.add(stream)
        logger.warning(
            "poll needs more requests than the rate limit allows per interval provider=%s "
            "org=%s stream=%s requests=%d budget_per_interval=%d rate_per_minute=%g "
            "expected_minutes=%.1f hint=%s", vendor, org, stream, pages, budget, per_minute,
            pages / per_minute, "use the CSV export (endpoints.<stream>.format: csv) or a "
            "shorter lookback")
