"""Qoder's aggregate metrics (AI Code Metrics endpoints): name, HELP, labels, source."""

from __future__ import annotations

from aicode_exporter.expose import catalog
from aicode_exporter.expose.catalog import BASE, CACHED, StreamCounter
from aicode_exporter.toolkit.families import Spec

PREFIX = "/v1/organizations/{organization_id}"  # every route; left out of HELP for length


def _source(source: str) -> tuple[str, str]:
    """(for HELP, in full) as _qoder words them."""
    return f"Qoder {source}", "Qoder " + source.replace("GET /", f"GET {PREFIX}/", 1)


def _qoder(name: str, what: str, source: str, *extra: str) -> Spec:
    short, full = _source(source)
    return Spec(name, "gauge", f"{what} {short}. {CACHED}", BASE + extra, source=full)


OV = "GET /ai-code/stats/overview"
RANK = "GET /ai-code/stats/member-ranking"
REPOS = "GET /ai-code/repos (all pages)"
EXTS = "GET /ai-code/file-extensions"
TREND = "GET /ai-code/stats/daily-trend"

# Aggregates over a trailing window (label `window`).
COMMITTED_LINES = _qoder("aicode_committed_lines_edited",
                         "Committed lines edited (added + deleted) in the trailing window.",
                         f"{OV} committedTotalLinesEdit", "window")
COMMITTED_AI_LINES = _qoder("aicode_committed_ai_lines_edited",
                            "AI-edited lines (added + deleted) in committed code, trailing window.",
                            f"{OV} committedAiLinesEdit", "window")
ACCEPTED_AI_LINES = _qoder("aicode_accepted_ai_lines_edited",
                           "Accepted AI-edited lines (added + deleted), trailing window.",
                           f"{OV} acceptedLinesEdit", "window")
AI_SHARE = _qoder("aicode_ai_share_ratio", "AI share of committed code (0-1), trailing window.",
                  f"{OV} aiShareRate/100", "window")
AGENT_EDITS = _qoder("aicode_agent_edits", "Agent edits in the trailing window.",
                     f"{OV} agentEditCount", "window")
TAB_COMPLETIONS = _qoder("aicode_tab_completions", "Tab completions in the trailing window.",
                         f"{OV} tabCompletionCount", "window")
CHAT_MESSAGES = _qoder("aicode_chat_messages", "Chat messages in the trailing window.",
                       f"{OV} messageCount", "window")

USER_LINES = _qoder("aicode_user_lines_added", "Lines added by a ranked member, trailing window.",
                    f"{RANK} totalLinesAdded", "window", "user")
USER_AI_LINES = _qoder("aicode_user_ai_lines_added",
                       "AI lines added by a ranked member, trailing window.",
                       f"{RANK} aiLinesAdded", "window", "user")
USER_AI_SHARE = _qoder("aicode_user_ai_share_ratio",
                       "AI share (0-1) of a ranked member's added lines, trailing window.",
                       f"{RANK} aiShareRate/100", "window", "user")
USER_COMMITS = _qoder("aicode_user_commits", "Commits by a ranked member, trailing window.",
                      f"{RANK} commitCount", "window", "user")

REPO_COMMITS = _qoder("aicode_repo_commits", "Commits in a repository, trailing window.",
                      f"{REPOS} commitCount", "window", "repo")
REPO_LINES = _qoder("aicode_repo_lines_added", "Lines added in a repository, trailing window.",
                    f"{REPOS} totalLinesAdded", "window", "repo")

EXT_CHANGES = _qoder("aicode_extension_changes", "Changes to files of an extension, window.",
                     f"{EXTS} changeCount", "window", "extension")
EXT_LINES = _qoder("aicode_extension_lines_added", "Lines added to files of an extension, window.",
                   f"{EXTS} totalLinesAdded", "window", "extension")
EXT_AI_SHARE = _qoder("aicode_extension_ai_share_ratio",
                      "AI share (0-1) of lines added to files of an extension, window.",
                      f"{EXTS} aiShareRate/100", "window", "extension")

# Latest complete UTC day (no `window`).
_DAY = catalog.DAY
DAILY_AI_LINES = _qoder("aicode_daily_ai_lines_added", f"{_DAY} AI lines added.",
                        f"{TREND} items[].aiLinesAdded")
DAILY_OTHER_LINES = _qoder("aicode_daily_other_lines_added", f"{_DAY} non-AI lines added.",
                           f"{TREND} items[].otherLinesAdded")
DAILY_COMMITS = _qoder("aicode_daily_commits", f"{_DAY} commits.", f"{TREND} items[].commitCount")
DAILY_AI_SHARE = _qoder("aicode_daily_ai_share_ratio", f"{_DAY} AI share (0-1) of added lines.",
                        f"{TREND} items[].aiShareRate/100")
DAILY_EXT_LINES = _qoder("aicode_daily_extension_lines_added",
                         f"{_DAY} agent-tracked lines added per file extension.",
                         f"{TREND} extItems[].totalLinesAdded", "extension")
DAILY_EXT_AI_LINES = _qoder("aicode_daily_extension_ai_lines_added",
                            f"{_DAY} AI lines added per file extension.",
                            f"{TREND} extItems[].aiLinesAdded", "extension")

# Members and Usage APIs.
MEMBERS_LIST = "GET /members?includeDeleted=true (all pages)"
QUOTA = "GET /members/{member_id}/quota"
PACKAGES = "GET /resource-packages (all pages)"
USAGE = "GET /usage-events"

