"""Qoder Teams OpenAPI, AI Code Metrics section: five GET endpoints, Bearer auth.

Metrics endpoints spell parameters in snake_case (start_date, per_page); the tracking
section (issue-3 code) uses camelCase. Dates go out as RFC 3339 UTC.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from exporter.httpclient import ApiClient
from exporter.vendors.base import parse_as
from exporter.vendors.qoder.models import (
    DailyTrend,
    FileExtension,
    FileExtensions,
    Member,
    Overview,
    Ranking,
    Repo,
    RepoPage,
)

REPOS_PER_PAGE = 100  # the documented maximum
MAX_PAGES = 1000  # a vendor that never reports an end must not loop us forever


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


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

    def daily_trend(self, start: datetime, end: datetime, *, deadline: float) -> DailyTrend:
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
        out: list[Repo] = []
        for page in range(1, MAX_PAGES + 1):
            data = self.api.get_json(
                "repos", f"{self.prefix}/ai-code/repos",
                {**self._range(start, end), "page": page, "per_page": REPOS_PER_PAGE},
                deadline=deadline)
            got = parse_as(RepoPage, data, "repos")
            out.extend(got.repos)
            per_page = got.perPage or REPOS_PER_PAGE
            if not got.repos or len(got.repos) < per_page:
                break
            if got.totalCount is not None and len(out) >= got.totalCount:
                break
        return out

    def file_extensions(self, start: datetime, end: datetime,
                        *, deadline: float) -> list[FileExtension]:
        data = self.api.get_json("file_extensions", f"{self.prefix}/ai-code/file-extensions",
                                 self._range(start, end), deadline=deadline)
        return parse_as(FileExtensions, data, "file_extensions").fileExtensions
