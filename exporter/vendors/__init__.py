"""The one registry of vendor types: config entry -> the endpoints the poller runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from exporter.config import CursorProvider, Provider, QoderProvider, UsersConfig
from exporter.httpclient import ApiClient, BearerAuth, basic_auth
from exporter.telemetry import Telemetry
from exporter.userlabels import UserLabeler
from exporter.vendors.base import Endpoint


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
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def _api(cfg: QoderProvider | CursorProvider, auth: httpx.Auth, w: Wiring) -> ApiClient:
    rates = {ep: float(cfg.endpoint(ep).rate_limit_per_minute or cfg.rate_limit_per_minute)
             for ep in cfg.known_endpoints}
    return ApiClient(provider=cfg.type, org=cfg.name, base_url=cfg.base_url, auth=auth,
                     timeout=cfg.request_timeout.total_seconds(), rate_per_minute=rates,
                     telemetry=w.telemetry, transport=w.transport, clock=w.clock,
                     wall=w.wall, sleep=w.sleep)


def _qoder(cfg: QoderProvider, w: Wiring) -> ProviderRuntime:
    from exporter.vendors.qoder.aggregates import qoder_aggregate_endpoints
    from exporter.vendors.qoder.client import QoderMetricsClient

    api = _api(cfg, BearerAuth(cfg.key.get_secret_value()), w)
    endpoints = qoder_aggregate_endpoints(cfg, QoderMetricsClient(api, cfg.organization_id),
                                          UserLabeler(w.users))
    return ProviderRuntime("qoder", cfg.name, cfg.poll_interval, endpoints, [api])


def _cursor(cfg: CursorProvider, w: Wiring) -> ProviderRuntime:
    api = _api(cfg, basic_auth(cfg.key.get_secret_value()), w)
    return ProviderRuntime("cursor", cfg.name, cfg.poll_interval, [], [api])


def build_provider(cfg: Provider, wiring: Wiring) -> ProviderRuntime:
    rt = _qoder(cfg, wiring) if isinstance(cfg, QoderProvider) else _cursor(cfg, wiring)
    for ep in rt.endpoints:
        wiring.telemetry.register((rt.kind, rt.name, ep.name))
    return rt
