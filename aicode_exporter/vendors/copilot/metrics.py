"""The metrics only GitHub Copilot feeds (usage metrics reports), and where its values of
the shared daily figures come from. Every HELP names the report and the field."""

from __future__ import annotations

from aicode_exporter.expose import catalog
from aicode_exporter.expose.catalog import BASE, CACHED, DAY
from aicode_exporter.toolkit.families import Spec

TOTALS = "organization-1-day (or enterprise-1-day) report"
WINDOW = "organization-28-day/latest (or enterprise-28-day/latest) report"
USERS = "users-1-day report"
TEAMS = "user-teams-1-day report"
REPOS = "repos-1-day report"
FEATURE = ("feature", "vendor_feature")


def _copilot(name: str, what: str, source: str, *extra: str) -> Spec:
    return Spec(name, "gauge", f"{what} GitHub Copilot {source}. {CACHED}", BASE + extra,
                source=f"GitHub Copilot {source}")


def _daily(name: str, what: str, source: str, *extra: str) -> Spec:
    return _copilot(name, f"{DAY} {what}", source, *extra)


# -- the aggregated day (organization-1-day / enterprise-1-day) ---------------------------
PROMPTS = _daily("aicode_daily_prompts", "prompts people sent, by feature.",
                 f"{TOTALS} totals_by_feature[].user_initiated_interaction_count", *FEATURE)


def _by(dimension: str, rows: str, *extra: str) -> tuple[Spec, Spec, Spec, Spec]:
    """Suggestions, accepted, lines suggested and lines accepted per `dimension`."""
    what = f"by {dimension}" + (" and feature" if extra else "")
    src = f"{TOTALS} {rows}[]"
    labels = (dimension, *extra)
    return (
        _daily(f"aicode_daily_{dimension}_suggestions", f"suggestions shown, {what}.",
               f"{src}.code_generation_activity_count", *labels),
        _daily(f"aicode_daily_{dimension}_suggestions_accepted",
               f"suggestions accepted, {what}.", f"{src}.code_acceptance_activity_count",
               *labels),
        _daily(f"aicode_daily_{dimension}_lines_suggested", f"lines suggested, {what}.",
               f"{src}.loc_suggested_to_add_sum", *labels),
        _daily(f"aicode_daily_{dimension}_lines_accepted", f"lines accepted, {what}.",
               f"{src}.loc_added_sum", *labels),
    )


IDE = _by("ide", "totals_by_ide")
LANGUAGE = _by("language", "totals_by_language_feature", "feature")
MODEL = _by("model", "totals_by_model_feature", "feature")

CLI_SESSIONS = _daily("aicode_daily_cli_sessions", "Copilot CLI sessions started.",
                      f"{TOTALS} totals_by_cli.session_count")
CLI_REQUESTS = _daily("aicode_daily_cli_requests",
                      "Copilot CLI requests (agentic follow-ups included).",
                      f"{TOTALS} totals_by_cli.request_count")
CLI_PROMPTS = _daily("aicode_daily_cli_prompts", "Copilot CLI prompts people sent.",
                     f"{TOTALS} totals_by_cli.prompt_count")
CLI_TOKENS = _daily("aicode_daily_cli_tokens", "Copilot CLI tokens, by type (input, output).",
                    f"{TOTALS} totals_by_cli.token_usage.prompt_tokens_sum/output_tokens_sum",
                    "type")
AGENT_APP_JOBS = _daily("aicode_daily_agent_app_jobs",
                        "jobs started in third-party agent apps, by agent.",
                        f"{TOTALS} totals_by_3rd_party_agent[].user_initiated_interaction_count",
                        "agent")
AGENT_APP_SESSIONS = _daily("aicode_daily_agent_app_sessions",
                            "third-party agent app sessions, by agent.",
                            f"{TOTALS} totals_by_3rd_party_agent[].session_count", "agent")
ADOPTION_PHASE_USERS = _daily("aicode_daily_adoption_phase_users",
                              "engaged users per AI adoption phase.",
                              f"{TOTALS} totals_by_ai_adoption_phase[].total_engaged_users",
                              "phase")

_PR = f"{TOTALS} pull_requests"
PR_CREATED = _daily("aicode_daily_pull_requests_created", "pull requests created.",
                    f"{_PR}.total_created")
PR_CREATED_BY_COPILOT = _daily("aicode_daily_pull_requests_created_by_copilot",
                               "pull requests created by Copilot cloud agent.",
                               f"{_PR}.total_created_by_copilot")
PR_REVIEWED = _daily("aicode_daily_pull_requests_reviewed", "pull requests reviewed.",
                     f"{_PR}.total_reviewed")
PR_REVIEWED_BY_COPILOT = _daily("aicode_daily_pull_requests_reviewed_by_copilot",
                                "pull requests reviewed by Copilot code review.",
                                f"{_PR}.total_reviewed_by_copilot")
PR_MERGED = _daily("aicode_daily_pull_requests_merged", "pull requests merged.",
                   f"{_PR}.total_merged")
