"""Qoder AI Code Metrics payloads, computed from day rollups (see rollup.py).

Pure functions: (day, rollup) pairs and filters in, the documented JSON object out.
"""

from __future__ import annotations

from collections.abc import Iterable

from aicode_sim.population import Person
from aicode_sim.qoder.data import CHANGE_SOURCES
from aicode_sim.qoder.rollup import (
    DayRollup,
    Filters,
    change_ext_sums,
    change_sums,
    commit_ext_sums,
    commit_sums,
)
from aicode_sim.timeutil import fmt_day

Days = Iterable[tuple[int, DayRollup]]
_AGENT = CHANGE_SOURCES.index("AGENT")
_NEXT = CHANGE_SOURCES.index("NEXT")


def share(part: int, whole: int) -> float:
    """Percentage with two decimals, 0 when there is nothing to share."""
    return round(100 * part / whole, 2) if whole else 0.0


def overview(days: Days, f: Filters) -> dict[str, object]:
    total = ai = accepted = agent = tab = messages = 0
    for _day, rollup in days:
        for c in commit_sums(rollup, f):
            total += c.added + c.deleted
            ai += c.ai_added + c.ai_deleted
        for ch in change_sums(rollup, f):
            accepted += ch.added + ch.deleted
            messages += ch.messages
            if ch.source == _AGENT:
                agent += ch.changes
            elif ch.source == _NEXT:
                tab += ch.changes
    return {
        "committedTotalLinesEdit": total,
        "committedAiLinesEdit": ai,
        "acceptedLinesEdit": accepted,
        "aiShareRate": share(ai, total),
        "agentEditCount": agent,
        "tabCompletionCount": tab,
        "messageCount": messages,
    }


def daily_trend(days: Days, f: Filters) -> dict[str, object]:
    """One items/nextItems entry per day; extItems per day and extension with lines."""
    items: list[dict[str, object]] = []
    ext_items: list[dict[str, object]] = []
    next_items: list[dict[str, object]] = []
    for day, rollup in days:
        date = fmt_day(day)
        commits = added = ai_added = 0
        for c in commit_sums(rollup, f):
            commits += c.commits
            added += c.added
            ai_added += c.ai_added
        items.append(
            {
                "date": date,
                "aiLinesAdded": ai_added,
                "otherLinesAdded": added - ai_added,
                "aiShareRate": share(ai_added, added),
                "commitCount": commits,
            }
        )
        per_ext: dict[str, list[int]] = {}
        for ext, v in commit_ext_sums(rollup, f):
            acc = per_ext.setdefault(ext, [0, 0])
            acc[0] += v[1]
            acc[1] += v[3]
        for ext in sorted(per_ext):
            ext_total, ext_ai = per_ext[ext]
            if ext_total:
                ext_items.append(
                    {
                        "date": date,
                        "fileExtension": ext,
                        "totalLinesAdded": ext_total,
                        "aiLinesAdded": ext_ai,
                    }
                )
        suggested = accepted = 0
        for ch in change_sums(rollup, f):
            if ch.source == _NEXT:
                suggested += ch.suggested
                accepted += ch.changes
        next_items.append(
            {
                "date": date,
                "nextSuggestedCount": suggested,
                "nextAcceptedCount": accepted,
                "nextAcceptRate": share(accepted, suggested),
            }
        )
    return {"items": items, "extItems": ext_items, "nextItems": next_items}


def member_ranking(
    days: Days, f: Filters, people: tuple[Person, ...], limit: int
) -> dict[str, object]:
    """Members with commits, by aiLinesAdded descending (ties: lines added, then id)."""
    per_user: dict[int, list[int]] = {}  # user -> [added, ai added, commits]
    for _day, rollup in days:
        for c in commit_sums(rollup, f):
            acc = per_user.setdefault(c.user, [0, 0, 0])
            acc[0] += c.added
            acc[1] += c.ai_added
            acc[2] += c.commits
    ranked = sorted(
        (u for u, v in per_user.items() if v[2] > 0),
        key=lambda u: (-per_user[u][1], -per_user[u][0], people[u].qoder_id),
    )
    return {
        "items": [
            {
                "userId": people[u].qoder_id,
                "email": people[u].email,
                "displayName": people[u].display_name,
                "totalLinesAdded": per_user[u][0],
                "aiLinesAdded": per_user[u][1],
                "aiShareRate": share(per_user[u][1], per_user[u][0]),
                "commitCount": per_user[u][2],
            }
            for u in ranked[:limit]
        ]
    }


def repos(
    days: Days, f: Filters, names: tuple[str, ...], needle: str, page: int, per_page: int
) -> dict[str, object]:
    """Repositories with commits whose name contains `needle`, by name, one page."""
    per_repo: dict[int, list[int]] = {}  # repo -> [commits, added]
    for _day, rollup in days:
        for c in commit_sums(rollup, f):
            acc = per_repo.setdefault(c.repo, [0, 0])
            acc[0] += c.commits
            acc[1] += c.added
    needle = needle.lower()
    matching = sorted(
        (names[r], v) for r, v in per_repo.items() if v[0] and needle in names[r].lower()
    )
    return {
        "repos": [
            {"repoName": name, "commitCount": v[0], "totalLinesAdded": v[1]}
            for name, v in matching[(page - 1) * per_page : page * per_page]
        ],
        "totalCount": len(matching),
        "page": page,
        "perPage": per_page,
    }


def file_extensions(days: Days, f: Filters) -> dict[str, object]:
    """changeCount from change events; lines and AI share from committed lines."""
    per_ext: dict[str, list[int]] = {}  # ext -> [changes, committed added, committed ai]
    for _day, rollup in days:
        for ext, v in change_ext_sums(rollup, f):
            per_ext.setdefault(ext, [0, 0, 0])[0] += v[0]
        for ext, v in commit_ext_sums(rollup, f):
            acc = per_ext.setdefault(ext, [0, 0, 0])
            acc[1] += v[1]
            acc[2] += v[3]
    ordered = sorted(per_ext.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return {
        "fileExtensions": [
            {
                "extension": ext,
                "changeCount": v[0],
                "totalLinesAdded": v[1],
                "aiShareRate": share(v[2], v[1]),
            }
            for ext, v in ordered
        ]
    }
