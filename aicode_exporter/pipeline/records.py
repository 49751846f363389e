"""What a record stream counts. Every record kind (a commit, an accepted change, a usage
event...) answers the same questions, so one stream job (streams.py) counts them all
exactly once: which keys identify it (`lookups`, `identify`), whether its numbers can be
counted (`invalid_reason`), its times (`ts`, `latest_time`) and the counter increments it
makes (`increments`, `team_increments`). Commits and changes, the AI Code Tracking
records every tracking vendor shares, live here; a record kind only one vendor has lives
in that vendor's folder and implements the same protocol."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.labels import normalize_extension, or_unknown

OTHER_USER = "__other__"
Add = Callable[[str, tuple[str, ...], float], None]  # metric, labels after base, delta

# The most lines one record may add to a counter. A real commit or accepted change stays
# far below (the largest vendored or generated commits are in the millions of lines); a
# value above this is a broken answer (1.8e308 in a CSV, a negative number read unsigned),
# and counting it would push the counter out of any useful range, or to +Inf, for good.
MAX_LINES_PER_RECORD = 1e9


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str = ""
    name: str = ""


class Seen(Protocol):
    """What the ids table (plus the slice's own pending writes) can say."""

    def has(self, key: str) -> bool: ...

    def has_prefix(self, prefix: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Identity:
    duplicate: bool
    keys: tuple[str, ...] = ()  # to remember (if the record counts, or always for dups)
    drop: tuple[str, ...] = ()  # to forget (a no-branch key taken by a named branch)


class StreamRecord(Protocol):
    """One record of a stream, whatever its kind."""

    @property
    def ts(self) -> float:
        """Event time: what aicode_newest_record_timestamp_seconds shows."""

    @property
    def user(self) -> User: ...

    def record_id(self) -> str:
        """How a log line names the record."""

    def latest_time(self) -> float:
        """The latest of the record's times a vendor may filter a read on: the record is
        out of a read's window only if this is before it, and its keys are kept until
        no read can return it."""

    def lookups(self) -> tuple[list[str], list[str]]:
        """(exact keys, prefixes) `identify` will likely ask about, fetched in bulk first
        (it may ask about others in rare cases)."""

    def identify(self, seen: Seen) -> Identity:
        """Is this sighting a record already counted; which keys to remember either way."""

    def invalid_reason(self) -> str | None:
        """Why the record cannot be counted (a number that is not a count), or None. A
        record is counted whole or not at all."""

    def increments(self, add: Add, user: str | None) -> None:
        """The counter increments this record makes (`user`: the per-user label, when
        per-user counters are on)."""

    def team_increments(self, add: Add, teams: Sequence[str]) -> None:
        """The per-team increments, for each team of the record's user."""


def whole(v: float) -> float:
    """A vendor's line count as counted: truncated to a whole number when finite; NaN and
    infinities are kept as they are, for `invalid_reason` to refuse."""
    if isinstance(v, float) and v.is_integer():  # nearly always: nothing to do
        return v
    return float(math.trunc(v)) if math.isfinite(v) else v


def bad_count(values: Iterable[tuple[str, float]], limit: float = MAX_LINES_PER_RECORD,
              what: str = "line count") -> str | None:
    """The first (field, value) whose value is not a finite number in 0..limit, said."""
    for name, v in values:
        if not (math.isfinite(v) and 0 <= v <= limit):
            return f"{name} is {v!r}, not a {what} in 0..{limit:g}"
    return None


class IdRecord:
    """A record identified by one id the vendor gives (or the mapping builds): the same
    id is the same record."""

    __slots__ = ()
    id: str

    def record_id(self) -> str:
        return self.id

    def lookups(self) -> tuple[list[str], list[str]]:
        return [self.id], []

    def identify(self, seen: Seen) -> Identity:
        return Identity(seen.has(self.id), (self.id,))


@dataclass(frozen=True, slots=True)
class Change(IdRecord):
    """An accepted AI change in the IDE (Qoder's and Cursor's tracking `changes`)."""

    id: str
    ts: float  # event time
    created: float
    source: str
    model: str
    user: User
    added: float
    deleted: float
    files: tuple[tuple[str, float, float], ...]  # (extension, added, deleted)

    def latest_time(self) -> float:
        return max(self.ts, self.created)

    def invalid_reason(self) -> str | None:
        values = [("totalLinesAdded", self.added), ("totalLinesDeleted", self.deleted)]
        values += [(f"metadata[{i}].linesAdded", a) for i, (_, a, _) in enumerate(self.files)]
        values += [(f"metadata[{i}].linesDeleted", d)
                   for i, (_, _, d) in enumerate(self.files)]
        return bad_count(values)

    def increments(self, add: Add, user: str | None) -> None:
        """aicode_changes_total{model="efficient",org="acme",provider="qoder",source="agent"} +1
        aicode_change_file_lines_added_total{extension=".go",org="acme",provider="qoder",source="agent"} +30"""
        source = or_unknown(self.source).lower()
        model = or_unknown(self.model)
        add(catalog.CHANGES.name, (source, model), 1)
        add(catalog.CHANGE_LINES_ADDED.name, (source, model), self.added)
        add(catalog.CHANGE_LINES_DELETED.name, (source, model), self.deleted)
        for ext, added, deleted in self.files:
            e = normalize_extension(ext)
            add(catalog.CHANGE_FILE_LINES_ADDED.name, (source, e), added)
            add(catalog.CHANGE_FILE_LINES_DELETED.name, (source, e), deleted)
        if user is not None:
            add(catalog.USER_CHANGES.name, (user, source), 1)

    def team_increments(self, add: Add, teams: Sequence[str]) -> None:
        """aicode_team_changes_total{org="acme",provider="cursor",source="tab",team="unassigned"} +1"""
        source = or_unknown(self.source).lower()
        for team in teams:
            add(catalog.TEAM_CHANGES.name, (team, source), 1)
            add(catalog.TEAM_CHANGE_LINES_ADDED.name, (team, source), self.added)


# -- commits: when two sightings are one record ------------------------------------------
#
# A commit is its commitHash (not the repository: a renamed repository, or Cursor's older
# records without repoName, must not count a commit again) plus its branch, by these rules:
#
# * The same hash on the same non-empty branch is one record (re-ingested, re-read).
# * The same hash on two different non-empty branches is two records (a feature-branch
#   commit fast-forwarded onto main is reported once per branch, ingested at another time
#   and with another isPrimaryBranch), unless both sightings carry the same vendor
#   ingestion time (createdAt) and the same isPrimaryBranch: then it is one record whose
#   branchName the vendor changed, and it counts once.
# * A null or empty branch is "the branch is not known": it matches any record of the
#   same hash. Seen after the hash was counted on a named branch, it is a duplicate; seen
#   first, it counts, and the first named-branch sighting after it is that same record
#   (it takes the branch; a further, different named branch is a second record again) -
#   unless their createdAt and isPrimaryBranch say they are two ingestions.
#
# Keys kept in the seen-ids table (those of the first two kinds are the ones the exporter
# always used, so older state files keep de-duplicating):
#   "<hash>\x1f<branch>"   counted (or claimed) on that branch
#   "<hash>\x1f"           counted with no branch, not yet claimed by a named branch
#   "<hash>\x1e<ms>\x1e<p>" a sighting with that createdAt and isPrimaryBranch counted


def _branch_key(h: str, branch: str) -> str:
    return f"{h}\x1f{branch}"


def key_prefix(key: str) -> str | None:
    """The prefix `Seen.has_prefix` is asked about that `key` falls under, if any."""
    for sep in ("\x1f", "\x1e"):
        head, found, _ = key.partition(sep)
        if found:
            return head + sep
    return None


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit with its lines split by the tool and mode that wrote them (Qoder's and
    Cursor's tracking `commits`)."""

    hash: str
    branch: str
    repo: str
    primary: bool | None
    ts: float  # commit time (ingestion time when the vendor has none)
    created: float  # ingestion time (the time we read it when the vendor has none)
    user: User
    lines: tuple[tuple[str, float, float], ...]  # (source, added, deleted)
    ingested: float | None = None  # the vendor's own ingestion time (createdAt), if sent

    def record_id(self) -> str:
        return f"{self.hash}@{self.branch}"

    def latest_time(self) -> float:
        return max(self.ts, self.created)

    def invalid_reason(self) -> str | None:
        values = [(f"{s}LinesAdded", a) for s, a, _ in self.lines]
        values += [(f"{s}LinesDeleted", d) for s, _, d in self.lines]
        return bad_count(values)

    def _ingest_key(self) -> tuple[str, ...]:
        if self.ingested is None:
            return ()
        return (f"{self.hash}\x1e{round(self.ingested * 1000)}\x1e{self.primary}",)

    def lookups(self) -> tuple[list[str], list[str]]:
        h = self.hash
        keys = [_branch_key(h, ""), *self._ingest_key()]
        if self.branch.strip():
            return [*keys, _branch_key(h, self.branch)], []
        return keys, [_branch_key(h, "")]

    def identify(self, seen: Seen) -> Identity:
        h = self.hash
        nobranch = _branch_key(h, "")
        ingest = self._ingest_key()
        if not self.branch.strip():
            if seen.has_prefix(nobranch):  # counted on some branch, or with none
                return Identity(True)
            return Identity(False, (nobranch, *ingest))
        named = _branch_key(h, self.branch)
        if seen.has(named):
            return Identity(True, ingest)
        claim = seen.has(nobranch)  # the hash was counted first without a branch
        drop = (nobranch,) if claim else ()
        if ingest and seen.has(ingest[0]):
            # Same ingestion and kind of branch, another branchName: the vendor relabelled
            # one record. Its new branch is not remembered unless it takes over a no-branch
            # key, so a real second record on that branch (another ingestion) still counts.
            return Identity(True, (named,) if claim else (), drop)
        if claim and not (ingest and seen.has_prefix(f"{h}\x1e")):
            # Nothing says the no-branch record was another ingestion: this is that record.
            return Identity(True, (named, *ingest), drop)
        return Identity(False, (named, *ingest))

    def increments(self, add: Add, user: str | None) -> None:
        """aicode_commits_total{org="acme",primary_branch="true",provider="qoder",repo="my-project"} +1
        aicode_commit_lines_added_total{org="acme",provider="qoder",repo="my-project",source="ide_agent"} +50"""
        repo = or_unknown(self.repo)
        primary = "unknown" if self.primary is None else str(self.primary).lower()
        add(catalog.COMMITS.name, (repo, primary), 1)
        for source, added, deleted in self.lines:
            add(catalog.COMMIT_LINES_ADDED.name, (repo, source), added)
            add(catalog.COMMIT_LINES_DELETED.name, (repo, source), deleted)
            if user is not None:
                add(catalog.USER_COMMIT_LINES_ADDED.name, (user, source), added)

    def team_increments(self, add: Add, teams: Sequence[str]) -> None:
        """aicode_team_commit_lines_added_total{org="acme",provider="qoder",source="ide_agent",team="payments"} +50"""
        for team in teams:
            add(catalog.TEAM_COMMITS.name, (team,), 1)
            for source, added, _ in self.lines:
                add(catalog.TEAM_COMMIT_LINES_ADDED.name, (team, source), added)
