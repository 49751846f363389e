"""Simulated Claude Code Analytics Admin API (Anthropic).

    GET /v1/organizations/usage_report/claude_code?starting_at=YYYY-MM-DD[&limit=N][&page=C]
    x-api-key: <admin key>   (or Authorization: Bearer <admin key>)
    anthropic-version: 2023-06-01

One UTC day per query; ``limit`` 1-1000 (default 20); ``page`` is the previous answer's
``next_page``, an opaque ``page_`` cursor bound to its ``starting_at`` (another day's
cursor is a 400). Only data older than the lag (an hour) is shown, and the visibility
boundary is fixed by the first page of a sequence (kept in the cursor), so one sequence's
pages stay consistent while new data arrives. A day without data (before the history,
in the future, or nobody active) is ``{"data": [], "has_more": false, "next_page": null}``.

Errors are Anthropic's shape, ``{"type": "error", "error": {"type", "message"},
"request_id"}``: 401 ``authentication_error`` for a missing or unknown key; 403
``permission_error`` for a key that is not an Admin key (an inference key
``sk-ant-api...``); 400 ``invalid_request_error`` for a missing ``anthropic-version`` or
bad parameters; 429 ``rate_limit_error`` with ``retry-after`` past the rate limit.
Every answer has a ``request-id`` header.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from aicode_sim.claude_code.data import ORGANIZATION_ID, ClaudeCodeUsage
from aicode_sim.ratelimit import SlidingWindowLimiter
from aicode_sim.responses import ApiError, Request, Response, json_bytes, json_response
from aicode_sim.timeutil import DAY_MS, HOUR_MS, day_of

PATH = "/v1/organizations/usage_report/claude_code"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
LAG_MS = HOUR_MS
VERSION = "2023-06-01"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def anthropic_error_body(status: int, message: str, request_id: str) -> bytes:
    return json_bytes({"type": "error",
                       "error": {"type": error_type(status), "message": message},
                       "request_id": request_id})


def _cursor(day: str, offset: int, boundary_ms: int) -> str:
    raw = f"{day}|{offset}|{boundary_ms}".encode()
    return "page_" + base64.urlsafe_b64encode(raw).decode()


def _read_cursor(cursor: str, day: str) -> tuple[int, int]:
    """(offset, boundary) of a cursor for `day`; ApiError 400 otherwise."""
    try:
        if not cursor.startswith("page_"):
            raise ValueError
        got_day, offset, boundary = (
            base64.urlsafe_b64decode(cursor[5:].encode()).decode().split("|"))
        numbers = int(offset), int(boundary)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "page: invalid pagination cursor") from None
    if got_day != day:
        raise ApiError(400, "page: this cursor belongs to a query with another starting_at")
    return numbers


class ClaudeCodeApi:
    def __init__(self, *, usage: ClaudeCodeUsage, api_key: str, days: int,
                 new_request_id: Callable[[], str], limiter: SlidingWindowLimiter | None,
                 lag_ms: int = LAG_MS) -> None:
        self.usage = usage
        self.api_key = api_key
        self.days = days
        self.lag_ms = lag_ms
        self._new_request_id = new_request_id
        self._limiter = limiter
        # The pages of one sequence share a boundary: their records are built once.
        self._shown: OrderedDict[tuple[int, int], list[dict[str, object]]] = OrderedDict()
        self._shown_lock = threading.Lock()

    def handle(self, request: Request, now_ms: int) -> Response:
        request_id = self._new_request_id()
        try:
            response = self._dispatch(request, now_ms)
        except ApiError as error:
            body = anthropic_error_body(error.status, error.message, request_id)
            response = Response(error.status, {"Content-Type": "application/json",
                                               "Content-Length": str(len(body)),
                                               **error.headers}, [body])
        response.headers["request-id"] = request_id
        return response

    def records(self, day: date, now_ms: int) -> list[dict[str, object]]:
        """Every record a complete read of `day` at `now_ms` returns (the truth tests
        compare the exporter with)."""
        number = day.toordinal() - date(1970, 1, 1).toordinal()
        return self._visible(number, now_ms - self.lag_ms, now_ms)

    def _visible(self, day: int, boundary_ms: int, now_ms: int) -> list[dict[str, object]]:
        today = day_of(now_ms)
        if day > today or day < today - self.days or boundary_ms < day * DAY_MS:
            return []
        key = (day, min(boundary_ms, (day + 1) * DAY_MS))
        with self._shown_lock:
            shown = self._shown.get(key)
            if shown is None:
                shown = self._shown[key] = self.usage.records(day, boundary_ms)
                while len(self._shown) > 8:
                    self._shown.popitem(last=False)
            return shown

    def _dispatch(self, request: Request, now_ms: int) -> Response:
        if request.path != PATH:
            raise ApiError(404, f"no route for {request.path}")
        if request.method != "GET":
            raise ApiError(405, f"method {request.method} not allowed", headers={"Allow": "GET"})
        self._authenticate(request)
        if request.headers.get("anthropic-version", "").strip() != VERSION:
            raise ApiError(400, f"anthropic-version: header is required ({VERSION})")
        if self._limiter is not None:
            decision = self._limiter.acquire(self.api_key)
            if not decision.allowed:
                raise ApiError(429, "Number of requests has exceeded your rate limit",
                               headers={"retry-after": str(decision.retry_after)})
        q = request.query
        day = q.get("starting_at", "")
        try:
            number = date.fromisoformat(day).toordinal() - date(1970, 1, 1).toordinal()
            if len(day) != 10:
                raise ValueError
        except ValueError:
            raise ApiError(400, "starting_at: a date YYYY-MM-DD is required") from None
        try:
            limit = int(q.get("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            raise ApiError(400, "limit: must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"limit: must be between 1 and {MAX_LIMIT}")
        offset, boundary = 0, now_ms - self.lag_ms
        if q.get("page"):
            offset, boundary = _read_cursor(q["page"], day)
        records = self._visible(number, boundary, now_ms)
        chunk = records[offset:offset + limit]
        more = offset + limit < len(records)
        return json_response(200, {
            "data": chunk, "has_more": more,
            "next_page": _cursor(day, offset + limit, boundary) if more else None,
        }, {"anthropic-organization-id": ORGANIZATION_ID})

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else ""
        if not key:
            raise ApiError(401, "x-api-key header is required")
        if hmac.compare_digest(key.encode(), self.api_key.encode()):
            return
        if key.startswith("sk-ant-api"):
            raise ApiError(403, "This API key does not have permission to use the Admin API; "
                                "an Admin API key (sk-ant-admin01-...) is required")
        raise ApiError(401, "invalid x-api-key")