MEMBERS = _qoder("aicode_members",
                 "Organisation members by role and status (deleted members included).",
                 f"{MEMBERS_LIST} members[].role, members[].status", "role", "status")

_PER_USER = "(users.per_user_counters, at most users.max_users members)"
QUOTA_USED = _qoder("aicode_member_quota_used_credits",
                    f"Credits a member used of their own quota this quota period {_PER_USER}.",
                    f"{QUOTA} totalQuota.quotaSummary.usedValue", "user")
QUOTA_LIMIT = _qoder("aicode_member_quota_limit_credits",
                     f"A member's credit quota for this quota period {_PER_USER}.",
                     f"{QUOTA} totalQuota.quotaSummary.limitValue", "user")
QUOTA_RESTRICTED = _qoder("aicode_member_quota_restricted",
                          f"1 if a member's quota is used up (status restricted), else 0 "
                          f"{_PER_USER}.", f"{QUOTA} status", "user")
QUOTA_RESET = _qoder("aicode_member_quota_next_reset_timestamp_seconds",
                     f"When (Unix seconds) a member's quota resets {_PER_USER}.",
                     f"{QUOTA} nextResetAt", "user")

_PKG = ("package", "source", "status")
PACKAGES_COUNT = _qoder("aicode_resource_packages",
                        "Resource packages (shared add-on credits) by name, source and status.",
                        f"{PACKAGES} resourcePackages[]", *_PKG)
PACKAGE_LIMIT = _qoder("aicode_resource_package_limit_credits",
                       "Credits of the resource packages of this name, source and status.",
                       f"{PACKAGES} resourcePackages[].limitValue", *_PKG)
PACKAGE_USED = _qoder("aicode_resource_package_used_credits",
                      "Credits used of the resource packages of this name, source and status.",
                      f"{PACKAGES} resourcePackages[].usedValue", *_PKG)
PACKAGE_REMAINING = _qoder("aicode_resource_package_remaining_credits",
                           "Credits left in the resource packages of this name, source and "
                           "status.", f"{PACKAGES} resourcePackages[].remainingValue", *_PKG)
PACKAGE_EXPIRY = _qoder("aicode_resource_package_expiry_timestamp_seconds",
                        "Earliest expiry (Unix seconds) of the resource packages of this name, "
                        "source and status.", f"{PACKAGES} resourcePackages[].expiresAt", *_PKG)

# Counters of the `credits` stream (usage records, each counted once; only Qoder has them).
_CREDITS = "usages[].credits"
CREDITS_USED = StreamCounter("aicode_credits_used_total", "credits",
                             "Qoder credits consumed, by source, operation and model tier.",
                             _CREDITS, ("source", "operation", "model_tier"))
USER_CREDITS_USED = StreamCounter("aicode_user_credits_used_total", "credits",
                                  "Qoder credits consumed per user (users.per_user_counters).",
                                  _CREDITS, ("user",))
TEAM_CREDITS_USED = StreamCounter("aicode_team_credits_used_total", "credits",
                                  "Qoder credits consumed per team.",
                                  f"{_CREDITS}, user by teams.file", ("team",))
CREDIT_COUNTERS = (CREDITS_USED, USER_CREDITS_USED, TEAM_CREDITS_USED)

# Shared figures Qoder feeds (catalogue templates): where its values come from.
_NEXT = "(feature tab, vendor_feature next)"
SOURCES: dict[str, str | tuple[str, str]] = {
    catalog.DAILY_TAB_SUGGESTIONS.name: _source(f"{TREND} nextItems[].nextSuggestedCount"),
    catalog.DAILY_TAB_ACCEPTS.name: _source(f"{TREND} nextItems[].nextAcceptedCount"),
    catalog.DAILY_TAB_ACCEPT_RATIO.name: _source(f"{TREND} nextItems[].nextAcceptRate/100"),
    catalog.DAILY_DATE.name: _source(f"{TREND} items[].date"),
    catalog.DAILY_SUGGESTIONS.name: _source(f"{TREND} nextItems[].nextSuggestedCount {_NEXT}"),
    catalog.DAILY_SUGGESTIONS_ACCEPTED.name:
        _source(f"{TREND} nextItems[].nextAcceptedCount {_NEXT}"),
    catalog.SEATS.name: _source("GET /members members[] with status ENABLED"),
}

SPECS = (
    COMMITTED_LINES, COMMITTED_AI_LINES, ACCEPTED_AI_LINES, AI_SHARE, AGENT_EDITS,
    TAB_COMPLETIONS, CHAT_MESSAGES, USER_LINES, USER_AI_LINES, USER_AI_SHARE,
    USER_COMMITS, REPO_COMMITS, REPO_LINES, EXT_CHANGES, EXT_LINES, EXT_AI_SHARE,
    DAILY_AI_LINES, DAILY_OTHER_LINES, DAILY_COMMITS, DAILY_AI_SHARE, DAILY_EXT_LINES,
    DAILY_EXT_AI_LINES, MEMBERS, QUOTA_USED, QUOTA_LIMIT, QUOTA_RESTRICTED, QUOTA_RESET,
    PACKAGES_COUNT, PACKAGE_LIMIT, PACKAGE_USED, PACKAGE_REMAINING, PACKAGE_EXPIRY,
)
