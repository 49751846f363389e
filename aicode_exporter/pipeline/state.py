"""SQLite state: de-dup ids, counter totals, watermarks, admitted users and label values,
the time of the last request per rate bucket, and what the backfill learnt of the past
(counter deltas by event hour, past days' families).

Exactly-once counting rests on one rule: everything a slice of a stream taught us (new
ids, counter deltas, the new watermark) is written in ONE transaction. A crash before the
commit loses that slice only, which the next run re-reads from the committed watermark
and counts then; a crash after it has nothing left to do. Reads during the poll (is this id new?)
take no write lock, so a slow, rate-limited poll never blocks another provider's commit.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aicode_exporter.errors import ConfigError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
CounterKey = tuple[str, tuple[str, ...]]  # metric name, label values after (provider, org)
HOUR = 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
  provider TEXT NOT NULL, org TEXT NOT NULL, stream TEXT NOT NULL, id TEXT NOT NULL,
  ts REAL NOT NULL, PRIMARY KEY (provider, org, stream, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_ts ON seen (provider, org, stream, ts);
CREATE TABLE IF NOT EXISTS counters (
  provider TEXT NOT NULL, org TEXT NOT NULL, metric TEXT NOT NULL, labels TEXT NOT NULL,
  value REAL NOT NULL, PRIMARY KEY (provider, org, metric, labels)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (
  provider TEXT NOT NULL, org TEXT NOT NULL, stream TEXT NOT NULL,
  watermark REAL, newest_record REAL, deep_last REAL, deep_resume REAL,
  PRIMARY KEY (provider, org, stream));
CREATE TABLE IF NOT EXISTS users (
  provider TEXT NOT NULL, org TEXT NOT NULL, label TEXT NOT NULL,
  PRIMARY KEY (provider, org, label)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS label_values (
  provider TEXT NOT NULL, org TEXT NOT NULL, stream TEXT NOT NULL, label TEXT NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY (provider, org, stream, label, value)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pacing (
  provider TEXT NOT NULL, org TEXT NOT NULL, bucket TEXT NOT NULL, last_request REAL NOT NULL,
  PRIMARY KEY (provider, org, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series_start (
  metric TEXT NOT NULL, labels TEXT NOT NULL, start REAL NOT NULL,
  PRIMARY KEY (metric, labels)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_streams (
  provider TEXT NOT NULL, org TEXT NOT NULL, stream TEXT NOT NULL,
  since REAL NOT NULL, until REAL, PRIMARY KEY (provider, org, stream));
CREATE TABLE IF NOT EXISTS history_series (
  id INTEGER PRIMARY KEY, metric TEXT NOT NULL, provider TEXT NOT NULL, org TEXT NOT NULL,
  labels TEXT NOT NULL, stream TEXT NOT NULL, UNIQUE (metric, provider, org, labels));
CREATE TABLE IF NOT EXISTS history (
  series INTEGER NOT NULL, hour INTEGER NOT NULL, delta NUMERIC NOT NULL,
  PRIMARY KEY (series, hour)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_points (
  provider TEXT NOT NULL, org TEXT NOT NULL, endpoint TEXT NOT NULL, at REAL NOT NULL,
  families TEXT NOT NULL, PRIMARY KEY (provider, org, endpoint, at)) WITHOUT ROWID;
"""
# The history_* tables are the backfill's (aicode-exporter backfill): an older version
# opening the file ignores them, so adding them needed no new schema version. A history
# row is a series id, an hour number (hours since 1970) and a delta stored as an integer
# where it is one: a few bytes each, as a large organisation has millions of them.

_STREAM_COLS = "watermark, newest_record, deep_last, deep_resume"
_ID_CHUNK = 500  # SQLite's default host-parameter limit is far above this


# Schema 1 -> 2: the deep re-read's schedule (when the last one started, where the
# current one is). Old files gain the columns; NULL means "none yet".
_MIGRATIONS = {1: ("ALTER TABLE streams ADD COLUMN deep_last REAL",
                   "ALTER TABLE streams ADD COLUMN deep_resume REAL")}


