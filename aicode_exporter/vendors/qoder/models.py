"""Qoder responses: AI Code Metrics aggregates, tracking commits, pages and commit detail.
Nulls read as zero / empty, unknown fields are ignored. Changes: vendors/changes.py.

Aggregates: counts are `Count` (finite, >= 0; null -> 0) and rates `Percent` (finite,
0-100; null -> 0): a value outside that fails the response, naming the field. Record line
counts stay `Num` (the pipeline skips a bad record and remembers its id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from aicode_exporter.vendors.tolerant import (
    Count,
    Id,
    ListOf,
    Num,
    OptBool,
    OptTime,
    Percent,
    Str,
    Tolerant,
)


class Overview(Tolerant):
    committedTotalLinesEdit: Count = 0
    committedAiLinesEdit: Count = 0
    acceptedLinesEdit: Count = 0
    aiShareRate: Percent = 0
    agentEditCount: Count = 0
    tabCompletionCount: Count = 0
    messageCount: Count = 0


class Dated(Tolerant):
    date: datetime


class TrendItem(Dated):
    aiLinesAdded: Count = 0
    otherLinesAdded: Count = 0
    aiShareRate: Percent = 0
    commitCount: Count = 0


class ExtTrendItem(Dated):
    fileExtension: Str = ""
    totalLinesAdded: Count = 0
    aiLinesAdded: Count = 0


class NextTrendItem(Dated):
    nextSuggestedCount: Count = 0
    nextAcceptedCount: Count = 0
    nextAcceptRate: Percent = 0


class DailyTrend(Tolerant):
    items: ListOf[TrendItem] = Field(default_factory=list)
    extItems: ListOf[ExtTrendItem] = Field(default_factory=list)
    nextItems: ListOf[NextTrendItem] = Field(default_factory=list)


class Member(Tolerant):
    userId: Str = ""
    email: Str = ""
    displayName: Str = ""
    totalLinesAdded: Count = 0
    aiLinesAdded: Count = 0
    aiShareRate: Percent = 0
    commitCount: Count = 0


class Ranking(Tolerant):
    items: ListOf[Member] = Field(default_factory=list)


class Repo(Tolerant):
    repoName: Str = ""
    commitCount: Count = 0
    totalLinesAdded: Count = 0


class RepoPage(Tolerant):
    repos: ListOf[Repo] = Field(default_factory=list)
    totalCount: int | None = None
    page: int | None = None
    perPage: int | None = None


class FileExtension(Tolerant):
    extension: Str = ""
    changeCount: Count = 0
    totalLinesAdded: Count = 0
    aiShareRate: Percent = 0


class FileExtensions(Tolerant):
    fileExtensions: ListOf[FileExtension] = Field(default_factory=list)


# -- AI Code Tracking records (JSON items and CSV rows share these models) --------------

# Field prefix -> `source` label (docs/metrics.md): eight AI product x scenario pairs + non-AI.
QODER_COMMIT_SOURCES = (
    ("ideNext", "ide_next"), ("pluginNext", "plugin_next"), ("ideAgent", "ide_agent"),
    ("pluginAgent", "plugin_agent"), ("cliAgent", "cli_agent"), ("ideQuest", "ide_quest"),
    ("ideInlineChat", "ide_inline_chat"), ("jbInlineChat", "jb_inline_chat"),
    ("nonAi", "non_ai"),
)


class QoderCommit(Tolerant):
    commitHash: Id
    userId: Str = ""
    userEmail: Str = ""
    userName: Str = ""
    repoName: Str = ""
    branchName: Str = ""
    isPrimaryBranch: OptBool = None
    totalLinesAdded: Num = 0
    totalLinesDeleted: Num = 0
    ideNextLinesAdded: Num = 0
    ideNextLinesDeleted: Num = 0
    pluginNextLinesAdded: Num = 0
    pluginNextLinesDeleted: Num = 0
    ideAgentLinesAdded: Num = 0
    ideAgentLinesDeleted: Num = 0
    pluginAgentLinesAdded: Num = 0
    pluginAgentLinesDeleted: Num = 0
    cliAgentLinesAdded: Num = 0
    cliAgentLinesDeleted: Num = 0
    ideQuestLinesAdded: Num = 0
    ideQuestLinesDeleted: Num = 0
    ideInlineChatLinesAdded: Num = 0
    ideInlineChatLinesDeleted: Num = 0
    jbInlineChatLinesAdded: Num = 0
    jbInlineChatLinesDeleted: Num = 0
    nonAiLinesAdded: Num = 0
    nonAiLinesDeleted: Num = 0
    commitTs: OptTime = None
    createdAt: OptTime = None


class TrackingPagination(Tolerant):
    currentPage: int | None = None
    pageSize: int | None = None
    totalItems: int | None = None
    totalPages: int | None = None


class TrackingPage(Tolerant):
    """`data` of a tracking list; items are validated one by one by the caller."""

    items: ListOf[Any] = Field(default_factory=list)
    pagination: TrackingPagination = Field(default_factory=TrackingPagination)


class RangeItem(Tolerant):
    start: int = 0
    end: int = 0


class AnnotationGroup(Tolerant):
    conversationId: Str = ""
    source: Str = ""
    productType: Str = ""
    type: Str = ""
    ranges: ListOf[RangeItem] = Field(default_factory=list)


class FileAnnotation(Tolerant):
    filePath: Str = ""
    groups: ListOf[AnnotationGroup] = Field(default_factory=list)


class CommitDetail(Tolerant):
    commitHash: Str = ""
    rangeAnnotations: ListOf[FileAnnotation] = Field(default_factory=list)


class CommitDetails(Tolerant):
    commits: ListOf[CommitDetail] = Field(default_factory=list)
