"""SQLite state: de-dup ids, counter totals, watermarks, admitted users.

Exactly-once counting rests on one rule: everything a slice of a stream taught us (new
ids, counter deltas, the new watermark) is written in ONE transaction. A crash before the
commit loses that slice only, which the next run re-reads from the committed watermark
and counts then; a crash after it has nothing left to do. Reads during the poll (is this id new?)
take no write lock, so a slow, rate-limited poll never blocks another provider's commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from exporter.errors import ConfigError

SCHEMA_VERSION = 2
CounterKey = tuple[str, tuple[str, ...]]  # metric name, label values after (provider, org)

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
"""

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
    deltas: dict[CounterKey, float] = field(default_factory=dict)
    new_users: set[str] = field(default_factory=set)
    watermark: float | None = None  # moves forward only
    newest_record: float | None = None
    deep: tuple[float | None, float | None] | None = None  # (deep_last, deep_resume) to set

    def add(self, metric: str, labels: tuple[str, ...], delta: float) -> None:
        key = (metric, labels)
        self.deltas[key] = self.deltas.get(key, 0.0) + delta


@dataclass(frozen=True)
class StreamState:
    watermark: float | None = None
    newest_record: float | None = None
    deep_last: float | None = None  # when the last deep re-read started
    deep_resume: float | None = None  # where the running deep re-read has got to


class StateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as e:
            raise ConfigError(f"state_path: cannot open {self.path!r}: {e}") from None
        self._lock = threading.Lock()
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

    def counters(self, provider: str, org: str) -> dict[CounterKey, float]:
        with self._lock:
            rows = self._db.execute(
                "SELECT metric, labels, value FROM counters WHERE provider=? AND org=?",
                (provider, org)).fetchall()
        return {(m, tuple(json.loads(lbl))): v for m, lbl, v in rows}

    # -- the one write of a poll --------------------------------------------------------

    def commit(self, batch: PollBatch, *, prune_before: float | None = None) -> StreamState:
        """Write the batch in one transaction; return the stream's state after it."""
        p, o, s = batch.vendor, batch.org, batch.stream
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO seen VALUES (?,?,?,?,?)",
                           ((p, o, s, i, ts) for i, ts in batch.new_ids.items()))
            db.executemany(
                "INSERT INTO counters VALUES (?,?,?,?,?) ON CONFLICT (provider, org, metric, "
                "labels) DO UPDATE SET value = value + excluded.value",
                ((p, o, m, json.dumps(list(lbl)), d) for (m, lbl), d in batch.deltas.items()))
            db.executemany("INSERT OR IGNORE INTO users VALUES (?,?,?)",
                           ((p, o, u) for u in batch.new_users))
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
            if prune_before is not None:
                db.execute("DELETE FROM seen WHERE provider=? AND org=? AND stream=? AND ts<?",
                           (p, o, s, prune_before))
            row = db.execute(f"SELECT {_STREAM_COLS} FROM streams WHERE provider=? AND org=? "
                             "AND stream=?", (p, o, s)).fetchone()
        return StreamState(*row)

