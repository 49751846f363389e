"""Claude Code's daily metrics: the specs only this vendor feeds, and where its values of
the shared daily templates come from (their HELP names every vendor that feeds them)."""

from __future__ import annotations

from aicode_exporter.expose import catalog
from aicode_exporter.expose.catalog import BASE, CACHED
from aicode_exporter.toolkit.families import Spec

API = "Claude Code GET /v1/organizations/usage_report/claude_code"
_DAY = catalog.DAY


def _claude(name: str, what: str, field: str, *extra: str) -> Spec:
    return Spec(name, "gauge", f"{_DAY} {what} {API} {field}. {CACHED}", BASE + extra,
                source=f"{API} {field}")


ACTIVE_API_KEYS = _claude(
    "aicode_daily_active_api_keys",
    "distinct API keys (api_actor: a key's name, not a person) with usage, by surface.",
    "actor.api_key_name", "surface")
SESSIONS = _claude("aicode_daily_agent_sessions", "sessions the coding agent started.",
                   "core_metrics.num_sessions")
COMMITS = _claude("aicode_daily_agent_commits", "git commits the coding agent created.",
                  "core_metrics.commits_by_claude_code")
PULL_REQUESTS = _claude("aicode_daily_agent_pull_requests",
                        "pull requests the coding agent created.",
                        "core_metrics.pull_requests_by_claude_code")

# Per user (users.per_user_counters, users.label not none; at most users.max_users users,
# the rest summed into user="__other__"). People only: API keys are not users.
_PER_USER = "per user (users.per_user_counters)."
USER_SESSIONS = _claude("aicode_daily_user_agent_sessions", f"sessions started, {_PER_USER}",
                        "core_metrics.num_sessions", "user")
USER_COMMITS = _claude("aicode_daily_user_agent_commits",
                       f"commits the agent created, {_PER_USER}",
                       "core_metrics.commits_by_claude_code", "user")
USER_COST = _claude("aicode_daily_user_cost_usd", f"estimated cost in USD, {_PER_USER}",
                    "model_breakdown[].estimated_cost.amount/100", "user")

SPECS = (ACTIVE_API_KEYS, SESSIONS, COMMITS, PULL_REQUESTS, USER_SESSIONS, USER_COMMITS,
         USER_COST)

SOURCES = {
    catalog.DAILY_DATE.name: f"{API} starting_at",
    catalog.DAILY_ACTIVE_USERS.name: f"{API} actor.email_address (user_actor)",
    catalog.DAILY_SUGGESTIONS.name: f"{API} tool_actions.<tool>.accepted+rejected",
    catalog.DAILY_SUGGESTIONS_ACCEPTED.name: f"{API} tool_actions.<tool>.accepted",
    catalog.DAILY_LINES_ACCEPTED.name: f"{API} core_metrics.lines_of_code.added",
    catalog.DAILY_LINES_REMOVED.name: f"{API} core_metrics.lines_of_code.removed",
    catalog.DAILY_USER_LINES_ACCEPTED.name: f"{API} core_metrics.lines_of_code.added per "
                                            "user_actor",
    catalog.DAILY_COST.name: f"{API} model_breakdown[].estimated_cost.amount/100",
    catalog.DAILY_TOKENS.name: f"{API} model_breakdown[].tokens",
    catalog.DAILY_TEAM_ACTIVE_USERS.name: f"{API} actor.email_address by teams.file",
    catalog.DAILY_TEAM_LINES_ACCEPTED.name: (f"{API} core_metrics.lines_of_code.added, "
                                             "user by teams.file"),
}
