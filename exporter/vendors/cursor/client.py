"""Cursor AI Code Tracking API: Basic auth (key as user name), 5 requests per minute per
endpoint, JSON envelope {items,totalCount,page,pageSize}, CSV exports in snake_case."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from exporter.csvrecords import M, Skipped, read_csv, snake_to_camel, validate_items
from exporter.errors import SchemaError
from exporter.httpclient import ApiClient
from exporter.paging import paginate
from exporter.vendors.base import parse_as
from exporter.vendors.cursor.models import CursorChange, CursorCommit, CursorPage
from exporter.vendors.qoder.client import rfc3339

PAGE_SIZE = 1000  # the documented maximum
DETAIL_BATCH = 50  # hashes per blame request: keeps the URL short
BASE = "/analytics/ai-code"

COMMIT_CSV_REQUIRED = ("commitHash", "branchName", "repoName", "totalLinesAdded")
CHANGE_CSV_REQUIRED = ("changeId", "source", "totalLinesAdded")


class CursorTrackingClient:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _range(self, start: datetime, end: datetime) -> dict[str, str]:
        return {"startDate": rfc3339(start), "endDate": rfc3339(end)}

    def pages(self, stream: str, start: datetime, end: datetime,
              on_total: Callable[[int], None] = lambda n: None) -> Iterator[Any]:
        def fetch(page: int) -> tuple[list[Any], int | None]:
            data = self.api.get_json(stream, f"{BASE}/{stream}",
                                     {**self._range(start, end), "page": page,
                                      "pageSize": PAGE_SIZE}, deadline=None)
            got = parse_as(CursorPage, data, stream)
            size = got.pageSize or PAGE_SIZE
            pages = math.ceil(got.totalCount / size) if got.totalCount is not None else None
            return got.items, pages

        return paginate(fetch, page_size=PAGE_SIZE, endpoint=stream, on_total=on_total)

    def commits_json(self, start: datetime, end: datetime,
                     on_total: Callable[[int], None] = lambda n: None,
                     ) -> Iterator[CursorCommit | Skipped]:
        return validate_items(CursorCommit, self.pages("commits", start, end, on_total))

    def changes_json(self, start: datetime, end: datetime,
                     on_total: Callable[[int], None] = lambda n: None,
                     ) -> Iterator[CursorChange | Skipped]:
        return validate_items(CursorChange, self.pages("changes", start, end, on_total))

    def _csv(self, stream: str, model: type[M], required: tuple[str, ...],
             start: datetime, end: datetime) -> Iterator[M | Skipped]:
        with self.api.stream_text(stream, f"{BASE}/{stream}.csv", self._range(start, end),
                                  deadline=None) as text:
            yield from read_csv(text, model, required=required, endpoint=stream,
                                rename=snake_to_camel)

    def commits_csv(self, start: datetime, end: datetime) -> Iterator[CursorCommit | Skipped]:
        return self._csv("commits", CursorCommit, COMMIT_CSV_REQUIRED, start, end)

    def changes_csv(self, start: datetime, end: datetime) -> Iterator[CursorChange | Skipped]:
        return self._csv("changes", CursorChange, CHANGE_CSV_REQUIRED, start, end)

    def commit_detail(self, hashes: Sequence[str], branch: str | None = None,
                      *, deadline: float | None = None) -> list[dict[str, Any]]:
        """Per-commit blame (limited alpha; shape undocumented, returned as decoded)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(hashes), DETAIL_BATCH):
            joined = ",".join(quote(h, safe="") for h in hashes[i:i + DETAIL_BATCH])
            data = self.api.get_json("commit_detail", f"{BASE}/commits/{joined}",
                                     {"branch": branch}, deadline=deadline)
            items = data.get("commits", data.get("items")) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise SchemaError("expected a list of commits", endpoint="commit_detail")
            out.extend(i for i in items if isinstance(i, dict))
        return out
