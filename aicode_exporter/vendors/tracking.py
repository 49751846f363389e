"""What every vendor's AI Code Tracking API shares: two streams (commits, changes), each
readable as JSON pages or as one streamed CSV export, and per-commit detail. Vendors
supply paths, page parsing, models and CSV column names; the loops, the choice of format
and the stream poll jobs live here once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from aicode_exporter.config.base import ProviderBase
from aicode_exporter.pipeline.jobs import Endpoint, Wiring
from aicode_exporter.pipeline.records import Record
from aicode_exporter.pipeline.streams import StreamJob, StreamTiming, plan_pages
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped, read_csv, validate_items
from aicode_exporter.toolkit.http.paging import paginate
from aicode_exporter.vendors.tolerant import Tolerant

logger = logging.getLogger(__name__)

STREAMS = ("commits", "changes")

# (vendor's record model, time we read it) -> the neutral record
ToRecord = Callable[[Any, float], Record]


def parse_metadata_json(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV export's `metadataJson` column (files of a change, as JSON text) as the
    `metadata` list the JSON pages carry; a row whose column is not JSON is skipped."""
    raw = row.pop("metadataJson", None)
    if raw is not None:
        try:
            row["metadata"] = json.loads(raw)
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
        """Per-commit AI attribution, in the vendor's shape (its Vendor turns it into rows)."""
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


@dataclass(frozen=True)
class CommitDetailRow:
    """One file's AI line ranges of one source in one commit (`commit-detail`)."""

    commit: str
    file: str
    source: str
    session: str  # the vendor's session (conversation) or model
    type: str  # added | deleted
    ranges: list[tuple[int, int]]

    @property
    def lines(self) -> int:
        return sum(end - start + 1 for start, end in self.ranges)


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


def stream_endpoints(cfg: ProviderBase, api: ApiClient, client: TrackingClient,
                     to_record: Mapping[str, ToRecord], csv_complete: Mapping[str, bool],
                     w: Wiring) -> list[Endpoint]:
    """The enabled streams of one provider as poll jobs over the shared state."""
    assert w.store is not None
    warned: set[str] = set()
    out = []
    for stream in STREAMS:
        if not cfg.enabled(stream):
            continue
        fmt = choose_format(cfg, stream, csv_complete[stream])
        logger.info("stream configured", extra={"provider": cfg.type, "org": cfg.name,
                                                "stream": stream, "format": fmt})

        def plan(pages: int, stream: str = stream, fmt: str = fmt) -> None:
            assert w.store is not None
            first = w.store.stream_state(cfg.type, cfg.name, stream).watermark is None
            plan_pages(vendor=cfg.type, org=cfg.name, stream=stream, pages=pages,
                       per_minute=api.bucket(stream).per_minute, interval=cfg.poll_interval,
                       hint=over_budget_hint(stream, fmt, csv_complete[stream], first),
                       warned=warned)

        def fetch(start: datetime, end: datetime, stream: str = stream, fmt: str = fmt,
                  plan: Callable[[int], None] = plan) -> Iterator[Record | Skipped]:
            seen_at = w.wall()
            convert = to_record[stream]
            items = (client.csv_items(stream, start, end) if fmt == "csv"
                     else client.json_items(stream, start, end, plan))
            for item in items:
                yield item if isinstance(item, Skipped) else convert(item, seen_at)

        timing = StreamTiming(lookback=cfg.lookback, lookback_interval=cfg.lookback_interval,
                              overlap=cfg.overlap, initial_backfill=cfg.initial_backfill,
                              backfill_slice=cfg.backfill_slice)
        job = StreamJob(vendor=cfg.type, org=cfg.name, stream=stream, fetch=fetch,
                        store=w.store, specs=w.stream_specs.get(stream, ()), timing=timing,
                        users=w.users, clock=w.clock, teams=w.teams)
        out.append(Endpoint(stream, job.run, job.restore, stream=True))
    return out
