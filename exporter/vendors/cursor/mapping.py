"""Pure functions: Cursor tracking records -> vendor-neutral records, commit blame ->
commit-detail rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exporter.pipeline.records import Commit, User
from exporter.vendors.cursor.models import CursorCommit
from exporter.vendors.tolerant import epoch
from exporter.vendors.tracking import CommitDetailRow


def _nonai(total: float, ai: float, given: float | None) -> int:
    # Cursor documents nonAi* as max(0, total - AI) and may send null: derive it the same way.
    return int(given) if given is not None else int(max(0.0, total - ai))


def cursor_commit(m: CursorCommit, seen_at: float) -> Commit:
    """-> aicode_commit_lines_added_total{...,repo="company/repo",source="composer"} +40"""
    created = epoch(m.createdAt) or seen_at
    ts = epoch(m.commitTs) or created
    lines = (
        ("tab", int(m.tabLinesAdded), int(m.tabLinesDeleted)),
        ("composer", int(m.composerLinesAdded), int(m.composerLinesDeleted)),
        ("non_ai",
         _nonai(m.totalLinesAdded, m.tabLinesAdded + m.composerLinesAdded, m.nonAiLinesAdded),
         _nonai(m.totalLinesDeleted, m.tabLinesDeleted + m.composerLinesDeleted,
                m.nonAiLinesDeleted)),
    )
    return Commit(hash=m.commitHash, branch=m.branchName, repo=m.repoName,
                  primary=m.isPrimaryBranch, ts=ts, created=created,
                  user=User(m.userId, m.userEmail), lines=lines)


def detail_rows(details: Sequence[dict[str, Any]]) -> list[CommitDetailRow]:
    """Blame (shape undocumented, read defensively): ranges grouped by source and model;
    privacy mode hides the file name, so the extension stands in."""
    rows = []
    for c in details:
        for f in c.get("files") or []:
            name = f.get("fileName") or f"(private).{f.get('fileExtension') or '?'}"
            groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
            for r in f.get("ranges") or []:
                key = (str(r.get("source") or "").lower(), str(r.get("model") or ""))
                groups.setdefault(key, []).append((int(r.get("start", 0)), int(r.get("end", 0))))
            rows += [CommitDetailRow(str(c.get("commitHash", "")), name, src, model, "added", rng)
                     for (src, model), rng in groups.items()]
    return rows
