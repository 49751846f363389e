"""Pure functions: Cursor tracking records -> vendor-neutral records."""

from __future__ import annotations

from exporter.records import Commit, User
from exporter.vendors.base import epoch
from exporter.vendors.cursor.models import CursorCommit


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