@dataclass
class PollBatch:
    """What one slice of one stream learnt; committed whole by StateStore.commit()."""

    vendor: str
    org: str
    stream: str
    new_ids: dict[str, float] = field(default_factory=dict)  # id -> record time
    drop_ids: set[str] = field(default_factory=set)  # ids to forget (deleted first)
    deltas: dict[CounterKey, float] = field(default_factory=dict)
    new_users: set[str] = field(default_factory=set)
    new_label_values: set[tuple[str, str]] = field(default_factory=set)  # (label, value)
    watermark: float | None = None  # moves forward only
    newest_record: float | None = None
    deep: tuple[float | None, float | None] | None = None  # (deep_last, deep_resume) to set
    history: HourlyHistory | None = None  # the backfill's: the same deltas by event hour

    def add(self, metric: str, labels: tuple[str, ...], delta: float) -> None:
        key = (metric, labels)
        self.deltas[key] = self.deltas.get(key, 0.0) + delta


@dataclass
class HourlyHistory:
    """A slice's counter deltas by the UTC hour of their record's event time, kept by the
    backfill beside the totals (same transaction): what lets it write, for any past
    hour, the value the counter would have had then. `since`: where the stream's counting
    (and so its history) began."""

    since: float
    deltas: dict[tuple[str, tuple[str, ...], int], float] = field(default_factory=dict)

    def add(self, metric: str, labels: tuple[str, ...], hour: int, delta: float) -> None:
        key = (metric, labels, hour)
        self.deltas[key] = self.deltas.get(key, 0.0) + delta


@dataclass(frozen=True)
class HistorySpan:
    """A stream counted with history: from `since` (its first read's start) to `until`
    (the watermark of its last commit with history)."""

    since: float
    until: float | None


@dataclass(frozen=True)
class HistorySeries:
    """One counter series' history: (hour start, delta) in hour order."""

    metric: str
    provider: str
    org: str
    stream: str
    labels: tuple[str, ...]
    hours: list[tuple[int, float]]


@dataclass(frozen=True)
class StreamState:
    watermark: float | None = None
    newest_record: float | None = None
    deep_last: float | None = None  # when the last deep re-read started
    deep_resume: float | None = None  # where the running deep re-read has got to


# What UTF-8 cannot encode (lone surrogates): in a label, every render of the exposition
# fails; in an id or a user, every write. Vendor strings are cleaned on the way in
# (vendors/tolerant.py); a file written before that is repaired when it is opened.
_UNENCODABLE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def _clean(v: str) -> str:
    return _UNENCODABLE.sub(_REPLACEMENT, v)


def _text(raw: bytes) -> str:
    """A stored TEXT value read as bytes: a surrogate stored as its 3-byte form (ED A0..BF
    xx) becomes U+FFFD like any other undecodable byte sequence."""
    try:
        return _clean(raw.decode("utf-8", "surrogatepass"))
    except UnicodeDecodeError:
        return _clean(raw.decode("utf-8", "replace"))


