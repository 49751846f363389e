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
are not counts (NaN, infinite, negative, absurdly large) is skipped whole and tallied in
aicode_records_invalid_total once per version: what is remembered is that version's
rejection (its id and the reason), not its id, so a re-read of the same bad version is a
duplicate while the vendor's corrected version is counted (once: from then on its id is
known). A record that cannot be mapped at all (any exception in its own code: nesting,
types, encoding) is rejected the same way and its stream goes on.

Times: a record dated more than FUTURE_SKEW ahead of now (a vendor clock ahead, a commit
dated 2100) is counted, tallied in aicode_records_future_total, and moves
aicode_newest_record_timestamp_seconds only to the time it was read, so the staleness
alert keeps working; a state file that kept such a time is set right when the job starts.

Labels: every increment's labels go through the stream's CounterFolder (cardinality.py):
cut to labels.max_length, capped labels admitted or folded into `__other__`, and each
record with a folded label tallied in aicode_label_records_folded_total{label}.

The totals live in memory: loaded from the state file once, then moved by exactly the
deltas each commit wrote, so publishing a slice reads no SQLite.

For the backfill (`history_from`), each slice also records the same deltas by the UTC
hour of each record's event time, in the same transaction (state.HourlyHistory): the
one counting path, with what the backfill needs to write the counters' past.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aicode_exporter.config.base import MAX_WINDOW, LabelsConfig, UsersConfig
from aicode_exporter.errors import Cancelled, VendorError
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.cardinality import CounterFolder, LabelLimits
from aicode_exporter.pipeline.jobs import Failure, Outcome, PollContext
from aicode_exporter.pipeline.records import OTHER_USER, Add, Identity, StreamRecord, key_prefix
from aicode_exporter.pipeline.state import (
    HOUR,
    HourlyHistory,
    PollBatch,
    StateStore,
    StreamState,
)
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.toolkit.http.csvstream import Skipped
from aicode_exporter.toolkit.labelcap import truncate

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
# How far ahead of our clock a record's time may be and still be believed (clocks and
# vendor pipelines differ by seconds; a developer's laptop by minutes).
FUTURE_SKEW = timedelta(minutes=10)
# Key prefixes of what the ids table remembers about records that were not counted: a
# version rejected for its values, a record that could not be mapped.
REJECTED = "\x1drejected:"
FAILED = "\x1dfailed:"


def _digest(prefix: str, *parts: str) -> str:
    text = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return prefix + hashlib.blake2b(text, digest_size=16).hexdigest()


Increment = tuple[str, tuple[str, ...], float]


@dataclass(frozen=True, slots=True)
class _Window:
    """The times one slice's records are judged against (Unix seconds)."""

    floor: float  # before this, a record is out of the read's window
    end: float  # the read's end
    now: float  # when the read began

    @property
    def horizon(self) -> float:
        """Later than this, a record's time is not believed."""
        return self.now + FUTURE_SKEW.total_seconds()


def _safe_id(rec: StreamRecord) -> str:
    """How to name (and key) a record whose own code may be what fails."""
    try:
        return str(rec.record_id())
    except Exception:
        try:
            return repr(rec)[:10_000]
        except Exception:
            return type(rec).__name__


