"""Qoder AI Code Metrics responses. Nulls read as zero / empty, unknown fields ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from exporter.vendors.base import Tolerant


def _zero_if_null(v: Any) -> Any:
    return 0 if v is None else v


def _empty_if_null(v: Any) -> Any:
    return "" if v is None else v


Num = Annotated[float, BeforeValidator(_zero_if_null)]
Str = Annotated[str, BeforeValidator(_empty_if_null)]


class Overview(Tolerant):
    committedTotalLinesEdit: Num = 0
    committedAiLinesEdit: Num = 0
    acceptedLinesEdit: Num = 0
    aiShareRate: Num = 0
    agentEditCount: Num = 0
    tabCompletionCount: Num = 0
    messageCount: Num = 0


class TrendItem(Tolerant):
    date: datetime
    aiLinesAdded: Num = 0
    otherLinesAdded: Num = 0
    aiShareRate: Num = 0
    commitCount: Num = 0


class ExtTrendItem(Tolerant):
    date: datetime
    fileExtension: Str = ""
    totalLinesAdded: Num = 0
    aiLinesAdded: Num = 0


class NextTrendItem(Tolerant):
    date: datetime
    nextSuggestedCount: Num = 0
    nextAcceptedCount: Num = 0
    nextAcceptRate: Num = 0


def _list_if_null(v: Any) -> Any:
    return [] if v is None else v


class DailyTrend(Tolerant):
    items: Annotated[list[TrendItem], BeforeValidator(_list_if_null)] = Field(default_factory=list)
    extItems: Annotated[list[ExtTrendItem], BeforeValidator(_list_if_null)] = Field(
        default_factory=list)
    nextItems: Annotated[list[NextTrendItem], BeforeValidator(_list_if_null)] = Field(
        default_factory=list)


class Member(Tolerant):
    userId: Str = ""
    email: Str = ""
    displayName: Str = ""
    totalLinesAdded: Num = 0
    aiLinesAdded: Num = 0
    aiShareRate: Num = 0
    commitCount: Num = 0


class Ranking(Tolerant):
    items: Annotated[list[Member], BeforeValidator(_list_if_null)] = Field(default_factory=list)


class Repo(Tolerant):
    repoName: Str = ""
    commitCount: Num = 0
    totalLinesAdded: Num = 0


class RepoPage(Tolerant):
    repos: Annotated[list[Repo], BeforeValidator(_list_if_null)] = Field(default_factory=list)
    totalCount: int | None = None
    page: int | None = None
    perPage: int | None = None


class FileExtension(Tolerant):
    extension: Str = ""
    changeCount: Num = 0
    totalLinesAdded: Num = 0
    aiShareRate: Num = 0


class FileExtensions(Tolerant):
    fileExtensions: Annotated[list[FileExtension], BeforeValidator(_list_if_null)] = Field(
        default_factory=list)
