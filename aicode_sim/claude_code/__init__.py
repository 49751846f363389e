"""Simulated Claude Code Analytics Admin API (Anthropic); see api.py for the endpoint.

Options (``Simulator(vendor_options={"claude_code": {...}})``): ``rate_limit_per_minute``
per key in any 60 s (default 120: Anthropic publishes no limit for this endpoint; 0 =
unlimited), ``lag_minutes`` (default 60, the documented freshness).
"""

from __future__ import annotations

from typing import Any

from aicode_sim.claude_code.api import PATH, ClaudeCodeApi, anthropic_error_body
from aicode_sim.claude_code.data import ClaudeCodeUsage
from aicode_sim.timeutil import MINUTE_MS
from aicode_sim.vendor import SimContext, SimVendor

DEFAULT_RATE_LIMIT_PER_MINUTE = 120


def _build(ctx: SimContext) -> ClaudeCodeApi:
    per_minute = ctx.options.get("rate_limit_per_minute")
    return ClaudeCodeApi(
        usage=ClaudeCodeUsage(ctx.seed_bits, ctx.population),
        api_key=ctx.api_key,
        days=ctx.days,
        new_request_id=ctx.new_request_id,
        limiter=ctx.limiter(DEFAULT_RATE_LIMIT_PER_MINUTE if per_minute is None else per_minute),
        lag_ms=int(ctx.options.get("lag_minutes", 60)) * MINUTE_MS,
    )


def _demo_provider(api: ClaudeCodeApi, base_url: str) -> dict[str, Any]:
    return {"type": "claude_code"}


SIM = SimVendor(
    name="claude_code",
    prefixes=(PATH,),
    build=_build,
    error_body=lambda status, message, new_id: anthropic_error_body(status, message, new_id()),
    demo_provider=_demo_provider,
)
