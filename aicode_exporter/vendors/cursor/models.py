"""Cursor's responses: AI Code Tracking (alpha) records, Analytics API reports and Admin
API read endpoints. Old and new shapes both read: fields Cursor added or dropped over time
are optional, unknown ones ignored, the documented nullable fields may be null, user ids
come as numbers or strings, cents may be fractional."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from aicode_exporter.vendors.tolerant import (
    Count,
    Id,
    ListOf,
    Num,
    OptBool,
    OptNum,
    OptTime,
    Str,
    Tolerant,
    clean_text,
)


class CursorCommit(Tolerant):
    commitHash: Id
    userId: Str = ""
    userEmail: Str = ""
    repoName: Str = ""
    branchName: Str = ""
    isPrimaryBranch: OptBool = None
    commitSource: Str = ""  # newer docs: ide | cli | cloud
    totalLinesAdded: Num = 0
    totalLinesDeleted: Num = 0
    tabLinesAdded: Num = 0
    tabLinesDeleted: Num = 0
    composerLinesAdded: Num = 0
    composerLinesDeleted: Num = 0
    nonAiLinesAdded: OptNum = None
    nonAiLinesDeleted: OptNum = None
    commitTs: OptTime = None
    createdAt: OptTime = None


class CursorPage(Tolerant):
    items: ListOf[Any] = Field(default_factory=list)
    totalCount: int | None = None
    page: int | None = None
    pageSize: int | None = None


# -- identifiers, times and money as Cursor sends them -------------------------------------

def _user_id(v: Any) -> Any:
    """A user id as a string whether Cursor sends it as a number (daily-usage-data,
    older members lists: 12345) or a string ("user_..."; "12345"): one identity."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return clean_text(str(v)).strip()


def _finite(v: Any) -> Any:
    """Money and similar gauges: a finite number (fractional cents are fine); null is 0."""
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return v  # pydantic refuses it below
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    if not math.isfinite(f):
        raise ValueError(f"expected a finite number, got {v!r}")
    return f


