"""Qoder's Members and Usage APIs (data in credits.py): GET /members,
/members/{member_id}/quota, /members/{member_id}/usage-events, /usage-events and
/resource-packages.

Lists page by cursor: ``maxResults`` (default 20, at most 100; more is a 400) and an
opaque cursor, empty (``""``) on the last page. The cursor is read from ``nextToken`` or
``nextCredits`` (whichever the request has), and answered as ``nextCredits`` by
/usage-events (the English Usage page's spelling) and ``nextToken`` elsewhere (the
Chinese pages'); option ``cursor_spelling`` (``nextToken``, ``nextCredits`` or
``alternate``: page by page) overrides that for every list. A cursor is bound to its
query and to the moment of its first page, so paging a list that grows meanwhile neither
skips nor repeats a record; a cursor of another query is a 400.

Choices where the documentation is silent: usage-events ranges default to the last 30
days and may not exceed 90; ``sources``, ``operations`` and ``modelTiers`` take
comma-separated values (unknown ones match nothing); a deleted or unknown member's quota is
a 404; a deleted member's usage-events list is empty.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from aicode_sim.index import Query, RecordIndex, Selection
from aicode_sim.qoder.credits import Ledger, Member, QoderUsage
from aicode_sim.records import Ref
from aicode_sim.responses import ApiError, Request, Response, json_response
from aicode_sim.timeutil import DAY_MS, parse_qoder_time

CURSOR_NAMES = ("nextToken", "nextCredits")
SPELLINGS = (*CURSOR_NAMES, "alternate")
DEFAULT_MAX_RESULTS = 20
MAX_RESULTS = 100
DEFAULT_USAGE_RANGE_MS = 30 * DAY_MS
MAX_USAGE_RANGE_MS = 90 * DAY_MS


class TeamsApi:
    def __init__(self, usage: RecordIndex[QoderUsage], ledger: Ledger,
                 spelling: str | None = None) -> None:
        if spelling is not None and spelling not in SPELLINGS:
            raise ValueError(f"cursor_spelling must be one of {', '.join(SPELLINGS)}")
        self.usage = usage
        self.ledger = ledger
        self._spelling = spelling

    # ---- paging ---------------------------------------------------------------------------

    def _page(self, request: Request, now_ms: int, kind: str, total: Callable[[int], int],
              items: Callable[[int, int, int], list[Any]], field: str,
              spelling: str) -> Response:
        """One page of a list: `total(as_of)` and `items(as_of, offset, size)` read the
        list as it was when its first page was asked."""
        size = _max_results(request.query)
        fingerprint = _fingerprint(kind, request.query)
        offset, as_of = 0, now_ms
        raw = _cursor_of(request.query)
        if raw:
            offset, as_of = _decode(raw, fingerprint)
        got = items(as_of, offset, size)
        end = offset + len(got)
        nxt = _encode(end, as_of, fingerprint) if end < total(as_of) else ""
        name = self._spelling or spelling
        if name == "alternate":
            name = CURSOR_NAMES[(offset // size) % 2]
        return json_response(200, {field: got, "maxResults": size, name: nxt})

    # ---- members --------------------------------------------------------------------------

    def members(self, request: Request, now_ms: int) -> Response:
        deleted = request.query.get("includeDeleted", "").strip().lower() in ("true", "1")
        email = request.query.get("email", "").strip().lower()

        def listed(as_of: int) -> list[Member]:
            return [m for m in self.ledger.members(as_of)
                    if (deleted or m.status == "ENABLED")
                    and (not email or m.email.lower() == email)]

        return self._page(request, now_ms, "members", lambda t: len(listed(t)),
                          lambda t, o, n: [m.json() for m in listed(t)[o:o + n]],
                          "members", "nextToken")

    def _member(self, member_id: str, now_ms: int) -> Member:
        member = self.ledger.member(member_id, now_ms)
        if member is None:
            raise ApiError(404, "member not found", [f"member_id: {member_id}"])
        return member

    def quota(self, member_id: str, request: Request, now_ms: int) -> Response:
        member = self._member(member_id, now_ms)
        if member.status != "ENABLED":
            raise ApiError(404, "member not found", [f"member_id: {member_id} was deleted"])
        return json_response(200, self.ledger.quota(member, now_ms))

    # ---- usage ------------------------------------------------------------------------------

    def usage_events(self, request: Request, now_ms: int, member_id: str | None = None
                     ) -> Response:
        q = request.query
        end = query_time(q, "endDate")
        end = now_ms if end is None else end
        start = query_time(q, "startDate")
        start = end - DEFAULT_USAGE_RANGE_MS if start is None else start
        if end < start:
            raise ApiError(400, "endDate is before startDate")
        if end - start > MAX_USAGE_RANGE_MS:
            raise ApiError(400, "time range exceeds 90 days", ["endDate - startDate > 90 days"])
        user: int | None = None
        if member_id is not None:
            person = self._member(member_id, now_ms).person
            user = -1 if person is None else person
        wanted = [_values(q, name) for name in ("sources", "operations", "modelTiers")]
        stream = self.usage.stream

        def refs(as_of: int) -> Selection | list[Ref]:
            if user == -1:
                return []
            selection = self.usage.select(Query(start, end, user, None), as_of)
            if not any(wanted):
                return selection  # paged without listing it whole
            return [r for r in selection.refs()
                    if all(not w or f in w for w, f in zip(wanted, stream.fields(r.attr),
                                                           strict=True))]

        def total(as_of: int) -> int:
            got = refs(as_of)
            return got.total if isinstance(got, Selection) else len(got)

        def items(as_of: int, offset: int, size: int) -> list[Any]:
            got = refs(as_of)
            page = (got.refs(offset, size) if isinstance(got, Selection)
                    else got[offset:offset + size])
            return [stream.record(r) for r in page]

        return self._page(request, now_ms, f"usage:{member_id or ''}", total, items,
                          "usages", "nextCredits")

    def resource_packages(self, request: Request, now_ms: int) -> Response:
        return self._page(request, now_ms, "packages",
                          lambda t: len(self.ledger.package_state(t)),
                          lambda t, o, n: self.ledger.package_state(t)[o:o + n],
                          "resourcePackages", "nextToken")


def query_time(query: dict[str, str], name: str) -> int | None:
    """A time parameter (RFC 3339 or Unix ms), None when absent; a 400 when invalid."""
    raw = query.get(name, "").strip()
    if not raw:
        return None
    value = parse_qoder_time(raw)
    if value is None:
        raise ApiError(400, f"invalid {name}", [f"{name}: expected RFC 3339 or Unix milliseconds"])
    return value


def _values(query: dict[str, str], name: str) -> frozenset[str]:
    return frozenset(v.strip() for v in query.get(name, "").split(",") if v.strip())


def _max_results(query: dict[str, str]) -> int:
    raw = query.get("maxResults", "").strip()
    if not raw:
        return DEFAULT_MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "maxResults must be an integer", [f"maxResults: {raw}"]) from None
    if not 1 <= value <= MAX_RESULTS:
        raise ApiError(400, f"maxResults must be between 1 and {MAX_RESULTS}",
                       [f"maxResults: {raw}"])
    return value


def _cursor_of(query: dict[str, str]) -> str:
    for name in CURSOR_NAMES:
        value = query.get(name, "").strip()
        if value:
            return value
    return ""


def _fingerprint(kind: str, query: dict[str, str]) -> str:
    keep = sorted((k, v) for k, v in query.items() if k not in (*CURSOR_NAMES, "maxResults"))
    return hashlib.blake2b(repr((kind, keep)).encode(), digest_size=6).hexdigest()


def _encode(offset: int, as_of: int, fingerprint: str) -> str:
    raw = f"{offset}:{as_of}:{fingerprint}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, fingerprint: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset, as_of, fp = raw.split(":")
        parsed = int(offset), int(as_of)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ApiError(400, "invalid nextToken", ["nextToken: not a token this API gave"]) \
            from None
    if fp != fingerprint or parsed[0] < 0:
        raise ApiError(400, "invalid nextToken", ["nextToken: issued for another query"])
    return parsed
