"""Per-UTC-day rollups behind Qoder's AI Code Metrics, computed from the tracking records.

Because the aggregates come from the same records the tracking endpoints list, they agree
with them: an overview equals the sum of its daily-trend days, a repository's commitCount
equals its commits in the tracking list, and so on.

A day whose records are all visible is rolled up once and cached. A day still receiving
records (today, and yesterday while late arrivals are possible) keeps its per-record facts
instead and is re-aggregated with the current time as cutoff on each query.

Aggregation rules (the vendor does not spell them out):
* a metrics range covers whole UTC days, from the day of start_date to the day of end_date;
* commits count once: the main-branch copy of a fast-forwarded feature commit is only
  counted with primary_branch_only=true, where the feature-branch original is not;
* file_extensions narrows line counts (commits and changes) but not commitCount.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from aicode_sim.index import RecordIndex
from aicode_sim.qoder.data import ChangeFact, CommitFact, QoderChanges, QoderCommits

CommitKey = tuple[int, int, bool, bool]  # (user, repo, primary, main-branch copy)


@dataclass
class DayRollup:
    # (user, repo, primary, copy) -> [commits, added, deleted, ai_added, ai_deleted]
    commits: dict[CommitKey, list[int]] = field(default_factory=dict)
    # (user, repo, primary, copy, ext) -> [0, added, deleted, ai_added, ai_deleted]
    commit_exts: dict[tuple[int, int, bool, bool, str], list[int]] = field(default_factory=dict)
    # (user, source) -> [changes, added, deleted, suggested, messages]
    changes: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    # (user, source, ext) -> [changes, added, deleted, suggested, messages]
    change_exts: dict[tuple[int, int, str], list[int]] = field(default_factory=dict)


class Filters(NamedTuple):
    user: int | None = None
    repo: int | None = None
    primary_only: bool = False
    exts: frozenset[str] | None = None


class CommitSums(NamedTuple):
    user: int
    repo: int
    commits: int
    added: int
    deleted: int
    ai_added: int
    ai_deleted: int


class ChangeSums(NamedTuple):
    user: int
    source: int
    changes: int
    added: int
    deleted: int
    suggested: int
    messages: int


def _add(target: list[int], values: Iterable[int]) -> None:
    for i, value in enumerate(values):
        target[i] += value


def build_rollup(
    commits: Iterable[CommitFact], changes: Iterable[ChangeFact], cutoff_ms: int
) -> DayRollup:
    rollup = DayRollup()
    for c in commits:
        if c.ingest_ms > cutoff_ms:
            continue
        key = (c.user, c.repo, c.primary, c.copy)
        _add(
            rollup.commits.setdefault(key, [0] * 5),
            (1, c.added, c.deleted, c.ai_added, c.ai_deleted),
        )
        for ext, added, deleted, ai_added, ai_deleted in c.exts:
            _add(
                rollup.commit_exts.setdefault((*key, ext), [0] * 5),
                (0, added, deleted, ai_added, ai_deleted),
            )
    for ch in changes:
        if ch.ingest_ms > cutoff_ms:
            continue
        values = (1, ch.added, ch.deleted, ch.suggested, ch.messages)
        _add(rollup.changes.setdefault((ch.user, ch.source), [0] * 5), values)
        for ext, added, deleted in ch.exts:
            _add(
                rollup.change_exts.setdefault((ch.user, ch.source, ext), [0] * 5),
                (1, added, deleted, ch.suggested, ch.messages),
            )
    return rollup


def _commit_wanted(user: int, repo: int, primary: bool, copy: bool, f: Filters) -> bool:
    if f.user is not None and user != f.user:
        return False
    if f.repo is not None and repo != f.repo:
        return False
    return primary if f.primary_only else not copy


def commit_sums(rollup: DayRollup, f: Filters) -> Iterator[CommitSums]:
    """Filtered commit totals; with an extension filter, counts and lines come separately."""
    for (user, repo, primary, copy), v in rollup.commits.items():
        if _commit_wanted(user, repo, primary, copy, f):
            if f.exts is None:
                yield CommitSums(user, repo, v[0], v[1], v[2], v[3], v[4])
            else:
                yield CommitSums(user, repo, v[0], 0, 0, 0, 0)
    if f.exts is not None:
        for (user, repo, primary, copy, ext), v in rollup.commit_exts.items():
            if ext in f.exts and _commit_wanted(user, repo, primary, copy, f):
                yield CommitSums(user, repo, 0, v[1], v[2], v[3], v[4])


def commit_ext_sums(rollup: DayRollup, f: Filters) -> Iterator[tuple[str, list[int]]]:
    """(extension, [0, added, deleted, ai_added, ai_deleted]) per filtered key."""
    for (user, repo, primary, copy, ext), v in rollup.commit_exts.items():
        if (f.exts is None or ext in f.exts) and _commit_wanted(user, repo, primary, copy, f):
            yield ext, v


def change_sums(rollup: DayRollup, f: Filters) -> Iterator[ChangeSums]:
    if f.exts is None:
        for (user, source), v in rollup.changes.items():
            if f.user is None or user == f.user:
                yield ChangeSums(user, source, v[0], v[1], v[2], v[3], v[4])
        return
    for (user, source, ext), v in rollup.change_exts.items():
        if ext in f.exts and (f.user is None or user == f.user):
            yield ChangeSums(user, source, v[0], v[1], v[2], v[3], v[4])


def change_ext_sums(rollup: DayRollup, f: Filters) -> Iterator[tuple[str, list[int]]]:
    for (user, _source, ext), v in rollup.change_exts.items():
        if (f.exts is None or ext in f.exts) and (f.user is None or user == f.user):
            yield ext, v


class Rollups:
    """Day rollups for Qoder, cached for complete days, fact lists kept for partial ones."""

    def __init__(
        self,
        commits: RecordIndex[QoderCommits],
        changes: RecordIndex[QoderChanges],
        *,
        max_days: int = 400,
        max_partial_days: int = 3,
    ) -> None:
        self._commits = commits
        self._changes = changes
        self._complete: OrderedDict[int, DayRollup] = OrderedDict()
        self._partial: OrderedDict[int, tuple[list[CommitFact], list[ChangeFact]]] = OrderedDict()
        self._max_days = max_days
        self._max_partial = max_partial_days
        self._lock = threading.Lock()

    def day(self, day: int, now_ms: int) -> DayRollup:
        """Rollup of one UTC day as visible at now_ms (empty outside the data window)."""
        first, today = self._commits.window(now_ms)
        if not first <= day <= today:
            return DayRollup()
        commit_bucket = self._commits.bucket(day, first)
        change_bucket = self._changes.bucket(day, first)
        complete = max(commit_bucket.max_ingest, change_bucket.max_ingest) <= now_ms
        with self._lock:
            if complete:
                found = self._complete.get(day)
                if found is not None:
                    self._complete.move_to_end(day)
                    return found
            facts = self._partial.get(day)
            if facts is None:
                facts = (
                    [
                        self._commits.stream.fact(commit_bucket.ref(p))
                        for p in range(len(commit_bucket))
                    ],
                    [
                        self._changes.stream.fact(change_bucket.ref(p))
                        for p in range(len(change_bucket))
                    ],
                )
            rollup = build_rollup(facts[0], facts[1], now_ms)
            if complete:
                self._partial.pop(day, None)
                self._complete[day] = rollup
                while len(self._complete) > self._max_days:
                    self._complete.popitem(last=False)
            else:
                self._partial[day] = facts
                self._partial.move_to_end(day)
                while len(self._partial) > self._max_partial:
                    self._partial.popitem(last=False)
            return rollup
