"""Qoder's Members and Usage APIs: tolerant response models and the client.

Unlike AI Code Metrics and Tracking, these lists page by cursor: `maxResults` (at most
100) and a cursor the last page leaves empty (`""`). Qoder's English Usage page spells the
cursor `nextCredits`, its Chinese pages `nextToken`: a response may carry either, and the
next request sends the cursor back under the name the response used.

Endpoints (under /v1/organizations/{organization_id}):
* GET /members (`includeDeleted=true` lists deleted members too; `email` may be absent);
* GET /members/{member_id}/quota (one member's credit quota);
* GET /usage-events (every member's credit usage records, by time range);
* GET /resource-packages (the organisation's shared add-on credits).
Enum values (roles, statuses, sources, operations, model tiers) are plain strings: Qoder
adds values, and an unknown one is never an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BeforeValidator, Field

from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.paging import paginate_tokens
from aicode_exporter.vendors.tolerant import ListOf, Num, Str, Tolerant, parse_as
from aicode_exporter.vendors.tracking import rfc3339

MAX_RESULTS = 100  # the documented maximum of maxResults
CURSOR_NAMES = ("nextToken", "nextCredits")
# A Unix time below this is in seconds, above it in milliseconds: 1e11 ms is 1973, 1e11 s
# the year 5138, so neither reading of a real timestamp is ambiguous.
SECONDS_BELOW = 1e11


def instant_ms(v: Any) -> float | None:
    """A vendor time as Unix milliseconds: a number or digit string (Unix ms as
    documented; Unix seconds read as such), or RFC 3339. None when blank; ValueError when
    it is no time at all."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        raise ValueError(f"expected a Unix time or RFC 3339, got {v!r}")
    if isinstance(v, int | float) or (isinstance(v, str) and _numeric(v)):
        f = float(v)
        if not math.isfinite(f) or f < 0:
            raise ValueError(f"expected a Unix time, got {v!r}")
        return f * 1000 if f < SECONDS_BELOW else f
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.strip().replace("z", "Z"))
        except ValueError:
            raise ValueError(f"expected a Unix time or RFC 3339, got {v[:40]!r}") from None
        if t.tzinfo is None:
            raise ValueError(f"a time without a zone: {v[:40]!r}")
        return t.timestamp() * 1000
    raise ValueError(f"expected a Unix time or RFC 3339, got {type(v).__name__}")


def _numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _required_ms(v: Any) -> float:
    ms = instant_ms(v)
    if ms is None:
        raise ValueError("missing")
    return ms


def _opt_seconds(v: Any) -> float | None:
    ms = instant_ms(v)
    return None if ms is None else ms / 1000


