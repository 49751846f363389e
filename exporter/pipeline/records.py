"""Vendor-neutral tracking records and the pure function that turns one into counter
increments. Both vendors' mappings produce these, so both count the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exporter.expose import catalog
from exporter.pipeline.labels import normalize_extension, or_unknown

OTHER_USER = "__other__"
Add = Callable[[str, tuple[str, ...], float], None]  # metric, labels after base, delta


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Commit:
    hash: str
    branch: str
    repo: str
    primary: bool | None
    ts: float  # commit time (ingestion time when the vendor has none)
    created: float  # ingestion time
    user: User
    lines: tuple[tuple[str, int, int], ...]  # (source, added, deleted)

    @property
    def key(self) -> str:
        # Identity is (commitHash, branchName): the same commit on two branches is two
        # records, the same commit re-ingested is one.
        return f"{self.hash}\x1f{self.branch}"


@dataclass(frozen=True, slots=True)
class Change:
    id: str
    ts: float  # event time
    created: float
    source: str
    model: str
    user: User
    added: int
    deleted: int
    files: tuple[tuple[str, int, int], ...]  # (extension, added, deleted)

    @property
    def key(self) -> str:
        return self.id


Record = Commit | Change


def commit_increments(c: Commit, add: Add, user: str | None) -> None:
    """aicode_commits_total{org="acme",primary_branch="true",provider="qoder",repo="my-project"} +1
    aicode_commit_lines_added_total{org="acme",provider="qoder",repo="my-project",source="ide_agent"} +50"""
    repo = or_unknown(c.repo)
    primary = "unknown" if c.primary is None else str(c.primary).lower()
    add(catalog.COMMITS.name, (repo, primary), 1)
    for source, added, deleted in c.lines:
        add(catalog.COMMIT_LINES_ADDED.name, (repo, source), added)
        add(catalog.COMMIT_LINES_DELETED.name, (repo, source), deleted)
        if user is not None:
            add(catalog.USER_COMMIT_LINES_ADDED.name, (user, source), added)


def change_increments(c: Change, add: Add, user: str | None) -> None:
    """aicode_changes_total{model="efficient",org="acme",provider="qoder",source="agent"} +1
    aicode_change_file_lines_added_total{extension=".go",org="acme",provider="qoder",source="agent"} +30"""
    source = or_unknown(c.source).lower()
    model = or_unknown(c.model)
    add(catalog.CHANGES.name, (source, model), 1)
    add(catalog.CHANGE_LINES_ADDED.name, (source, model), c.added)
    add(catalog.CHANGE_LINES_DELETED.name, (source, model), c.deleted)
    for ext, added, deleted in c.files:
        e = normalize_extension(ext)
        add(catalog.CHANGE_FILE_LINES_ADDED.name, (source, e), added)
        add(catalog.CHANGE_FILE_LINES_DELETED.name, (source, e), deleted)
    if user is not None:
        add(catalog.USER_CHANGES.name, (user, source), 1)


def increments(rec: Record, add: Add, user: str | None) -> None:
    if isinstance(rec, Commit):
        commit_increments(rec, add, user)
    else:
        change_increments(rec, add, user)
