"""Simulated Cursor: the AI Code Tracking API, the Analytics API and the Admin API's read
endpoints, all from the same people and records.

Options (``Simulator(vendor_options={"cursor": {...}})``; 0 = unlimited for a limit):

* ``rate_limit_per_minute``: AI Code Tracking, per endpoint per key in any 60 s (default
  5, the limit of the tracking API's document; the Simulator's
  ``cursor_rate_limit_per_minute`` sets it too);
* ``analytics_team_per_minute`` (100), ``analytics_by_user_per_minute`` (50),
  ``admin_per_minute`` (20, each Admin endpoint), ``usage_events_per_minute`` (60): the
  documented limits, in fixed 60 s windows;
* ``usage_events_per_user_day``: mean usage events per person and weekday (default 12);
* ``retry_after``: send Retry-After with a 429 of the Analytics and Admin APIs (default
  off: Cursor documents none);
* ``forbidden``: path prefixes answered 403 ``Enterprise access required``, e.g.
  ``["/analytics/by-user/"]`` for a key without that scope.
"""

from __future__ import annotations

from typing import Any

from aicode_sim.cursor.activity import Activity
from aicode_sim.cursor.admin import AdminApi
from aicode_sim.cursor.analytics import AnalyticsApi
from aicode_sim.cursor.api import ADMIN_PREFIX, PREFIX, CursorApi
from aicode_sim.cursor.data import CursorChanges, CursorCommits
from aicode_sim.cursor.usage import DEFAULT_EVENTS_PER_USER_DAY, CursorUsageEvents
from aicode_sim.index import RecordIndex
from aicode_sim.ratelimit import FixedWindowLimiter
from aicode_sim.responses import cursor_error_body
from aicode_sim.vendor import SimContext, SimVendor

DEFAULT_RATE_LIMIT_PER_MINUTE = 5
# bucket -> (option, Cursor's documented requests per minute)
BUCKETS = {
    "analytics_team": ("analytics_team_per_minute", 100),
    "analytics_by_user": ("analytics_by_user_per_minute", 50),
    "members": ("admin_per_minute", 20),
    "spend": ("admin_per_minute", 20),
    "groups": ("admin_per_minute", 20),
    "daily_usage": ("admin_per_minute", 20),
    "usage_events": ("usage_events_per_minute", 60),
}


def _build(ctx: SimContext) -> CursorApi:
    pop, bits, opts = ctx.population, ctx.seed_bits, ctx.options
    per_minute = opts.get("rate_limit_per_minute")
    changes = RecordIndex(CursorChanges(bits, pop, ctx.changes_per_user_day), days=ctx.days)
    rate = float(opts.get("usage_events_per_user_day", DEFAULT_EVENTS_PER_USER_DAY))
    events = RecordIndex(CursorUsageEvents(bits, pop, rate), days=ctx.days)
    activity = Activity(pop, bits, changes, events)
    admin = AdminApi(pop, activity, events, bits)
    buckets = {}
    for bucket, (option, default) in BUCKETS.items():
        limit = int(opts.get(option, default))
        buckets[bucket] = FixedWindowLimiter(limit, ctx.clock) if limit > 0 else None
    return CursorApi(
        population=pop,
        commits=RecordIndex(CursorCommits(bits, pop, ctx.commits_per_user_day), days=ctx.days),
        changes=changes,
        api_key=ctx.api_key,
        limiter=ctx.limiter(DEFAULT_RATE_LIMIT_PER_MINUTE if per_minute is None else per_minute),
        analytics=AnalyticsApi(pop, activity, admin.current_members),
        admin=admin,
        buckets=buckets,
        retry_after=bool(opts.get("retry_after", False)),
        forbidden=tuple(opts.get("forbidden", ())),
    )


def _demo_provider(api: CursorApi, base_url: str) -> dict[str, Any]:
    return {"type": "cursor"}


SIM = SimVendor(
    name="cursor",
    prefixes=(PREFIX, ADMIN_PREFIX),
    build=_build,
    error_body=lambda status, message, new_id: cursor_error_body(status, message),
    demo_provider=_demo_provider,
)
