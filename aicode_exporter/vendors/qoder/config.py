"""A `type: qoder` provider entry."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from aicode_exporter.config.base import ProviderBase, Window

ORG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# AI Code Metrics and Tracking, then the Members and Usage APIs (member_quota only runs
# with per-user data on: users.per_user_counters and a users.label other than none).
ENDPOINTS = ("overview", "daily_trend", "member_ranking", "repos", "file_extensions",
             "commits", "changes", "members", "member_quota", "resource_packages", "credits")


class QoderProvider(ProviderBase):
    type: Literal["qoder"]
    base_url: str = "https://api.qoder.com"
    organization_id: str = Field(min_length=1)
    windows: list[Window] = Field(default_factory=lambda: ["1d", "7d", "30d"], min_length=1)
    ranking_limit: int = Field(default=10, ge=1, le=1000)
    rate_limit_per_minute: int = Field(default=60, gt=0)
    known_endpoints: ClassVar[tuple[str, ...]] = ENDPOINTS

    @field_validator("organization_id")
    @classmethod
    def _organization_id(cls, v: str) -> str:
        """A path segment of every request (/v1/organizations/{organization_id}): the
        documented ids look like org_0123456789; anything that is not one URL-safe
        token (a space, a slash, a pasted URL, a quote) would address another path."""
        if len(v) > 128 or not ORG_ID.fullmatch(v):
            raise ValueError("expected the organisation id alone, e.g. org_0123456789 "
                             "(letters, digits, '_', '-', '.'; at most 128 characters)")
        return v

    @field_validator("windows")
    @classmethod
    def _unique_windows(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("windows must be unique")
        return v
