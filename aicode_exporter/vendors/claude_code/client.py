"""Anthropic's Claude Code Analytics Admin API: one UTC day per request series, cursor
pages of up to 1000 records, an Admin API key in `x-api-key`.

    GET /v1/organizations/usage_report/claude_code?starting_at=2025-09-08&limit=1000
    -> {"data": [...], "has_more": true, "next_page": "page_..."}
    GET ...?starting_at=2025-09-08&limit=1000&page=page_...    (until has_more is false)

A vendor whose pages never end fails the read (SchemaError naming the page) instead of
holding the endpoint: a cursor seen before, a page repeating the previous one, more pages
than any organisation fills (MAX_PAGES), or `has_more` without a cursor.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Generator
from datetime import date
from typing import Any

import httpx

from aicode_exporter.errors import AuthError, SchemaError
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.claude_code.models import UsagePage, UsageRecord
from aicode_exporter.vendors.tolerant import parse_as

logger = logging.getLogger(__name__)

PATH = "/v1/organizations/usage_report/claude_code"
ENDPOINT = "usage_report"
API_VERSION = "2023-06-01"
PAGE_SIZE = 1000  # the documented maximum
# One day of a 100,000-person organisation split three ways is 300 pages; past this the
# vendor is looping.
MAX_PAGES = 1000

# What 401 and 403 mean on this endpoint, said before the vendor's own message.
AUTH_HINTS = {
    401: "the Admin API key was refused (missing, invalid, revoked or expired; "
         "an Admin key starts sk-ant-admin01-)",
    403: "the key is not an Admin API key or lacks access to the Claude Code Analytics "
         "API (it needs an Admin key of an organisation on the Claude Console; inference "
         "keys, Claude Enterprise analytics keys and individual accounts are refused)",
}


class AdminKeyAuth(httpx.Auth):
    """An Anthropic Admin API key in `x-api-key`, with the API version every call needs."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-api-key"] = self._key
        request.headers["anthropic-version"] = API_VERSION
        yield request

    def __repr__(self) -> str:
        return "AdminKeyAuth(<redacted>)"


def _digest(raw: Any) -> bytes:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()


class ClaudeCodeClient:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def day(self, d: date, *, deadline: float | None) -> list[UsageRecord]:
        """Every record of UTC day `d`, all pages; a failure on any page fails the day.

        A record repeated verbatim (on another page, or twice on one) is read once: the
        cursor is documented as stable, so a repeat is the vendor's, not new usage. A
        record dated another day is left out (the day asked is the day counted)."""
        records: list[UsageRecord] = []
        seen_records: set[bytes] = set()
        seen_cursors: set[str] = set()
        previous: bytes | None = None
        repeats = other_days = 0
        cursor: str | None = None
        for page in range(1, MAX_PAGES + 1):
            data = self._get(d, cursor, deadline)
            got = parse_as(UsagePage, data, ENDPOINT)
            raw = data.get("data") if isinstance(data, dict) else None
            raw_items = raw if isinstance(raw, list) else []
            if got.data:
                whole = _digest(raw_items)
                if whole == previous:
                    raise SchemaError(f"page {page} of {d} repeats page {page - 1}: the "
                                      "vendor ignores the page cursor", endpoint=ENDPOINT)
                previous = whole
            for item, record in zip(raw_items, got.data, strict=True):
                key = _digest(item)
                if key in seen_records:
                    repeats += 1
                    continue
                seen_records.add(key)
                if record.date is not None and record.date.date() != d:
                    other_days += 1
                    continue
                records.append(record)
            more = got.has_more if got.has_more is not None else got.next_page is not None
            if not more:
                self._note(d, page, len(records), repeats, other_days)
                return records
            if got.next_page is None:
                raise SchemaError(f"page {page} of {d} says has_more but gives no "
                                  "next_page", endpoint=ENDPOINT)
            if got.next_page in seen_cursors:
                raise SchemaError(f"page {page} of {d} gives a next_page cursor seen before: "
                                  "the list never ends", endpoint=ENDPOINT)
            seen_cursors.add(got.next_page)
            cursor = got.next_page
        raise SchemaError(f"more than {MAX_PAGES} pages for {d}: the vendor never reached "
                          "the end of the list", endpoint=ENDPOINT)

    def _get(self, d: date, cursor: str | None, deadline: float | None) -> Any:
        params: dict[str, Any] = {"starting_at": d.isoformat(), "limit": PAGE_SIZE}
        if cursor is not None:
            params["page"] = cursor
        try:
            return self.api.get_json(ENDPOINT, PATH, params, deadline=deadline)
        except AuthError as e:
            hint = AUTH_HINTS.get(e.status or 0)
            if hint is None:
                raise
            vendor_said = str(e.args[0]) if e.args else ""
            raise AuthError(f"{hint}; vendor said: {vendor_said}", endpoint=e.endpoint,
                            status=e.status, code=e.code, request_id=e.request_id) from None

    def _note(self, d: date, pages: int, records: int, repeats: int, other_days: int) -> None:
        if repeats or other_days:
            logger.warning("records left out of a day", extra={
                "provider": self.api.vendor, "org": self.api.org, "endpoint": ENDPOINT,
                "day": d.isoformat(), "pages": pages, "records": records,
                "repeated": repeats, "other_day": other_days})
