"""The metric catalogue: name, type, HELP, labels and source of every metric.

Here: the specs that need no vendor, and the templates of metrics several vendors feed
(the same question gets the same name whichever vendor answers it; the `provider` label
says which). A template's HELP names every vendor that feeds it, so its final spec is
built by vendors/registry.py from the vendors' declarations; mappings build families from
the template's `spec`, and the rendered exposition takes HELP from the catalogue. Each
vendor folder adds the metrics only it feeds. HELP names the vendor endpoint and field
and says that values are cached and refreshed every poll interval (a scrape never calls a
vendor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aicode_exporter.toolkit.families import Kind, Spec

BASE = ("provider", "org")
CACHED = "Cached; refreshed every poll interval."


def _spec(name: str, kind: Kind, help_: str, *extra: str) -> Spec:
    return Spec(name, kind, help_, BASE + extra)


# The exporter itself.
BUILD_INFO = Spec("aicode_exporter_build_info", "gauge",
                  "Always 1; the labels carry the exporter's version, source revision and "
                  "Python version.", ("version", "revision", "python_version"))
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

# Counters from the record streams. Their HELP names every registered vendor's endpoint,
# so the specs are built by the vendor registry (vendors/registry.py) from these templates.
_REC = f"Counted once per record, ever (de-duplicated, kept in the state file). {CACHED}"


@dataclass(frozen=True, slots=True)
class StreamCounter:
    """A stream counter before the vendors' endpoints are known."""

    name: str
    stream: str  # commits | changes
    what: str
    field: str  # the record field counted, same name in every vendor's records
    labelnames: tuple[str, ...]

    def spec(self, endpoints: Sequence[str] = ()) -> Spec:
        """The spec, its HELP naming `endpoints` (the vendors' stream endpoints)."""
        where = ", ".join(endpoints)
        return Spec(self.name, "counter", f"{self.what} {where} {self.field}. {_REC}",
                    BASE + self.labelnames, source=f"{where}: {self.field}")


@dataclass(frozen=True, slots=True)
class Shared:
    """A gauge (or counter) several vendors may feed; each vendor that does says where its
    values come from (Vendor.sources), and the HELP names them all."""

    name: str
    kind: Kind
    what: str
    labelnames: tuple[str, ...]  # after (provider, org)

    @property
    def spec(self) -> Spec:
        """The spec mappings build families with (HELP completed by the catalogue)."""
        return self.with_sources(())

    def with_sources(self, sources: Sequence[str | tuple[str, str]]) -> Spec:
        """HELP naming each source; a source is its text, or (text for HELP, the full
        endpoint and field for the docs) where the full path is too long for HELP."""
        short = "; ".join(s if isinstance(s, str) else s[0] for s in sources)
        full = "; ".join(s if isinstance(s, str) else s[1] for s in sources)
        text = f"{self.what} {short}. {CACHED}" if short else f"{self.what} {CACHED}"
        return Spec(self.name, self.kind, text, BASE + self.labelnames, source=full)


COMMITS = StreamCounter("aicode_commits_total", "commits", "Commit records.",
                        "commitHash+branchName", ("repo", "primary_branch"))
COMMIT_LINES_ADDED = StreamCounter(
    "aicode_commit_lines_added_total", "commits",
    "Lines added in commits, by the tool and mode that wrote them.", "<source>LinesAdded",
    ("repo", "source"))
COMMIT_LINES_DELETED = StreamCounter(
    "aicode_commit_lines_deleted_total", "commits",
    "Lines deleted in commits, by tool and mode.", "<source>LinesDeleted", ("repo", "source"))
USER_COMMIT_LINES_ADDED = StreamCounter(
    "aicode_user_commit_lines_added_total", "commits",
    "Lines added in commits per user and source (users.per_user_counters).",
    "<source>LinesAdded", ("user", "source"))
CHANGES = StreamCounter("aicode_changes_total", "changes", "Accepted AI changes in the IDE.",
                        "changeId", ("source", "model"))
CHANGE_LINES_ADDED = StreamCounter(
    "aicode_change_lines_added_total", "changes", "Lines added by accepted AI changes.",
    "totalLinesAdded", ("source", "model"))
