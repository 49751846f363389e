"""Simulated GitHub Copilot usage metrics reports API: the twelve report endpoints of an
organization and an enterprise, and the report files on a download host of their own (the
simulator's extra listener).

Options (``Simulator(vendor_options={"copilot": {...}})``): ``organization`` (default
``sim-org``), ``enterprise`` (``sim-enterprise``), ``lag_hours`` (30), ``history_days``
(365), ``link_ttl_seconds`` (3600), ``not_ready`` (``documented``, ``204``, ``404`` or
``body``), ``rate_limit_per_hour`` (5000), ``users_shards``, ``legacy_fields`` (False),
``policy_enabled`` (True). The API object (``sim.api("copilot")``) can switch
``policy_enabled``, ``not_ready`` and ``link_ttl_seconds`` while it runs, and lists every
request of the download host in ``downloads``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aicode_sim.copilot.api import CopilotApi, github_error_body
from aicode_sim.copilot.data import CopilotData
from aicode_sim.vendor import SimContext, SimVendor

DEFAULT_ORGANIZATION = "sim-org"
DEFAULT_ENTERPRISE = "sim-enterprise"


def _build(ctx: SimContext) -> CopilotApi:
    options = ctx.options
    secret = hashlib.blake2b(f"{ctx.seed_bits}:copilot-links".encode()).digest()
    return CopilotApi(
        data=CopilotData(ctx.seed_bits, ctx.population),
        api_key=ctx.api_key,
        organization=options.get("organization", DEFAULT_ORGANIZATION),
        enterprise=options.get("enterprise", DEFAULT_ENTERPRISE),
        extra_url=ctx.extra_url,
        secret=secret,
        lag_hours=float(options.get("lag_hours", 30.0)),
        history_days=int(options.get("history_days", 365)),
        link_ttl_seconds=int(options.get("link_ttl_seconds", 3600)),
        not_ready=str(options.get("not_ready", "documented")),
        rate_limit_per_hour=int(options.get("rate_limit_per_hour", 5000)),
        users_shards=options.get("users_shards"),
        legacy_fields=bool(options.get("legacy_fields", False)),
        policy_enabled=bool(options.get("policy_enabled", True)),
    )


def _demo_provider(api: CopilotApi, base_url: str) -> dict[str, Any]:
    return {"type": "copilot", "organization": api.organization}


SIM = SimVendor(
    name="copilot",
    prefixes=("/orgs/", "/enterprises/"),
    build=_build,
    error_body=lambda status, message, new_id: github_error_body(status, message),
    demo_provider=_demo_provider,
    extra_listener=True,
)
