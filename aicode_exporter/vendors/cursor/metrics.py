"""Metrics only Cursor feeds (its Analytics API and Admin API), and where its values of the
shared catalogue templates come from."""

from __future__ import annotations

from aicode_exporter.expose import catalog
from aicode_exporter.expose.catalog import BASE, CACHED, DAY
from aicode_exporter.toolkit.families import Spec


def _cursor(name: str, what: str, source: str, *extra: str) -> Spec:
    return Spec(name, "gauge", f"{what} Cursor {source}. {CACHED}", BASE + extra,
                source=f"Cursor {source}")


DAU = "GET /analytics/team/dau"
TABS = "GET /analytics/team/tabs"
AGENT = "GET /analytics/team/agent-edits"
MODELS = "GET /analytics/team/models"
EXTS = "GET /analytics/team/top-file-extensions"
VERSIONS = "GET /analytics/team/client-versions"
LEADERBOARD = "GET /analytics/team/leaderboard (all pages)"
BY_USER_MODELS = "GET /analytics/by-user/models (all pages)"
BY_USER_VERSIONS = "GET /analytics/by-user/client-versions (all pages)"
MEMBERS = "GET /teams/members"
SPEND = "POST /teams/spend (all pages)"
GROUPS = "GET /teams/groups"
DAILY_USAGE = "POST /teams/daily-usage-data (all pages)"
USAGE_EVENTS = "POST /teams/filtered-usage-events"

# Beyond users.max_users, the rest are one user="__other__" (the sum of their values).
_FOLD = "users.max_users cap it, the rest summed as user=\"__other__\""

# -- Analytics API, team level: the newest complete UTC day -------------------------------
MODEL_MESSAGES = _cursor("aicode_daily_model_messages", f"{DAY} messages sent to a model.",
                         f"{MODELS} model_breakdown.<model>.messages", "model")
MODEL_USERS = _cursor("aicode_daily_model_active_users",
                      f"{DAY} distinct users of a model (do not sum over models).",
                      f"{MODELS} model_breakdown.<model>.users", "model")
EXT_FILES = _cursor("aicode_daily_extension_files",
                    f"{DAY} files of an extension with suggestions (the top 5 extensions by "
                    "suggestion volume).", f"{EXTS} total_files", "extension")
EXT_ACCEPTS = _cursor("aicode_daily_extension_suggestions_accepted",
                      f"{DAY} suggestions accepted in files of an extension (top 5).",
                      f"{EXTS} total_accepts", "extension")
EXT_LINES_SUGGESTED = _cursor("aicode_daily_extension_lines_suggested",
                              f"{DAY} lines suggested in files of an extension (top 5).",
                              f"{EXTS} total_lines_suggested", "extension")
EXT_LINES_ACCEPTED = _cursor("aicode_daily_extension_lines_accepted",
                             f"{DAY} lines accepted in files of an extension (top 5).",
                             f"{EXTS} total_lines_accepted", "extension")
VERSION_USERS = _cursor("aicode_daily_client_version_users",
                        f"{DAY} users whose latest Cursor version that day was this one.",
                        f"{VERSIONS} user_count", "client_version")

# -- per user (users.per_user_counters, users.label not none) -----------------------------
USER_LINES_SUGGESTED = _cursor("aicode_daily_user_lines_suggested",
                               f"{DAY} lines suggested per user and feature ({_FOLD}).",
                               f"{LEADERBOARD} total_lines_suggested", "user", "feature")
USER_MODEL_MESSAGES = _cursor("aicode_daily_user_model_messages",
                              f"{DAY} messages a user sent to a model ({_FOLD}).",
                              f"{BY_USER_MODELS} model_breakdown.<model>.messages",
                              "user", "model")
USER_VERSION = _cursor("aicode_daily_user_client_version",
                       f"{DAY} 1 for the Cursor version a user ran last that day "
                       "(user=\"__other__\": how many users beyond users.max_users ran it).",
                       f"{BY_USER_VERSIONS} client_version", "user", "client_version")
USER_ACTIVE = _cursor("aicode_daily_user_active",
                      f"{DAY} 1 if the member used an AI feature that day, else 0 "
                      "(user=\"__other__\": how many members beyond users.max_users did).",
                      f"{DAILY_USAGE} isActive", "user")
