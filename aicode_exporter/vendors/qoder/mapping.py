"""Pure functions: Qoder AI Code Metrics, Tracking, Members and Usage responses -> metric
families and records.

Rates arrive as percentages and leave as 0-1 ratios. Base labels are (provider, org).
The models have already refused what a gauge must not show (models.py: a count that is
not a finite number >= 0, a rate outside 0-100 -> SchemaError naming the field, so that
window keeps its last good values and shows aicode_up 0); a null count or rate reads as 0.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, TypeVar

from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.labels import UNKNOWN, normalize_extension, or_unknown
from aicode_exporter.pipeline.records import Add, Commit, IdRecord, User, bad_count, whole
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family, Spec
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
from aicode_exporter.vendors.qoder.teamsapi import (
    MemberQuota,
    ResourcePackage,
    TeamMember,
    UsageItem,
)
from aicode_exporter.vendors.tolerant import epoch

Base = tuple[str, str]


def ratio(percent: float) -> float:
    return percent / 100.0


_BLANKS = re.compile(r"\s+")


def vocab(value: str) -> str:
    """A vendor's enum value (role, status, usage source, operation, model tier) as a label
    value: lower-cased, runs of blanks as `_`, empty as `unknown`; `JetBrains Plugin` ->
    `jetbrains_plugin`, `ENABLED` -> `enabled`. Values Qoder adds later pass the same way."""
    v = _BLANKS.sub("_", value.strip()).lower()
    return v or UNKNOWN


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


# (feature, vendor_feature) of Qoder's tab completions in the shared daily figures.
NEXT = ("tab", "next")


def daily_families(trend: DailyTrend, base: Base) -> dict[date, list[Family]]:
    """Each day of the trend:
    aicode_daily_ai_lines_added{org="acme",provider="qoder"} 500
    aicode_daily_tab_suggestions{org="acme",provider="qoder"} 120
    aicode_daily_suggestions{feature="tab",org="acme",provider="qoder",vendor_feature="next"} 200

    `items[].aiLinesAdded` is not published as aicode_daily_lines_accepted: it counts the
    AI-attributed lines of the day's commits, all features together, not lines accepted
    into files per feature (see docs/metrics.md)."""
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
            # The same figures under the shared names: Qoder's "next" is the tab feature.
            catalog.DAILY_SUGGESTIONS.spec.family([((*base, *NEXT), nx.nextSuggestedCount)]),
            catalog.DAILY_SUGGESTIONS_ACCEPTED.spec.family(
                [((*base, *NEXT), nx.nextAcceptedCount)]),
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


# -- Members and Usage APIs ------------------------------------------------------------------

# Documented values, always published (as 0 when none): a count that drops to zero shows 0.
ROLES = ("org_admin", "org_member")
STATUSES = ("enabled", "deleted")
CREDIT_UNITS = ("", "credit", "credits")  # an amount in any other unit is not published


class _Listed(Protocol):
    @property
    def id(self) -> str: ...


L = TypeVar("L", bound=_Listed)


def _once(items: Iterable[L]) -> Iterator[L]:
    """Each item once: a list that shifted between two pages may list one again (same id);
    an item without an id always counts."""
    seen: set[str] = set()
    for item in items:
        if item.id:
            if item.id in seen:
                continue
            seen.add(item.id)
        yield item


def member_families(members: Iterable[TeamMember], base: Base) -> list[Family]:
    """aicode_seats{org="acme",provider="qoder"} 2
    aicode_members{org="acme",provider="qoder",role="org_member",status="deleted"} 1

    Seats are the members whose status is ENABLED. A member listed twice (the list shifted
    between two pages) counts once."""
    counts = {(role, status): 0 for role in ROLES for status in STATUSES}
    seats = 0
    for m in _once(members):
        key = (vocab(m.role), vocab(m.status))
        counts[key] = counts.get(key, 0) + 1
        seats += m.enabled
    return [catalog.SEATS.spec.family([(base, seats)]),
            metrics.MEMBERS.family(((*base, r, s), n) for (r, s), n in sorted(counts.items()))]


@dataclass(frozen=True, slots=True)
class QuotaRow:
    """One member's quota as published; None where the vendor states nothing (no limit)
    or an amount in a unit other than credits."""

    used: float | None
    limit: float | None
    restricted: bool
    reset: float | None  # Unix seconds


def quota_row(q: MemberQuota) -> QuotaRow:
    s = q.totalQuota.quotaSummary
    credits = s.unit.strip().lower() in CREDIT_UNITS
    return QuotaRow(used=s.usedValue if credits else None,
                    limit=s.limitValue if credits else None,
                    restricted=q.status.strip().lower() == "restricted", reset=q.nextResetAt)


def quota_families(rows: Mapping[str, QuotaRow], base: Base) -> list[Family]:
    """aicode_member_quota_used_credits{org="acme",provider="qoder",user="alice@example.com"} 1450
    aicode_member_quota_restricted{org="acme",provider="qoder",user="alice@example.com"} 0"""
    ordered = sorted(rows.items())

    def family(spec: Spec, pick: Callable[[QuotaRow], float | None]) -> Family:
        return spec.family(((*base, user), v) for user, row in ordered
                           if (v := pick(row)) is not None)

    return [
        family(metrics.QUOTA_USED, lambda r: r.used),
        family(metrics.QUOTA_LIMIT, lambda r: r.limit),
        family(metrics.QUOTA_RESTRICTED, lambda r: float(r.restricted)),
        family(metrics.QUOTA_RESET, lambda r: r.reset),
    ]


@dataclass
class _Packages:
    """One (package, source, status) group of resource packages."""

    count: int = 0
    sums: dict[str, float] = field(default_factory=dict)  # limit / used / remaining
    expiry: float | None = None

    def add(self, what: str, value: float | None) -> None:
        if value is not None:
            self.sums[what] = self.sums.get(what, 0.0) + value


def package_families(packages: Iterable[ResourcePackage], base: Base) -> list[Family]:
    """aicode_resource_package_remaining_credits{org="acme",package="Add-on Credits",provider="qoder",source="purchase",status="active"} 7500

    Grouped by (package name, or id without one; source; status): sums of limit, used and
    remaining (limit - used where the vendor leaves it out), the count, the earliest
    expiry. A package listed twice (the list shifted between two pages) counts once."""
    groups: dict[tuple[str, str, str], _Packages] = {}
    for p in _once(packages):
        g = groups.setdefault((or_unknown(p.name or p.id), vocab(p.source), vocab(p.status)),
                              _Packages())
        g.count += 1
        if p.expiresAt is not None:
            g.expiry = p.expiresAt if g.expiry is None else min(g.expiry, p.expiresAt)
        if p.unit.strip().lower() not in CREDIT_UNITS:
            continue
        remaining = p.remainingValue
        if remaining is None and p.limitValue is not None and p.usedValue is not None:
            remaining = max(0.0, p.limitValue - p.usedValue)
        g.add("limit", p.limitValue)
        g.add("used", p.usedValue)
        g.add("remaining", remaining)
    rows = sorted(groups.items())

    def family(spec: Spec, pick: Callable[[_Packages], float | None]) -> Family:
        return spec.family(((*base, *k), v) for k, g in rows if (v := pick(g)) is not None)

    return [
        family(metrics.PACKAGES_COUNT, lambda g: float(g.count)),
        family(metrics.PACKAGE_LIMIT, lambda g: g.sums.get("limit")),
        family(metrics.PACKAGE_USED, lambda g: g.sums.get("used")),
        family(metrics.PACKAGE_REMAINING, lambda g: g.sums.get("remaining")),
        family(metrics.PACKAGE_EXPIRY, lambda g: g.expiry),
    ]


# The most credits one usage record may add. A real record is a request or a session
# (tens of credits, hundreds at most); beyond this the answer is broken, and counting it
# would ruin the counter for good.
MAX_CREDITS_PER_RECORD = 1e7


@dataclass(frozen=True, slots=True)
class CreditUsage(IdRecord):
    """One credit usage record; `id` is its synthetic identity (`credit_usage`)."""

    id: str
    ts: float  # the record's timestamp, Unix seconds
    user: User
    source: str
    operation: str
    model_tier: str
    credits: float
    occurrence: int  # among the records of its read that say the same

    def record_id(self) -> str:
        who = self.user.id or self.user.email or UNKNOWN
        return (f"{who}@{round(self.ts * 1000)} {self.source}/{self.operation}/"
                f"{self.model_tier} credits={self.credits!r} #{self.occurrence}")

    def latest_time(self) -> float:
        return self.ts

    def invalid_reason(self) -> str | None:
        return bad_count([("credits", self.credits)], MAX_CREDITS_PER_RECORD, "credit amount")

    def increments(self, add: Add, user: str | None) -> None:
        """aicode_credits_used_total{model_tier="auto",operation="agent",org="acme",provider="qoder",source="ide"} +12.5
        aicode_user_credits_used_total{org="acme",provider="qoder",user="alice@example.com"} +12.5"""
        add(metrics.CREDITS_USED.name, (self.source, self.operation, self.model_tier),
            self.credits)
        if user is not None:
            add(metrics.USER_CREDITS_USED.name, (user,), self.credits)

    def team_increments(self, add: Add, teams: Sequence[str]) -> None:
        """aicode_team_credits_used_total{org="acme",provider="qoder",team="payments"} +12.5"""
        for team in teams:
            add(metrics.TEAM_CREDITS_USED.name, (team,), self.credits)


def credit_usage(m: UsageItem, occurrences: Counter[str]) -> CreditUsage:
    """A usage record, numbered among the records of the same read that say the same
    (`occurrences`: that read's tally per identity, updated here).

    Usage records are aggregated and carry no id, so a record's identity is what it says:
    (user, timestamp in ms, source, operation, model tier, credits), plus its occurrence
    number among the records of one read that say exactly the same. Why that holds across
    overlapping reads and restarts:

    * records that say the same share one timestamp, so any read (a time range) returns
      all of them or none; each read that returns them numbers them 0, 1, 2... in whatever
      order they come, and as they are indistinguishable the order does not matter: two
      such records count twice, once each, however often they are read;
    * a copy the vendor adds later (ingested late, or split out of an aggregate) is a
      further occurrence, counted once when a read first returns it;
    * the keys live in the state file like the tracking streams' ids, until no read can
      return the record again, so a restart or a kill -9 counts nothing twice.

    Not part of the identity: `cost` (no currency is documented; it is not exported), the
    e-mail (absent for some users; it stands in only for a missing user id). A record the
    vendor changes after it was listed (its credits re-aggregated) says something else and
    counts again: the one case this identity cannot tell apart."""
    ms = round(m.timestamp)
    source, operation, tier = vocab(m.source), vocab(m.operation), vocab(m.modelTier)
    who = m.userId.strip() or "\x1d" + m.userEmail.strip().lower()
    says = "\x1f".join((who, str(ms), source, operation, tier, repr(float(m.credits))))
    digest = hashlib.blake2b(says.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    n = occurrences[digest]
    occurrences[digest] = n + 1
    return CreditUsage(id=f"{digest}#{n}", ts=ms / 1000, user=User(m.userId, m.userEmail),
                       source=source, operation=operation, model_tier=tier,
                       credits=float(m.credits), occurrence=n)
