"""Cursor AI Code Tracking records: commits (TAB / COMPOSER / non-AI) and changes.

Both lists are ordered by ``createdAt`` (ingestion) descending. Changes are filtered on
``createdAt``; commits on ``commitTs``, or ``createdAt`` when ``commitTs`` is null.

Shapes are mixed on purpose: about a third of commits use the older shape without
``commitSource`` and ``isPrimaryBranch`` keys; nullable fields are sometimes null; people in
privacy mode send change metadata without a ``fileName`` key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

from aicode_sim import gen, vocab
from aicode_sim.population import Person, Population
from aicode_sim.records import (
    FEATURE,
    FEATURE_MERGED,
    MAIN_COPY,
    PRIMARY,
    ChangeStream,
    CommitStream,
    Ref,
    commit_files,
    layout_ranges,
    pick_files,
    primary_branch,
)
from aicode_sim.timeutil import fmt_millis

COMMIT_SOURCES = ("ide", "cli", "cloud")
_COMMIT_SOURCE_WEIGHTS = gen.cumulative((0.7, 0.2, 0.1))
CHANGE_SOURCES = ("TAB", "COMPOSER")
MODELS = ("claude-4-sonnet", "gpt-5", "claude-4.5-sonnet-thinking", "gpt-5-codex", "auto")

COMMIT_CSV_HEADER = (
    "commit_hash",
    "commit_source",
    "user_id",
    "user_email",
    "repo_name",
    "branch_name",
    "is_primary_branch",
    "total_lines_added",
    "total_lines_deleted",
    "tab_lines_added",
    "tab_lines_deleted",
    "composer_lines_added",
    "composer_lines_deleted",
    "non_ai_lines_added",
    "non_ai_lines_deleted",
    "message",
    "commit_ts",
    "created_at",
)
# One encoder for all rows: json.dumps with options builds a new encoder on every call.
_metadata_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

CHANGE_CSV_HEADER = (
    "change_id",
    "user_id",
    "user_email",
    "source",
    "model",
    "total_lines_added",
    "total_lines_deleted",
    "created_at",
    "metadata_json",
)


class CursorLines(NamedTuple):
    tab: tuple[int, int]  # (added, deleted)
    composer: tuple[int, int]
    total: tuple[int, int]
    message: str | None
    feature_branch: str
    old_shape: bool  # no commitSource / isPrimaryBranch keys
    commit_source: str
    repo_null: bool
    branch_null: bool
    primary_unknown: bool
    non_ai_null: bool


class CursorCommits(CommitStream):
    code = gen.CURSOR_COMMITS
    sort_is_filter = False
    spills = True
    csv_header = COMMIT_CSV_HEADER

    def activity(self, person: Person) -> float:
        return person.cursor_activity

    def commit_ts_null_share(self) -> float:
        return 0.03

    def keys(self, event_ms: int, ingest_ms: int, commit_ts_null: bool) -> tuple[int, int]:
        return ingest_ms, ingest_ms if commit_ts_null else event_ms

    def lines(self, ref: Ref) -> CursorLines:
        rand = self.detail_rand(ref)
        feature_branch, added, deleted, ai_added, ai_deleted = self.diff(
            rand, self.population.people[ref.user])
        tab_share = rand()
        tab = (round(ai_added * tab_share), round(ai_deleted * tab_share))
        composer = (ai_added - tab[0], ai_deleted - tab[1])
        if rand() < 0.02:
            # Attribution can exceed the diff (lines accepted then rewritten): non-AI is 0.
            added = max(0, ai_added - int(rand() * 5))
        message = vocab.compose_message(rand)
        kind = ref.attr % 4
        return CursorLines(
            tab=tab,
            composer=composer,
            total=(added, deleted),
            message=None if rand() < 0.03 else message,
            feature_branch=feature_branch,
            old_shape=rand() < 1 / 3,
            commit_source=COMMIT_SOURCES[gen.weighted_index(rand, _COMMIT_SOURCE_WEIGHTS)],
            repo_null=rand() < 0.03,
            # A merged pair keeps its branch names: (hash, branch) must stay unique.
            branch_null=rand() < 0.03 and kind in (PRIMARY, FEATURE),
            primary_unknown=rand() < 0.05,
            non_ai_null=rand() < 0.03,
        )

    def record(self, ref: Ref) -> dict[str, object]:
        person = self.population.people[ref.user]
        lines = self.lines(ref)
        repo, kind = divmod(ref.attr, 4)
        if lines.branch_null:
            branch: str | None = None
        elif kind in (FEATURE, FEATURE_MERGED):
            branch = lines.feature_branch
        else:
            branch = primary_branch(repo)
        item: dict[str, object] = {
            "commitHash": self.commit_hash(ref),
            "userId": person.cursor_id,
            "userEmail": person.email,
            "repoName": None if lines.repo_null else self.population.repos[repo],
            "branchName": branch,
        }
        if not lines.old_shape:
            unknown = branch is None or lines.primary_unknown
            item["isPrimaryBranch"] = None if unknown else kind in (PRIMARY, MAIN_COPY)
            item["commitSource"] = lines.commit_source
        ai_added = lines.tab[0] + lines.composer[0]
        ai_deleted = lines.tab[1] + lines.composer[1]
        item.update(
            {
                "totalLinesAdded": lines.total[0],
                "totalLinesDeleted": lines.total[1],
                "tabLinesAdded": lines.tab[0],
                "tabLinesDeleted": lines.tab[1],
                "composerLinesAdded": lines.composer[0],
                "composerLinesDeleted": lines.composer[1],
                "nonAiLinesAdded": None if lines.non_ai_null else max(0, lines.total[0] - ai_added),
                "nonAiLinesDeleted": None
                if lines.non_ai_null
                else max(0, lines.total[1] - ai_deleted),
                "message": lines.message,
                "commitTs": None if ref.filter_ms == ref.ingest_ms else fmt_millis(ref.filter_ms),
                "createdAt": fmt_millis(ref.ingest_ms),
            }
        )
        return item

    def csv_row(self, ref: Ref) -> list[object]:
        item = self.record(ref)
        return [
            _csv_value(item.get(key))
            for key in (
                "commitHash",
                "commitSource",
                "userId",
                "userEmail",
                "repoName",
                "branchName",
                "isPrimaryBranch",
                "totalLinesAdded",
                "totalLinesDeleted",
                "tabLinesAdded",
                "tabLinesDeleted",
                "composerLinesAdded",
                "composerLinesDeleted",
                "nonAiLinesAdded",
                "nonAiLinesDeleted",
                "message",
                "commitTs",
                "createdAt",
            )
        ]

    def blame(self, ref: Ref) -> list[dict[str, object]]:
        """Per file, the line ranges accepted from TAB or COMPOSER (the simulator's own shape)."""
        lines = self.lines(ref)
        rand = self.detail_rand(ref, gen.FILES)
        per_source = {
            "TAB": lines.tab,
            "COMPOSER": lines.composer,
            "nonAi": (max(0, lines.total[0] - lines.tab[0] - lines.composer[0]), 0),
        }
        files = commit_files(rand, self.population.people[ref.user], per_source)
        model = MODELS[int(rand() * len(MODELS))]
        out: list[dict[str, object]] = []
        for path, ext, counts in files:
            runs = [(src, c[0]) for src, c in counts.items() if src != "nonAi" and c[0]]
            ranges = [
                {
                    "start": start,
                    "end": end,
                    "source": src,
                    "model": None if src == "TAB" else model,
                }
                for src, start, end in layout_ranges(rand, runs)
            ]
            out.append({"fileName": path, "fileExtension": ext.lstrip("."), "ranges": ranges})
        return out


class CursorChanges(ChangeStream):
    code = gen.CURSOR_CHANGES
    sort_is_filter = True
    spills = True
    sources = CHANGE_SOURCES
    source_weights = (0.6, 0.4)
    csv_header = CHANGE_CSV_HEADER

    def __init__(self, seed_bits: int, population: Population, rate: float) -> None:
        super().__init__(seed_bits, population, rate)
        self.ids = gen.IdCodec(seed_bits, self.code)

    def activity(self, person: Person) -> float:
        return person.cursor_activity

    def keys(self, event_ms: int, ingest_ms: int) -> tuple[int, int]:
        return ingest_ms, ingest_ms

    def fields(self, ref: Ref) -> tuple[str, str | None, int, int, list[dict[str, object]]]:
        person = self.population.people[ref.user]
        rand: Callable[[], float] = self.detail_rand(ref)
        tab = ref.attr == 0
        model = None if rand() < 0.15 else MODELS[int(rand() * len(MODELS))]
        added = 1 + gen.long_tail(rand, 3, 30) if tab else 1 + gen.long_tail(rand, 40, 3000)
        deleted = int(added * rand() * 0.5)
        files = pick_files(rand, person, min(added, 1 if tab else 1 + int(rand() * 3)))
        metadata: list[dict[str, object]] = []
        for (path, ext), a, d in zip(
            files,
            gen.split_positive(rand, added, len(files)),
            gen.split(rand, deleted, len(files)),
            strict=True,
        ):
            entry: dict[str, object] = {} if person.privacy_mode else {"fileName": path}
            entry.update(fileExtension=ext.lstrip("."), linesAdded=a, linesDeleted=d)
            metadata.append(entry)
        change_id = str(self.ids.encode(ref.gen_day, ref.user, ref.idx))
        return change_id, model, added, deleted, metadata

    def record(self, ref: Ref) -> dict[str, object]:
        person = self.population.people[ref.user]
        change_id, model, added, deleted, metadata = self.fields(ref)
        return {
            "changeId": change_id,
            "userId": person.cursor_id,
            "userEmail": person.email,
            "source": CHANGE_SOURCES[ref.attr],
            "model": model,
            "totalLinesAdded": added,
            "totalLinesDeleted": deleted,
            "createdAt": fmt_millis(ref.ingest_ms),
            "metadata": metadata,
        }

    def csv_row(self, ref: Ref) -> list[object]:
        person = self.population.people[ref.user]
        change_id, model, added, deleted, metadata = self.fields(ref)
        return [
            change_id,
            person.cursor_id,
            person.email,
            CHANGE_SOURCES[ref.attr],
            "" if model is None else model,
            added,
            deleted,
            fmt_millis(ref.ingest_ms),
            _metadata_json(metadata),
        ]


def _csv_value(value: object) -> object:
    """Cursor CSV: booleans as true/false, nulls (and absent keys) as empty fields."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
