"""A `type: claude_code` provider entry: the Claude Code Analytics Admin API."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from aicode_exporter.config.base import ProviderBase

ENDPOINTS = ("usage_report",)


class ClaudeCodeProvider(ProviderBase):
    type: Literal["claude_code"]
    base_url: str = "https://api.anthropic.com"
    # Anthropic publishes no limit for this endpoint (its Usage and Cost API asks for
    # about one poll a minute, with bursts for paging): one request a second is polite.
    rate_limit_per_minute: int = Field(default=60, gt=0)
    known_endpoints: ClassVar[tuple[str, ...]] = ENDPOINTS
