"""Qoder Teams OpenAPI: AI Code Metrics (aggregates), AI Code Tracking (records), and the
Members and Usage APIs (teams.py).

All routes live under /v1/organizations/{organization_id}; auth is ``Bearer <api_key>``
bound to one organization (another organization id -> 403). Errors use the Conventions
shape {"requestId", "code", "message", "details"}.

Choices where the documentation is silent:
* metrics ranges count whole UTC days (see rollup.py) and are limited to 90 days on every
  metrics endpoint; repos/file-extensions default to the last 30 days;
* ``per_page`` above 100 on the repo list is clamped to 100 (the doc says "max 100"
  without saying what happens above it); ``pageSize`` above 200 on tracking lists is a 400;
* tracking lists default ``startDate`` to 90 days before ``endDate``;
* ``member-ranking`` lists members with at least one commit, ``limit`` >= 1, no maximum;
* ``file-extensions`` takes changeCount from change events and totalLinesAdded /
  aiShareRate from committed lines; it is ordered by changeCount descending.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from aicode_sim.csvstream import csv_chunks
from aicode_sim.index import Query, RecordIndex, Selection
from aicode_sim.population import Population
from aicode_sim.qoder import metrics
from aicode_sim.qoder.data import CHANGE_SOURCES, QoderChanges, QoderCommits
from aicode_sim.qoder.rollup import DayRollup, Filters, Rollups
from aicode_sim.qoder.teams import TeamsApi, query_time
from aicode_sim.ratelimit import SlidingWindowLimiter
from aicode_sim.records import Ref
from aicode_sim.responses import (
    CSV_TYPE,
    ApiError,
    Request,
    Response,
    encoded_json_response,
    json_response,
    qoder_error_body,
)
from aicode_sim.timeutil import DAY_MS, day_of

PREFIX = "/v1/organizations/"
_PATH = re.compile(r"^/v1/organizations/([^/]+)(/.*)?$")
_MEMBER_PATH = re.compile(r"^/members/([^/]+)/(quota|usage-events)$")
MAX_METRICS_RANGE_MS = 90 * DAY_MS
DEFAULT_METRICS_RANGE_MS = 30 * DAY_MS
DEFAULT_TRACKING_RANGE_MS = 90 * DAY_MS
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 100
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30
MAX_DETAIL_HASHES = 50

Handler = Callable[[Request, int], Response]


class QoderApi:
    def __init__(
        self,
        *,
        population: Population,
        commits: RecordIndex[QoderCommits],
        changes: RecordIndex[QoderChanges],
        rollups: Rollups,
        api_key: str,
        organization_id: str,
        new_request_id: Callable[[], str],
        teams: TeamsApi,
        limiter: SlidingWindowLimiter | None = None,
    ) -> None:
        self.population = population
        self.commits = commits
        self.changes = changes
        self.rollups = rollups
        self._api_key = api_key
        self.organization_id = organization_id
        self._new_request_id = new_request_id
        self.teams = teams
        self._limiter = limiter
        self._routes: dict[str, tuple[str, Handler]] = {
            "/ai-code/stats/overview": ("GET", self._overview),
            "/ai-code/stats/daily-trend": ("GET", self._daily_trend),
            "/ai-code/stats/member-ranking": ("GET", self._member_ranking),
            "/ai-code/repos": ("GET", self._repos),
            "/ai-code/file-extensions": ("GET", self._file_extensions),
            "/ai-code-tracking/commits": ("GET", self._commit_list),
            "/ai-code-tracking/changes": ("GET", self._change_list),
            "/ai-code-tracking/commits/export": ("GET", self._commit_export),
            "/ai-code-tracking/changes/export": ("GET", self._change_export),
            "/ai-code-tracking/commits/detail": ("POST", self._commit_detail),
            "/members": ("GET", teams.members),
            "/usage-events": ("GET", teams.usage_events),
            "/resource-packages": ("GET", teams.resource_packages),
        }

    # ---- dispatch -----------------------------------------------------------------------

    def handle(self, request: Request, now_ms: int) -> Response:
        try:
            return self._dispatch(request, now_ms)
        except ApiError as error:
            return self.error_response(error.status, error.message, error.details, error.headers)

    def error_response(
        self,
        status: int,
        message: str,
        details: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = qoder_error_body(status, message, details or [], self._new_request_id())
        return encoded_json_response(status, body, headers)

    def _route(self, suffix: str) -> tuple[str, tuple[str, Handler]] | None:
        """(the route's name, as rate limits count it; (method, handler)) of a path."""
        route = self._routes.get(suffix)
        if route is not None:
            return suffix, route
        member = _MEMBER_PATH.match(suffix)
        if member is None:
            return None
        member_id, what = member.groups()
        if what == "quota":
            return "/members/{member_id}/quota", (
                "GET", lambda r, now: self.teams.quota(member_id, r, now))
        return "/members/{member_id}/usage-events", (
            "GET", lambda r, now: self.teams.usage_events(r, now, member_id))

    def _dispatch(self, request: Request, now_ms: int) -> Response:
        match = _PATH.match(request.path)
        found = self._route(match.group(2) or "") if match else None
        if match is None or found is None:
            raise ApiError(404, "resource not found", [f"no route for {request.path}"])
        name, (method, handler) = found
        if request.method != method:
            raise ApiError(405, f"method {request.method} not allowed", headers={"Allow": method})
        self._authenticate(request)
        if match.group(1) != self.organization_id:
            raise ApiError(403, "no permission to access this organization")
        if self._limiter is not None:
            decision = self._limiter.acquire((self._api_key, name))
            limit_headers = {
                "X-RateLimit-Limit": str(decision.limit),
                "X-RateLimit-Remaining": str(decision.remaining),
            }
            if not decision.allowed:
                raise ApiError(
                    429,
                    "rate limit exceeded",
                    headers={**limit_headers, "Retry-After": str(decision.retry_after)},
                )
            response = handler(request, now_ms)
            response.headers.update(limit_headers)
            return response
        return handler(request, now_ms)

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "API key missing", ["expected Authorization: Bearer <api_key>"])
        if not hmac.compare_digest(token.strip().encode(), self._api_key.encode()):
            raise ApiError(401, "API key invalid")

    # ---- parameters ---------------------------------------------------------------------

    _time = staticmethod(query_time)

    def _metrics_range(
        self, query: dict[str, str], now_ms: int, *, required: bool
    ) -> tuple[int, int]:
        start = self._time(query, "start_date")
        end = self._time(query, "end_date")
        for name, value in (("start_date", start), ("end_date", end)):
            if value is None and required:
                raise ApiError(400, f"{name} is required", [f"{name}: missing"])
        end = now_ms if end is None else end
        start = end - DEFAULT_METRICS_RANGE_MS if start is None else start
        if end < start:
            raise ApiError(400, "end_date is before start_date")
        if end - start > MAX_METRICS_RANGE_MS:
            raise ApiError(400, "time range exceeds 90 days", ["end_date - start_date > 90 days"])
        return start, end

    def _user(self, value: str, name: str) -> int | None:
        """User index for a user id filter; -1 when valid but unknown; None when absent."""
        value = value.strip()
        if not value:
            return None
        try:
            uuid.UUID(value)
        except ValueError:
            raise ApiError(400, f"{name} is not a valid UUID", [f"{name}: {value}"]) from None
        found = self.population.by_qoder_id(value)
        return -1 if found is None else found

    def _filters(self, query: dict[str, str]) -> Filters:
        repo_name = query.get("repo_name", "").strip()
        repo = self.population.repo_index(repo_name) if repo_name else None
        raw_exts = [e.strip() for e in query.get("file_extensions", "").split(",") if e.strip()]
        return Filters(
            user=self._user(query.get("user_id", ""), "user_id"),
            repo=-1 if repo_name and repo is None else repo,
            primary_only=query.get("primary_branch_only", "").strip().lower() in ("true", "1"),
            exts=frozenset(e if e.startswith(".") else "." + e for e in raw_exts) or None,
        )

    @staticmethod
    def _int(query: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
        raw = query.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer", [f"{name}: {raw}"]) from None
        if value < minimum:
            raise ApiError(400, f"{name} must be >= {minimum}", [f"{name}: {raw}"])
        return value

    def _rollups(self, start: int, end: int, now_ms: int) -> Iterator[tuple[int, DayRollup]]:
        """(day, rollup) for each UTC day of [start, end] up to today, oldest first."""
        for day in range(day_of(start), min(day_of(end), day_of(now_ms)) + 1):
            yield day, self.rollups.day(day, now_ms)

    # ---- AI Code Metrics ----------------------------------------------------------------

    def _overview(self, request: Request, now_ms: int) -> Response:
        start, end = self._metrics_range(request.query, now_ms, required=True)
        days = self._rollups(start, end, now_ms)
        return json_response(200, metrics.overview(days, self._filters(request.query)))

    def _daily_trend(self, request: Request, now_ms: int) -> Response:
        start, end = self._metrics_range(request.query, now_ms, required=True)
        days = self._rollups(start, end, now_ms)
        return json_response(200, metrics.daily_trend(days, self._filters(request.query)))

    def _member_ranking(self, request: Request, now_ms: int) -> Response:
        start, end = self._metrics_range(request.query, now_ms, required=True)
        limit = self._int(request.query, "limit", 10)
        f = self._filters(request.query)
        days = self._rollups(start, end, now_ms)
        return json_response(200, metrics.member_ranking(days, f, self.population.people, limit))

    def _repos(self, request: Request, now_ms: int) -> Response:
        start, end = self._metrics_range(request.query, now_ms, required=False)
        f = self._filters(request.query)
        page = self._int(request.query, "page", 1)
        # Clamped rather than refused: the doc states the maximum, not an error.
        per_page = min(self._int(request.query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        needle = request.query.get("query", "").strip()
        days = self._rollups(start, end, now_ms)
        names = self.population.repos
        return json_response(200, metrics.repos(days, f, names, needle, page, per_page))

    def _file_extensions(self, request: Request, now_ms: int) -> Response:
        start, end = self._metrics_range(request.query, now_ms, required=False)
        days = self._rollups(start, end, now_ms)
        return json_response(200, metrics.file_extensions(days, self._filters(request.query)))

    # ---- AI Code Tracking ---------------------------------------------------------------

    def _tracking_query(self, query: dict[str, str], now_ms: int, attr: int | None) -> Query | None:
        """The selection a tracking request asks for; None when it cannot match anything."""
        end = self._time(query, "endDate")
        end = now_ms if end is None else end
        start = self._time(query, "startDate")
        start = end - DEFAULT_TRACKING_RANGE_MS if start is None else start
        if end < start:
            raise ApiError(400, "endDate is before startDate")
        user = self._user(query.get("userId", ""), "userId")
        if user is None and query.get("userEmail", "").strip():
            found = self.population.by_email(query["userEmail"])
            user = -1 if found is None else found
        if user == -1 or attr == -1:
            return None
        return Query(start, end, user, attr)

    def _paging(self, query: dict[str, str]) -> tuple[int, int]:
        page = self._int(query, "page", 1)
        size = self._int(query, "pageSize", DEFAULT_PAGE_SIZE)
        if size > MAX_PAGE_SIZE:
            raise ApiError(400, f"pageSize must be <= {MAX_PAGE_SIZE}", [f"pageSize: {size}"])
        return page, size

    def _repo_attr(self, query: dict[str, str]) -> int | None:
        name = query.get("repoName", "").strip()
        if not name:
            return None
        found = self.population.repo_index(name)
        return -1 if found is None else found

    def _source_attr(self, query: dict[str, str]) -> int | None:
        source = query.get("source", "").strip()
        if not source:
            return None
        if source not in CHANGE_SOURCES:
            raise ApiError(
                400, "invalid source", [f"source: expected one of {', '.join(CHANGE_SOURCES)}"]
            )
        return CHANGE_SOURCES.index(source)

    def _select(self, index: RecordIndex[Any], query: Query | None, now_ms: int) -> Selection:
        return Selection(0, ()) if query is None else index.select(query, now_ms)

    def _list(
        self, request: Request, now_ms: int, index: RecordIndex[Any], attr: int | None
    ) -> Response:
        page, size = self._paging(request.query)
        selection = self._select(index, self._tracking_query(request.query, now_ms, attr), now_ms)
        items = [index.stream.record(ref) for ref in selection.refs((page - 1) * size, size)]
        return json_response(
            200,
            {
                "success": True,
                "data": {
                    "items": items,
                    "pagination": {
                        "currentPage": page,
                        "pageSize": size,
                        "totalItems": selection.total,
                        "totalPages": math.ceil(selection.total / size),
                    },
                },
            },
        )

    def _export(
        self,
        request: Request,
        now_ms: int,
        index: RecordIndex[Any],
        attr: int | None,
        filename: str,
    ) -> Response:
        query = self._tracking_query(request.query, now_ms, attr)  # validates before the 200
        stream = index.stream
        refs = iter(()) if query is None else index.stream_refs(query, now_ms)
        rows: Iterable[list[object]] = (stream.csv_row(ref) for ref in refs)
        return Response(
            200,
            {
                "Content-Type": CSV_TYPE,
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
            csv_chunks(stream.csv_header, rows),
        )

    def _commit_list(self, request: Request, now_ms: int) -> Response:
        return self._list(request, now_ms, self.commits, self._repo_attr(request.query))

    def _change_list(self, request: Request, now_ms: int) -> Response:
        return self._list(request, now_ms, self.changes, self._source_attr(request.query))

    def _commit_export(self, request: Request, now_ms: int) -> Response:
        attr = self._repo_attr(request.query)
        return self._export(request, now_ms, self.commits, attr, "ai-code-commits.csv")

    def _change_export(self, request: Request, now_ms: int) -> Response:
        attr = self._source_attr(request.query)
        return self._export(request, now_ms, self.changes, attr, "ai-code-changes.csv")

    def _commit_detail(self, request: Request, now_ms: int) -> Response:
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "request body is not valid JSON") from None
        hashes = body.get("commitHashes") if isinstance(body, dict) else None
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ApiError(
                400, "commitHashes must be a list of strings", ["commitHashes: required"]
            )
        if not hashes:
            raise ApiError(400, "commitHashes is empty", ["commitHashes: at least 1 hash"])
        if len(hashes) > MAX_DETAIL_HASHES:
            raise ApiError(
                400,
                f"commitHashes exceeds {MAX_DETAIL_HASHES}",
                [f"commitHashes: {len(hashes)} > {MAX_DETAIL_HASHES}"],
            )
        branch = body.get("branch")
        if branch is not None and not isinstance(branch, str):
            raise ApiError(400, "branch must be a string")
        commits = []
        for commit_hash in hashes:
            ref = self._find_commit(commit_hash, branch or None, now_ms)
            annotations = [] if ref is None else self.commits.stream.detail(ref)
            commits.append({"commitHash": commit_hash, "rangeAnnotations": annotations})
        return json_response(200, {"success": True, "data": {"commits": commits}})

    def _find_commit(self, commit_hash: str, branch: str | None, now_ms: int) -> Ref | None:
        stream = self.commits.stream
        return self.commits.find_commit(commit_hash, branch, now_ms,
                                        lambda ref: stream.branch(ref, stream.lines(ref))[0])
