"""Tolerant models of `GET /v1/organizations/usage_report/claude_code`.

One record per actor per day (remote and local usage in separate rows). Every figure is a
finite number >= 0 or the response fails naming the field (a gauge must not show a broken
answer); a missing or null figure is 0; unknown fields are ignored. `tool_actions` is an
open map (new tools appear as new keys); `is_remote` and `subscription_type` may be
absent; `estimated_cost.amount` is in cents and may be fractional.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from aicode_exporter.vendors.tolerant import Count, ListOf, OptBool, OptTime, Str, Tolerant

USER_ACTOR = "user_actor"
API_ACTOR = "api_actor"


def _empty_if_null(v: Any) -> Any:
    return {} if v is None else v


class Actor(Tolerant):
    type: Str = ""
    email_address: Str = ""
    api_key_name: Str = ""


class Lines(Tolerant):
    added: Count = 0
    removed: Count = 0


class CoreMetrics(Tolerant):
    num_sessions: Count = 0
    lines_of_code: Annotated[Lines, BeforeValidator(_empty_if_null)] = Field(
        default_factory=Lines)
    commits_by_claude_code: Count = 0
    pull_requests_by_claude_code: Count = 0


class ToolActions(Tolerant):
    accepted: Count = 0
    rejected: Count = 0


class Tokens(Tolerant):
    input: Count = 0
    output: Count = 0
    cache_read: Count = 0
    cache_creation: Count = 0


class Cost(Tolerant):
    amount: Count = 0  # cents
    currency: Str = ""  # "USD" so far; empty when absent


class ModelUsage(Tolerant):
    model: Str = ""
    tokens: Annotated[Tokens, BeforeValidator(_empty_if_null)] = Field(default_factory=Tokens)
    estimated_cost: Annotated[Cost, BeforeValidator(_empty_if_null)] = Field(
        default_factory=Cost)


class UsageRecord(Tolerant):
    date: OptTime = None
    actor: Actor
    customer_type: Str = ""
    subscription_type: Str = ""
    terminal_type: Str = ""
    is_remote: OptBool = None
    core_metrics: Annotated[CoreMetrics, BeforeValidator(_empty_if_null)] = Field(
        default_factory=CoreMetrics)
    tool_actions: Annotated[dict[str, Annotated[ToolActions, BeforeValidator(_empty_if_null)]],
                            BeforeValidator(_empty_if_null)] = Field(default_factory=dict)
    model_breakdown: ListOf[ModelUsage] = Field(default_factory=list)

    @property
    def remote(self) -> bool:
        """Remote (e.g. Claude Code on the web); an absent `is_remote` is local usage."""
        return bool(self.is_remote)


class UsagePage(Tolerant):
    data: ListOf[UsageRecord] = Field(default_factory=list)
    has_more: OptBool = None
    next_page: Annotated[str | None, BeforeValidator(lambda v: v or None)] = None
