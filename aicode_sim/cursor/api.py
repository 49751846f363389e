"""Cursor's APIs: the AI Code Tracking API (alpha: commits, changes, their CSV streams,
commit blame), here, and the Analytics API (analytics.py) and the Admin API's read
endpoints (admin.py), routed from here with their own limits.

Analytics and Admin: each request counts in its bucket's fixed 60 s window ("reset every
minute"): the team-level reports share one (100), the by-user reports one (50), each Admin
endpoint has its own (20; usage events 60). Over the limit: 429 with Cursor's documented
body and, only with the ``retry_after`` option, a Retry-After header (Cursor documents
none). Analytics answers carry an ETag and ``Cache-Control: public, max-age=900``; a
matching If-None-Match gets 304, which is not counted; the Admin API sends no ETag. Paths
listed in the ``forbidden`` option answer 403 ``Enterprise access required`` (a key
without that scope).

The tracking API:

Auth is HTTP Basic with the API key as user name and an empty password. Each endpoint
allows `cursor_rate_limit_per_minute` requests per key in any 60 s (the vendor's
"5 per minute per team, per endpoint"); the request over the limit gets 429 with
Retry-After and does not use up a slot.

Every 200 carries a strong ETag and ``Cache-Control: public, max-age=900``, as Cursor
documents; a request whose If-None-Match matches gets 304 with no body, which (as at
Cursor) does not count against the rate limit, even when the limit is used up.

The simulator's assumptions where Cursor documents nothing:
* errors are ``{"error": "<HTTP reason phrase>", "message": "..."}``;
* a bare ISO date as endDate includes that whole UTC day;
* ``pageSize`` above 1000 (or below 1) and ``page`` below 1 are 400s;
* rate-limit buckets are per route, so /commits/abc and /commits/def share one;
* ``GET /analytics/ai-code/commits/{hash[,hash...]}`` (at most 50 hashes, optional
  ``branch``) answers, in request order::

    {"commits": [{"commitHash": "...", "repoName": "acme/api" | null,
                  "branchName": "main" | null,
                  "files": [{"fileName": "src/a.ts", "fileExtension": "ts",
                             "ranges": [{"start": 3, "end": 9, "source": "TAB" | "COMPOSER",
                                         "model": "gpt-5" | null}]}]}]}

  An unknown hash gets ``"files": []`` with null repoName/branchName. Ranges cover exactly
  the commit's tabLinesAdded and composerLinesAdded.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from aicode_sim.csvstream import csv_chunks
from aicode_sim.cursor.admin import AdminApi, body_of
from aicode_sim.cursor.analytics import BY_USER, REPORTS, AnalyticsApi
from aicode_sim.cursor.data import CursorChanges, CursorCommits
from aicode_sim.index import Query, RecordIndex, Selection
from aicode_sim.population import Population
from aicode_sim.ratelimit import FixedWindowLimiter, SlidingWindowLimiter
from aicode_sim.records import Ref
from aicode_sim.responses import (
    CSV_TYPE,
    CURSOR_CACHE_CONTROL,
    ApiError,
    Request,
    Response,
    cursor_error_body,
    encoded_json_response,
    etag_matches,
    json_bytes,
    not_modified,
    strong_etag,
)
from aicode_sim.timeutil import DAY_MS, day_of, parse_cursor_time

PREFIX = "/analytics/"
ADMIN_PREFIX = "/teams/"
_ANALYTICS = re.compile(r"^/analytics/(team|by-user)/([a-z-]+)$")
_GROUP = re.compile(r"^/teams/groups/([^/]+)$")
# path -> (method, rate bucket)
_ADMIN = {"/teams/members": ("GET", "members"), "/teams/groups": ("GET", "groups"),
          "/teams/spend": ("POST", "spend"), "/teams/daily-usage-data": ("POST", "daily_usage"),
          "/teams/filtered-usage-events": ("POST", "usage_events")}
DEFAULT_RANGE_MS = 7 * DAY_MS
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_BLAME_HASHES = 50
_BLAME = re.compile(r"^/analytics/ai-code/commits/([^/]+)$")
_BLAME_ROUTE = "/analytics/ai-code/commits/{hash}"

Handler = Callable[[Request, int], Response]


class CursorApi:
    def __init__(
        self,
        *,
        population: Population,
        commits: RecordIndex[CursorCommits],
        changes: RecordIndex[CursorChanges],
        api_key: str,
        limiter: SlidingWindowLimiter | None,
        analytics: AnalyticsApi,
        admin: AdminApi,
        buckets: Mapping[str, FixedWindowLimiter | None] | None = None,
        retry_after: bool = False,
        forbidden: Sequence[str] = (),
    ) -> None:
        self.population = population
        self.commits = commits
        self.changes = changes
        self.analytics = analytics
        self.admin = admin
        self._api_key = api_key
        self._limiter = limiter
        self._buckets = dict(buckets or {})
        self._retry_after = retry_after
        self._forbidden = tuple(forbidden)
        self._routes: dict[str, Handler] = {
            "/analytics/ai-code/commits": self._commit_list,
            "/analytics/ai-code/changes": self._change_list,
            "/analytics/ai-code/commits.csv": self._commit_csv,
            "/analytics/ai-code/changes.csv": self._change_csv,
        }

    def handle(self, request: Request, now_ms: int) -> Response:
        try:
            return self._dispatch(request, now_ms)
        except ApiError as error:
            return self.error_response(error.status, error.message, error.headers)

    @staticmethod
    def error_response(
        status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        return encoded_json_response(status, cursor_error_body(status, message), headers)

    def _dispatch(self, request: Request, now_ms: int) -> Response:
        if request.path.startswith("/teams/"):
            return self._admin(request, now_ms)
        match = _ANALYTICS.match(request.path)
        if match is not None:
            return self._analytics(request, now_ms, match.group(1), match.group(2))
        return self._tracking(request, now_ms)

    # ---- Analytics and Admin ------------------------------------------------------------

    def _checks(self, request: Request, method: str) -> None:
        if request.method != method:
            raise ApiError(405, f"method {request.method} not allowed",
                           headers={"Allow": method})
        self._authenticate(request)
        if any(request.path.startswith(p) for p in self._forbidden):
            raise ApiError(403, "Enterprise access required")

    def _take(self, bucket: str) -> None:
        limiter = self._buckets.get(bucket)
        if limiter is None:
            return
        decision = limiter.acquire((self._api_key, bucket))
        if not decision.allowed:
            headers = {"Retry-After": str(decision.retry_after)} if self._retry_after else {}
            raise ApiError(429, "Rate limit exceeded. Please try again later.", headers=headers)

    def _analytics(self, request: Request, now_ms: int, level: str, report: str) -> Response:
        api, query = self.analytics, request.query
        answer: Callable[[], object]
        if level == "team" and report in REPORTS:
            bucket, answer = "analytics_team", lambda: api.team(report, query, now_ms)
        elif level == "team" and report == "leaderboard":
            bucket, answer = "analytics_team", lambda: api.leaderboard(query, now_ms)
        elif level == "by-user" and report in BY_USER:
            bucket, answer = "analytics_by_user", lambda: api.by_user(report, query, now_ms)
        else:
            raise ApiError(404, "Resource not found")
        self._checks(request, "GET")
        try:
            response = self._json_200(answer())
        except ApiError:
            self._take(bucket)
            raise
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and etag_matches(if_none_match, response.headers["ETag"]):
            return not_modified(response)  # not counted, as at Cursor
        self._take(bucket)
        return response

    def _admin(self, request: Request, now_ms: int) -> Response:
        found = _ADMIN.get(request.path)
        group = _GROUP.match(request.path)
        if found is None and group is None:
            raise ApiError(404, "Resource not found")
        method, bucket = found or ("GET", "groups")
        self._checks(request, method)
        self._take(bucket)
        admin = self.admin
        if group is not None:
            payload = admin.groups(request.query, now_ms, only=group.group(1))
        elif bucket == "members":
            payload = admin.members()
        elif bucket == "groups":
            payload = admin.groups(request.query, now_ms)
        else:
            body = body_of(request.body)
            payload = (admin.spend(body, now_ms) if bucket == "spend" else
                       admin.daily_usage(body, now_ms) if bucket == "daily_usage" else
                       admin.usage_events(body, now_ms))
        return encoded_json_response(200, json_bytes(payload))

    # ---- AI Code Tracking ---------------------------------------------------------------

    def _tracking(self, request: Request, now_ms: int) -> Response:
        route = request.path
        handler = self._routes.get(route)
        if handler is None and _BLAME.match(request.path):
            route, handler = _BLAME_ROUTE, self._blame
        if handler is None:
            raise ApiError(404, f"no route for {request.path}")
        if request.method != "GET":
            raise ApiError(405, f"method {request.method} not allowed", headers={"Allow": "GET"})
        self._authenticate(request)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is None:
            self._rate_limit(route)
            return handler(request, now_ms)
        # A 304 is not counted, so a conditional request is answered before the limit is
        # checked; anything else is then counted (or refused) as usual.
        try:
            response = handler(request, now_ms)
        except ApiError:
            self._rate_limit(route)
            raise
        etag = response.headers.get("ETag")
        if response.status == 200 and etag and etag_matches(if_none_match, etag):
            return not_modified(response)
        self._rate_limit(route)
        return response

    def _rate_limit(self, route: str) -> None:
        if self._limiter is None:
            return
        decision = self._limiter.acquire((self._api_key, route))
        if not decision.allowed:
            raise ApiError(
                429,
                f"rate limit of {decision.limit} requests per minute exceeded for {route}",
                headers={"Retry-After": str(decision.retry_after)},
            )

    def _authenticate(self, request: Request) -> None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            raise ApiError(401, "missing Basic credentials: use the API key as user name")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "malformed Basic credentials") from None
        user, _, password = decoded.partition(":")
        if password or not hmac.compare_digest(user.encode(), self._api_key.encode()):
            raise ApiError(401, "invalid API key")

    # ---- parameters ---------------------------------------------------------------------

    def _query(self, query: dict[str, str], now_ms: int) -> Query | None:
        bounds = []
        for name, default, end_of_day in (
            ("startDate", now_ms - DEFAULT_RANGE_MS, False),
            ("endDate", now_ms, True),
        ):
            raw = query.get(name, "").strip()
            value = parse_cursor_time(raw, now_ms, end_of_day=end_of_day) if raw else default
            if value is None:
                raise ApiError(
                    400, f"invalid {name}: use an ISO date, 'now' or relative days like 7d"
                )
            bounds.append(value)
        start, end = bounds
        if end < start:
            raise ApiError(400, "endDate is before startDate")
        user = None
        if query.get("user", "").strip():
            user = self.population.by_cursor_user(query["user"])
            if user is None:
                return None
        return Query(start, end, user)

    @staticmethod
    def _paging(query: dict[str, str]) -> tuple[int, int]:
        values = []
        for name, default in (("page", 1), ("pageSize", DEFAULT_PAGE_SIZE)):
            raw = query.get(name, "").strip()
            try:
                value = int(raw) if raw else default
            except ValueError:
                raise ApiError(400, f"{name} must be a number") from None
            if value < 1:
                raise ApiError(400, f"{name} must be >= 1")
            values.append(value)
        page, size = values
        if size > MAX_PAGE_SIZE:
            raise ApiError(400, f"pageSize must be <= {MAX_PAGE_SIZE}")
        return page, size

    @staticmethod
    def _json_200(payload: object) -> Response:
        data = json_bytes(payload)
        return encoded_json_response(
            200, data, {"ETag": strong_etag(data), "Cache-Control": CURSOR_CACHE_CONTROL}
        )

    def _select(self, index: RecordIndex[Any], request: Request, now_ms: int) -> Selection:
        query = self._query(request.query, now_ms)
        return Selection(0, ()) if query is None else index.select(query, now_ms)

    # ---- handlers -----------------------------------------------------------------------

    def _list(self, index: RecordIndex[Any], request: Request, now_ms: int) -> Response:
        page, size = self._paging(request.query)
        selection = self._select(index, request, now_ms)
        items = [index.stream.record(ref) for ref in selection.refs((page - 1) * size, size)]
        return self._json_200(
            {"items": items, "totalCount": selection.total, "page": page, "pageSize": size}
        )

    def _csv(self, index: RecordIndex[Any], request: Request, now_ms: int) -> Response:
        query = self._query(request.query, now_ms)  # validates before the 200
        stream = index.stream
        refs = iter(()) if query is None else index.stream_refs(query, now_ms)
        rows: Iterable[list[object]] = (stream.csv_row(ref) for ref in refs)
        headers = {
            "Content-Type": CSV_TYPE,
            "ETag": self._csv_etag(index, request.path, query, now_ms),
            "Cache-Control": CURSOR_CACHE_CONTROL,
        }
        return Response(200, headers, csv_chunks(stream.csv_header, rows))

    def _csv_etag(
        self, index: RecordIndex[Any], route: str, query: Query | None, now_ms: int
    ) -> str:
        """The export's ETag without rendering it twice (the body streams): a CSV is fixed
        by the data set, the resolved query and which matching records are visible. Within
        one UTC day (a fixed data window) records only ever become visible as their
        ingestion time passes, so the number of visible matches tells which they are."""
        stream = index.stream
        total = 0 if query is None else index.select(query, now_ms).total
        identity = (
            type(stream).__name__, stream.seed_bits, stream.rate, len(self.population.people),
            len(self.population.repos), index.days, route, query, day_of(now_ms), total,
        )
        return strong_etag(repr(identity).encode())

    def _commit_list(self, request: Request, now_ms: int) -> Response:
        return self._list(self.commits, request, now_ms)

    def _change_list(self, request: Request, now_ms: int) -> Response:
        return self._list(self.changes, request, now_ms)

    def _commit_csv(self, request: Request, now_ms: int) -> Response:
        return self._csv(self.commits, request, now_ms)

    def _change_csv(self, request: Request, now_ms: int) -> Response:
        return self._csv(self.changes, request, now_ms)

    def _blame(self, request: Request, now_ms: int) -> Response:
        match = _BLAME.match(request.path)
        assert match is not None
        hashes = [h for h in match.group(1).split(",") if h.strip()]
        if not hashes:
            raise ApiError(400, "no commit hash given")
        if len(hashes) > MAX_BLAME_HASHES:
            raise ApiError(400, f"at most {MAX_BLAME_HASHES} commit hashes per request")
        branch = request.query.get("branch", "").strip() or None
        out: list[dict[str, object]] = []
        for commit_hash in hashes:
            ref = self._find_commit(commit_hash, branch, now_ms)
            if ref is None:
                out.append(
                    {"commitHash": commit_hash, "repoName": None, "branchName": None, "files": []}
                )
                continue
            record = self.commits.stream.record(ref)
            out.append(
                {
                    "commitHash": commit_hash,
                    "repoName": record["repoName"],
                    "branchName": record["branchName"],
                    "files": self.commits.stream.blame(ref),
                }
            )
        return self._json_200({"commits": out})

    def _find_commit(self, commit_hash: str, branch: str | None, now_ms: int) -> Ref | None:
        stream = self.commits.stream
        return self.commits.find_commit(commit_hash, branch, now_ms,
                                        lambda ref: stream.record(ref)["branchName"])