USER_SPEND = _cursor("aicode_user_billing_cycle_spend_usd",
                     f"On-demand spend of a member in the current billing cycle, in USD "
                     f"({_FOLD}).", f"{SPEND} teamMemberSpend[].spendCents/100", "user")

# -- Admin API ------------------------------------------------------------------------------
DAILY_REQUESTS = _cursor("aicode_daily_requests",
                         f"{DAY} AI requests by Cursor mode (chat, composer, agent, cmdk, "
                         "bugbot), summed over members.",
                         f"{DAILY_USAGE} <mode>Requests, cmdkUsages, bugbotUsages", "mode")
OVERALL_SPEND = _cursor("aicode_billing_cycle_overall_spend_usd",
                        "Spend in the current billing cycle including usage the plan "
                        "includes, in USD (aicode_billing_cycle_spend_usd is the on-demand "
                        "part).", f"{SPEND} teamMemberSpend[].overallSpendCents/100")
GROUP_MEMBERS = _cursor("aicode_billing_group_members",
                        "Members of a billing group (Unassigned: members in none).",
                        f"{GROUPS} groups[].memberCount", "group")

# Shared figures Cursor feeds (catalogue templates): where its values come from.
SOURCES = {
    catalog.DAILY_DATE.name: f"Cursor {DAU} date",
    catalog.DAILY_ACTIVE_USERS.name: (
        f"Cursor {DAU} dau (all), cli_dau (cli), cloud_agent_dau (cloud_agent), "
        "bugbot_dau (code_review)"),
    catalog.DAILY_SUGGESTIONS.name: (
        f"Cursor {TABS} total_suggestions (tab), {AGENT} total_suggested_diffs (agent)"),
    catalog.DAILY_SUGGESTIONS_ACCEPTED.name: (
        f"Cursor {TABS} total_accepts (tab), {AGENT} total_accepted_diffs (agent)"),
    catalog.DAILY_LINES_SUGGESTED.name: f"Cursor {TABS}, {AGENT} total_lines_suggested",
    catalog.DAILY_LINES_ACCEPTED.name: f"Cursor {TABS}, {AGENT} total_lines_accepted",
    catalog.DAILY_TAB_SUGGESTIONS.name: f"Cursor {TABS} total_suggestions",
    catalog.DAILY_TAB_ACCEPTS.name: f"Cursor {TABS} total_accepts",
    catalog.DAILY_TAB_ACCEPT_RATIO.name: f"Cursor {TABS} total_accepts/total_suggestions",
    catalog.DAILY_TEAM_ACTIVE_USERS.name: f"Cursor {DAILY_USAGE} isActive by teams.file",
    catalog.DAILY_TEAM_LINES_ACCEPTED.name: (
        f"Cursor {DAILY_USAGE} acceptedLinesAdded (agent) by teams.file"),
    catalog.DAILY_USER_SUGGESTIONS_ACCEPTED.name: f"Cursor {LEADERBOARD} total_accepts",
    catalog.DAILY_USER_LINES_ACCEPTED.name: f"Cursor {LEADERBOARD} total_lines_accepted",
    catalog.SEATS.name: f"Cursor {MEMBERS} teamMembers not isRemoved",
    catalog.BILLING_CYCLE_SPEND.name: f"Cursor {SPEND} teamMemberSpend[].spendCents/100",
    catalog.BILLING_CYCLE_START.name: f"Cursor {SPEND} subscriptionCycleStart",
    catalog.BILLING_GROUP_SPEND.name: (
        f"Cursor {GROUPS} groups[].spendCents/100 by name, unassignedGroup"),
}

SPECS = (
    MODEL_MESSAGES, MODEL_USERS, EXT_FILES, EXT_ACCEPTS, EXT_LINES_SUGGESTED,
    EXT_LINES_ACCEPTED, VERSION_USERS, USER_LINES_SUGGESTED, USER_MODEL_MESSAGES,
    USER_VERSION, USER_ACTIVE, USER_SPEND,
    DAILY_REQUESTS, OVERALL_SPEND, GROUP_MEMBERS,
)