def _undecodable(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


class StateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as e:
            if not isinstance(e, sqlite3.OperationalError):  # the file is there, not usable
                raise self._damaged(e) from None
            raise ConfigError(f"state_path: cannot open {self.path!r}: {e}") from None
        except (OSError, sqlite3.Error) as e:
            raise ConfigError(f"state_path: cannot open {self.path!r}: {e}") from None
        self._lock = threading.Lock()
        self._identity = self._file_identity()
        self._gone_logged = False
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise self._damaged(e) from None

    def _damaged(self, e: Exception) -> ConfigError:
        return ConfigError(
            f"state_path: {self.path!r} is not a SQLite database or is damaged: {e}; "
            "move it aside to start afresh (counters restart from zero and "
            "initial_backfill is read again) or restore a backup")

    def _open(self) -> None:
        """Check the file, create or migrate the schema, repair what older versions could
        store but not render. sqlite3.DatabaseError (a damaged file) goes to the caller."""
        # quick_check reads every page (~0.1 s per 40 MB): a damaged page found now is a
        # clear message at start, not a traceback in the middle of a poll.
        problems = [r[0] for r in self._db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(map(str, problems)))
        self._db.execute("PRAGMA synchronous=FULL")  # a committed poll survives power loss
        with self._tx() as db:
            # executescript() would COMMIT on its own; run the statements in our tx.
            for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                db.execute(stmt)
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) in _MIGRATIONS:
                for stmt in _MIGRATIONS[int(row[0])]:
                    db.execute(stmt)
                db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise ConfigError(f"state_path: {self.path!r} has state schema {row[0]}, "
                                  f"this version reads {SCHEMA_VERSION}")
            repaired = _repair(db)
        if any(repaired.values()):
            logger.warning("state file repaired", extra={
                "path": self.path, "counter_series": repaired["counters"],
                "users": repaired["users"], "ids": repaired["ids"],
                "reason": "text UTF-8 cannot encode (lone surrogates) replaced by U+FFFD, "
                          "values of series that became one merged"})

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _check_file(self) -> None:
        """Log once if the file was deleted or replaced under us: what we commit from now
        on goes to a file no later start will find."""
        if self._identity is None or self._gone_logged:
            return
        if self._file_identity() != self._identity:
            self._gone_logged = True
            logger.error("state file deleted or replaced while running", extra={
                "path": self.path,
                "effect": "counts go on in memory, but the next start finds no state: "
                          "counters restart from zero (a counter reset) and "
                          "initial_backfill is read again; restart now to re-create it"})

    def instance_id(self) -> str:
        """A stable id of this exporter's data (OTLP service.instance.id): made once,
        kept in the state file, so a restart does not start new series downstream."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='instance_id'").fetchone()
            if row is not None:
                return str(row[0])
            value = str(uuid.uuid4())
            db.execute("INSERT INTO meta VALUES ('instance_id', ?)", (value,))
            return value

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reads during a poll ------------------------------------------------------------

    def stream_state(self, provider: str, org: str, stream: str) -> StreamState:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_STREAM_COLS} FROM streams WHERE provider=? AND org=? AND stream=?",
                (provider, org, stream)).fetchone()
        return StreamState(*(row or ()))

    def known_prefixes(self, provider: str, org: str, stream: str,
                       prefixes: Iterable[str]) -> set[str]:
        """Which of these prefixes some committed id starts with (a range read each on the
        primary key; each prefix must end in a character below U+FFFF)."""
        found: set[str] = set()
        with self._lock:
            for p in set(prefixes):
                upper = p[:-1] + chr(ord(p[-1]) + 1)
                if self._db.execute(
                        "SELECT 1 FROM seen WHERE provider=? AND org=? AND stream=? AND id>=? "
                        "AND id<? LIMIT 1", (provider, org, stream, p, upper)).fetchone():
                    found.add(p)
        return found

    def known_ids(self, provider: str, org: str, stream: str, ids: Iterable[str]) -> set[str]:
        """Which of these ids were counted by an earlier, committed poll."""
        ids = list(ids)
        found: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), _ID_CHUNK):
                chunk = ids[i:i + _ID_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self._db.execute(
                    f"SELECT id FROM seen WHERE provider=? AND org=? AND stream=? "
                    f"AND id IN ({marks})", (provider, org, stream, *chunk)))
        return found

    def users(self, provider: str, org: str) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute(
                "SELECT label FROM users WHERE provider=? AND org=?", (provider, org))}

    def label_values(self, provider: str, org: str, stream: str) -> dict[str, set[str]]:
        """The values of each capped label a stream admitted (pipeline/cardinality.py)."""
        out: dict[str, set[str]] = {}
        with self._lock:
            for label, value in self._db.execute(
                    "SELECT label, value FROM label_values WHERE provider=? AND org=? "
                    "AND stream=?", (provider, org, stream)):
                out.setdefault(label, set()).add(value)
        return out

    def last_requests(self, provider: str, org: str) -> dict[str, float]:
        """Rate bucket -> Unix time of its last request, as the last process left it."""
        with self._lock:
            return {b: t for b, t in self._db.execute(
                "SELECT bucket, last_request FROM pacing WHERE provider=? AND org=?",
                (provider, org))}

    def note_request(self, provider: str, org: str, bucket: str, at: float) -> None:
        """A request of `bucket` took its slot at Unix time `at` (kept if later)."""
        with self._tx() as db:
            db.execute("INSERT INTO pacing VALUES (?,?,?,?) ON CONFLICT (provider, org, "
                       "bucket) DO UPDATE SET last_request = max(last_request, "
                       "excluded.last_request)", (provider, org, bucket, at))

    def clamp_newest_record(self, provider: str, org: str, stream: str,
                            limit: float) -> tuple[float, float] | None:
        """A stream's newest record time, if later than `limit` (a record from the
        future, from a version that believed it), set back to the latest time of a
        record still known that is not (else `limit`): (old, new), or None when nothing
        was wrong."""
        with self._tx() as db:
            row = db.execute("SELECT newest_record FROM streams WHERE provider=? AND org=? "
                             "AND stream=?", (provider, org, stream)).fetchone()
            if row is None or row[0] is None or row[0] <= limit:
                return None
            found = db.execute("SELECT max(ts) FROM seen WHERE provider=? AND org=? "
                               "AND stream=? AND ts<=?", (provider, org, stream, limit)
                               ).fetchone()[0]
            new = limit if found is None else float(found)
            db.execute("UPDATE streams SET newest_record=? WHERE provider=? AND org=? "
                       "AND stream=?", (new, provider, org, stream))
        return float(row[0]), new

    def counters(self, provider: str, org: str) -> dict[CounterKey, float]:
        with self._lock:
            rows = self._db.execute(
                "SELECT metric, labels, value FROM counters WHERE provider=? AND org=?",
                (provider, org)).fetchall()
        return {(m, tuple(json.loads(lbl))): v for m, lbl, v in rows}

    # -- the one write of a poll --------------------------------------------------------

    def commit(self, batch: PollBatch, *, prune_before: float | None = None) -> StreamState:
        """Write the batch in one transaction; return the stream's state after it. Ids are
        forgotten and pruned before the batch's new ones go in: an id is never pruned by
        the transaction that inserts it."""
        p, o, s = batch.vendor, batch.org, batch.stream
        with self._tx() as db:
            db.executemany("DELETE FROM seen WHERE provider=? AND org=? AND stream=? AND id=?",
                           ((p, o, s, i) for i in batch.drop_ids))
            if prune_before is not None:
                db.execute("DELETE FROM seen WHERE provider=? AND org=? AND stream=? AND ts<?",
                           (p, o, s, prune_before))
            db.executemany("INSERT OR IGNORE INTO seen VALUES (?,?,?,?,?)",
                           ((p, o, s, i, ts) for i, ts in batch.new_ids.items()))
            db.executemany(
                "INSERT INTO counters VALUES (?,?,?,?,?) ON CONFLICT (provider, org, metric, "
                "labels) DO UPDATE SET value = value + excluded.value",
                ((p, o, m, json.dumps(list(lbl)), d) for (m, lbl), d in batch.deltas.items()))
            db.executemany("INSERT OR IGNORE INTO users VALUES (?,?,?)",
                           ((p, o, u) for u in batch.new_users))
            db.executemany("INSERT OR IGNORE INTO label_values VALUES (?,?,?,?,?)",
                           ((p, o, s, label, v) for label, v in batch.new_label_values))
            db.execute(
                "INSERT INTO streams (provider, org, stream, watermark, newest_record) "
                "VALUES (?,?,?,?,?) ON CONFLICT (provider, org, stream) DO UPDATE SET "
                "watermark = max(coalesce(watermark, excluded.watermark), "
                "coalesce(excluded.watermark, watermark)), "
                "newest_record = max(coalesce(newest_record, 0), "
                "coalesce(excluded.newest_record, 0))",
                (p, o, s, batch.watermark, batch.newest_record))
            if batch.deep is not None:
                db.execute("UPDATE streams SET deep_last=?, deep_resume=? WHERE provider=? "
                           "AND org=? AND stream=?", (*batch.deep, p, o, s))
            if batch.history is not None:
                self._commit_history(db, batch, batch.history)
            row = db.execute(f"SELECT {_STREAM_COLS} FROM streams WHERE provider=? AND org=? "
                             "AND stream=?", (p, o, s)).fetchone()
        self._check_file()
        return StreamState(*row)

    @staticmethod
    def _commit_history(db: sqlite3.Connection, batch: PollBatch, h: HourlyHistory) -> None:
        p, o, s = batch.vendor, batch.org, batch.stream
        keys = {(m, json.dumps(list(lbl))) for m, lbl, _ in h.deltas}
        db.executemany("INSERT OR IGNORE INTO history_series (metric, provider, org, labels, "
                       "stream) VALUES (?,?,?,?,?)", ((m, p, o, lbl, s) for m, lbl in keys))
        ids = {(m, lbl): db.execute(
            "SELECT id FROM history_series WHERE metric=? AND provider=? AND org=? AND "
            "labels=?", (m, p, o, lbl)).fetchone()[0] for m, lbl in keys}
        db.executemany(
            "INSERT INTO history VALUES (?,?,?) ON CONFLICT (series, hour) DO UPDATE SET "
            "delta = delta + excluded.delta",
            ((ids[(m, json.dumps(list(lbl)))], hour // HOUR, d)
             for (m, lbl, hour), d in h.deltas.items()))
        db.execute(
            "INSERT INTO history_streams VALUES (?,?,?,?,?) ON CONFLICT (provider, org, "
            "stream) DO UPDATE SET until = max(coalesce(until, excluded.until), "
            "coalesce(excluded.until, until))", (p, o, s, h.since, batch.watermark))

    # -- the backfill's history -----------------------------------------------------------

    def history_span(self, provider: str, org: str, stream: str) -> HistorySpan | None:
        """Where this stream's counting with history began and got to; None if it never
        was (a fresh stream, or one only the daemon counted)."""
        with self._lock:
            row = self._db.execute(
                "SELECT since, until FROM history_streams WHERE provider=? AND org=? "
                "AND stream=?", (provider, org, stream)).fetchone()
        return None if row is None else HistorySpan(*row)

    def history_series(self) -> Iterator[HistorySeries]:
        """Every counter series with history, by metric name, then provider, org and
        labels: one series in memory at once."""
        with self._lock:
            series = self._db.execute(
                "SELECT id, metric, provider, org, labels, stream FROM history_series "
                "ORDER BY metric, provider, org, labels").fetchall()
        for sid, m, p, o, lbl, s in series:
            with self._lock:
                hours = [(int(h) * HOUR, float(d)) for h, d in self._db.execute(
                    "SELECT hour, delta FROM history WHERE series=? ORDER BY hour", (sid,))]
            if hours:
                yield HistorySeries(m, p, o, s, tuple(json.loads(lbl)), hours)

    def points(self, provider: str, org: str, endpoint: str) -> dict[float, str]:
        """The backfill's stored points of one endpoint: time -> families (JSON)."""
        with self._lock:
            return {float(at): str(f) for at, f in self._db.execute(
                "SELECT at, families FROM history_points WHERE provider=? AND org=? AND "
                "endpoint=?", (provider, org, endpoint))}

    def all_points(self) -> list[tuple[str, str, str, float, str]]:
        """Every stored point: (provider, org, endpoint, time, families as JSON)."""
        with self._lock:
            return [(str(p), str(o), str(e), float(at), str(f)) for p, o, e, at, f in
                    self._db.execute("SELECT provider, org, endpoint, at, families FROM "
                                     "history_points ORDER BY provider, org, endpoint, at")]

    def store_points(self, provider: str, org: str, endpoint: str,
                     points: Mapping[float, str]) -> None:
        """Keep what a past read brought (time -> families as JSON), replacing what was
        kept for those times, in one transaction."""
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO history_points VALUES (?,?,?,?,?)",
                           ((provider, org, endpoint, at, f) for at, f in points.items()))