PR_MERGED_CREATED_BY_COPILOT = _daily(
    "aicode_daily_pull_requests_merged_created_by_copilot",
    "pull requests merged that Copilot cloud agent created.",
    f"{_PR}.total_merged_created_by_copilot")
PR_MERGED_REVIEWED_BY_COPILOT = _daily(
    "aicode_daily_pull_requests_merged_reviewed_by_copilot",
    "pull requests merged that Copilot code review reviewed.",
    f"{_PR}.total_merged_reviewed_by_copilot")
PR_MERGE_MEDIAN = _daily(
    "aicode_daily_pull_request_merge_median_seconds",
    "median time from creation to merge of the pull requests merged that day, in seconds, "
    "by subset (all, copilot_authored, copilot_reviewed).",
    f"{_PR}.median_minutes_to_merge[_copilot_authored|_copilot_reviewed]*60", "subset")
REVIEW_SUGGESTIONS = _daily("aicode_daily_review_suggestions",
                            "pull-request review suggestions (any reviewer).",
                            f"{_PR}.total_suggestions")
REVIEW_SUGGESTIONS_APPLIED = _daily("aicode_daily_review_suggestions_applied",
                                    "pull-request review suggestions applied.",
                                    f"{_PR}.total_applied_suggestions")
COPILOT_REVIEW_SUGGESTIONS = _daily("aicode_daily_copilot_review_suggestions",
                                    "review suggestions by Copilot code review.",
                                    f"{_PR}.total_copilot_suggestions")
COPILOT_REVIEW_SUGGESTIONS_APPLIED = _daily(
    "aicode_daily_copilot_review_suggestions_applied",
    "review suggestions by Copilot code review that were applied.",
    f"{_PR}.total_copilot_applied_suggestions")

# -- users-1-day -----------------------------------------------------------------------------
AI_CREDITS = _daily("aicode_daily_ai_credits_used",
                    "AI credits used by everyone (a usage signal, not a billed amount).",
                    f"{USERS} sum of ai_credits_used")
USER_PROMPTS = _daily("aicode_daily_user_prompts",
                      "prompts a user sent (users.per_user_counters).",
                      f"{USERS} user_initiated_interaction_count", "user")
USER_AI_CREDITS = _daily("aicode_daily_user_ai_credits_used",
                         "AI credits a user used (users.per_user_counters).",
                         f"{USERS} ai_credits_used", "user")
USERS_FOLDED = _daily("aicode_daily_users_folded",
                      "users beyond users.max_users, whose figures are summed under "
                      "user=\"__other__\".", f"{USERS} user_id")
INVALID_LINES = _daily("aicode_daily_report_invalid_lines",
                       "lines of a report's files that could not be read and were skipped, "
                       "by report (the endpoint name).",
                       f"{USERS}, {TEAMS} and {REPOS} lines", "report")

# -- repos-1-day ---------------------------------------------------------------------------
_RPR = f"{REPOS} pull_requests"
REPO_PR_CREATED = _daily("aicode_daily_repo_pull_requests_created",
                         "pull requests created in a repository.", f"{_RPR}.total_created",
                         "repo")
REPO_PR_CREATED_BY_COPILOT = _daily("aicode_daily_repo_pull_requests_created_by_copilot",
                                    "pull requests Copilot cloud agent created in a "
                                    "repository.", f"{_RPR}.total_created_by_copilot", "repo")
REPO_PR_REVIEWED = _daily("aicode_daily_repo_pull_requests_reviewed",
                          "pull requests reviewed in a repository.", f"{_RPR}.total_reviewed",
                          "repo")
REPO_PR_REVIEWED_BY_COPILOT = _daily("aicode_daily_repo_pull_requests_reviewed_by_copilot",
                                     "pull requests Copilot code review reviewed in a "
                                     "repository.", f"{_RPR}.total_reviewed_by_copilot",
                                     "repo")
REPO_PR_MERGED = _daily("aicode_daily_repo_pull_requests_merged",
                        "pull requests merged in a repository.", f"{_RPR}.total_merged", "repo")
REPO_PR_MERGE_MEDIAN = _daily("aicode_daily_repo_pull_request_merge_median_seconds",
                              "median time to merge in a repository, in seconds (not for "
                              "repo=\"__other__\").", f"{_RPR}.median_minutes_to_merge*60",
                              "repo")
REPOS_FOLDED = _daily("aicode_daily_repos_folded",
                      "repositories beyond max_repos, whose figures are summed under "
                      "repo=\"__other__\".", f"{REPOS} repo_id")

# -- the 28-day report: trailing windows (label `window`) ------------------------------------
_NEWEST = f"{WINDOW} newest day_totals[]"
ACTIVE_USERS = _copilot(
    "aicode_active_users", "Distinct users active in the trailing window (7d, 28d) ending on "
    "the report's newest day, by surface.",
    f"{_NEWEST}.weekly_*/monthly_*_users", "surface", "window")
WINDOW_SUGGESTIONS = _copilot("aicode_suggestions",
                              "Suggestions shown in the trailing window, by feature.",
                              f"{WINDOW} sum of day_totals[].totals_by_feature[]."
                              "code_generation_activity_count", *FEATURE, "window")
