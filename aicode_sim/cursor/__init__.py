"""Simulated Cursor AI Code Tracking API.

Options (``Simulator(vendor_options={"cursor": {...}})``, or the Simulator's
``cursor_rate_limit_per_minute``): ``rate_limit_per_minute`` per endpoint per key in any
60 s (default 5, Cursor's documented limit; 0 = unlimited).
"""

from __future__ import annotations

from typing import Any

from aicode_sim.cursor.api import PREFIX, CursorApi
from aicode_sim.cursor.data import CursorChanges, CursorCommits
from aicode_sim.index import RecordIndex
from aicode_sim.responses import cursor_error_body
from aicode_sim.vendor import SimContext, SimVendor

DEFAULT_RATE_LIMIT_PER_MINUTE = 5


def _build(ctx: SimContext) -> CursorApi:
    pop, bits = ctx.population, ctx.seed_bits
    per_minute = ctx.options.get("rate_limit_per_minute")
    return CursorApi(
        population=pop,
        commits=RecordIndex(CursorCommits(bits, pop, ctx.commits_per_user_day), days=ctx.days),
        changes=RecordIndex(CursorChanges(bits, pop, ctx.changes_per_user_day), days=ctx.days),
        api_key=ctx.api_key,
        limiter=ctx.limiter(DEFAULT_RATE_LIMIT_PER_MINUTE if per_minute is None else per_minute),
    )


def _demo_provider(api: CursorApi, base_url: str) -> dict[str, Any]:
    return {"type": "cursor"}


SIM = SimVendor(
    name="cursor",
    prefixes=(PREFIX,),
    build=_build,
    error_body=lambda status, message, new_id: cursor_error_body(status, message),
    demo_provider=_demo_provider,
)
