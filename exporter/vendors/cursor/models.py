"""Cursor AI Code Tracking (alpha) records. Old and new shapes both read: `commitSource`
and `isPrimaryBranch` may be absent; the documented nullable fields may be null."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from exporter.vendors.base import Tolerant
from exporter.vendors.qoder.models import FileMeta, Num, OptBool, OptTime, Str, _list_if_null

OptNum = Annotated[float | None, BeforeValidator(lambda v: None if v in ("", None) else v)]


class CursorCommit(Tolerant):
    commitHash: str = Field(min_length=1)
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


class CursorChange(Tolerant):
    changeId: str = Field(min_length=1)
    userId: Str = ""
    userEmail: Str = ""
    source: Str = ""  # TAB | COMPOSER
    model: Str = ""
    totalLinesAdded: Num = 0
    totalLinesDeleted: Num = 0
    createdAt: OptTime = None
    metadata: Annotated[list[FileMeta], BeforeValidator(_list_if_null)] = Field(
        default_factory=list)


class CursorPage(Tolerant):
    items: Annotated[list[Any], BeforeValidator(_list_if_null)] = Field(default_factory=list)
    totalCount: int | None = None
    page: int | None = None
    pageSize: int | None = None
