"""The one registry of vendor types: config entry -> the endpoints the poller runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from exporter.config import CursorProvider, Provider, QoderProvider, UsersConfig
from exporter.csvrecords import Skipped
from exporter.httpclient import ApiClient, BearerAuth, basic_auth
from exporter.records import Record
from exporter.state import StateStore
from exporter.streams import StreamJob, plan_pages
from exporter.telemetry import Telemetry
from exporter.userlabels import UserLabeler
from exporter.vendors.base import Endpoint
from exporter.vendors.tracking import TrackingClient

logger = logging.getLogger(__name__)

STREAMS = ("commits", "changes")

# Which streams' CSV export carries every field the counters need. CSV is one request
# whatever the size, so `auto` takes it wherever it is complete. Qoder's changes CSV has
# no file metadata (no extension counters), so those go through JSON pages.
CSV_COMPLETE = {("qoder", "commits"): True, ("qoder", "changes"): False,
                ("cursor", "commits"): True, ("cursor", "changes"): True}


@dataclass
class ProviderRuntime:
    kind: str
    name: str
    interval: timedelta
    endpoints: list[Endpoint]
    clients: list[ApiClient] = field(default_factory=list)

    def close(self) -> None:
        for c in self.clients:
            c.close()


@dataclass(frozen=True)
class Wiring:
    """Collaborators every provider gets; tests swap in fakes."""

    telemetry: Telemetry
    users: UsersConfig
    store: StateStore | None = None
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def choose_format(kind: str, stream: str, cfg: QoderProvider | CursorProvider) -> str:
    fmt = cfg.endpoint(stream).format
    if fmt == "auto":
        return "csv" if CSV_COMPLETE[(kind, stream)] else "json"
    if fmt == "csv" and not CSV_COMPLETE[(kind, stream)]:
        logger.warning("CSV export lacks file metadata provider=%s org=%s stream=%s "
                       "effect=%s", kind, cfg.name, stream,
                       "aicode_change_file_lines_* get no data from this stream")
    return fmt


def make_api(cfg: QoderProvider | CursorProvider, w: Wiring) -> ApiClient:
    key = cfg.key.get_secret_value()
    auth = BearerAuth(key) if isinstance(cfg, QoderProvider) else basic_auth(key)
    rates = {ep: float(cfg.endpoint(ep).rate_limit_per_minute or cfg.rate_limit_per_minute)
             for ep in (*cfg.known_endpoints, "commit_detail")}
    return ApiClient(provider=cfg.type, org=cfg.name, base_url=cfg.base_url, auth=auth,
                     timeout=cfg.request_timeout.total_seconds(), rate_per_minute=rates,
                     telemetry=w.telemetry, transport=w.transport, clock=w.clock,
                     wall=w.wall, sleep=w.sleep)


def tracking_client(cfg: QoderProvider | CursorProvider, api: ApiClient) -> TrackingClient:
    from exporter.vendors.cursor.client import CursorTrackingClient
    from exporter.vendors.qoder.client import QoderTrackingClient

    if isinstance(cfg, QoderProvider):
        return QoderTrackingClient(api, cfg.organization_id)
    return CursorTrackingClient(api)


def _stream_endpoints(cfg: QoderProvider | CursorProvider, api: ApiClient,
                      w: Wiring) -> list[Endpoint]:
    from exporter.vendors.changes import change_record
    from exporter.vendors.cursor.mapping import cursor_commit
    from exporter.vendors.qoder.mapping import qoder_commit

    assert w.store is not None
    client = tracking_client(cfg, api)
    to_record: dict[str, Callable[[Any, float], Record]] = (
        {"commits": qoder_commit if cfg.type == "qoder" else cursor_commit,
         "changes": change_record})
    warned: set[str] = set()
    out = []
    for stream in STREAMS:
        if not cfg.enabled(stream):
            continue
        fmt = choose_format(cfg.type, stream, cfg)
        logger.info("stream configured provider=%s org=%s stream=%s format=%s", cfg.type,
                    cfg.name, stream, fmt)

        def plan(pages: int, stream: str = stream) -> None:
            plan_pages(provider=cfg.type, org=cfg.name, stream=stream, pages=pages,
                       per_minute=api.bucket(stream).per_minute, interval=cfg.poll_interval,
                       warned=warned)

        def fetch(start: datetime, end: datetime, stream: str = stream, fmt: str = fmt,
                  plan: Callable[[int], None] = plan) -> Iterator[Record | Skipped]:
            seen_at = w.wall()
            convert = to_record[stream]
            items = (client.csv_records(stream, start, end) if fmt == "csv"
                     else client.json_records(stream, start, end, plan))
            for item in items:
                yield item if isinstance(item, Skipped) else convert(item, seen_at)

        job = StreamJob(provider=cfg.type, org=cfg.name, stream=stream, fetch=fetch,
                        store=w.store, lookback=cfg.lookback,
                        initial_backfill=cfg.initial_backfill, users=w.users)
        out.append(Endpoint(stream, job.run, job.restore))
    return out



def _qoder(cfg: QoderProvider, w: Wiring) -> ProviderRuntime:
    from exporter.vendors.qoder.aggregates import qoder_aggregate_endpoints
    from exporter.vendors.qoder.client import QoderMetricsClient

    api = make_api(cfg, w)
    endpoints = qoder_aggregate_endpoints(cfg, QoderMetricsClient(api, cfg.organization_id),
                                          UserLabeler(w.users))
    if w.store is not None:
        endpoints += _stream_endpoints(cfg, api, w)
    return ProviderRuntime("qoder", cfg.name, cfg.poll_interval, endpoints, [api])


def _cursor(cfg: CursorProvider, w: Wiring) -> ProviderRuntime:
    api = make_api(cfg, w)
    endpoints = _stream_endpoints(cfg, api, w) if w.store is not None else []
    return ProviderRuntime("cursor", cfg.name, cfg.poll_interval, endpoints, [api])


def build_provider(cfg: Provider, wiring: Wiring) -> ProviderRuntime:
    rt = _qoder(cfg, wiring) if isinstance(cfg, QoderProvider) else _cursor(cfg, wiring)
    for ep in rt.endpoints:
        wiring.telemetry.register((rt.kind, rt.name, ep.name))
    return rt