WINDOW_SUGGESTIONS_ACCEPTED = _copilot(
    "aicode_suggestions_accepted", "Suggestions accepted in the trailing window, by feature.",
    f"{WINDOW} sum of day_totals[].totals_by_feature[].code_acceptance_activity_count",
    *FEATURE, "window")
WINDOW_LINES_SUGGESTED = _copilot(
    "aicode_lines_suggested", "Lines suggested in the trailing window, by feature.",
    f"{WINDOW} sum of day_totals[].totals_by_feature[].loc_suggested_to_add_sum",
    *FEATURE, "window")
WINDOW_LINES_ACCEPTED = _copilot(
    "aicode_lines_accepted", "Lines accepted in the trailing window, by feature.",
    f"{WINDOW} sum of day_totals[].totals_by_feature[].loc_added_sum", *FEATURE, "window")
WINDOW_END = _copilot("aicode_window_end_timestamp_seconds",
                      "Start (Unix seconds, UTC) of the last day of the trailing window the "
                      "aicode_* values with this window label cover.",
                      f"{WINDOW} report_end_day", "window")

# Shared figures Copilot feeds (catalogue templates): where its values come from.
SOURCES = {
    catalog.DAILY_DATE.name: f"GitHub Copilot {TOTALS} day",
    catalog.DAILY_ACTIVE_USERS.name: (
        f"GitHub Copilot {TOTALS} daily_active_users, daily_active_cli_users, "
        "daily_active_copilot_cloud_agent_users, daily_active/passive_copilot_code_review_users, "
        f"daily_active_copilot_app_users; {USERS} used_chat, used_agent"),
    catalog.DAILY_SUGGESTIONS.name:
        f"GitHub Copilot {TOTALS} totals_by_feature[].code_generation_activity_count",
    catalog.DAILY_SUGGESTIONS_ACCEPTED.name:
        f"GitHub Copilot {TOTALS} totals_by_feature[].code_acceptance_activity_count",
    catalog.DAILY_LINES_SUGGESTED.name:
        f"GitHub Copilot {TOTALS} totals_by_feature[].loc_suggested_to_add_sum",
    catalog.DAILY_LINES_ACCEPTED.name:
        f"GitHub Copilot {TOTALS} totals_by_feature[].loc_added_sum",
    catalog.DAILY_LINES_REMOVED.name:
        f"GitHub Copilot {TOTALS} totals_by_feature[].loc_deleted_sum",
    catalog.DAILY_USER_LINES_ACCEPTED.name:
        f"GitHub Copilot {USERS} totals_by_feature[].loc_added_sum per user",
    catalog.DAILY_USER_SUGGESTIONS_ACCEPTED.name:
        f"GitHub Copilot {USERS} totals_by_feature[].code_acceptance_activity_count per user",
    catalog.DAILY_TAB_SUGGESTIONS.name:
        f"GitHub Copilot {TOTALS} code_completion code_generation_activity_count",
    catalog.DAILY_TAB_ACCEPTS.name:
        f"GitHub Copilot {TOTALS} code_completion code_acceptance_activity_count",
    catalog.DAILY_TAB_ACCEPT_RATIO.name:
        f"GitHub Copilot {TOTALS} code_completion accepted/shown",
    catalog.DAILY_TEAM_ACTIVE_USERS.name:
        f"GitHub Copilot {USERS} users by {TEAMS} slug (or teams.file)",
    catalog.DAILY_TEAM_LINES_ACCEPTED.name:
        f"GitHub Copilot {USERS} totals_by_feature[].loc_added_sum by {TEAMS} slug "
        "(or teams.file)",
}

SPECS = (
    PROMPTS, *IDE, *LANGUAGE, *MODEL, CLI_SESSIONS, CLI_REQUESTS, CLI_PROMPTS,
    CLI_TOKENS, AGENT_APP_JOBS, AGENT_APP_SESSIONS, ADOPTION_PHASE_USERS, PR_CREATED,
    PR_CREATED_BY_COPILOT, PR_REVIEWED, PR_REVIEWED_BY_COPILOT, PR_MERGED,
    PR_MERGED_CREATED_BY_COPILOT, PR_MERGED_REVIEWED_BY_COPILOT, PR_MERGE_MEDIAN,
    REVIEW_SUGGESTIONS, REVIEW_SUGGESTIONS_APPLIED, COPILOT_REVIEW_SUGGESTIONS,
    COPILOT_REVIEW_SUGGESTIONS_APPLIED, AI_CREDITS,
    USER_PROMPTS, USER_AI_CREDITS, USERS_FOLDED, INVALID_LINES,
    REPO_PR_CREATED, REPO_PR_CREATED_BY_COPILOT, REPO_PR_REVIEWED,
    REPO_PR_REVIEWED_BY_COPILOT, REPO_PR_MERGED, REPO_PR_MERGE_MEDIAN, REPOS_FOLDED,
    ACTIVE_USERS, WINDOW_SUGGESTIONS, WINDOW_SUGGESTIONS_ACCEPTED, WINDOW_LINES_SUGGESTED,
    WINDOW_LINES_ACCEPTED, WINDOW_END,
)
