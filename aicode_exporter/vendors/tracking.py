"""What every vendor's AI Code Tracking API shares: two record streams (commits,
changes), each readable as JSON pages or as one streamed CSV export, and per-commit
detail. Vendors supply paths, page parsing, models and CSV column names; the loops, the
choice of format and the stream declarations live here once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from aicode_exporter.config.base import ProviderBase
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.records import StreamRecord
from aicode_exporter.pipeline.streams import plan_pages
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped, read_csv, skipped, validate_items
from aicode_exporter.toolkit.http.jsonbody import JsonTooCostly, loads
from aicode_exporter.toolkit.http.paging import paginate
from aicode_exporter.vendors.base import Fetch, RecordStream, Wiring
from aicode_exporter.vendors.tolerant import Tolerant

logger = logging.getLogger(__name__)

STREAMS = ("commits", "changes")
# Hashes per commit-detail request: Qoder takes at most 50; Cursor puts them in the URL
# path, which stays short at 50.
DETAIL_BATCH = 50

# (vendor's record model, time we read it) -> the neutral record
ToRecord = Callable[[Any, float], StreamRecord]


def parse_metadata_json(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV export's `metadataJson` column (files of a change, as JSON text) as the
    `metadata` list the JSON pages carry; a row whose column is not JSON, or is nested
    deeper than a JSON answer may be, is skipped."""
    raw = row.pop("metadataJson", None)
    if raw is not None:
        try:
            row["metadata"] = loads(raw)
        except JsonTooCostly as e:
            raise ValueError(f"metadata_json is {e}") from None
        except ValueError:
            raise ValueError("metadata_json is not JSON") from None
    return row


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
        """Per-commit AI attribution in the vendor's shape (its Vendor turns it into
        rows), asked DETAIL_BATCH hashes at a time."""
        out: list[Any] = []
        for i in range(0, len(hashes), DETAIL_BATCH):
            out += self.detail_batch(hashes[i:i + DETAIL_BATCH], branch, deadline)
        return out

    def detail_batch(self, hashes: Sequence[str], branch: str | None,
                     deadline: float | None) -> list[Any]:
        """One request of commit detail."""
        raise NotImplementedError

    def rename(self, column: str) -> str:
        return column

    def _range(self, start: datetime, end: datetime) -> dict[str, str]:
        return {"startDate": rfc3339(start), "endDate": rfc3339(end)}

    def json_items(self, stream: str, start: datetime, end: datetime,
                     on_total: Callable[[int], None] = lambda n: None,
                     ) -> Iterator[Tolerant | Skipped]:
        def fetch(page: int) -> tuple[list[Any], int | None]:
            data = self.api.get_json(stream, self.list_path(stream),
                                     {**self._range(start, end), "page": page,
                                      "pageSize": self.page_size}, deadline=None)
            return self.parse_page(data, stream)

        items = paginate(fetch, page_size=self.page_size, endpoint=stream, on_total=on_total)
        return validate_items(self.models[stream], items)

    def csv_items(self, stream: str, start: datetime,
                    end: datetime) -> Iterator[Tolerant | Skipped]:
        with self.api.stream_text(stream, self.csv_path(stream), self._range(start, end),
                                  deadline=None) as text:
            yield from read_csv(text, self.models[stream], required=self.csv_required[stream],
                                endpoint=stream, rename=self.rename,
                                row_hook=parse_metadata_json)


def choose_format(cfg: ProviderBase, stream: str, csv_complete: bool) -> str:
    """`auto` takes the CSV export (one request whatever the size) wherever it carries
    every field the counters need."""
    fmt = cfg.endpoint(stream).format
    if fmt == "auto":
        return "csv" if csv_complete else "json"
    if fmt == "csv" and not csv_complete:
        logger.warning("CSV export lacks file metadata", extra={
            "provider": cfg.type, "org": cfg.name, "stream": stream,
            "effect": "aicode_change_file_lines_* get no data from this stream"})
    return fmt


def over_budget_hint(stream: str, fmt: str, csv_complete: bool, first: bool) -> str:
    """What would actually make a stream that outruns its rate budget finish sooner."""
    if first:
        return ("this is the first read of initial_backfill: it goes on slice by slice, "
                "resumes after a restart, and a shorter initial_backfill ends it sooner")
    if fmt == "json" and csv_complete:
        return f"use the CSV export (endpoints.{stream}.format: csv): one request per slice"
    return (f"raise endpoints.{stream}.rate_limit_per_minute if the vendor allows more, "
            "or shorten lookback / lengthen lookback_interval")


def tracking_streams(client: Callable[[Any, ApiClient], TrackingClient],
                     to_record: Mapping[str, ToRecord], csv_complete: Mapping[str, bool],
                     sources: Mapping[str, str]) -> tuple[RecordStream, ...]:
    """The two tracking streams of a vendor, as RecordStream declarations."""
    counters = {"commits": catalog.COMMIT_COUNTERS, "changes": catalog.CHANGE_COUNTERS}

    def opener(stream: str) -> Callable[[Any, ApiClient, Wiring], Fetch]:
        def open_(cfg: Any, api: ApiClient, w: Wiring) -> Fetch:
            return _fetch(cfg, api, w, client(cfg, api), stream, to_record[stream],
                          csv_complete[stream])
        return open_

    return tuple(RecordStream(s, sources[s], counters[s], opener(s)) for s in STREAMS)


def _fetch(cfg: ProviderBase, api: ApiClient, w: Wiring, client: TrackingClient,
           stream: str, convert: ToRecord, csv_complete: bool) -> Fetch:
    """One provider's reads of one stream, in the format it is configured for."""
    fmt = choose_format(cfg, stream, csv_complete)
    logger.info("stream configured", extra={"provider": cfg.type, "org": cfg.name,
                                            "stream": stream, "format": fmt})
    warned: set[str] = set()

    def plan(pages: int) -> None:
        first = (w.store is None
                 or w.store.stream_state(cfg.type, cfg.name, stream).watermark is None)
        plan_pages(vendor=cfg.type, org=cfg.name, stream=stream, pages=pages,
                   per_minute=api.bucket(stream).per_minute, interval=cfg.poll_interval,
                   hint=over_budget_hint(stream, fmt, csv_complete, first), warned=warned)

    def fetch(start: datetime, end: datetime) -> Iterator[StreamRecord | Skipped]:
        seen_at = w.wall()
        items = (client.csv_items(stream, start, end) if fmt == "csv"
                 else client.json_items(stream, start, end, plan))
        for item in items:
            if isinstance(item, Skipped):
                yield item
                continue
            try:
                yield convert(item, seen_at)
            except Exception as e:  # one record never stops its stream
                yield skipped(f"cannot be mapped: {type(e).__name__}: {str(e)[:200]}",
                              repr(item)[:100_000])

    return fetch
