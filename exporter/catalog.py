"""Every metric the exporter serves: name, type, HELP and labels, in one table.

Names and labels are CONTRACT.md's. HELP names the vendor endpoint and field and says
that values are cached and refreshed every poll interval (a scrape never calls a vendor).
"""

from __future__ import annotations

from exporter.families import Kind, Spec

BASE = ("provider", "org")
CACHED = "Cached; refreshed every poll interval."


def _spec(name: str, kind: Kind, help_: str, *extra: str) -> Spec:
    return Spec(name, kind, help_, BASE + extra)


def _qoder(name: str, what: str, source: str, *extra: str) -> Spec:
    return _spec(name, "gauge", f"{what} Qoder {source}. {CACHED}", *extra)


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
_DAY = "Latest complete UTC day (see aicode_daily_date_timestamp_seconds):"
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
DAILY_TAB_SUGGESTIONS = _qoder("aicode_daily_tab_suggestions", f"{_DAY} tab suggestions shown.",
                               f"{TREND} nextItems[].nextSuggestedCount")
DAILY_TAB_ACCEPTS = _qoder("aicode_daily_tab_accepts", f"{_DAY} tab suggestions accepted.",
                           f"{TREND} nextItems[].nextAcceptedCount")
DAILY_TAB_ACCEPT_RATIO = _qoder("aicode_daily_tab_accept_ratio",
                                f"{_DAY} tab acceptance ratio (0-1).",
                                f"{TREND} nextItems[].nextAcceptRate/100")
DAILY_DATE = _qoder("aicode_daily_date_timestamp_seconds",
                    "Start (Unix seconds, UTC) of the day the aicode_daily_* values belong to.",
                    f"{TREND} items[].date")

# The exporter itself.
BUILD_INFO = Spec("aicode_exporter_build_info", "gauge",
                  "Always 1; the `version` label carries the exporter's version.", ("version",))
_EP = (*BASE, "endpoint")
UP = Spec("aicode_up", "gauge",
          "1 if the last poll of this vendor endpoint succeeded, 0 if it failed.", _EP)
LAST_SUCCESS = Spec("aicode_last_success_timestamp_seconds", "gauge",
                    "Unix time of the last successful poll of this endpoint.", _EP)
POLL_DURATION = Spec("aicode_poll_duration_seconds", "gauge",
                     "Wall time the last poll of this endpoint took, rate-limit waits included.",
                     _EP)
API_REQUESTS = Spec("aicode_api_requests_total", "counter",
                    "HTTP requests sent to the vendor, by status code (`error`: no response).",
                    (*_EP, "code"))
API_RATE_LIMITED = Spec("aicode_api_rate_limited_total", "counter",
                        "Vendor answers that asked us to slow down (429, or 503 with "
                        "Retry-After).", _EP)

# Counters from the record streams (Qoder and Cursor AI Code Tracking).
_C = "Qoder GET /ai-code-tracking/commits (or /export), Cursor GET /analytics/ai-code/commits"
_CH = "Qoder GET /ai-code-tracking/changes, Cursor GET /analytics/ai-code/changes (or .csv)"
_REC = f"Counted once per record, ever (de-duplicated, kept in the state file). {CACHED}"


def _stream(name: str, what: str, source: str, *extra: str) -> Spec:
    return _spec(name, "counter", f"{what} {source}. {_REC}", *extra)


COMMITS = _stream("aicode_commits_total", "Commit records.", f"{_C} commitHash+branchName",
                  "repo", "primary_branch")
COMMIT_LINES_ADDED = _stream("aicode_commit_lines_added_total",
                             "Lines added in commits, by the tool and mode that wrote them.",
                             f"{_C} <source>LinesAdded", "repo", "source")
COMMIT_LINES_DELETED = _stream("aicode_commit_lines_deleted_total",
                               "Lines deleted in commits, by tool and mode.",
                               f"{_C} <source>LinesDeleted", "repo", "source")
CHANGES = _stream("aicode_changes_total", "Accepted AI changes in the IDE.", f"{_CH} changeId",
                  "source", "model")
CHANGE_LINES_ADDED = _stream("aicode_change_lines_added_total",
                             "Lines added by accepted AI changes.", f"{_CH} totalLinesAdded",
                             "source", "model")
CHANGE_LINES_DELETED = _stream("aicode_change_lines_deleted_total",
                               "Lines deleted by accepted AI changes.",
                               f"{_CH} totalLinesDeleted", "source", "model")
CHANGE_FILE_LINES_ADDED = _stream("aicode_change_file_lines_added_total",
                                  "Lines added by accepted AI changes per file extension.",
                                  f"{_CH} metadata[].linesAdded by fileExtension",
                                  "source", "extension")
CHANGE_FILE_LINES_DELETED = _stream("aicode_change_file_lines_deleted_total",
                                    "Lines deleted by accepted AI changes per file extension.",
                                    f"{_CH} metadata[].linesDeleted by fileExtension",
                                    "source", "extension")
USER_COMMIT_LINES_ADDED = _stream("aicode_user_commit_lines_added_total",
                                  "Lines added in commits per user and source "
                                  "(users.per_user_counters).", f"{_C} <source>LinesAdded",
                                  "user", "source")
USER_CHANGES = _stream("aicode_user_changes_total",
                       "Accepted AI changes per user and source (users.per_user_counters).",
                       f"{_CH} changeId", "user", "source")

_STREAM = ("stream",)
RECORDS_INGESTED = _spec("aicode_records_ingested_total", "counter",
                         "Records counted for the first time.", *_STREAM)
RECORDS_DUPLICATE = _spec("aicode_records_duplicate_total", "counter",
                          "Records read again (look-back overlap, re-ingestion) and not "
                          "counted.", *_STREAM)
RECORDS_INVALID = _spec("aicode_records_invalid_total", "counter",
                        "Records skipped because a required field (id) was missing or "
                        "unparsable.", *_STREAM)
USER_RECORDS_FOLDED = _spec("aicode_user_records_folded_total", "counter",
                            "Records whose user was beyond users.max_users and was counted "
                            "as user=\"__other__\".", *_STREAM)
NEWEST_RECORD = _spec("aicode_newest_record_timestamp_seconds", "gauge",
                      "Event time (commit time, or change time) of the newest record seen.",
                      *_STREAM)

STREAM_COUNTERS = {s.name: s for s in (
    COMMITS, COMMIT_LINES_ADDED, COMMIT_LINES_DELETED, CHANGES, CHANGE_LINES_ADDED,
    CHANGE_LINES_DELETED, CHANGE_FILE_LINES_ADDED, CHANGE_FILE_LINES_DELETED,
    USER_COMMIT_LINES_ADDED, USER_CHANGES, RECORDS_INGESTED, RECORDS_DUPLICATE,
    RECORDS_INVALID, USER_RECORDS_FOLDED)}
