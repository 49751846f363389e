"""Pure functions: Cursor tracking records -> vendor-neutral records, commit blame ->
commit-detail rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aicode_exporter.pipeline.records import Commit, User, whole
from aicode_exporter.vendors.base import CommitDetailRow
from aicode_exporter.vendors.cursor.models import CursorCommit
from aicode_exporter.vendors.tolerant import clean_text, epoch


def _nonai(total: float, ai: float, given: float | None) -> float:
    # Cursor documents nonAi* as max(0, total - AI) and may send null: derive it the same way.
    return whole(given) if given is not None else whole(max(0.0, total - ai))


def cursor_commit(m: CursorCommit, seen_at: float) -> Commit:
    """-> aicode_commit_lines_added_total{...,repo="company/repo",source="composer"} +40"""
    ingested = epoch(m.createdAt)
    created = ingested or seen_at
    ts = epoch(m.commitTs) or created
    lines = (
        ("tab", whole(m.tabLinesAdded), whole(m.tabLinesDeleted)),
        ("composer", whole(m.composerLinesAdded), whole(m.composerLinesDeleted)),
        ("non_ai",
         _nonai(m.totalLinesAdded, m.tabLinesAdded + m.composerLinesAdded, m.nonAiLinesAdded),
         _nonai(m.totalLinesDeleted, m.tabLinesDeleted + m.composerLinesDeleted,
                m.nonAiLinesDeleted)),
    )
    return Commit(hash=m.commitHash, branch=m.branchName, repo=m.repoName,
                  primary=m.isPrimaryBranch, ts=ts, created=created,
                  user=User(m.userId, m.userEmail), lines=lines, ingested=ingested)


def detail_rows(details: Sequence[dict[str, Any]]) -> list[CommitDetailRow]:
    """Blame (shape undocumented, read defensively): ranges grouped by source and model;
    privacy mode hides the file name, so the extension stands in."""
    rows = []
    for c in details:
        for f in c.get("files") or []:
            name = clean_text(str(f.get("fileName")
                                  or f"(private).{f.get('fileExtension') or '?'}"))
            groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
            for r in f.get("ranges") or []:
                key = (clean_text(str(r.get("source") or "").lower()),
                       clean_text(str(r.get("model") or "")))
                groups.setdefault(key, []).append((int(r.get("start", 0)), int(r.get("end", 0))))
            commit = clean_text(str(c.get("commitHash", "")))
            rows += [CommitDetailRow(commit, name, src, model, "added", rng)
                     for (src, model), rng in groups.items()]
    return rows
