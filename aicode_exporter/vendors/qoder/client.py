"""Qoder Teams OpenAPI: AI Code Metrics (aggregates) and AI Code Tracking (records).

Metrics endpoints spell parameters in snake_case (start_date, per_page); the tracking
section uses camelCase. Dates go out as RFC 3339 UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.paging import paginate
from aicode_exporter.vendors.changes import ChangeItem
from aicode_exporter.vendors.qoder.models import (
    CommitDetail,
    CommitDetails,
    DailyTrend,
    FileExtension,
    FileExtensions,
    Member,
    Overview,
    QoderCommit,
    Ranking,
    Repo,
    RepoPage,
    TrackingPage,
)
from aicode_exporter.vendors.tolerant import Tolerant, parse_as
from aicode_exporter.vendors.tracking import TrackingClient, rfc3339

REPOS_PER_PAGE = 100  # the documented maximum


class QoderMetricsClient:
    def __init__(self, api: ApiClient, organization_id: str) -> None:
        self.api = api
        self.prefix = f"/v1/organizations/{quote(organization_id, safe='')}"

    def _range(self, start: datetime, end: datetime) -> dict[str, str]:
        return {"start_date": rfc3339(start), "end_date": rfc3339(end)}

    def overview(self, start: datetime, end: datetime, *, deadline: float) -> Overview:
        data = self.api.get_json("overview", f"{self.prefix}/ai-code/stats/overview",
                                 self._range(start, end), deadline=deadline)
        return parse_as(Overview, data, "overview")

    def daily_trend(self, start: datetime, end: datetime, *,
                    deadline: float | None) -> DailyTrend:
        data = self.api.get_json("daily_trend", f"{self.prefix}/ai-code/stats/daily-trend",
                                 self._range(start, end), deadline=deadline)
        return parse_as(DailyTrend, data, "daily_trend")

    def member_ranking(self, start: datetime, end: datetime, limit: int,
                       *, deadline: float) -> list[Member]:
        data = self.api.get_json("member_ranking", f"{self.prefix}/ai-code/stats/member-ranking",
                                 {**self._range(start, end), "limit": limit}, deadline=deadline)
        return parse_as(Ranking, data, "member_ranking").items

    def repos(self, start: datetime, end: datetime, *, deadline: float) -> list[Repo]:
        """Every page; a failure on any page fails the whole list (no partial windows)."""

        def fetch(page: int) -> tuple[list[Any], int | None]:
            data = self.api.get_json(
                "repos", f"{self.prefix}/ai-code/repos",
                {**self._range(start, end), "page": page, "per_page": REPOS_PER_PAGE},
                deadline=deadline)
            got = parse_as(RepoPage, data, "repos")
            size = got.perPage or REPOS_PER_PAGE
            pages = -(-got.totalCount // size) if got.totalCount is not None else None
            return list(got.repos), pages

        return list(paginate(fetch, page_size=REPOS_PER_PAGE, endpoint="repos"))

    def file_extensions(self, start: datetime, end: datetime,
                        *, deadline: float) -> list[FileExtension]:
        data = self.api.get_json("file_extensions", f"{self.prefix}/ai-code/file-extensions",
                                 self._range(start, end), deadline=deadline)
        return parse_as(FileExtensions, data, "file_extensions").fileExtensions


TRACKING_PAGE_SIZE = 200  # the documented maximum

QODER_COMMIT_CSV_REQUIRED = ("commitHash", "branchName", "repoName", "totalLinesAdded")
QODER_CHANGE_CSV_REQUIRED = ("changeId", "source", "totalLinesAdded")


class QoderTrackingClient(TrackingClient):
    """AI Code Tracking: commits and changes as JSON pages or streamed CSV, commit detail.
    Parameters are camelCase here (startDate, pageSize), unlike the metrics section."""

    page_size = TRACKING_PAGE_SIZE
    models: ClassVar[Mapping[str, type[Tolerant]]] = {
        "commits": QoderCommit, "changes": ChangeItem}
    csv_required: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "commits": QODER_COMMIT_CSV_REQUIRED, "changes": QODER_CHANGE_CSV_REQUIRED}

    def __init__(self, api: ApiClient, organization_id: str) -> None:
        super().__init__(api)
        self.prefix = f"/v1/organizations/{quote(organization_id, safe='')}/ai-code-tracking"

    def list_path(self, stream: str) -> str:
        return f"{self.prefix}/{stream}"

    def csv_path(self, stream: str) -> str:
        return f"{self.prefix}/{stream}/export"

    def parse_page(self, data: Any, stream: str) -> tuple[list[Any], int | None]:
        got = parse_as(TrackingPage, data, stream)
        return got.items, got.pagination.totalPages

    def detail_batch(self, hashes: Sequence[str], branch: str | None,
                     deadline: float | None) -> list[CommitDetail]:
        body: dict[str, Any] = {"commitHashes": list(hashes)}
        if branch:
            body["branch"] = branch
        data = self.api.post_json("commit_detail", f"{self.prefix}/commits/detail", body,
                                  deadline=deadline)
        return parse_as(CommitDetails, data, "commit_detail").commits
