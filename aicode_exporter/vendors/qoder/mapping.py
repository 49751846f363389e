"""Pure functions: Qoder AI Code Metrics responses -> metric families.

Rates arrive as percentages and leave as 0-1 ratios. Base labels are (provider, org).
The models have already refused what a gauge must not show (models.py: a count that is
not a finite number >= 0, a rate outside 0-100 -> SchemaError naming the field, so that
window keeps its last good values and shows aicode_up 0); a null count or rate reads as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.labels import normalize_extension, or_unknown
from aicode_exporter.pipeline.records import Commit, User, whole
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family
from aicode_exporter.vendors.base import CommitDetailRow
from aicode_exporter.vendors.qoder import metrics
from aicode_exporter.vendors.qoder.models import (
    QODER_COMMIT_SOURCES,
    CommitDetail,
    DailyTrend,
    Dated,
    FileExtension,
    Member,
    Overview,
    QoderCommit,
    Repo,
)
from aicode_exporter.vendors.tolerant import epoch

Base = tuple[str, str]


def ratio(percent: float) -> float:
    return percent / 100.0


def overview_families(ov: Overview, base: Base, window: str) -> list[Family]:
    """aicode_ai_share_ratio{org="acme",provider="qoder",window="7d"} 0.3"""
    lv = (*base, window)
    return [
        metrics.COMMITTED_LINES.family([(lv, ov.committedTotalLinesEdit)]),
        metrics.COMMITTED_AI_LINES.family([(lv, ov.committedAiLinesEdit)]),
        metrics.ACCEPTED_AI_LINES.family([(lv, ov.acceptedLinesEdit)]),
        metrics.AI_SHARE.family([(lv, ratio(ov.aiShareRate))]),
        metrics.AGENT_EDITS.family([(lv, ov.agentEditCount)]),
        metrics.TAB_COMPLETIONS.family([(lv, ov.tabCompletionCount)]),
        metrics.CHAT_MESSAGES.family([(lv, ov.messageCount)]),
    ]


def ranking_families(members: Sequence[Member], base: Base, window: str,
                     labeler: UserLabeler) -> list[Family]:
    """aicode_user_ai_lines_added{org="acme",provider="qoder",user="alice@example.com",window="7d"} 2000"""
    if not labeler.enabled:
        return []
    rows = [((*base, window, labeler.label(user_id=m.userId, email=m.email,
                                            name=m.displayName)), m) for m in members]
    return [
        metrics.USER_LINES.family((lv, m.totalLinesAdded) for lv, m in rows),
        metrics.USER_AI_LINES.family((lv, m.aiLinesAdded) for lv, m in rows),
        metrics.USER_AI_SHARE.family((lv, ratio(m.aiShareRate)) for lv, m in rows),
        metrics.USER_COMMITS.family((lv, m.commitCount) for lv, m in rows),
    ]


def repo_families(repos: Sequence[Repo], base: Base, window: str) -> list[Family]:
    """aicode_repo_commits{org="acme",provider="qoder",repo="my-project",window="7d"} 120"""
    rows = [((*base, window, or_unknown(r.repoName)), r) for r in repos]
    return [
        metrics.REPO_COMMITS.family((lv, r.commitCount) for lv, r in rows),
        metrics.REPO_LINES.family((lv, r.totalLinesAdded) for lv, r in rows),
    ]


def extension_families(exts: Sequence[FileExtension], base: Base, window: str) -> list[Family]:
    """aicode_extension_ai_share_ratio{extension=".go",org="acme",provider="qoder",window="7d"} 0.355"""
    rows = [((*base, window, normalize_extension(e.extension)), e) for e in exts]
    return [
        metrics.EXT_CHANGES.family((lv, e.changeCount) for lv, e in rows),
        metrics.EXT_LINES.family((lv, e.totalLinesAdded) for lv, e in rows),
        metrics.EXT_AI_SHARE.family((lv, ratio(e.aiShareRate)) for lv, e in rows),
    ]


T = TypeVar("T", bound=Dated)


def _first_per_day(items: Sequence[T]) -> list[T]:
    """The first item of each day (a day listed twice is read as the vendor's first)."""
    seen: set[date] = set()
    out = []
    for it in items:
        if it.date.date() not in seen:
            seen.add(it.date.date())
            out.append(it)
    return out


def daily_families(trend: DailyTrend, base: Base) -> dict[date, list[Family]]:
    """Each day of the trend:
    aicode_daily_ai_lines_added{org="acme",provider="qoder"} 500
    aicode_daily_tab_suggestions{org="acme",provider="qoder"} 120"""
    days: dict[date, list[Family]] = {}
    for it in _first_per_day(trend.items):
        days.setdefault(it.date.date(), []).extend([
            metrics.DAILY_AI_LINES.family([(base, it.aiLinesAdded)]),
            metrics.DAILY_OTHER_LINES.family([(base, it.otherLinesAdded)]),
            metrics.DAILY_COMMITS.family([(base, it.commitCount)]),
            metrics.DAILY_AI_SHARE.family([(base, ratio(it.aiShareRate))]),
        ])
    for nx in _first_per_day(trend.nextItems):
        days.setdefault(nx.date.date(), []).extend([
            catalog.DAILY_TAB_SUGGESTIONS.spec.family([(base, nx.nextSuggestedCount)]),
            catalog.DAILY_TAB_ACCEPTS.spec.family([(base, nx.nextAcceptedCount)]),
            catalog.DAILY_TAB_ACCEPT_RATIO.spec.family([(base, ratio(nx.nextAcceptRate))]),
        ])
    exts: dict[date, dict[str, tuple[float, float]]] = {}
    for e in trend.extItems:
        per_day = exts.setdefault(e.date.date(), {})
        ext = normalize_extension(e.fileExtension)
        total, ai = per_day.get(ext, (0.0, 0.0))
        per_day[ext] = (total + e.totalLinesAdded, ai + e.aiLinesAdded)
    for d, per_ext in exts.items():
        rows = sorted(per_ext.items())
        days.setdefault(d, []).extend([
            metrics.DAILY_EXT_LINES.family(((*base, ext), t) for ext, (t, _) in rows),
            metrics.DAILY_EXT_AI_LINES.family(((*base, ext), a) for ext, (_, a) in rows),
        ])
    for d, families in days.items():
        # A day the vendor lists in any section shows every extension family, if empty.
        if d not in exts:
            families += [metrics.DAILY_EXT_LINES.family(()),
                         metrics.DAILY_EXT_AI_LINES.family(())]
    return days


# -- AI Code Tracking records -> vendor-neutral records ----------------------------------

def qoder_commit(m: QoderCommit, seen_at: float) -> Commit:
    """Twelve-odd columns become (source, added, deleted) rows; see records.py for the
    counters they feed. Missing times fall back to when we read the record."""
    ingested = epoch(m.createdAt)
    created = ingested or seen_at
    lines = tuple((source, whole(getattr(m, f"{prefix}LinesAdded")),
                   whole(getattr(m, f"{prefix}LinesDeleted")))
                  for prefix, source in QODER_COMMIT_SOURCES)
    return Commit(hash=m.commitHash, branch=m.branchName, repo=m.repoName,
                  primary=m.isPrimaryBranch, ts=epoch(m.commitTs) or created, created=created,
                  user=User(m.userId, m.userEmail, m.userName), lines=lines,
                  ingested=ingested)


def detail_rows(details: Sequence[CommitDetail]) -> list[CommitDetailRow]:
    """Commit detail: one row per file and annotation group; the session is the
    conversation (or, without one, the product)."""
    return [CommitDetailRow(c.commitHash, a.filePath, g.source.lower(),
                            g.conversationId or g.productType, g.type or "added",
                            [(r.start, r.end) for r in g.ranges])
            for c in details for a in c.rangeAnnotations for g in a.groups]
