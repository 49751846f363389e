"""The vendor registry: every sub-package of `exporter.vendors` that exports `VENDOR`.

Adding a vendor is adding a folder; nothing here or elsewhere names one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

import aicode_exporter.vendors
from aicode_exporter.config.base import ProviderBase
from aicode_exporter.expose import catalog
from aicode_exporter.expose import push as otlp
from aicode_exporter.pipeline import teams
from aicode_exporter.pipeline.jobs import ProviderRuntime, Wiring
from aicode_exporter.toolkit.families import Spec
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Vendor
from aicode_exporter.vendors.tracking import STREAMS, stream_endpoints


def _discover() -> dict[str, Vendor]:
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


VENDORS: Mapping[str, Vendor] = _discover()


def stream_specs() -> dict[str, list[Spec]]:
    """The stream counters, their HELP naming every registered vendor's endpoint."""
    out: dict[str, list[Spec]] = {s: [] for s in STREAMS}
    for counter in catalog.STREAM_COUNTERS:
        sources = [v.stream_sources[counter.stream] for v in VENDORS.values()
                   if counter.stream in v.stream_sources]
        out[counter.stream].append(counter.spec(sources))
    return out


def all_specs() -> list[Spec]:
    """The whole catalogue: what /metrics can serve, documented in docs/metrics.md."""
    specs = [*catalog.CORE, *(s for ss in stream_specs().values() for s in ss)]
    specs += [*teams.SPECS, *otlp.SPECS]
    for v in VENDORS.values():
        specs += v.specs
    return sorted(specs, key=lambda s: s.name)


def make_api(cfg: ProviderBase, w: Wiring) -> ApiClient:
    vendor = VENDORS[cfg.type]
    rates = {ep: float(cfg.endpoint(ep).rate_limit_per_minute or cfg.rate_limit_per_minute)
             for ep in (*cfg.known_endpoints, "commit_detail")}
    key = cfg.key.get_secret_value()
    return ApiClient(vendor=vendor.name, org=cfg.name, base_url=cfg.base_url,
                     auth=vendor.auth(key), secrets=[key],
                     max_wait=cfg.poll_interval.total_seconds(),
                     timeout=cfg.request_timeout.total_seconds(), rate_per_minute=rates,
                     observer=w.telemetry, transport=w.transport, clock=w.clock,
                     wall=w.wall, sleep=w.sleep)


def build_provider(cfg: ProviderBase, w: Wiring) -> ProviderRuntime:
    """A provider entry as poll jobs: the vendor's aggregates, then its streams (only
    with a state store: `commit-detail` builds no jobs)."""
    vendor = VENDORS[cfg.type]
    api = make_api(cfg, w)
    endpoints = vendor.aggregates(cfg, api, w) if vendor.aggregates else []
    if w.store is not None:
        endpoints += stream_endpoints(cfg, api, vendor.tracking_client(cfg, api),
                                      vendor.to_record, vendor.csv_complete, w)
    for ep in endpoints:
        w.telemetry.register((vendor.name, cfg.name, ep.name))
    return ProviderRuntime(vendor.name, cfg.name, cfg.poll_interval, endpoints, [api])