CHANGE_LINES_DELETED = StreamCounter(
    "aicode_change_lines_deleted_total", "changes", "Lines deleted by accepted AI changes.",
    "totalLinesDeleted", ("source", "model"))
CHANGE_FILE_LINES_ADDED = StreamCounter(
    "aicode_change_file_lines_added_total", "changes",
    "Lines added by accepted AI changes per file extension.",
    "metadata[].linesAdded by fileExtension", ("source", "extension"))
CHANGE_FILE_LINES_DELETED = StreamCounter(
    "aicode_change_file_lines_deleted_total", "changes",
    "Lines deleted by accepted AI changes per file extension.",
    "metadata[].linesDeleted by fileExtension", ("source", "extension"))
USER_CHANGES = StreamCounter(
    "aicode_user_changes_total", "changes",
    "Accepted AI changes per user and source (users.per_user_counters).", "changeId",
    ("user", "source"))

# Per team (teams.file): counted once per record like the counters above, for each team
# of the record's user (several teams: each), or the `unassigned` team.
TEAM_COMMITS = StreamCounter("aicode_team_commits_total", "commits",
                             "Commit records per team.", "commitHash, user by teams.file",
                             ("team",))
TEAM_COMMIT_LINES_ADDED = StreamCounter(
    "aicode_team_commit_lines_added_total", "commits",
    "Lines added in commits per team and source.", "<source>LinesAdded, user by teams.file",
    ("team", "source"))
TEAM_CHANGES = StreamCounter("aicode_team_changes_total", "changes",
                             "Accepted AI changes per team and source.",
                             "changeId, user by teams.file", ("team", "source"))
TEAM_CHANGE_LINES_ADDED = StreamCounter(
    "aicode_team_change_lines_added_total", "changes",
    "Lines added by accepted AI changes per team and source.",
    "totalLinesAdded, user by teams.file", ("team", "source"))

STREAM_COUNTERS = (COMMITS, COMMIT_LINES_ADDED, COMMIT_LINES_DELETED, USER_COMMIT_LINES_ADDED,
                   CHANGES, CHANGE_LINES_ADDED, CHANGE_LINES_DELETED, CHANGE_FILE_LINES_ADDED,
                   CHANGE_FILE_LINES_DELETED, USER_CHANGES, TEAM_COMMITS,
                   TEAM_COMMIT_LINES_ADDED, TEAM_CHANGES, TEAM_CHANGE_LINES_ADDED)

_STREAM = ("stream",)
RECORDS_INGESTED = _spec("aicode_records_ingested_total", "counter",
                         "Records counted for the first time.", *_STREAM)
RECORDS_DUPLICATE = _spec("aicode_records_duplicate_total", "counter",
                          "Records read again (look-back overlap, re-ingestion) and not "
                          "counted.", *_STREAM)
RECORDS_INVALID = _spec("aicode_records_invalid_total", "counter",
                        "Records skipped, once per version of the record: a required field "
                        "(id) missing or unparsable, a line count that is not a finite "
                        "number in 0-1e9, or a record that cannot be mapped at all (nested "
                        "too deep, wrong types); a corrected version is counted.",
                        *_STREAM)
RECORDS_OUT_OF_WINDOW = _spec("aicode_records_out_of_window_total", "counter",
                              "Records the vendor returned from before the requested time "
                              "range (date filter ignored or read as whole days); not "
                              "counted by that read. Counted per read.", *_STREAM)
USER_RECORDS_FOLDED = _spec("aicode_user_records_folded_total", "counter",
                            "Records whose user was beyond users.max_users and was counted "
                            "as user=\"__other__\".", *_STREAM)
NEWEST_RECORD = _spec("aicode_newest_record_timestamp_seconds", "gauge",
                      "Event time (commit time, or change time) of the newest record seen; "
                      "a record dated more than 10 minutes ahead of the exporter's clock "
                      "counts as read at the time it was read.", *_STREAM)
RECORDS_FUTURE = _spec("aicode_records_future_total", "counter",
                       "Records dated more than 10 minutes ahead of the exporter's clock "
                       "(a vendor clock ahead, a commit dated 2100): counted, but their "
                       "time moves aicode_newest_record_timestamp_seconds only to when "
                       "they were read.", *_STREAM)
