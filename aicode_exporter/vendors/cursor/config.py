"""A `type: cursor` provider entry: the AI Code Tracking streams, the Analytics API and the
Admin API's read endpoints, every one on by default.

Rate limits are Cursor's, per team: the tracking streams get `rate_limit_per_minute`
each (5 by default: the limit of the document this exporter was first built from); the
Analytics API's team-level endpoints share 100 a minute and its by-user endpoints 50;
the Admin API's members, spend, groups and daily usage share 20 (Cursor does not say
whether its 20 is per endpoint or per team: shared is safe either way), and its usage
events have 60 of their own. An endpoint given its own
`endpoints.<name>.rate_limit_per_minute` gets a bucket of its own at that rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from aicode_exporter.config.base import ProviderBase

TRACKING = ("commits", "changes")
ANALYTICS_TEAM = ("dau", "tabs", "agent_edits", "models", "top_file_extensions",
                  "client_versions", "leaderboard")
ANALYTICS_BY_USER = ("by_user_models", "by_user_client_versions")
ADMIN = ("members", "spend", "groups", "daily_usage")
USAGE_EVENTS = "usage_events"
ENDPOINTS = (*TRACKING, *ANALYTICS_TEAM, *ANALYTICS_BY_USER, *ADMIN, USAGE_EVENTS)

# (bucket, requests per minute) of the endpoints that share one of Cursor's limits.
SHARED_LIMITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(ANALYTICS_TEAM, ("analytics_team", 100.0)),
    **dict.fromkeys(ANALYTICS_BY_USER, ("analytics_by_user", 50.0)),
    **dict.fromkeys(ADMIN, ("admin", 20.0)),
    USAGE_EVENTS: (USAGE_EVENTS, 60.0),
}


class CursorProvider(ProviderBase):
    type: Literal["cursor"]
    base_url: str = "https://api.cursor.com"
    rate_limit_per_minute: int = Field(default=5, gt=0)
    known_endpoints: ClassVar[tuple[str, ...]] = ENDPOINTS

    def rate_buckets(self, endpoints: Sequence[str] = ()) -> dict[str, tuple[str, float]]:
        """Cursor's documented limits (module docstring); an endpoint's own override
        gives it a bucket of its own."""
        out = super().rate_buckets(endpoints)
        for ep, shared in SHARED_LIMITS.items():
            if self.endpoint(ep).rate_limit_per_minute is None:
                out[ep] = shared
        return out