class _Seen:
    """The ids table as one chunk of a slice sees it: what earlier commits stored (fetched
    in bulk: `known` of `asked`) plus what this slice has decided so far."""

    def __init__(self, known: set[str], prefixes: set[str], asked: set[str],
                 ask: Callable[[str], bool], batch: PollBatch,
                 pending_prefixes: set[str], fetched: set[str] | None = None,
                 ask_id: Callable[[str], bool] | None = None) -> None:
        self._known, self._prefixes, self._asked, self._ask = known, prefixes, asked, ask
        self._batch, self._pending = batch, pending_prefixes
        self._fetched, self._ask_id = fetched or set(), ask_id

    def has(self, key: str) -> bool:
        return key in self._batch.new_ids or (key in self._known
                                              and key not in self._batch.drop_ids)

    def known(self, key: str) -> bool:
        """has(), asking the table about a key that was not fetched beforehand (rare:
        the key of a record that could not be mapped)."""
        if self.has(key) or key in self._fetched or self._ask_id is None:
            return self.has(key)
        self._fetched.add(key)
        if key not in self._batch.drop_ids and self._ask_id(key):
            self._known.add(key)
            return True
        return False

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
                 labels: LabelsConfig | None = None,
                 wall: Callable[[], float] = time.time,
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
        self._limits = LabelLimits(labels or LabelsConfig())
        self._folder = CounterFolder(self._specs, self._limits,
                                     store.label_values(vendor, org, stream))
        mine = {s.name for s in self._specs}
        meta = {s.name for s in catalog.STREAM_META}
        loaded = {(m, lbl): v for (m, lbl), v in store.counters(vendor, org).items()
                  if m in mine or (m in meta and lbl[:1] == (stream,))}
        # Values admitted by counters written before the caps existed (or cut to length
        # now): written with the next slice.
        self._totals, self._unsaved = self._folder.load(loaded)
        self._fix_newest(wall())
        self._state = store.stream_state(vendor, org, stream)
        # Until a read has been timed, a quarter of backfill_slice: a first guess that
        # costs a few requests more where reads are quick, and overruns less where not.
        self._deep_slice = min(max(timing.backfill_slice / 4, MIN_DEEP_SLICE),
                               timing.backfill_slice)
        self._read_rate = 0.0  # seconds a timed slice took per second of its window
        self._logged = 0  # records skipped and logged in the slice being read

    @property
    def state(self) -> StreamState:
        return self._state

    def _fix_newest(self, now: float) -> None:
        """A newest-record time from the future (kept by an older version) set back."""
        fixed = self._store.clamp_newest_record(self.vendor, self.org, self.stream,
                                                now + FUTURE_SKEW.total_seconds())
        if fixed is not None:
            logger.warning("newest record time was in the future; set back", extra={
                **self._log_fields(), "was": _fmt(datetime.fromtimestamp(fixed[0], UTC)),
                "now_newest": _fmt(datetime.fromtimestamp(fixed[1], UTC))})

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
            self._folder.rollback()
            raise Cancelled()
        batch.new_label_values |= self._unsaved | self._folder.pending()
        try:
            self._state = self._store.commit(batch, prune_before=prune)
        except BaseException:
            self._folder.rollback()
            raise
        self._folder.committed()
        self._unsaved = set()

    def _read(self, ctx: PollContext, start: datetime, end: datetime, *,
              watermark: float | None,
              deep: tuple[float | None, float | None] | None,
              tolerance: timedelta = WINDOW_TOLERANCE) -> Failure | None:
        """Read one slice and commit it whole; a failure commits nothing."""
        now = ctx.now
        batch = PollBatch(self.vendor, self.org, self.stream, watermark=watermark, deep=deep)
        if self._history_from is not None:
            batch.history = HourlyHistory(self._history_from)
        tally = {"ingested": 0, "duplicate": 0, "invalid": 0, "folded": 0, "out_of_window": 0,
                 "future": 0}
        admitted = self._store.users(self.vendor, self.org) if self._per_user else set()
        pending: set[str] = set()
        self._logged = 0
        window = _Window(floor=(start - tolerance).timestamp(), end=end.timestamp(),
                         now=now.timestamp())
        buf: list[StreamRecord | Skipped] = []
        try:
            for item in self._fetch(start, end):
                buf.append(item)
                if len(buf) >= CHUNK:
                    self._absorb(buf, batch, tally, admitted, pending, window)
                    buf.clear()
            self._absorb(buf, batch, tally, admitted, pending, window)
        except VendorError as e:
            self._folder.rollback()
            return Failure(f"{_fmt(start)}..{_fmt(end)}", e)
        except BaseException:
            self._folder.rollback()
            raise
        s = (self.stream,)
        batch.add(catalog.RECORDS_INGESTED.name, s, tally["ingested"])
        batch.add(catalog.RECORDS_DUPLICATE.name, s, tally["duplicate"])
        batch.add(catalog.RECORDS_INVALID.name, s, tally["invalid"])
        batch.add(catalog.RECORDS_OUT_OF_WINDOW.name, s, tally["out_of_window"])
        batch.add(catalog.USER_RECORDS_FOLDED.name, s, tally["folded"])
        batch.add(catalog.RECORDS_FUTURE.name, s, tally["future"])
        for label in self._folder.labels:  # at 0 until a record is folded
            batch.add(catalog.LABEL_RECORDS_FOLDED.name, (self.stream, label), 0)
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
            "invalid": tally["invalid"], "out_of_window": tally["out_of_window"],
            "future": tally["future"]})
        return None

    def restore(self) -> Outcome:
        """The committed totals as families: used after each poll and at start-up, so
        counters resume at exactly the values they had."""
        return Outcome(parts={"counters": tuple(self.families())})

    def _log_fields(self) -> dict[str, object]:
        return {"provider": self.vendor, "org": self.org, "stream": self.stream}

    def _skip_log(self, record_id: str | None, reason: str) -> None:
        self._logged += 1
        if self._logged <= LOGGED_PER_SLICE:
            fields = self._log_fields()
            if record_id is not None:
                fields["id"] = record_id
            logger.warning("record skipped", extra={**fields, "reason": reason})

    def _absorb(self, buf: list[StreamRecord | Skipped], batch: PollBatch, tally: dict[str, int],
                admitted: set[str], pending: set[str], window: _Window) -> None:
        if not buf:
            return
        exact: list[str] = []
        prefixes: list[str] = []
        # Per record: None, (reason, key) of a rejected version, or what its code raised
        # (its keys unknown, it cannot be told from a duplicate: rejected below).
        rejections: list[tuple[str, str] | Exception | None] = []
        for item in buf:
            rejection: tuple[str, str] | Exception | None = None
            if isinstance(item, Skipped):
                exact.append(item.key)
            else:
                try:
                    e, p = item.lookups()
                    reason = item.invalid_reason()
                    if reason is not None:
                        rejection = (reason, _digest(REJECTED, item.record_id(), reason))
                        e = [*e, rejection[1]]
                    exact += e
                    prefixes += p
                except Exception as error:  # a poison record: rejected below
                    rejection = error
            rejections.append(rejection)

        def ask(prefix: str) -> bool:
            return bool(self._store.known_prefixes(self.vendor, self.org, self.stream,
                                                   [prefix]))

        def ask_id(key: str) -> bool:
            return bool(self._store.known_ids(self.vendor, self.org, self.stream, [key]))

        seen = _Seen(self._store.known_ids(self.vendor, self.org, self.stream, exact),
                     self._store.known_prefixes(self.vendor, self.org, self.stream, prefixes),
                     set(prefixes), ask, batch, pending, set(exact), ask_id)
        for rec, rejection in zip(buf, rejections, strict=True):
            if isinstance(rec, Skipped):  # unreadable: counted once, by its content
                self._reject(seen, tally, rec.key, window.end, None, rec.reason)
                continue
            try:
                if isinstance(rejection, Exception):
                    raise rejection
                verdict = self._judge(rec, seen, window, admitted, rejection)
            except Exception as e:  # one record must not stop its stream
                key = _digest(FAILED, _safe_id(rec), type(e).__name__)
                self._reject(seen, tally, key, window.end, _safe_id(rec),
                             f"cannot be mapped: {type(e).__name__}: {str(e)[:200]}")
                continue
            if isinstance(verdict, str):
                tally[verdict] += 1
                continue
            ident, last, t, user, adds = verdict
            # Keep the ids for as long as any query could return the record again.
            seen.remember(ident.keys, ident.drop, last)
            tally["ingested"] += 1
            if t > window.horizon:  # from the future: believed only as far as now
                tally["future"] += 1
                t = window.now
            if batch.newest_record is None or t > batch.newest_record:
                batch.newest_record = t
            if user == OTHER_USER:
                tally["folded"] += 1
            elif user is not None and user not in admitted:
                admitted.add(user)
                batch.new_users.add(user)
            add = batch.add if batch.history is None else _with_history(batch, t, window.end)
            folded: set[str] = set()
            for metric, labels, delta in adds:
                add(metric, self._folder.fold(metric, labels, folded), delta)
            for label in sorted(folded):
                batch.add(catalog.LABEL_RECORDS_FOLDED.name, (self.stream, label), 1)

    def _judge(self, rec: StreamRecord, seen: _Seen, window: _Window, admitted: set[str],
               rejection: tuple[str, str] | None,
               ) -> str | tuple[Identity, float, float, str | None, list[Increment]]:
        """What to do with one record: a tally to add it to ("duplicate",
        "out_of_window", "invalid" - rejections are remembered here), or what counting
        it takes (identity, latest time, event time, user label, increments). Raises on
        a record its own code cannot map; nothing is remembered or counted then."""
        ident = rec.identify(seen)
        last = rec.latest_time()
        if ident.duplicate:
            seen.remember(ident.keys, ident.drop, last)
            return "duplicate"
        if rejection is not None and seen.has(rejection[1]):
            return "duplicate"  # this very version was rejected before
        if last < window.floor:
            # Older than this read's window (the vendor ignored the filter): its id
            # would be pruned at once, and it would count again on every poll.
            return "out_of_window"
        if rejection is not None:
            reason, key = rejection
            seen.remember((key,), (), last)
            self._skip_log(rec.record_id(), reason)
            return "invalid"
        user = None
        if self._per_user:
            label = truncate(self._labeler.label(user_id=rec.user.id, email=rec.user.email,
                                                 name=rec.user.name),
                             self._limits.max_length)
            room = len(admitted) < self._users.max_users
            user = label if label in admitted or room else OTHER_USER
        adds: list[Increment] = []

        def add(metric: str, labels: tuple[str, ...], delta: float) -> None:
            adds.append((metric, labels, delta))

        rec.increments(add, user)
        if self._teams is not None:
            rec.team_increments(add, self._teams.teams_for(rec.user.id, rec.user.email))
        return ident, last, float(rec.ts), user, adds

    def _reject(self, seen: _Seen, tally: dict[str, int], key: str, ts: float,
                record_id: str | None, reason: str) -> None:
        """A record not counted, remembered by `key` so that version counts once."""
        if key and seen.known(key):
            tally["duplicate"] += 1
            return
        if key:
            seen.remember((key,), (), ts)
        tally["invalid"] += 1
        self._skip_log(record_id, reason)

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
