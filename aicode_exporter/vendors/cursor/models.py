"""Cursor AI Code Tracking (alpha) records. Old and new shapes both read: `commitSource`
and `isPrimaryBranch` may be absent; the documented nullable fields may be null."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from aicode_exporter.vendors.tolerant import (
    Id,
    ListOf,
    Num,
    OptBool,
    OptNum,
    OptTime,
    Str,
    Tolerant,
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
