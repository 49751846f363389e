"""Teams: which team(s) a record's user belongs to, from a user-to-team CSV.

The CSV has a header row naming a `team` column and at least one of `email` and
`user_id` (names case-insensitive, other columns ignored). A record matches a row by
e-mail (case-insensitive) or by user id (exact); a user in several rows counts in each of
their teams, a user in none counts in the `unassigned` team. Every problem in the file is
a ConfigError naming the file, the line and the column.

TeamMapSource keeps the map in force: `refresh()` re-reads the file when its content
changed; a broken new version keeps the previous map (logged once, `load_ok` 0).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aicode_exporter.config.teams import DEFAULT_UNASSIGNED, control_char
from aicode_exporter.errors import ConfigError
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.toolkit.reload import Reloading

logger = logging.getLogger(__name__)

TEAM, EMAIL, USER_ID = "team", "email", "user_id"
KNOWN_COLUMNS = (TEAM, EMAIL, USER_ID)

MAP_ROWS = Spec("aicode_teams_map_rows", "gauge",
                "Rows (distinct user-to-team entries) of the teams map in use.", ())
MAP_LAST_LOAD = Spec("aicode_teams_map_last_load_timestamp_seconds", "gauge",
                     "Unix time the teams map in use was loaded from teams.file.", ())
MAP_LOAD_OK = Spec("aicode_teams_map_load_ok", "gauge",
                   "1 if teams.file as it is on disk is in use, 0 while it is broken "
                   "(the previous teams map stays in use; see the log).", ())
SPECS = (MAP_ROWS, MAP_LAST_LOAD, MAP_LOAD_OK)


def _bad_label(value: str) -> str | None:
    """Why `value` cannot be a team label value, or None."""
    if not value:
        return "empty team name"
    ch = control_char(value)
    return f"team name {value!r} contains a control character ({ch})" if ch else None


@dataclass(frozen=True, slots=True)
class TeamMap:
    """Immutable: swapped whole on reload, so lookups need no lock."""

    unassigned: str = DEFAULT_UNASSIGNED
    by_email: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lower-cased e-mail
    by_id: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: int = 0  # distinct (team, email, user_id) rows
    teams: tuple[str, ...] = ()  # sorted
    digest: str = ""  # sha256 of the file's bytes

    def teams_for(self, user_id: str, email: str) -> tuple[str, ...]:
        """Sorted teams of the user, matched by id or e-mail; `(unassigned,)` if none."""
        by_id = self.by_id.get(user_id.strip(), ()) if user_id else ()
        by_email = self.by_email.get(email.strip().lower(), ()) if email else ()
        if not by_email:
            return by_id or (self.unassigned,)
        if not by_id or by_id == by_email:
            return by_email
        return tuple(sorted(set(by_id) | set(by_email)))


def _has_surrogate(s: str) -> int:
    """Index of the first undecodable byte (surrogateescape) in s, or -1."""
    for i, ch in enumerate(s):
        if "\udc80" <= ch <= "\udcff":
            return i
    return -1


def _locate_quote_error(text: str) -> tuple[int, int, str] | None:
    """(line, field index, problem) of the first quoting error, scanning like csv's
    default dialect in strict mode; None when the quoting is fine."""
    line, fld, i, n = 1, 0, 0, len(text)
    at_start = True
    while i < n:
        c = text[i]
        if at_start and c == '"':
            opened, i = line, i + 1
            while True:
                if i >= n:
                    return opened, fld, "a quote opened here is never closed"
                c = text[i]
                if c == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        i += 2
                        continue
                    i += 1
                    break
                if c == "\n" or (c == "\r" and not (i + 1 < n and text[i + 1] == "\n")):
                    line += 1
                i += 1
            if i < n and text[i] not in ",\r\n":
                return line, fld, ("text after the closing quote of a quoted value "
                                   '(write a quote inside a quoted value as "")')
            at_start = False
            continue
        if c == ",":
            fld, at_start = fld + 1, True
        elif c in "\r\n":
            if c == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            line, fld, at_start = line + 1, 0, True
        else:
            at_start = False
        i += 1
    return None


def _add(index: dict[str, tuple[str, ...]], key: str, team: str) -> None:
    """Add team to index[key], a sorted tuple (a user is in few teams)."""
    cur = index.get(key)
    if cur is None:
        index[key] = (team,)
    elif team not in cur:
        index[key] = tuple(sorted((*cur, team)))


class _Parser:
    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.header: list[str] = []
        self.header_line = 0  # 0 until the header row is read

    def fail(self, line: int, col: int | str | None, problem: str) -> ConfigError:
        where = f"line {line}"
        if isinstance(col, str):
            where += f", column {col}"
        elif col is not None:
            after = self.header_line and line > self.header_line
            name = self.header[col] if after and col < len(self.header) else ""
            where += f", column {col + 1}" + (f" ({name})" if name else "")
        return ConfigError(f"{self.path}: {where}: {problem}")

    def column(self, index: int, line: int) -> int | str:
        """A known column by name, any other by number (fail() adds its header name)."""
        after = self.header_line and line > self.header_line
        name = self.header[index] if after and index < len(self.header) else ""
        return name if name in KNOWN_COLUMNS else index

    def parse(self, data: bytes, unassigned: str) -> TeamMap:
        digest = hashlib.sha256(data).hexdigest()
        utf8 = True
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            utf8 = False
            text = data.decode("utf-8-sig", errors="surrogateescape")
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        seen: set[tuple[str, str, str]] = set()
        by_email: dict[str, tuple[str, ...]] = {}
        by_id: dict[str, tuple[str, ...]] = {}
        teams: set[str] = set()  # checked team names
        idx: dict[str, int] = {}
        ti = ei = ui = -1
        start = 1
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                found = _locate_quote_error(text)
                if found:
                    line, col, problem = found
                    raise self.fail(line, self.column(col, line), problem) from None
                raise self.fail(start, None, f"malformed CSV: {e}") from None
            if not utf8:
                for i, value in enumerate(row):
                    at = _has_surrogate(value)
                    if at >= 0:
                        byte = ord(value[at]) - 0xDC00
                        raise self.fail(start, self.column(i, start),
                                        f"not UTF-8 (byte 0x{byte:02x}); save the file as "
                                        "UTF-8") from None
            if not "".join(row).strip():
                continue  # blank line
            if not idx:
                idx = self._read_header(row, start)
                self.header_line = start
                ti, ei, ui = idx[TEAM], idx.get(EMAIL, -1), idx.get(USER_ID, -1)
                continue
            n = len(row)
            if n > len(self.header):
                raise self.fail(start, len(self.header),
                                f"{n} values but the header has {len(self.header)} "
                                "columns (quote a value that contains a comma)")
            team = row[ti].strip() if ti < n else ""
            email = row[ei].strip().lower() if 0 <= ei < n else ""
            uid = row[ui].strip() if 0 <= ui < n else ""
            if team not in teams:
                bad = _bad_label(team)
                if bad:
                    raise self.fail(start, TEAM, bad)
                if team == unassigned:  # its members would merge with users in no row
                    raise self.fail(start, TEAM, f"team {team!r} is the label of users "
                                    "in no row (teams.unassigned): rename one of them")
            if not email and not uid:
                cols = [k for k in (EMAIL, USER_ID) if k in idx]
                raise self.fail(start, " or ".join(cols),
                                f"no {' and no '.join(cols)} for team {team!r}")
            key = (team, email, uid)
            if key in seen:
                continue
            seen.add(key)
            teams.add(team)
            if email:
                _add(by_email, email, team)
            if uid:
                _add(by_id, uid, team)
        if not idx:
            raise self.fail(1, None, "empty file: expected a header row with a team "
                            "column and an email and/or user_id column")
        return TeamMap(unassigned=unassigned, by_email=by_email, by_id=by_id,
                       rows=len(seen), teams=tuple(sorted(teams)), digest=digest)

    def _read_header(self, row: list[str], line: int) -> dict[str, int]:
        self.header = [c.strip().lower() for c in row]
        idx: dict[str, int] = {}
        for i, name in enumerate(self.header):
            if name in KNOWN_COLUMNS:
                if name in idx:
                    raise self.fail(line, f"{i + 1} ({name})",
                                    f"duplicate column {name} (also column {idx[name] + 1})")
                idx[name] = i
        found = ", ".join(repr(h) for h in self.header)
        if TEAM not in idx:
            raise self.fail(line, TEAM, f"required column is missing from the header row "
                            f"(found {found})")
        if EMAIL not in idx and USER_ID not in idx:
            raise self.fail(line, "email/user_id", "the header row needs an email or a "
                            f"user_id column, or both (found {found})")
        return idx


def parse_team_map(data: bytes, path: Path | str,
                   unassigned: str = DEFAULT_UNASSIGNED) -> TeamMap:
    """The map in `data` (the bytes of the file `path`, which only names it in errors)."""
    return _Parser(path).parse(data, unassigned)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read teams file: {e.strerror or e}") from None


def load_team_map(path: Path | str, unassigned: str = DEFAULT_UNASSIGNED) -> TeamMap:
    """Read and parse the CSV; every failure is a ConfigError naming file, line, column."""
    p = Path(path)
    return parse_team_map(_read(p), p, unassigned)


class TeamMapSource:
    """The teams map in force for `path`. Built with a broken file it raises ConfigError
    (fatal at start); later, `refresh()` swaps in a changed file and keeps the previous
    map when the new one is broken (toolkit/reload.py). Refresh from one thread, look up
    from any."""

    def __init__(self, path: Path | str, unassigned: str = DEFAULT_UNASSIGNED, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.unassigned = unassigned
        self._source = Reloading(
            "teams map", lambda: load_team_map(self.path, unassigned),
            lambda _m: (self.path,), errors=(ConfigError,), wall=clock,
            describe=lambda m: {"path": str(self.path), "rows": m.rows,
                                "teams": len(m.teams)})

    @property
    def map(self) -> TeamMap:
        return self._source.value

    @property
    def broken(self) -> bool:
        return not self._source.status().ok

    def teams_for(self, user_id: str, email: str) -> tuple[str, ...]:
        return self.map.teams_for(user_id, email)

    def refresh(self) -> bool:
        """Re-read the file if it changed; True when a new map was swapped in."""
        return self._source.refresh()

    def families(self) -> Iterable[Family]:
        m, status = self._source.value, self._source.status()
        loaded_at, ok = status.loaded_at, status.ok
        return (MAP_ROWS.family([((), float(m.rows))]),
                MAP_LAST_LOAD.family([((), loaded_at)]),
                MAP_LOAD_OK.family([((), 1.0 if ok else 0.0)]))
