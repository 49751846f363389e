"""Simulated Qoder Teams OpenAPI: AI Code Metrics and AI Code Tracking.

Options (``Simulator(vendor_options={"qoder": {...}})``, or the Simulator's ``qoder_*``
arguments): ``organization_id`` (default ``org_sim``), ``rate_limit_per_minute`` (default
none: Qoder publishes no limit; when set, per endpoint, member paths counted as one),
``usage_per_user_day`` (mean credit usage records per person and weekday, default 12),
``cursor_spelling`` (``nextToken``, ``nextCredits`` or ``alternate``; default: each list
as Qoder's pages spell it, see teams.py).
"""

from __future__ import annotations

from typing import Any

from aicode_sim.index import RecordIndex
from aicode_sim.qoder.api import QoderApi
from aicode_sim.qoder.credits import Ledger, QoderUsage
from aicode_sim.qoder.data import QoderChanges, QoderCommits
from aicode_sim.qoder.rollup import Rollups
from aicode_sim.qoder.teams import TeamsApi
from aicode_sim.responses import qoder_error_body
from aicode_sim.vendor import SimContext, SimVendor

DEFAULT_ORGANIZATION_ID = "org_sim"
DEFAULT_USAGE_PER_USER_DAY = 12.0


def _build(ctx: SimContext) -> QoderApi:
    pop, bits = ctx.population, ctx.seed_bits
    commits = RecordIndex(QoderCommits(bits, pop, ctx.commits_per_user_day), days=ctx.days)
    changes = RecordIndex(QoderChanges(bits, pop, ctx.changes_per_user_day), days=ctx.days)
    rate = float(ctx.options.get("usage_per_user_day", DEFAULT_USAGE_PER_USER_DAY))
    if rate < 0:
        raise ValueError("usage_per_user_day must be >= 0")
    usage = RecordIndex(QoderUsage(bits, pop, rate), days=ctx.days)
    teams = TeamsApi(usage, Ledger(usage, bits), ctx.options.get("cursor_spelling"))
    return QoderApi(
        population=pop,
        commits=commits,
        changes=changes,
        rollups=Rollups(commits, changes),
        api_key=ctx.api_key,
        organization_id=ctx.options.get("organization_id", DEFAULT_ORGANIZATION_ID),
        new_request_id=ctx.new_request_id,
        teams=teams,
        limiter=ctx.limiter(ctx.options.get("rate_limit_per_minute")),
    )


def _demo_provider(api: QoderApi, base_url: str) -> dict[str, Any]:
    return {"type": "qoder", "organization_id": api.organization_id}


SIM = SimVendor(
    name="qoder",
    prefixes=("/v1/",),  # the OpenAPI's version root: /v1/nope is a Qoder 404
    build=_build,
    error_body=lambda status, message, new_id: qoder_error_body(status, message, [], new_id()),
    demo_provider=_demo_provider,
)