LABEL_RECORDS_FOLDED = _spec("aicode_label_records_folded_total", "counter",
                             "Records with a value of `label` beyond labels.max_values (or "
                             "labels.max_values_per_label) for this stream, counted as "
                             "label=\"__other__\".", *_STREAM, "label")
LABEL_VALUES_FOLDED = _spec("aicode_label_values_folded", "gauge",
                            "Distinct values of `label` folded into __other__ (beyond "
                            "labels.max_values) in the gauges currently published: the "
                            "most in any one published part (e.g. one window).", "label")

STREAM_LAG = _spec("aicode_stream_lag_seconds", "gauge",
                   "Now minus the stream's committed watermark: everything before it has "
                   "been read and counted. Falls while a backfill commits its slices.",
                   *_STREAM)
POLLS_COALESCED = Spec("aicode_polls_coalesced_total", "counter",
                       "Scheduled runs of an endpoint skipped because its previous run was "
                       "still going (a long catch-up, a paced endpoint).", _EP)

STREAM_META = (RECORDS_INGESTED, RECORDS_DUPLICATE, RECORDS_INVALID, RECORDS_OUT_OF_WINDOW,
               USER_RECORDS_FOLDED, RECORDS_FUTURE, LABEL_RECORDS_FOLDED)

RENDER_FAILURES = Spec("aicode_render_failures_total", "counter",
                       "Renders of a metric family (or of the whole exposition) that failed; "
                       "what failed keeps serving its last good values, and the log names "
                       "the family.", ())

# Every spec that needs no vendor: the exporter's own metrics and the stream bookkeeping.
CORE = (BUILD_INFO, UP, LAST_SUCCESS, POLL_DURATION, API_REQUESTS, API_RATE_LIMITED,
        POLLS_COALESCED, *STREAM_META, NEWEST_RECORD, STREAM_LAG, RENDER_FAILURES,
        LABEL_VALUES_FOLDED)


# -- shared daily figures: the newest complete UTC day, no `window` ------------------------
# `feature` is one of FEATURES; a vendor's own name for it, where it differs, goes in
# `vendor_feature` on the same series, so `sum by (feature)` is the cross-vendor view.
FEATURES = ("tab", "agent", "chat", "cli", "other")
DAY = "Latest complete UTC day (see aicode_daily_date_timestamp_seconds):"

DAILY_DATE = Shared("aicode_daily_date_timestamp_seconds", "gauge",
                    "Start (Unix seconds, UTC) of the day the aicode_daily_* values belong to.",
                    ())
DAILY_ACTIVE_USERS = Shared(
    "aicode_daily_active_users", "gauge",
    f"{DAY} distinct users active, by surface (all: any AI feature).", ("surface",))
DAILY_SUGGESTIONS = Shared(
    "aicode_daily_suggestions", "gauge",
    f"{DAY} suggestions shown (completions, proposed edits, tool-use proposals), by "
    "feature.", ("feature", "vendor_feature"))
DAILY_SUGGESTIONS_ACCEPTED = Shared(
    "aicode_daily_suggestions_accepted", "gauge",
    f"{DAY} suggestions accepted, by feature.", ("feature", "vendor_feature"))
DAILY_LINES_SUGGESTED = Shared(
    "aicode_daily_lines_suggested", "gauge", f"{DAY} lines suggested, by feature.",
    ("feature", "vendor_feature"))
DAILY_LINES_ACCEPTED = Shared(
    "aicode_daily_lines_accepted", "gauge",
    f"{DAY} lines accepted (written into files), by feature.", ("feature", "vendor_feature"))
DAILY_LINES_REMOVED = Shared(
    "aicode_daily_lines_removed", "gauge",
    f"{DAY} lines removed (deleted) by accepted AI edits, by feature.",
    ("feature", "vendor_feature"))
DAILY_USER_LINES_ACCEPTED = Shared(
    "aicode_daily_user_lines_accepted", "gauge",
    f"{DAY} lines accepted per user and feature (users.per_user_counters; beyond "
    "users.max_users summed into user=\"__other__\").", ("user", "feature"))
