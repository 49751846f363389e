"""What both vendors' AI Code Tracking APIs share: two streams (commits, changes), each
readable as JSON pages or as one streamed CSV export. Vendors supply paths, page parsing,
models and CSV column names; the loops live here once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from exporter.csvrecords import Skipped, read_csv, validate_items
from exporter.httpclient import ApiClient
from exporter.paging import paginate
from exporter.vendors.base import Tolerant


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class TrackingClient:
    page_size: ClassVar[int]
    models: ClassVar[Mapping[str, type[Tolerant]]]  # stream -> record model
    csv_required: ClassVar[Mapping[str, tuple[str, ...]]]  # stream -> columns, renamed

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def list_path(self, stream: str) -> str:
        raise NotImplementedError

    def csv_path(self, stream: str) -> str:
        raise NotImplementedError

    def parse_page(self, data: Any, stream: str) -> tuple[list[Any], int | None]:
        """(items, total pages if stated)"""
        raise NotImplementedError

    def commit_detail(self, hashes: Sequence[str], branch: str | None = None,
                      *, deadline: float | None = None) -> list[Any]:
        """Per-commit AI attribution, in the vendor's shape (commitdetail.py reads both)."""
        raise NotImplementedError

    def rename(self, column: str) -> str:
        return column

    def _range(self, start: datetime, end: datetime) -> dict[str, str]:
        return {"startDate": rfc3339(start), "endDate": rfc3339(end)}

    def json_records(self, stream: str, start: datetime, end: datetime,
                     on_total: Callable[[int], None] = lambda n: None,
                     ) -> Iterator[Tolerant | Skipped]:
        def fetch(page: int) -> tuple[list[Any], int | None]:
            data = self.api.get_json(stream, self.list_path(stream),
                                     {**self._range(start, end), "page": page,
                                      "pageSize": self.page_size}, deadline=None)
            return self.parse_page(data, stream)

        items = paginate(fetch, page_size=self.page_size, endpoint=stream, on_total=on_total)
        return validate_items(self.models[stream], items)

    def csv_records(self, stream: str, start: datetime,
                    end: datetime) -> Iterator[Tolerant | Skipped]:
        with self.api.stream_text(stream, self.csv_path(stream), self._range(start, end),
                                  deadline=None) as text:
            yield from read_csv(text, self.models[stream], required=self.csv_required[stream],
                                endpoint=stream, rename=self.rename)
