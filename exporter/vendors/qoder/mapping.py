"""Pure functions: Qoder AI Code Metrics responses -> metric families.

Rates arrive as percentages and leave as 0-1 ratios. Base labels are (provider, org).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from exporter import catalog
from exporter.families import Family
from exporter.labels import normalize_extension, or_unknown
from exporter.records import Commit, User
from exporter.userlabels import UserLabeler
from exporter.vendors.base import epoch
from exporter.vendors.qoder.models import (
    QODER_COMMIT_SOURCES,
    DailyTrend,
    FileExtension,
    Member,
    Overview,
    QoderCommit,
    Repo,
)

Base = tuple[str, str]


def ratio(percent: float) -> float:
    return percent / 100.0


def overview_families(ov: Overview, base: Base, window: str) -> list[Family]:
    """aicode_ai_share_ratio{org="acme",provider="qoder",window="7d"} 0.3"""
    lv = (*base, window)
    return [
        catalog.COMMITTED_LINES.family([(lv, ov.committedTotalLinesEdit)]),
        catalog.COMMITTED_AI_LINES.family([(lv, ov.committedAiLinesEdit)]),
        catalog.ACCEPTED_AI_LINES.family([(lv, ov.acceptedLinesEdit)]),
        catalog.AI_SHARE.family([(lv, ratio(ov.aiShareRate))]),
        catalog.AGENT_EDITS.family([(lv, ov.agentEditCount)]),
        catalog.TAB_COMPLETIONS.family([(lv, ov.tabCompletionCount)]),
        catalog.CHAT_MESSAGES.family([(lv, ov.messageCount)]),
    ]


def ranking_families(members: Sequence[Member], base: Base, window: str,
                     labeler: UserLabeler) -> list[Family]:
    """aicode_user_ai_lines_added{org="acme",provider="qoder",user="alice@example.com",window="7d"} 2000"""
    if not labeler.enabled:
        return []
    rows = [((*base, window, labeler.label(user_id=m.userId, email=m.email,
                                            name=m.displayName)), m) for m in members]
    return [
        catalog.USER_LINES.family((lv, m.totalLinesAdded) for lv, m in rows),
        catalog.USER_AI_LINES.family((lv, m.aiLinesAdded) for lv, m in rows),
        catalog.USER_AI_SHARE.family((lv, ratio(m.aiShareRate)) for lv, m in rows),
        catalog.USER_COMMITS.family((lv, m.commitCount) for lv, m in rows),
    ]


def repo_families(repos: Sequence[Repo], base: Base, window: str) -> list[Family]:
    """aicode_repo_commits{org="acme",provider="qoder",repo="my-project",window="7d"} 120"""
    rows = [((*base, window, or_unknown(r.repoName)), r) for r in repos]
    return [
        catalog.REPO_COMMITS.family((lv, r.commitCount) for lv, r in rows),
        catalog.REPO_LINES.family((lv, r.totalLinesAdded) for lv, r in rows),
    ]


def extension_families(exts: Sequence[FileExtension], base: Base, window: str) -> list[Family]:
    """aicode_extension_ai_share_ratio{extension=".go",org="acme",provider="qoder",window="7d"} 0.355"""
    rows = [((*base, window, normalize_extension(e.extension)), e) for e in exts]
    return [
        catalog.EXT_CHANGES.family((lv, e.changeCount) for lv, e in rows),
        catalog.EXT_LINES.family((lv, e.totalLinesAdded) for lv, e in rows),
        catalog.EXT_AI_SHARE.family((lv, ratio(e.aiShareRate)) for lv, e in rows),
    ]


def latest_complete_day(trend: DailyTrend, now: datetime) -> datetime | None:
    """The newest date strictly before today (UTC) present in the response."""
    today = now.date()
    days = [i.date for i in trend.items if i.date.date() < today]
    days += [i.date for i in trend.nextItems if i.date.date() < today]
    days += [i.date for i in trend.extItems if i.date.date() < today]
    return max(days, key=lambda d: d.date(), default=None)


def daily_families(trend: DailyTrend, base: Base, now: datetime) -> list[Family]:
    """aicode_daily_ai_lines_added{org="acme",provider="qoder"} 500
    aicode_daily_date_timestamp_seconds{org="acme",provider="qoder"} 1.7487e+09"""
    day = latest_complete_day(trend, now)
    if day is None:
        return []
    d = day.date()
    items = [i for i in trend.items if i.date.date() == d]
    nexts = [i for i in trend.nextItems if i.date.date() == d]
    exts: dict[str, tuple[float, float]] = {}
    for e in trend.extItems:
        if e.date.date() == d:
            ext = normalize_extension(e.fileExtension)
            total, ai = exts.get(ext, (0.0, 0.0))
            exts[ext] = (total + e.totalLinesAdded, ai + e.aiLinesAdded)
    day_start = datetime(d.year, d.month, d.day, tzinfo=day.tzinfo or now.tzinfo)
    out = [catalog.DAILY_DATE.family([(base, day_start.timestamp())])]
    if items:
        it = items[0]
        out += [
            catalog.DAILY_AI_LINES.family([(base, it.aiLinesAdded)]),
            catalog.DAILY_OTHER_LINES.family([(base, it.otherLinesAdded)]),
            catalog.DAILY_COMMITS.family([(base, it.commitCount)]),
            catalog.DAILY_AI_SHARE.family([(base, ratio(it.aiShareRate))]),
        ]
    if nexts:
        nx = nexts[0]
        out += [
            catalog.DAILY_TAB_SUGGESTIONS.family([(base, nx.nextSuggestedCount)]),
            catalog.DAILY_TAB_ACCEPTS.family([(base, nx.nextAcceptedCount)]),
            catalog.DAILY_TAB_ACCEPT_RATIO.family([(base, ratio(nx.nextAcceptRate))]),
        ]
    out += [
        catalog.DAILY_EXT_LINES.family(((*base, ext), t) for ext, (t, _) in sorted(exts.items())),
        catalog.DAILY_EXT_AI_LINES.family(
            ((*base, ext), a) for ext, (_, a) in sorted(exts.items())),
    ]
    return out


# -- AI Code Tracking records -> vendor-neutral records ----------------------------------

def qoder_commit(m: QoderCommit, seen_at: float) -> Commit:
    """Twelve-odd columns become (source, added, deleted) rows; see records.py for the
    counters they feed. Missing times fall back to when we read the record."""
    created = epoch(m.createdAt) or seen_at
    lines = tuple((source, int(getattr(m, f"{prefix}LinesAdded")),
                   int(getattr(m, f"{prefix}LinesDeleted")))
                  for prefix, source in QODER_COMMIT_SOURCES)
    return Commit(hash=m.commitHash, branch=m.branchName, repo=m.repoName,
                  primary=m.isPrimaryBranch, ts=epoch(m.commitTs) or created, created=created,
                  user=User(m.userId, m.userEmail, m.userName), lines=lines)
