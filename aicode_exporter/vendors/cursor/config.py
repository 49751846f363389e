"""A `type: cursor` provider entry: the AI Code Tracking streams only."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from aicode_exporter.config.base import ProviderBase

ENDPOINTS = ("commits", "changes")


class CursorProvider(ProviderBase):
    type: Literal["cursor"]
    base_url: str = "https://api.cursor.com"
    rate_limit_per_minute: int = Field(default=5, gt=0)
    known_endpoints: ClassVar[tuple[str, ...]] = ENDPOINTS