def _opt_amount(v: Any) -> float | None:
    """A credit amount of a gauge: None when absent or blank (no limit, not stated); else
    a finite number >= 0, or the response fails naming the field."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        raise ValueError(f"an amount must be a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"an amount must be a number, got {v!r}") from None
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"an amount must be a finite number >= 0, got {v!r}")
    return f


def _token(v: Any) -> str:
    return "" if v is None else str(v).strip()


EpochMs = Annotated[float, BeforeValidator(_required_ms)]
OptInstant = Annotated[float | None, BeforeValidator(_opt_seconds)]  # Unix seconds
Amount = Annotated[float | None, BeforeValidator(_opt_amount)]
Token = Annotated[str, BeforeValidator(_token)]


class CursorPage(Tolerant):
    nextToken: Token = ""
    nextCredits: Token = ""

    def cursor(self) -> tuple[str, str]:
        """(the next page's cursor, "" on the last page; the name it came under)."""
        for name in CURSOR_NAMES:
            value: str = getattr(self, name)
            if value:
                return value, name
        return "", CURSOR_NAMES[0]


# -- members ---------------------------------------------------------------------------------

class TeamMember(Tolerant):
    id: Str = ""
    name: Str = ""
    email: Str = ""  # absent for some members
    role: Str = ""  # org_admin | org_member | ...
    status: Str = ""  # ENABLED | DELETED | ...

    @property
    def enabled(self) -> bool:
        return self.status.strip().upper() == "ENABLED"


class MemberPage(CursorPage):
    members: ListOf[TeamMember] = Field(default_factory=list)


class QuotaSummary(Tolerant):
    usedValue: Amount = None
    limitValue: Amount = None
    unit: Str = ""


class TotalQuota(Tolerant):
    quotaSummary: QuotaSummary = Field(default_factory=QuotaSummary)


class MemberQuota(Tolerant):
    status: Str = ""  # restricted when the quota is used up
    totalQuota: TotalQuota = Field(default_factory=TotalQuota)
    nextResetAt: OptInstant = None


# -- usage and add-on credits ----------------------------------------------------------------

class UsageItem(Tolerant):
    """One credit usage record. Records are aggregated and carry no id (see usage.py)."""

    timestamp: EpochMs  # Unix ms
    userId: Str = ""
    userEmail: Str = ""
    source: Str = ""  # IDE, CLI, JetBrains Plugin, Web, QoderWork, ...
    operation: Str = ""  # Inline Chat, Ask, Agent, Quest, Completion, ...
    modelTier: Str = ""  # Auto, Performance, Efficient, Lite, named models, ...
    credits: Num = 0
    # `cost` (a price without a stated currency) is not read: see usage.py.


class UsagePage(CursorPage):
    """`usages` of a usage-events page; items are validated one by one by the caller."""

    usages: ListOf[Any] = Field(default_factory=list)


class ResourcePackage(Tolerant):
    id: Str = ""
    name: Str = ""
    source: Str = ""
    status: Str = ""
    activatedAt: OptInstant = None
    expiresAt: OptInstant = None
    limitValue: Amount = None
    usedValue: Amount = None
    remainingValue: Amount = None
    unit: Str = ""


class PackagePage(CursorPage):
    resourcePackages: ListOf[ResourcePackage] = Field(default_factory=list)


class QoderTeamsClient:
    """Members, member quota, usage events and resource packages of one organisation."""

    def __init__(self, api: ApiClient, organization_id: str) -> None:
        self.api = api
        self.prefix = f"/v1/organizations/{quote(organization_id, safe='')}"

    def _pages(self, endpoint: str, path: str, params: dict[str, Any], model: type[CursorPage],
               field: str, deadline: float | None) -> Iterator[Any]:
        """The items of every page, the cursor sent back under the name it came with."""
        name = CURSOR_NAMES[0]

        def fetch(cursor: str | None) -> tuple[list[Any], str | None]:
            nonlocal name
            query = {**params, "maxResults": MAX_RESULTS}
            if cursor:
                query[name] = cursor
            page = parse_as(model, self.api.get_json(endpoint, f"{self.prefix}{path}", query,
                                                     deadline=deadline), endpoint)
            nxt, name = page.cursor()
            return list(getattr(page, field)), nxt

        return paginate_tokens(fetch, endpoint=endpoint)

    def members(self, *, include_deleted: bool, deadline: float | None,
                endpoint: str = "members") -> Iterator[TeamMember]:
        params = {"includeDeleted": "true"} if include_deleted else {}
        return self._pages(endpoint, "/members", params, MemberPage, "members", deadline)

    def quota(self, member_id: str, *, deadline: float | None,
              endpoint: str = "member_quota") -> MemberQuota:
        path = f"{self.prefix}/members/{quote(member_id, safe='')}/quota"
        return parse_as(MemberQuota, self.api.get_json(endpoint, path, {}, deadline=deadline),
                        endpoint)

    def usage_events(self, start: datetime, end: datetime,
                     endpoint: str = "credits") -> Iterator[Any]:
        """Raw usage records of [start, end] (validated one by one by the caller)."""
        params = {"startDate": rfc3339(start), "endDate": rfc3339(end)}
        return self._pages(endpoint, "/usage-events", params, UsagePage, "usages", None)

    def resource_packages(self, *, deadline: float | None,
                          endpoint: str = "resource_packages") -> Iterator[ResourcePackage]:
        return self._pages(endpoint, "/resource-packages", {}, PackagePage,
                           "resourcePackages", deadline)
