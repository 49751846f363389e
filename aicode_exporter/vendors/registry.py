"""The vendor registry: every sub-package of `aicode_exporter.vendors` that exports
`VENDOR`, and what is built from their declarations (the metric catalogue, rate buckets,
poll jobs). Adding a vendor is adding a folder; nothing here or elsewhere names one.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping

import aicode_exporter.vendors
from aicode_exporter.config.base import ProviderBase
from aicode_exporter.expose import catalog
from aicode_exporter.expose import push as otlp
from aicode_exporter.pipeline import teams
from aicode_exporter.pipeline.daily import DailyJob
from aicode_exporter.pipeline.jobs import Endpoint, ProviderRuntime
from aicode_exporter.pipeline.state import RequestTimes, StateStore
from aicode_exporter.pipeline.streams import StreamJob, StreamTiming
from aicode_exporter.toolkit.families import Spec
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import DailyReport, RecordStream, Vendor, Wiring
from aicode_exporter.version import __version__

USER_AGENT = f"aicode-exporter/{__version__}"  # on every request to a vendor


def discover() -> dict[str, Vendor]:
    """Import every vendor sub-package and collect its VENDOR, in name order."""
    found: dict[str, Vendor] = {}
    packages = pkgutil.iter_modules(aicode_exporter.vendors.__path__)
    for info in sorted(packages, key=lambda m: m.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"aicode_exporter.vendors.{info.name}")
        vendor = getattr(module, "VENDOR", None)
        if isinstance(vendor, Vendor):
            found[vendor.name] = vendor
    return found


@functools.cache
def vendors() -> Mapping[str, Vendor]:
    """The registered vendors (discovered once; `vendors.cache_clear()` discovers again)."""
    return discover()


def stream_specs() -> list[Spec]:
    """The counters of every record stream some vendor declares, their HELP naming each
    such vendor's endpoint."""
    sources: dict[str, list[str]] = {}
    counters: dict[str, catalog.StreamCounter] = {}
    for v in vendors().values():
        for stream in v.streams:
            for counter in stream.counters:
                counters.setdefault(counter.name, counter)
                sources.setdefault(counter.name, []).append(stream.source)
    return [counters[n].spec(sources[n]) for n in counters]


def shared_specs() -> list[Spec]:
    """The shared templates some vendor feeds, their HELP naming each vendor's source."""
    out = []
    for template in catalog.SHARED:
        sources = [v.sources[template.name] for v in vendors().values()
                   if template.name in v.sources]
        if sources:
            out.append(template.with_sources(sources))
    return out


def all_specs() -> list[Spec]:
    """The whole catalogue: what /metrics can serve, documented in docs/metrics.md."""
    specs = [*catalog.CORE, *stream_specs(), *shared_specs(), *teams.SPECS, *otlp.SPECS]
    for v in vendors().values():
        specs += v.specs
    return sorted(specs, key=lambda s: s.name)


def persisted_names() -> set[str]:
    """Metrics whose values live in the state file (counted from record streams)."""
    return {s.name for s in stream_specs()} | {s.name for s in catalog.STREAM_META}


def make_api(cfg: ProviderBase, w: Wiring) -> ApiClient:
    """The provider's HTTP client, with a rate bucket per bucket its config declares."""
    vendor = vendors()[cfg.type]
    buckets = cfg.rate_buckets(vendor.endpoints())
    rates = {bucket: rate for bucket, rate in buckets.values()}
    key = cfg.key.get_secret_value()
    return ApiClient(vendor=vendor.name, org=cfg.name, base_url=cfg.base_url,
                     auth=vendor.auth(key), secrets=[key],
                     max_wait=cfg.poll_interval.total_seconds(),
                     timeout=cfg.request_timeout.total_seconds(), rate_per_minute=rates,
                     bucket_of={ep: bucket for ep, (bucket, _) in buckets.items()},
                     observer=w.telemetry, transport=w.transport, clock=w.clock,
                     wall=w.wall, sleep=w.sleep, user_agent=USER_AGENT,
                     budget=w.budget, verify=cfg.tls(),
                     pacing=(RequestTimes(w.store, vendor.name, cfg.name)
                             if w.store is not None else None))


def daily_jobs(cfg: ProviderBase, api: ApiClient,
               w: Wiring) -> list[tuple[DailyReport, DailyJob]]:
    """The provider's enabled daily reports as jobs (the daemon polls them, the backfill
    reads their past days)."""
    vendor = vendors()[cfg.type]
    return [(report, DailyJob(vendor=vendor.name, org=cfg.name,
                              fetch=report.open(cfg, api, w), max_days=report.max_days,
                              lookback_days=report.lookback_days, dated=report.dates,
                              newest_first=report.newest_first))
            for report in vendor.daily
            if cfg.enabled(report.name) and (w.users.per_user or not report.per_user)]


def stream_jobs(cfg: ProviderBase, api: ApiClient, w: Wiring, store: StateStore,
                history_from: float | None = None) -> list[tuple[RecordStream, StreamJob]]:
    """The provider's enabled record streams as jobs counting into `store` (the backfill
    passes `history_from` to keep their deltas by event hour too)."""
    vendor = vendors()[cfg.type]
    timing = StreamTiming(lookback=cfg.lookback, lookback_interval=cfg.lookback_interval,
                          overlap=cfg.overlap, initial_backfill=cfg.initial_backfill,
                          backfill_slice=cfg.backfill_slice)
    return [(stream, StreamJob(vendor=vendor.name, org=cfg.name, stream=stream.name,
                               fetch=stream.open(cfg, api, w), store=store,
                               specs=[c.spec() for c in stream.counters], timing=timing,
                               users=w.users, clock=w.clock, teams=w.teams,
                               labels=w.labels, wall=w.wall, history_from=history_from))
            for stream in vendor.streams if cfg.enabled(stream.name)]


def build_provider(cfg: ProviderBase, w: Wiring) -> ProviderRuntime:
    """A provider entry as poll jobs: the vendor's own jobs, its daily reports, then its
    record streams (only with a state store: `commit-detail` builds no jobs)."""
    vendor = vendors()[cfg.type]
    api = make_api(cfg, w)
    endpoints = vendor.jobs(cfg, api, w) if vendor.jobs else []
    for report, job in daily_jobs(cfg, api, w):
        endpoints.append(Endpoint(report.name, job.run, interval=report.min_interval))
    if w.store is not None:
        for stream, sjob in stream_jobs(cfg, api, w, w.store):
            endpoints.append(Endpoint(stream.name, sjob.run, sjob.restore, stream=True,
                                      interval=stream.min_interval))
    # In the order the config model lists them (--once runs them in this order).
    order = {name: i for i, name in enumerate(cfg.known_endpoints)}
    endpoints.sort(key=lambda ep: order.get(ep.name, len(order)))
    for ep in endpoints:
        w.telemetry.register((vendor.name, cfg.name, ep.name))
    return ProviderRuntime(vendor.name, cfg.name, cfg.poll_interval, endpoints, [api])