def _epoch_ms(v: Any) -> Any:
    """Cursor's epoch milliseconds: a number, or a string of one ("1750979225854"); an
    ISO-8601 time is read too. None when absent or blank."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        text = v.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return v  # pydantic says what is wrong
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp() * 1000
    return v


def _entries_of(kind: type) -> Any:
    """A map keyed by names (models, users' e-mails): entries whose value is not a `kind`
    are fields Cursor added, not names, and are left out."""
    def keep(v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, dict):
            return {k: e for k, e in v.items() if isinstance(e, kind)}
        return v

    return BeforeValidator(keep)


UserId = Annotated[str, BeforeValidator(_user_id)]
Money = Annotated[float, BeforeValidator(_finite)]
EpochMs = Annotated[float | None, BeforeValidator(_epoch_ms)]


# -- Analytics API -------------------------------------------------------------------------

class UserMapping(Tolerant):
    id: UserId = ""
    email: Str = ""


class AnalyticsParams(Tolerant):
    # Echoed by every report; `metric` is not checked (top-file-extensions says "top-files").
    startDate: Str = ""
    endDate: Str = ""
    userMappings: ListOf[UserMapping] = Field(default_factory=list)


class DauRow(Tolerant):
    date: Str = ""
    dau: Count = 0
    cli_dau: Count = 0
    cloud_agent_dau: Count = 0
    bugbot_dau: Count = 0


class EditsRow(Tolerant):
    """A day of tab completions (total_suggestions, total_accepts) or of agent edits
    (total_suggested_diffs, total_accepted_diffs): the same line fields."""

    event_date: Str = ""
    total_suggestions: Count = 0
    total_accepts: Count = 0
    total_suggested_diffs: Count = 0
    total_accepted_diffs: Count = 0
    total_lines_suggested: Count = 0
    total_lines_accepted: Count = 0


class ModelUse(Tolerant):
    messages: Count = 0
    users: Count = 0


class ModelsRow(Tolerant):
    date: Str = ""
    model_breakdown: Annotated[dict[str, ModelUse], _entries_of(dict)] = Field(
        default_factory=dict)


class ExtensionRow(Tolerant):
    event_date: Str = ""
    file_extension: Str = ""
    total_files: Count = 0
    total_accepts: Count = 0
    total_lines_suggested: Count = 0
    total_lines_accepted: Count = 0


class VersionRow(Tolerant):
    event_date: Str = ""
    client_version: Str = ""
    user_count: Count = 0


class TeamReport(Tolerant):
    """`{"data": [rows], "params": {...}}` of every team-level report."""

    data: ListOf[Any] = Field(default_factory=list)
    params: AnalyticsParams = Field(default_factory=AnalyticsParams)


class Pagination(Tolerant):
    """Both dialects: {page, totalPages, hasNextPage} (analytics, daily usage) and
    {currentPage, numPages, hasNextPage} (usage events)."""

    page: int | None = None
    currentPage: int | None = None
    totalPages: int | None = None
    numPages: int | None = None
    hasNextPage: OptBool = None

    @property
    def pages(self) -> int | None:
        return self.totalPages if self.totalPages is not None else self.numPages


class ByUserReport(Tolerant):
    """`{"data": {email: [rows]}, "pagination": {...}, "params": {"userMappings": [...]}}`."""

    data: Annotated[dict[str, list[Any]], _entries_of(list)] = Field(default_factory=dict)
    pagination: Pagination = Field(default_factory=Pagination)
    params: AnalyticsParams = Field(default_factory=AnalyticsParams)


class LeaderRow(Tolerant):
    email: Str = ""
    user_id: UserId = ""
    total_accepts: Count = 0
    total_lines_accepted: Count = 0
    total_lines_suggested: Count = 0


class Board(Tolerant):
    data: ListOf[LeaderRow] = Field(default_factory=list)
    total_users: int | None = None


class Boards(Tolerant):
    tab_leaderboard: Board = Field(default_factory=Board)
    agent_leaderboard: Board = Field(default_factory=Board)


class Leaderboard(Tolerant):
    data: Boards = Field(default_factory=Boards)
    pagination: Pagination = Field(default_factory=Pagination)


# -- Admin API -----------------------------------------------------------------------------

class Member(Tolerant):
    id: UserId = ""
    name: Str = ""
    email: Str = ""
    role: Str = ""
    isRemoved: OptBool = None


class Members(Tolerant):
    teamMembers: ListOf[Member] = Field(default_factory=list)


class MemberSpend(Tolerant):
    userId: UserId = ""
    name: Str = ""
    email: Str = ""
    spendCents: Money = 0.0  # fractional since 2026-06-04
    overallSpendCents: Money = 0.0


class SpendPage(Tolerant):
    teamMemberSpend: ListOf[MemberSpend] = Field(default_factory=list)
    subscriptionCycleStart: EpochMs = None
    totalMembers: int | None = None
    totalPages: int | None = None


class GroupMember(Tolerant):
    userId: UserId = ""
    email: Str = ""


class Group(Tolerant):
    id: Str = ""
    name: Str = ""
    memberCount: OptNum = None
    spendCents: Money = 0.0
    currentMembers: ListOf[GroupMember] = Field(default_factory=list)


class Groups(Tolerant):
    groups: ListOf[Group] = Field(default_factory=list)
    unassignedGroup: Group | None = None


class DailyUsageRow(Tolerant):
    userId: UserId = ""
    email: Str = ""
    day: Str = ""  # YYYY-MM-DD; older rows have only `date` (epoch ms)
    date: EpochMs = None
    isActive: OptBool = None
    acceptedLinesAdded: Count = 0
    totalTabsAccepted: Count = 0
    totalAccepts: Count = 0
    composerRequests: Count = 0
    chatRequests: Count = 0
    agentRequests: Count = 0
    cmdkUsages: Count = 0
    bugbotUsages: Count = 0


class DailyUsage(Tolerant):
    data: ListOf[DailyUsageRow] = Field(default_factory=list)
    pagination: Pagination | None = None


class TokenUsage(Tolerant):
    inputTokens: Num = 0
    outputTokens: Num = 0
    cacheWriteTokens: Num = 0
    cacheReadTokens: Num = 0


class UsageEventItem(Tolerant):
    """One of /teams/filtered-usage-events' usageEvents: no id of its own."""

    timestamp: EpochMs = None  # a string of epoch ms; an event without one is refused
    userEmail: Str = ""
    serviceAccountId: Str = ""
    cloudAgentId: Str = ""
    automationId: Str = ""
    conversationId: Str = ""
    model: Str = ""
    kind: Str = ""
    kindLabel: Str = ""  # what some clients read instead of `kind`
    maxMode: OptBool = None
    isTokenBasedCall: OptBool = None
    isHeadless: OptBool = None
    requestsCosts: Num = 0
    tokenUsage: TokenUsage | None = None
    chargedCents: Num = 0


class UsageEventsPage(Tolerant):
    usageEvents: ListOf[Any] = Field(default_factory=list)
    totalUsageEventsCount: int | None = None
    pagination: Pagination = Field(default_factory=Pagination)
