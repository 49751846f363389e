"""Qoder AI Code Tracking records: commits (product x scenario columns) and changes.

Times: a commit's ``commitTs`` is its event time and lists/filters use it; ``createdAt`` is
ingestion. A change's ``createdAt`` is documented as its *event* time, so lists/filters use
it, while the record only becomes visible at a hidden ingestion time -- a late change
therefore appears with a ``createdAt`` hours in the past.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from aicode_sim import gen, vocab
from aicode_sim.population import Person, Population
from aicode_sim.records import (
    FEATURE,
    FEATURE_MERGED,
    MAIN_COPY,
    ChangeStream,
    CommitFile,
    CommitStream,
    Ref,
    commit_files,
    layout_ranges,
    pick_files,
    primary_branch,
)
from aicode_sim.timeutil import fmt_seconds

# The eight product x scenario column prefixes, in the seed's order, with the
# (source, productType) a commit-detail range group reports for them.
COLUMNS = (
    "ideNext",
    "pluginNext",
    "ideAgent",
    "pluginAgent",
    "cliAgent",
    "ideQuest",
    "ideInlineChat",
    "jbInlineChat",
)
COLUMN_SOURCE = {
    "ideNext": ("NEXT", "ide"),
    "pluginNext": ("NEXT", "plugin"),
    "ideAgent": ("AGENT", "ide"),
    "pluginAgent": ("AGENT", "plugin"),
    "cliAgent": ("AGENT", "cli"),
    "ideQuest": ("QUEST", "ide"),
    "ideInlineChat": ("INLINECHAT", "ide"),
    "jbInlineChat": ("INLINECHAT", "plugin"),
}
_COLUMN_WEIGHTS = gen.cumulative((0.25, 0.08, 0.30, 0.07, 0.08, 0.08, 0.10, 0.04))
NON_AI = "nonAi"

CHANGE_SOURCES = ("AGENT", "NEXT", "QUEST", "INLINECHAT")
MODELS = ("lite", "efficient", "auto", "")
_MODEL_WEIGHTS = gen.cumulative((0.25, 0.35, 0.30, 0.10))

COMMIT_CSV_HEADER = (
    "commitHash",
    "userId",
    "userEmail",
    "userName",
    "repoName",
    "branchName",
    "isPrimaryBranch",
    "totalLinesAdded",
    "totalLinesDeleted",
    *(f"{col}Lines{what}" for col in COLUMNS for what in ("Added", "Deleted")),
    "nonAiLinesAdded",
    "nonAiLinesDeleted",
    "message",
    "commitTs",
    "createdAt",
)
CHANGE_CSV_HEADER = (
    "changeId",
    "userId",
    "userEmail",
    "source",
    "model",
    "totalLinesAdded",
    "totalLinesDeleted",
    "createdAt",
)


class CommitLines(NamedTuple):
    added: tuple[int, ...]  # per COLUMNS entry
    deleted: tuple[int, ...]
    non_ai_added: int
    non_ai_deleted: int
    message: str
    feature_branch: str

    @property
    def total_added(self) -> int:
        return sum(self.added) + self.non_ai_added

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted) + self.non_ai_deleted


class CommitFact(NamedTuple):
    """What the metrics rollups need from one commit record."""

    ingest_ms: int
    user: int
    repo: int
    primary: bool
    copy: bool
    added: int
    deleted: int
    ai_added: int
    ai_deleted: int
    # (extension, added, deleted, ai_added, ai_deleted) per extension touched
    exts: tuple[tuple[str, int, int, int, int], ...]


class ChangeFact(NamedTuple):
    ingest_ms: int
    user: int
    source: int  # index into CHANGE_SOURCES
    added: int
    deleted: int
    suggested: int  # NEXT suggestions shown for this accepted completion
    messages: int  # chat messages behind this change
    exts: tuple[tuple[str, int, int], ...]  # (extension, added, deleted)


class QoderCommits(CommitStream):
    code = gen.QODER_COMMITS
    sort_is_filter = True
    spills = False
    csv_header = COMMIT_CSV_HEADER

    lines_mean = 80.0

    def activity(self, person: Person) -> float:
        return person.qoder_activity

    def keys(self, event_ms: int, ingest_ms: int, commit_ts_null: bool) -> tuple[int, int]:
        return event_ms, event_ms

    def lines(self, ref: Ref) -> CommitLines:
        rand = self.detail_rand(ref)
        feature_branch, added, deleted, ai_added, ai_deleted = self.diff(
            rand, self.population.people[ref.user])
        picked = sorted(
            {gen.weighted_index(rand, _COLUMN_WEIGHTS) for _ in range(1 + int(rand() * 3))}
        )
        per_added = [0] * len(COLUMNS)
        per_deleted = [0] * len(COLUMNS)
        for col, a, d in zip(
            picked,
            gen.split(rand, ai_added, len(picked)),
            gen.split(rand, ai_deleted, len(picked)),
            strict=True,
        ):
            per_added[col], per_deleted[col] = a, d
        return CommitLines(
            added=tuple(per_added),
            deleted=tuple(per_deleted),
            non_ai_added=added - ai_added,
            non_ai_deleted=deleted - ai_deleted,
            message=vocab.compose_message(rand),
            feature_branch=feature_branch,
        )

    def branch(self, ref: Ref, lines: CommitLines) -> tuple[str, bool]:
        repo, kind = divmod(ref.attr, 4)
        if kind in (FEATURE, FEATURE_MERGED):
            return lines.feature_branch, False
        return primary_branch(repo), True

    def record(self, ref: Ref) -> dict[str, object]:
        person = self.population.people[ref.user]
        lines = self.lines(ref)
        branch, primary = self.branch(ref, lines)
        item: dict[str, object] = {
            "commitHash": self.commit_hash(ref),
            "userId": person.qoder_id,
            "userEmail": person.email,
            "repoName": self.population.repos[ref.attr // 4],
            "branchName": branch,
            "isPrimaryBranch": primary,
            "totalLinesAdded": lines.total_added,
            "totalLinesDeleted": lines.total_deleted,
        }
        for col, a, d in zip(COLUMNS, lines.added, lines.deleted, strict=True):
            item[f"{col}LinesAdded"] = a
            item[f"{col}LinesDeleted"] = d
        item["nonAiLinesAdded"] = lines.non_ai_added
        item["nonAiLinesDeleted"] = lines.non_ai_deleted
        item["message"] = lines.message
        item["commitTs"] = fmt_seconds(ref.filter_ms)
        item["createdAt"] = fmt_seconds(ref.ingest_ms)
        return item

    def csv_row(self, ref: Ref) -> list[object]:
        item = self.record(ref)
        values = list(item.values())
        values.insert(3, self.population.people[ref.user].display_name)
        values[6] = "true" if item["isPrimaryBranch"] else "false"
        return values

    def files(self, ref: Ref, lines: CommitLines) -> list[CommitFile]:
        per_source = {
            col: (a, d) for col, a, d in zip(COLUMNS, lines.added, lines.deleted, strict=True)
        }
        per_source[NON_AI] = (lines.non_ai_added, lines.non_ai_deleted)
        rand = self.detail_rand(ref, gen.FILES)
        return commit_files(rand, self.population.people[ref.user], per_source)

    def detail(self, ref: Ref) -> list[dict[str, object]]:
        """rangeAnnotations of one commit: per file, one group per AI column and type."""
        lines = self.lines(ref)
        rand = self.detail_rand(ref, gen.FILES + 1)
        annotations: list[dict[str, object]] = []
        for path, _ext, counts in self.files(ref, lines):
            groups: list[dict[str, object]] = []
            for kind, pick in (("added", 0), ("deleted", 1)):
                runs = [(col, c[pick]) for col, c in counts.items() if col != NON_AI and c[pick]]
                placed = layout_ranges(rand, runs)
                for col, _ in runs:
                    source, product = COLUMN_SOURCE[col]
                    session = gen.hex_digest(
                        self.seed_bits, ref.gen_day, ref.user, ref.idx >> 1, col, size=6
                    )
                    groups.append(
                        {
                            "conversationId": f"session-{session}",
                            "source": source,
                            "productType": product,
                            "type": kind,
                            "ranges": [
                                {"start": s, "end": e} for label, s, e in placed if label == col
                            ],
                        }
                    )
            if groups:
                annotations.append({"filePath": path, "groups": groups})
        return annotations

    def fact(self, ref: Ref) -> CommitFact:
        lines = self.lines(ref)
        kind = ref.attr % 4
        ai_added, ai_deleted = sum(lines.added), sum(lines.deleted)
        exts: dict[str, list[int]] = {}
        for _path, ext, counts in self.files(ref, lines):
            acc = exts.setdefault(ext, [0, 0, 0, 0])
            for col, (a, d) in counts.items():
                acc[0] += a
                acc[1] += d
                if col != NON_AI:
                    acc[2] += a
                    acc[3] += d
        return CommitFact(
            ingest_ms=ref.ingest_ms,
            user=ref.user,
            repo=ref.attr // 4,
            primary=kind not in (FEATURE, FEATURE_MERGED),
            copy=kind == MAIN_COPY,
            added=lines.total_added,
            deleted=lines.total_deleted,
            ai_added=ai_added,
            ai_deleted=ai_deleted,
            exts=tuple((ext, a[0], a[1], a[2], a[3]) for ext, a in sorted(exts.items())),
        )


class ChangeScalars(NamedTuple):
    change_id: str
    model: str
    added: int
    deleted: int
    suggested: int
    messages: int


class QoderChanges(ChangeStream):
    code = gen.QODER_CHANGES
    sort_is_filter = True
    spills = False
    sources = CHANGE_SOURCES
    source_weights = (0.35, 0.45, 0.08, 0.12)
    csv_header = CHANGE_CSV_HEADER

    def __init__(self, seed_bits: int, population: Population, rate: float) -> None:
        super().__init__(seed_bits, population, rate)
        self.ids = gen.IdCodec(seed_bits, self.code)

    def activity(self, person: Person) -> float:
        return person.qoder_activity

    def keys(self, event_ms: int, ingest_ms: int) -> tuple[int, int]:
        return event_ms, event_ms

    def _scalars(self, ref: Ref, rand: Callable[[], float]) -> ChangeScalars:
        source = CHANGE_SOURCES[ref.attr]
        model = MODELS[gen.weighted_index(rand, _MODEL_WEIGHTS)]
        if source == "NEXT":
            added = 1 + gen.long_tail(rand, 4, 40)
        elif source == "AGENT":
            added = 2 + gen.long_tail(rand, 50, 2000)
        elif source == "QUEST":
            added = 10 + gen.long_tail(rand, 150, 5000)
        else:
            added = 1 + gen.long_tail(rand, 15, 300)
        deleted = int(added * rand() * 0.5)
        suggested = 1 + int(rand() * rand() * 4) if source == "NEXT" else 0
        messages = 0 if source == "NEXT" else 1 + int(rand() * 4)
        change_id = f"chg_{self.ids.encode(ref.gen_day, ref.user, ref.idx):012x}"
        return ChangeScalars(change_id, model, added, deleted, suggested, messages)

    def _metadata(
        self, ref: Ref, rand: Callable[[], float], scalars: ChangeScalars
    ) -> list[tuple[str, str, int, int]]:
        """(fileName, fileExtension, linesAdded, linesDeleted); empty for ~5% of changes."""
        if rand() < 0.05:
            return []
        wanted = 1 if CHANGE_SOURCES[ref.attr] == "NEXT" else 1 + int(rand() * 3)
        files = pick_files(
            rand, self.population.people[ref.user], min(wanted, scalars.added), full_path=False
        )
        added = gen.split_positive(rand, scalars.added, len(files))
        deleted = gen.split(rand, scalars.deleted, len(files))
        return [(name, ext, a, d) for (name, ext), a, d in zip(files, added, deleted, strict=True)]

    def record(self, ref: Ref) -> dict[str, object]:
        person = self.population.people[ref.user]
        rand = self.detail_rand(ref)
        scalars = self._scalars(ref, rand)
        return {
            "changeId": scalars.change_id,
            "userId": person.qoder_id,
            "userEmail": person.email,
            "source": CHANGE_SOURCES[ref.attr],
            "model": scalars.model,
            "totalLinesAdded": scalars.added,
            "totalLinesDeleted": scalars.deleted,
            "metadata": [
                {"fileName": name, "fileExtension": ext, "linesAdded": a, "linesDeleted": d}
                for name, ext, a, d in self._metadata(ref, rand, scalars)
            ],
            "createdAt": fmt_seconds(ref.filter_ms),
        }

    def csv_row(self, ref: Ref) -> list[object]:
        person = self.population.people[ref.user]
        scalars = self._scalars(ref, self.detail_rand(ref))
        return [
            scalars.change_id,
            person.qoder_id,
            person.email,
            CHANGE_SOURCES[ref.attr],
            scalars.model,
            scalars.added,
            scalars.deleted,
            fmt_seconds(ref.filter_ms),
        ]

    def fact(self, ref: Ref) -> ChangeFact:
        rand = self.detail_rand(ref)
        scalars = self._scalars(ref, rand)
        exts: dict[str, list[int]] = {}
        for _name, ext, a, d in self._metadata(ref, rand, scalars):
            acc = exts.setdefault(ext, [0, 0])
            acc[0] += a
            acc[1] += d
        return ChangeFact(
            ingest_ms=ref.ingest_ms,
            user=ref.user,
            source=ref.attr,
            added=scalars.added,
            deleted=scalars.deleted,
            suggested=scalars.suggested,
            messages=scalars.messages,
            exts=tuple((ext, a, d) for ext, (a, d) in sorted(exts.items())),
        )
