"""A record stream as a poll job. Each run:

1. catches up: reads [watermark - overlap, now] in time slices of `backfill_slice`,
   oldest first, committing each slice (ids, counter deltas, watermark) in its own
   transaction, so a kill loses at most one slice and a restart resumes where it was;
2. every `lookback_interval`, re-reads [now - lookback, watermark - overlap] slice by slice
   (records the vendor ingested late), as far as the run's deadline allows, resuming
   from where it stopped on the next run; its slices are sized by the time earlier ones
   took, so the one in flight at the deadline does not make the next run late.

Each record counts once whatever reads it (ids are kept until no read can return them;
records.identify says when two sightings are one record). A record the vendor returns
from before the read's window (a vendor that ignores the date filter, or honours only its
date part) is not counted but tallied in aicode_records_out_of_window_total: ids that old
are pruned, so counting it would count it again on every poll. A record whose line counts
are not counts (NaN, infinite, negative, absurdly large) is skipped whole, tallied once
in aicode_records_invalid_total, and its id remembered, so it never blocks its stream
and a re-read finds it a duplicate.

The totals live in memory: loaded from the state file once, then moved by exactly the
deltas each commit wrote, so publishing a slice reads no SQLite.

For the backfill (`history_from`), each slice also records the same deltas by the UTC
hour of each record's event time, in the same transaction (state.HourlyHistory): the
one counting path, with what the backfill needs to write the counters' past.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aicode_exporter.config.base import MAX_WINDOW, UsersConfig
from aicode_exporter.errors import Cancelled, VendorError
from aicode_exporter.expose import catalog
from aicode_exporter.expose.families import Family, Spec
from aicode_exporter.fetch.csvreader import Skipped
from aicode_exporter.pipeline.jobs import Failure, Outcome, PollContext
from aicode_exporter.pipeline.records import OTHER_USER, Add, StreamRecord, key_prefix
from aicode_exporter.pipeline.state import (
    HOUR,
    CounterKey,
    HourlyHistory,
    PollBatch,
    StateStore,
    StreamState,
)
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.pipeline.userlabels import UserLabeler

logger = logging.getLogger(__name__)

CHUNK = 2000  # records checked against the seen-ids table per query
# How far before a read's start a record may lie and still belong to that read (RFC 3339
# seconds truncate the start, vendors round, clocks differ a little). A record whose
# times are all earlier is out of the window. Ids are kept this much longer too, so a
# record inside the tolerance is always still known when a read returns it again.
WINDOW_TOLERANCE = timedelta(minutes=5)
LOGGED_PER_SLICE = 5  # skipped records logged per slice (all are counted)
# A deep re-read slice should take at most this share of a run, so the one in flight at
# the run's deadline delays the next catch-up little; slices shrink (not below
# MIN_DEEP_SLICE) or grow back (up to backfill_slice) by what the last one took.
DEEP_SLICE_SHARE = 0.25
MIN_DEEP_SLICE = timedelta(minutes=15)
DEEP_SLICE_GROWTH = 1.25


class _Seen:
    """The ids table as one chunk of a slice sees it: what earlier commits stored (fetched
    in bulk: `known` of `asked`) plus what this slice has decided so far."""

    def __init__(self, known: set[str], prefixes: set[str], asked: set[str],
                 ask: Callable[[str], bool], batch: PollBatch,
                 pending_prefixes: set[str]) -> None:
        self._known, self._prefixes, self._asked, self._ask = known, prefixes, asked, ask
        self._batch, self._pending = batch, pending_prefixes

    def has(self, key: str) -> bool:
        return key in self._batch.new_ids or (key in self._known
                                              and key not in self._batch.drop_ids)

    def has_prefix(self, prefix: str) -> bool:
        # A prefix's only key is dropped together with a new key of the same prefix.
        if prefix in self._pending or prefix in self._prefixes:
            return True
        if prefix in self._asked:
            return False
        self._asked.add(prefix)  # not fetched beforehand (rare): ask the table now
        if self._ask(prefix):
            self._prefixes.add(prefix)
            return True
        return False

    def remember(self, keys: Sequence[str], drop: Sequence[str], ts: float) -> None:
        for k in drop:
            self._batch.new_ids.pop(k, None)
            self._batch.drop_ids.add(k)
        for k in keys:
            if not self.has(k):
                self._batch.new_ids[k] = ts
                self._batch.drop_ids.discard(k)
            prefix = key_prefix(k)
            if prefix is not None:
                self._pending.add(prefix)

# (start, end) -> records as they are read
Fetch = Callable[[datetime, datetime], Iterator[StreamRecord | Skipped]]


@dataclass(frozen=True)
class StreamTiming:
    """A provider's stream settings (see the configuration reference)."""

    lookback: timedelta
    lookback_interval: timedelta
    overlap: timedelta
    initial_backfill: timedelta
    backfill_slice: timedelta