DAILY_USER_SUGGESTIONS_ACCEPTED = Shared(
    "aicode_daily_user_suggestions_accepted", "gauge",
    f"{DAY} suggestions accepted per user and feature (users.per_user_counters; beyond "
    "users.max_users summed into user=\"__other__\").", ("user", "feature"))
DAILY_COST = Shared("aicode_daily_cost_usd", "gauge",
                    f"{DAY} cost the vendor reports, in USD, by model.", ("model",))
DAILY_TOKENS = Shared("aicode_daily_tokens", "gauge",
                      f"{DAY} tokens by model and type (input, output, cache_read, "
                      "cache_write).", ("model", "type"))
DAILY_TEAM_ACTIVE_USERS = Shared(
    "aicode_daily_team_active_users", "gauge",
    f"{DAY} distinct users of the team active (teams.file, or the vendor's own teams).",
    ("team",))
DAILY_TEAM_LINES_ACCEPTED = Shared(
    "aicode_daily_team_lines_accepted", "gauge",
    f"{DAY} lines accepted by the team's users, by feature.", ("team", "feature"))
# Existing tab figures (Qoder's first); other vendors' tab completions publish here too.
DAILY_TAB_SUGGESTIONS = Shared("aicode_daily_tab_suggestions", "gauge",
                               f"{DAY} tab suggestions shown.", ())
DAILY_TAB_ACCEPTS = Shared("aicode_daily_tab_accepts", "gauge",
                           f"{DAY} tab suggestions accepted.", ())
DAILY_TAB_ACCEPT_RATIO = Shared("aicode_daily_tab_accept_ratio", "gauge",
                                f"{DAY} tab acceptance ratio (0-1).", ())

# -- seats and spend -----------------------------------------------------------------------
SEATS = Shared("aicode_seats", "gauge",
               "Seats or members currently assigned (not removed or deleted).", ())
BILLING_CYCLE_SPEND = Shared("aicode_billing_cycle_spend_usd", "gauge",
                             "Spend in the current billing cycle, in USD.", ())
BILLING_CYCLE_START = Shared("aicode_billing_cycle_start_timestamp_seconds", "gauge",
                             "Start (Unix seconds) of the current billing cycle.", ())
BILLING_GROUP_SPEND = Shared("aicode_billing_group_spend_usd", "gauge",
                             "Spend of a billing group in the current cycle, in USD.",
                             ("group",))

SHARED = (DAILY_DATE, DAILY_ACTIVE_USERS, DAILY_SUGGESTIONS, DAILY_SUGGESTIONS_ACCEPTED,
          DAILY_LINES_SUGGESTED, DAILY_LINES_ACCEPTED, DAILY_LINES_REMOVED,
          DAILY_USER_LINES_ACCEPTED, DAILY_USER_SUGGESTIONS_ACCEPTED, DAILY_COST, DAILY_TOKENS,
          DAILY_TEAM_ACTIVE_USERS, DAILY_TEAM_LINES_ACCEPTED, DAILY_TAB_SUGGESTIONS,
          DAILY_TAB_ACCEPTS, DAILY_TAB_ACCEPT_RATIO, SEATS, BILLING_CYCLE_SPEND,
          BILLING_CYCLE_START, BILLING_GROUP_SPEND)

# -- usage events: every request a vendor bills, counted once each -------------------------
USAGE_REQUESTS = StreamCounter("aicode_usage_requests_total", "usage_events",
                               "Usage events (billed requests), by model and kind.",
                               "events", ("model", "kind"))
USAGE_TOKENS = StreamCounter("aicode_usage_tokens_total", "usage_events",
                             "Tokens of usage events, by model and type (input, output, "
                             "cache_read, cache_write).", "tokenUsage", ("model", "type"))
USAGE_COST = StreamCounter("aicode_usage_cost_usd_total", "usage_events",
                           "Charged cost of usage events in USD, by model.", "chargedCents/100",
                           ("model",))
USAGE_COUNTERS = (USAGE_REQUESTS, USAGE_TOKENS, USAGE_COST)
COMMIT_COUNTERS = tuple(c for c in STREAM_COUNTERS if c.stream == "commits")
CHANGE_COUNTERS = tuple(c for c in STREAM_COUNTERS if c.stream == "changes")
