"""Cursor AI Code Tracking API: Basic auth (key as user name), 5 requests per minute per
endpoint, JSON envelope {items,totalCount,page,pageSize}, CSV exports in snake_case."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from aicode_exporter.errors import SchemaError
from aicode_exporter.toolkit.http.csvstream import snake_to_camel
from aicode_exporter.vendors.changes import ChangeItem
from aicode_exporter.vendors.cursor.models import CursorCommit, CursorPage
from aicode_exporter.vendors.tolerant import Tolerant, parse_as
from aicode_exporter.vendors.tracking import TrackingClient

PAGE_SIZE = 1000  # the documented maximum
BASE = "/analytics/ai-code"

COMMIT_CSV_REQUIRED = ("commitHash", "branchName", "repoName", "totalLinesAdded")
CHANGE_CSV_REQUIRED = ("changeId", "source", "totalLinesAdded")


class CursorTrackingClient(TrackingClient):
    page_size = PAGE_SIZE
    models: ClassVar[Mapping[str, type[Tolerant]]] = {
        "commits": CursorCommit, "changes": ChangeItem}
    csv_required: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "commits": COMMIT_CSV_REQUIRED, "changes": CHANGE_CSV_REQUIRED}

    def list_path(self, stream: str) -> str:
        return f"{BASE}/{stream}"

    def csv_path(self, stream: str) -> str:
        return f"{BASE}/{stream}.csv"

    def parse_page(self, data: Any, stream: str) -> tuple[list[Any], int | None]:
        got = parse_as(CursorPage, data, stream)
        size = got.pageSize or PAGE_SIZE
        pages = math.ceil(got.totalCount / size) if got.totalCount is not None else None
        return got.items, pages

    def rename(self, column: str) -> str:
        return snake_to_camel(column)  # the CSV is snake_case, the JSON camelCase

    def detail_batch(self, hashes: Sequence[str], branch: str | None,
                     deadline: float | None) -> list[dict[str, Any]]:
        """Per-commit blame (limited alpha; shape undocumented, returned as decoded)."""
        joined = ",".join(quote(h, safe="") for h in hashes)
        data = self.api.get_json("commit_detail", f"{BASE}/commits/{joined}",
                                 {"branch": branch}, deadline=deadline)
        items = data.get("commits", data.get("items")) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise SchemaError("expected a list of commits", endpoint="commit_detail")
        return [i for i in items if isinstance(i, dict)]