def slices(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into pieces of `size`, oldest first; the last one may be shorter."""
    out = []
    while start < end:
        out.append((start, min(start + size, end)))
        start += size
    return out


def _ts(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class StreamJob:
    def __init__(self, *, vendor: str, org: str, stream: str, fetch: Fetch,
                 store: StateStore, specs: Sequence[Spec], timing: StreamTiming,
                 users: UsersConfig, clock: Callable[[], float],
                 teams: TeamMapSource | None = None,
                 history_from: float | None = None) -> None:
        self.vendor, self.org, self.stream = vendor, org, stream
        # Set by the backfill: keep each slice's deltas by event hour too (HourlyHistory).
        self._history_from = history_from
        self._teams = teams
        self._fetch = fetch
        self._store = store
        self._specs = tuple(specs)
        self._t = timing
        self._clock = clock
        self._users = users
        self._labeler = UserLabeler(users)
        self._per_user = users.per_user_counters and self._labeler.enabled
        mine = {s.name for s in self._specs}
        self._totals: dict[CounterKey, float] = {
            (m, lbl): v for (m, lbl), v in store.counters(vendor, org).items()
            if m in mine or lbl == (stream,)}
        self._state = store.stream_state(vendor, org, stream)
        # Until a read has been timed, a quarter of backfill_slice: a first guess that
        # costs a few requests more where reads are quick, and overruns less where not.
        self._deep_slice = min(max(timing.backfill_slice / 4, MIN_DEEP_SLICE),
                               timing.backfill_slice)
        self._read_rate = 0.0  # seconds a timed slice took per second of its window

    @property
    def state(self) -> StreamState:
        return self._state

    def catch_up_start(self, now: datetime) -> datetime:
        """The watermark less the overlap; on a stream never read, initial_backfill
        before now (the backfill's counting: history_from)."""
        wm = _ts(self._state.watermark)
        if wm is not None:
            start = wm - self._t.overlap
        elif self._history_from is not None:
            start = datetime.fromtimestamp(self._history_from, UTC)
        else:
            start = now - self._t.initial_backfill
        return max(start, now - MAX_WINDOW)

    def run(self, ctx: PollContext, *, deep: bool = True) -> Outcome:
        """Catch up to ctx.now, then (with `deep`) the deep re-read when it is due."""
        run_started = self._clock()
        if self._teams is not None:
            self._teams.refresh()  # a changed map applies to records counted from now on
        now = ctx.now
        first = self._state.watermark is None
        start = self.catch_up_start(now)
        pieces = slices(start, now, self._t.backfill_slice)
        # Before anything is committed, everything before the window's start counts as
        # read: the lag starts at the backfill's length and falls from there.
        ctx.progress(0, len(pieces), self._state.watermark or start.timestamp())
        target = (ctx.deadline - run_started) * DEEP_SLICE_SHARE
        for i, (start, end) in enumerate(pieces):
            t0 = self._clock()
            # The very first slice has no earlier read whose records it could share.
            failure = self._read(ctx, start, end, watermark=end.timestamp(),
                                 deep=(now.timestamp(), None) if first else None,
                                 tolerance=timedelta(0) if first and i == 0
                                 else WINDOW_TOLERANCE)
            if failure is not None:
                return Outcome(failures=[failure])
            if end - start == self._t.backfill_slice:  # a backfill: sizes the deep slices
                self._fit_deep_slice(end - start, self._clock() - t0, target)
            ctx.progress(i + 1, len(pieces), self._state.watermark)
            if i + 1 < len(pieces):
                ctx.publish("counters", tuple(self.families()))
        failure = self._deep_reread(ctx, target) if deep else None
        outcome = self.restore()
        if failure is not None:
            outcome.failures.append(failure)
        return outcome

    def _deep_reread(self, ctx: PollContext, target: float) -> Failure | None:
        """Re-read what the catch-up does not: [now - lookback, watermark - overlap], one
        slice per transaction, until the deadline; the next run resumes where it stopped.
        Slices are sized to take about `target` seconds each."""
        now = ctx.now
        st = self._state
        if st.deep_last is None:  # a state file from before deep re-reads: start the clock
            self._store_deep(ctx, now.timestamp(), None)
            return None
        resume = _ts(st.deep_resume)
        started = st.deep_last
        if resume is None:
            if now.timestamp() - st.deep_last < self._t.lookback_interval.total_seconds():
                return None
            resume, started = now - self._t.lookback, now.timestamp()
        stop = self.catch_up_start(now)  # the catch-up just read everything after this
        start = resume
        while start < stop:
            end = min(start + self._deep_slice, stop)
            # Not a slice that would likely end past the deadline: the next run is due
            # soon after it, and would be skipped.
            guess = self._read_rate * (end - start).total_seconds()
            if self._clock() + min(guess, target) > ctx.deadline:
                self._store_deep(ctx, started, start.timestamp())
                return None
            t0 = self._clock()
            failure = self._read(ctx, start, end, watermark=None,
                                 deep=(started, end.timestamp()))
            if failure is not None:
                return failure
            self._fit_deep_slice(end - start, self._clock() - t0, target)
            ctx.publish("counters", tuple(self.families()))
            start = end
        self._store_deep(ctx, started, None)
        logger.info("deep re-read finished", extra={
            **self._log_fields(), "lookback_seconds": self._t.lookback.total_seconds()})
        return None

    def _fit_deep_slice(self, size: timedelta, took: float, target: float) -> None:
        """Learn from a slice of `size` that took `took` seconds: the read rate (to guess
        whether the next slice fits the run) and the next deep slice's size against
        `target` (a large organisation or a low rate limit needs many small slices)."""
        if took <= 0 or target <= 0:
            return
        self._read_rate = took / size.total_seconds()
        if took > target:
            new = size * (target / took)
        elif took < target / 2 and size >= self._deep_slice:  # a full slice, and quick
            # Slowly: records cluster in working hours, so a quick night slice says
            # little about the next morning's.
            new = size * DEEP_SLICE_GROWTH
        else:
            return
        minutes = round(new / timedelta(minutes=1))
        self._deep_slice = min(max(timedelta(minutes=minutes), MIN_DEEP_SLICE),
                               self._t.backfill_slice)

    def _store_deep(self, ctx: PollContext, last: float, resume: float | None) -> None:
        batch = PollBatch(self.vendor, self.org, self.stream, deep=(last, resume))
        self._commit(ctx, batch, None)

    def _commit(self, ctx: PollContext, batch: PollBatch, prune: float | None) -> None:
        """The one write of a slice, unless shutdown began while it was being read."""
        if ctx.stopping():
            raise Cancelled()
        self._state = self._store.commit(batch, prune_before=prune)

    def _read(self, ctx: PollContext, start: datetime, end: datetime, *,
              watermark: float | None,
              deep: tuple[float | None, float | None] | None,
              tolerance: timedelta = WINDOW_TOLERANCE) -> Failure | None:
        """Read one slice and commit it whole; a failure commits nothing."""
        now = ctx.now
        batch = PollBatch(self.vendor, self.org, self.stream, watermark=watermark, deep=deep)
        if self._history_from is not None:
            batch.history = HourlyHistory(self._history_from)
        tally = {"ingested": 0, "duplicate": 0, "invalid": 0, "folded": 0, "out_of_window": 0}
        admitted = self._store.users(self.vendor, self.org) if self._per_user else set()
        pending: set[str] = set()
        floor = (start - tolerance).timestamp()
        buf: list[StreamRecord | Skipped] = []
        try:
            for item in self._fetch(start, end):
                buf.append(item)
                if len(buf) >= CHUNK:
                    self._absorb(buf, batch, tally, admitted, pending, floor, end.timestamp())
                    buf.clear()
            self._absorb(buf, batch, tally, admitted, pending, floor, end.timestamp())
        except VendorError as e:
            return Failure(f"{_fmt(start)}..{_fmt(end)}", e)
        s = (self.stream,)
        batch.add(catalog.RECORDS_INGESTED.name, s, tally["ingested"])
        batch.add(catalog.RECORDS_DUPLICATE.name, s, tally["duplicate"])
        batch.add(catalog.RECORDS_INVALID.name, s, tally["invalid"])
        batch.add(catalog.RECORDS_OUT_OF_WINDOW.name, s, tally["out_of_window"])
        batch.add(catalog.USER_RECORDS_FOLDED.name, s, tally["folded"])
        # Ids that no later read can return again (the next slice starts at end - overlap,
        # the deep re-read at now - lookback; anything before a read's start less the
        # tolerance is out of its window) are no longer needed.
        prune = min(end, now - self._t.lookback) - self._t.overlap - WINDOW_TOLERANCE
        self._commit(ctx, batch, prune.timestamp())
        for key, delta in batch.deltas.items():
            self._totals[key] = self._totals.get(key, 0.0) + delta
        logger.info("stream slice committed", extra={
            **self._log_fields(), "from": _fmt(start), "to": _fmt(end),
            "new": tally["ingested"], "duplicate": tally["duplicate"],
            "invalid": tally["invalid"], "out_of_window": tally["out_of_window"]})
        return None

    def restore(self) -> Outcome:
        """The committed totals as families: used after each poll and at start-up, so
        counters resume at exactly the values they had."""
        return Outcome(parts={"counters": tuple(self.families())})

    def _log_fields(self) -> dict[str, object]:
        return {"provider": self.vendor, "org": self.org, "stream": self.stream}

    def _skip(self, tally: dict[str, int], record_id: str | None, reason: str) -> None:
        tally["invalid"] += 1
        if tally["invalid"] <= LOGGED_PER_SLICE:
            fields = self._log_fields()
            if record_id is not None:
                fields["id"] = record_id
            logger.warning("record skipped", extra={**fields, "reason": reason})

    def _absorb(self, buf: list[StreamRecord | Skipped], batch: PollBatch, tally: dict[str, int],
                admitted: set[str], pending: set[str], floor: float, end: float) -> None:
        if not buf:
            return
        exact: list[str] = []
        prefixes: list[str] = []
        for item in buf:
            if isinstance(item, Skipped):
                exact.append(item.key)
            else:
                e, p = item.lookups()
                exact += e
                prefixes += p
        def ask(prefix: str) -> bool:
            return bool(self._store.known_prefixes(self.vendor, self.org, self.stream,
                                                   [prefix]))

        seen = _Seen(self._store.known_ids(self.vendor, self.org, self.stream, exact),
                     self._store.known_prefixes(self.vendor, self.org, self.stream, prefixes),
                     set(prefixes), ask, batch, pending)
        for rec in buf:
            if isinstance(rec, Skipped):  # unreadable: counted once, by its content
                if rec.key and seen.has(rec.key):
                    tally["duplicate"] += 1
                    continue
                if rec.key:  # its time is unknown: kept as long as this read's end
                    seen.remember((rec.key,), (), end)
                self._skip(tally, None, rec.reason)
                continue
            ident = rec.identify(seen)
            last = rec.latest_time()
            if ident.duplicate:
                tally["duplicate"] += 1
                seen.remember(ident.keys, ident.drop, last)
                continue
            if last < floor:
                # Older than this read's window (the vendor ignored the filter): its id
                # would be pruned at once, and it would count again on every poll.
                tally["out_of_window"] += 1
                continue
            # Keep the ids for as long as any query could return the record again.
            seen.remember(ident.keys, ident.drop, last)
            reason = rec.invalid_reason()
            if reason is not None:
                self._skip(tally, rec.record_id(), reason)
                continue
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
            add = batch.add if batch.history is None else _with_history(batch, rec.ts, end)
            rec.increments(add, user)
            if self._teams is not None:
                rec.team_increments(add, self._teams.teams_for(rec.user.id, rec.user.email))

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


def _with_history(batch: PollBatch, ts: float, end: float) -> Add:
    """batch.add that also files each delta under the record's event hour. A record
    stamped after the read's end (a clock running ahead) is filed in the end's hour: what
    a backfill writes for a time never includes a record filed later."""
    history = batch.history
    assert history is not None
    hour = int(min(ts, end) // HOUR * HOUR)

    def add(metric: str, labels: tuple[str, ...], delta: float) -> None:
        batch.add(metric, labels, delta)
        history.add(metric, labels, hour, delta)

    return add


def plan_pages(*, vendor: str, org: str, stream: str, pages: int, per_minute: float,
               interval: timedelta, hint: str, warned: set[str]) -> None:
    """Say once, with the numbers and what would help, when one slice needs more requests
    than the rate limit allows per poll interval; the token bucket then spreads them
    instead of bursting, and the landing page shows the progress."""
    budget = math.floor(per_minute * interval.total_seconds() / 60)
    if pages > budget and stream not in warned:
        warned.add(stream)
        logger.warning("slice needs more requests than the rate limit allows per interval",
                       extra={"provider": vendor, "org": org, "stream": stream,
                              "requests": pages, "budget_per_interval": budget,
                              "rate_per_minute": per_minute,
                              "expected_minutes": round(pages / per_minute, 1),
                              "hint": hint})
