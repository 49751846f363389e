"""GitHub Copilot usage metrics: the metadata envelope and the records of the report files.

Tolerant: unknown fields are ignored (the API gained a field a month in 2026), every
field but a record's identity (user_id, team, day of an aggregate) is optional, and a
null or absent count reads as 0 where the mapping needs a number. A count must be a
finite number >= 0: anything else fails its record (an aggregated day: the endpoint
keeps its last good values; one line of a users, user-teams or repos file: that line is
skipped and counted). Strings are cleaned of code points UTF-8 cannot carry
(vendors/tolerant.py) because they become label values.

The legacy top-level `chat_panel_*_mode` counters some answers still carry are read and
not published: the same activity is in `totals_by_feature` under those feature names.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from aicode_exporter.vendors.tolerant import ListOf, Str, Tolerant

# A count or sum: absent or null is None (read as 0), else finite and >= 0. Checked by
# pydantic itself, not a Python validator: a users file has 50,000 lines of these.
N = Annotated[float, Field(ge=0, allow_inf_nan=False)] | None


class Metadata(Tolerant):
    """Step one: where the report's files are (signed links that expire)."""

    download_links: ListOf[str] = Field(default_factory=list)
    report_day: Str = ""
    report_start_day: Str = ""
    report_end_day: Str = ""


class Activity(Tolerant):
    """The seven activity figures every total and breakdown row has."""

    user_initiated_interaction_count: N = None
    code_generation_activity_count: N = None
    code_acceptance_activity_count: N = None
    loc_suggested_to_add_sum: N = None
    loc_suggested_to_delete_sum: N = None
    loc_added_sum: N = None
    loc_deleted_sum: N = None


class Breakdown(Activity):
    """One row of totals_by_ide, _feature, _language_feature, _language_model or
    _model_feature: the dimensions it has are set, the others empty."""

    ide: Str = ""
    feature: Str = ""
    language: Str = ""
    model: Str = ""


class TokenUsage(Tolerant):
    output_tokens_sum: N = None
    prompt_tokens_sum: N = None


class CliTotals(Tolerant):
    session_count: N = None
    request_count: N = None
    prompt_count: N = None
    token_usage: TokenUsage | None = None


class AgentApp(Tolerant):
    """A third-party agent app (totals_by_3rd_party_agent[])."""

    agent_id: Str = ""
    agent_name: Str = ""
    user_initiated_interaction_count: N = None
    session_count: N = None


class Phase(Tolerant):
    phase: Str = ""
    phase_number: int | None = None
    total_engaged_users: N = None


class PullRequests(Tolerant):
    total_created: N = None
    total_reviewed: N = None
    total_merged: N = None
    median_minutes_to_merge: N = None
    total_suggestions: N = None
    total_applied_suggestions: N = None
    total_created_by_copilot: N = None
    total_reviewed_by_copilot: N = None
    total_merged_created_by_copilot: N = None
    total_merged_reviewed_by_copilot: N = None
    median_minutes_to_merge_copilot_authored: N = None
    median_minutes_to_merge_copilot_reviewed: N = None
    total_copilot_suggestions: N = None
    total_copilot_applied_suggestions: N = None


class DayTotals(Activity):
    """The aggregated record of one day: the whole organization-1-day or
    enterprise-1-day file, and each day_totals[] entry of the 28-day report."""

    day: date
    daily_active_users: N = None
    weekly_active_users: N = None
    monthly_active_users: N = None
    monthly_active_chat_users: N = None
    monthly_active_agent_users: N = None
    daily_active_copilot_cloud_agent_users: N = None
    weekly_active_copilot_cloud_agent_users: N = None
    monthly_active_copilot_cloud_agent_users: N = None
    daily_active_copilot_code_review_users: N = None
    weekly_active_copilot_code_review_users: N = None
    monthly_active_copilot_code_review_users: N = None
    daily_passive_copilot_code_review_users: N = None
    weekly_passive_copilot_code_review_users: N = None
    monthly_passive_copilot_code_review_users: N = None
    daily_active_cli_users: N = None
    daily_active_copilot_app_users: N = None
    totals_by_ide: ListOf[Breakdown] = Field(default_factory=list)
    totals_by_feature: ListOf[Breakdown] = Field(default_factory=list)
    totals_by_language_feature: ListOf[Breakdown] = Field(default_factory=list)
    totals_by_language_model: ListOf[Breakdown] = Field(default_factory=list)
    totals_by_model_feature: ListOf[Breakdown] = Field(default_factory=list)
    totals_by_cli: CliTotals | None = None
    totals_by_3rd_party_agent: ListOf[AgentApp] = Field(default_factory=list)
    totals_by_ai_adoption_phase: ListOf[Phase] = Field(default_factory=list)
    pull_requests: PullRequests | None = None
    # Legacy top-level counters (older docs, go-github): accepted, not published.
    chat_panel_agent_mode: N = None
    chat_panel_ask_mode: N = None
    chat_panel_custom_mode: N = None
    chat_panel_edit_mode: N = None
    chat_panel_unknown_mode: N = None


class WindowReport(Tolerant):
    """The organization-28-day / enterprise-28-day file: 28 days of aggregated records."""

    report_start_day: date | None = None
    report_end_day: date | None = None
    day_totals: ListOf[DayTotals] = Field(default_factory=list)

    def covers(self, d: date) -> bool:
        """Whether `d` is inside the window (a day inside it with no entry had no data)."""
        days = [t.day for t in self.day_totals]
        start = self.report_start_day or min(days, default=None)
        end = self.report_end_day or max(days, default=None)
        return start is not None and end is not None and start <= d <= end

    def day(self, d: date) -> DayTotals | None:
        return next((t for t in self.day_totals if t.day == d), None)


class UserFeature(Tolerant):
    feature: Str = ""
    code_acceptance_activity_count: N = None
    loc_added_sum: N = None


class UserLine(Tolerant):
    """One line of users-1-day: what the exporter publishes of a user's day. The same
    user may have lines in several files of one report (their figures add up)."""

    user_id: int
    user_login: Str = ""
    user_initiated_interaction_count: N = None
    code_acceptance_activity_count: N = None
    loc_added_sum: N = None
    used_agent: bool | None = None
    used_chat: bool | None = None
    ai_credits_used: N = None
    totals_by_feature: ListOf[UserFeature] = Field(default_factory=list)


class UserTeam(Tolerant):
    """One line of user-teams-1-day: a user's membership of one GitHub team."""

    user_id: int
    user_login: Str = ""
    team_id: int | None = None
    slug: Str = ""


class RepoLine(Tolerant):
    """One line of repos-1-day: a repository's pull-request activity that day."""

    repo_id: int | None = None
    repo_owner_name: Str = ""
    repo_name: Str = ""
    pull_requests: PullRequests | None = None
