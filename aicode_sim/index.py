"""Per-day sorted skeletons of a record stream, and the (range, filter) selections lists use.

A *bucket* holds every record whose sort key falls on one UTC day, sorted by that key
descending, in compact column arrays (about 40 bytes a record, instead of a dict of 30
fields). Buckets do not depend on the current time; visibility (ingestion <= now) is
applied when a selection is computed.

A *selection* is the list of bucket positions matching a query at a given time. It is
cached with the earliest time at which its answer could change (the next ingestion among
the records it skipped as not yet visible, or the next UTC midnight), so paging through a
large range does not rescan it for every page.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from aicode_sim.gen import MAX_DELAY_MS
from aicode_sim.records import CommitStream, Ref, Row, Stream
from aicode_sim.timeutil import DAY_MS, day_of

S = TypeVar("S", bound=Stream)


def _neg(value: int) -> int:
    return -value


@dataclass(frozen=True, slots=True, eq=False)
class Bucket:
    day: int
    sort: array[int]  # descending
    filt: array[int]
    ingest: array[int]
    gen_day: array[int]
    user: array[int]
    idx: array[int]
    attr: array[int]
    max_ingest: int

    def __len__(self) -> int:
        return len(self.sort)

    def ref(self, pos: int) -> Ref:
        return Ref(
            self.sort[pos],
            self.filt[pos],
            self.ingest[pos],
            self.gen_day[pos],
            self.user[pos],
            self.idx[pos],
            self.attr[pos],
        )


class Query(NamedTuple):
    start_ms: int  # inclusive bounds on the stream's filter key
    end_ms: int
    user: int | None = None
    attr: int | None = None  # repo index (commits) or source index (changes)


@dataclass(frozen=True, slots=True)
class Selection:
    total: int
    parts: tuple[tuple[Bucket, Sequence[int]], ...]  # newest bucket first

    def refs(self, offset: int = 0, limit: int | None = None) -> Iterator[Ref]:
        """Matching records in list order, skipping `offset`, at most `limit`."""
        remaining = self.total if limit is None else limit
        for bucket, positions in self.parts:
            if remaining <= 0:
                return
            if offset >= len(positions):
                offset -= len(positions)
                continue
            chunk = positions[offset : offset + remaining]
            offset = 0
            remaining -= len(chunk)
            for pos in chunk:
                yield bucket.ref(pos)


def _empty_bucket(day: int) -> Bucket:
    return Bucket(
        day, array("q"), array("q"), array("q"), array("i"), array("i"), array("i"), array("i"), 0
    )


class RecordIndex(Generic[S]):
    """Buckets and cached selections of one stream over the data window."""

    def __init__(
        self,
        stream: S,
        *,
        days: int,
        max_buckets: int = 256,
        max_selections: int = 16,
    ) -> None:
        self.stream = stream
        self.days = days
        self._max_buckets = max_buckets
        self._max_selections = max_selections
        self._buckets: OrderedDict[tuple[int, int], Bucket] = OrderedDict()
        self._day_rows: dict[int, list[Row]] = {}
        self._selections: OrderedDict[Query, tuple[int, int, Selection]] = OrderedDict()
        self._lock = threading.RLock()

    def window(self, now_ms: int) -> tuple[int, int]:
        """(first, last) UTC day holding data: [today - days, today]."""
        today = day_of(now_ms)
        return today - self.days, today

    def bucket(self, day: int, first_gen_day: int) -> Bucket:
        lowest = max(first_gen_day, day - 1 if self.stream.spills else day)
        key = (day, lowest)
        with self._lock:
            found = self._buckets.get(key)
            if found is not None:
                self._buckets.move_to_end(key)
                return found
            built = self._build(day, lowest)
            self._buckets[key] = built
            while len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
            return built

    def _rows_of(self, gen_day: int) -> list[Row]:
        # Buckets are built newest first, and bucket D needs generation days D and D-1, so
        # keeping the last generated day avoids generating every day twice.
        rows = self._day_rows.get(gen_day)
        if rows is None:
            rows = self.stream.day_rows(gen_day)
            self._day_rows.clear()
            self._day_rows[gen_day] = rows
        return rows

    def _build(self, day: int, lowest_gen_day: int) -> Bucket:
        rows: list[Row]
        if not self.stream.spills:
            rows = self.stream.day_rows(day)
        else:
            rows = []
            for generated in range(day, lowest_gen_day - 1, -1):
                rows.extend(row for row in self._rows_of(generated) if row[0] // DAY_MS == day)
        if not rows:
            return _empty_bucket(day)
        rows.sort(reverse=True)
        sort, filt, ingest, gen_day, user, idx, attr = zip(*rows, strict=True)
        sort_col = array("q", sort)
        return Bucket(
            day=day,
            sort=sort_col,
            filt=sort_col if self.stream.sort_is_filter else array("q", filt),
            ingest=array("q", ingest),
            gen_day=array("i", gen_day),
            user=array("i", user),
            idx=array("i", idx),
            attr=array("i", attr),
            max_ingest=max(ingest),
        )

    def select(self, query: Query, now_ms: int) -> Selection:
        with self._lock:
            cached = self._selections.get(query)
            if cached is not None and cached[0] <= now_ms < cached[1]:
                self._selections.move_to_end(query)
                return cached[2]
            selection, valid_until = self._compute(query, now_ms)
            self._selections[query] = (now_ms, valid_until, selection)
            while len(self._selections) > self._max_selections:
                self._selections.popitem(last=False)
            return selection

    def _compute(self, query: Query, now_ms: int) -> tuple[Selection, int]:
        today = self.window(now_ms)[1]
        valid_until = (today + 1) * DAY_MS
        parts: list[tuple[Bucket, Sequence[int]]] = []
        for bucket, positions, next_visible in self._matches(query, now_ms):
            valid_until = min(valid_until, next_visible)
            if positions:
                parts.append((bucket, positions))
        return Selection(sum(len(p) for _, p in parts), tuple(parts)), valid_until

    def stream_refs(self, query: Query, now_ms: int) -> Iterator[Ref]:
        """Matching records in list order, scanning one bucket at a time (for CSV exports).

        Unlike select(), the first record comes before later buckets are even built.
        """
        for bucket, positions, _ in self._matches(query, now_ms):
            for pos in positions:
                yield bucket.ref(pos)

    def _matches(self, query: Query, now_ms: int) -> Iterator[tuple[Bucket, Sequence[int], int]]:
        """(bucket, matching positions, next ingestion it skipped) per day, newest first."""
        first_day, today = self.window(now_ms)
        sort_is_filter = self.stream.sort_is_filter
        # The sort key is >= the filter key and at most MAX_DELAY_MS after it.
        sort_lo = query.start_ms
        sort_hi = query.end_ms if sort_is_filter else query.end_ms + MAX_DELAY_MS
        if sort_hi < sort_lo:
            return
        for day in range(min(day_of(sort_hi), today), max(day_of(sort_lo), first_day) - 1, -1):
            bucket = self.bucket(day, first_day)
            lo = bisect_left(bucket.sort, -sort_hi, key=_neg)
            hi = bisect_right(bucket.sort, -sort_lo, key=_neg)
            if lo >= hi:
                continue
            if (
                sort_is_filter
                and query.user is None
                and query.attr is None
                and bucket.max_ingest <= now_ms
            ):
                yield bucket, range(lo, hi), 1 << 62
            else:
                positions, next_visible = self._scan(bucket, lo, hi, query, now_ms)
                yield bucket, positions, next_visible

    def _scan(
        self, bucket: Bucket, lo: int, hi: int, query: Query, now_ms: int
    ) -> tuple[array[int], int]:
        """Positions in [lo, hi) matching the query and visible; and the next ingestion."""
        out = array("i")
        next_visible = 1 << 62
        users, attrs, filt, ingest = bucket.user, bucket.attr, bucket.filt, bucket.ingest
        check_filter = not self.stream.sort_is_filter
        div = self.stream.attr_div
        start, end, user, attr = query
        for pos in range(lo, hi):
            if user is not None and users[pos] != user:
                continue
            if attr is not None and attrs[pos] // div != attr:
                continue
            if check_filter and not start <= filt[pos] <= end:
                continue
            ingested = ingest[pos]
            if ingested > now_ms:
                next_visible = min(next_visible, ingested)
                continue
            out.append(pos)
        return out, next_visible

    def commit_refs(self, gen_day: int, user: int, record: int) -> list[Ref]:
        """The rows one generated commit produced: itself and any main-branch copy."""
        rows = self.stream.user_day(gen_day, user)
        return [Ref(*row) for row in rows if row[5] >> 1 == record]

    def find_commit(self, commit_hash: str, branch: str | None, now_ms: int,
                    branch_of: Callable[[Ref], object]) -> Ref | None:
        """The visible row of a commit hash (on `branch` when given), for the blame and
        commit-detail endpoints; vendors differ only in how a row's branch is read."""
        stream: Stream = self.stream
        assert isinstance(stream, CommitStream)
        located = stream.locate(commit_hash)
        if located is None:
            return None
        day16, user, record = located
        first, today = self.window(now_ms)
        for day in range(first, today + 1):
            if day % (1 << 16) != day16:
                continue
            for ref in self.commit_refs(day, user, record):
                if ref.ingest_ms > now_ms or stream.commit_hash(ref) != commit_hash.lower():
                    continue
                if branch is None or branch_of(ref) == branch:
                    return ref
        return None