class RequestTimes:
    """One provider entry's last request per rate bucket, in the state file: what the
    HTTP client needs to keep a vendor's limit across processes (its PacingMemory)."""

    def __init__(self, store: StateStore, provider: str, org: str) -> None:
        self._store, self._provider, self._org = store, provider, org

    def last_requests(self) -> dict[str, float]:
        return self._store.last_requests(self._provider, self._org)

    def note_request(self, bucket: str, at: float) -> None:
        self._store.note_request(self._provider, self._org, bucket, at)


class SeriesStarts:
    """When each persisted counter series first existed (OTLP start times), kept next to
    its value so a restart is not read as a counter reset. Implements the OTLP pusher's
    StartTimes: unknown series are recorded at `now`, many per transaction."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def start_of(self, metric_name: str, labels: tuple[tuple[str, str], ...],
                 now: float) -> float:
        return self.starts_of([(metric_name, labels)], now)[0]

    def starts_of(self, series: Sequence[tuple[str, tuple[tuple[str, str], ...]]],
                  now: float) -> list[float]:
        keys = [(m, json.dumps(list(lbl))) for m, lbl in series]
        with self._store._tx() as db:
            db.executemany("INSERT OR IGNORE INTO series_start VALUES (?,?,?)",
                           ((m, lbl, now) for m, lbl in keys))
            return [db.execute("SELECT start FROM series_start WHERE metric=? AND labels=?",
                               key).fetchone()[0] for key in keys]


def _repair(db: sqlite3.Connection) -> dict[str, int]:
    """Rewrite counter labels, users and ids holding text UTF-8 cannot encode (written by
    versions that did not clean vendor strings): such a character becomes U+FFFD, and two
    series (or users, ids) that become the same are merged (values added, the later id
    time kept). Reads the text as bytes, so even invalid UTF-8 in the file is found.
    Labels are JSON with \\uXXXX escapes, so only rows with an escape or a non-ASCII byte
    are decoded; of `seen`, only ids with an ED byte (how a surrogate is stored in UTF-8
    form) are."""
    fixed = {"counters": 0, "users": 0, "ids": 0}
    rows = db.execute(
        "SELECT CAST(provider AS BLOB), CAST(org AS BLOB), CAST(metric AS BLOB), "
        "CAST(labels AS BLOB), value FROM counters WHERE instr(labels, '\\u') > 0 "
        "OR instr(CAST(labels AS BLOB), X'ED') > 0").fetchall()
    for p, o, m, raw, value in rows:
        try:
            labels = json.loads(_text(raw) if _undecodable(raw) else raw.decode("utf-8"))
        except ValueError:
            continue
        if not isinstance(labels, list):
            continue
        clean = [_clean(v) if isinstance(v, str) else v for v in labels]
        if clean == labels and not _undecodable(raw):
            continue
        new = json.dumps(clean)  # as commit() writes them
        fixed["counters"] += 1
        db.execute("DELETE FROM counters WHERE CAST(provider AS BLOB)=? AND "
                   "CAST(org AS BLOB)=? AND CAST(metric AS BLOB)=? AND CAST(labels AS BLOB)=?",
                   (p, o, m, raw))
        db.execute("INSERT INTO counters VALUES (?,?,?,?,?) ON CONFLICT (provider, org, "
                   "metric, labels) DO UPDATE SET value = value + excluded.value",
                   (_text(p), _text(o), _text(m), new, value))
    for p, o, label in db.execute(
            "SELECT CAST(provider AS BLOB), CAST(org AS BLOB), CAST(label AS BLOB) "
            "FROM users").fetchall():
        if not _undecodable(label):
            continue
        fixed["users"] += 1
        db.execute("DELETE FROM users WHERE CAST(provider AS BLOB)=? AND CAST(org AS BLOB)=? "
                   "AND CAST(label AS BLOB)=?", (p, o, label))
        db.execute("INSERT OR IGNORE INTO users VALUES (?,?,?)",
                   (_text(p), _text(o), _text(label)))
    for p, o, st, i, ts in db.execute(
            "SELECT CAST(provider AS BLOB), CAST(org AS BLOB), CAST(stream AS BLOB), "
            "CAST(id AS BLOB), ts FROM seen WHERE instr(CAST(id AS BLOB), X'ED') > 0"
            ).fetchall():
        if not _undecodable(i):
            continue
        fixed["ids"] += 1
        db.execute("DELETE FROM seen WHERE CAST(provider AS BLOB)=? AND CAST(org AS BLOB)=? "
                   "AND CAST(stream AS BLOB)=? AND CAST(id AS BLOB)=?", (p, o, st, i))
        db.execute("INSERT INTO seen VALUES (?,?,?,?,?) ON CONFLICT (provider, org, stream, "
                   "id) DO UPDATE SET ts = max(ts, excluded.ts)",
                   (_text(p), _text(o), _text(st), _text(i), ts))
    return fixed

