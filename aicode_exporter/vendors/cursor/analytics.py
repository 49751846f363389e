"""Cursor's Analytics API as daily reports: each endpoint answers per UTC day for a range
of at most 30 days; the daily job publishes the newest complete day and the backfill reads
past ones.

Requests carry plain `YYYY-MM-DD` dates, so the same range is the same URL all day and its
ETag revalidates (`304 Not Modified`, which Cursor does not count against its limits);
the range never includes today, which is still accumulating. A day Cursor leaves out of
its answer had no activity: within the range it says it answered, such a day's counts
are 0 (its per-model, per-extension and per-version series are absent).

The team-level endpoints (`/analytics/team/*`) share 100 requests a minute, the by-user
ones (`/analytics/by-user/*`) 50. The leaderboard and the by-user reports are per-user
data: built only with users.per_user_counters and a users.label other than none, every
page read, users beyond users.max_users summed into user="__other__".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from aicode_exporter.errors import AuthError
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.daily import DayFamilies, DayFetch
from aicode_exporter.pipeline.labels import normalize_extension, or_unknown
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.paging import paginate
from aicode_exporter.vendors import tolerant
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.cursor import hints, metrics
from aicode_exporter.vendors.cursor.models import (
    ByUserReport,
    DauRow,
    EditsRow,
    ExtensionRow,
    Leaderboard,
    LeaderRow,
    ModelsRow,
    TeamReport,
    VersionRow,
)
from aicode_exporter.vendors.cursor.peruser import add, fold, fold_except, top_users

logger = logging.getLogger(__name__)

TEAM = "/analytics/team"
BY_USER = "/analytics/by-user"
# endpoint name -> its path after TEAM or BY_USER
PATHS = {"dau": "dau", "tabs": "tabs", "agent_edits": "agent-edits", "models": "models",
         "top_file_extensions": "top-file-extensions", "client_versions": "client-versions",
         "leaderboard": "leaderboard", "by_user_models": "models",
         "by_user_client_versions": "client-versions"}
PAGE_SIZE = 500  # leaderboard and by-user: the documented maximum
MAX_DAYS = 30  # the longest range Cursor answers

Base = tuple[str, str]
M = TypeVar("M", bound=tolerant.Tolerant)


def parse_day(text: str) -> date | None:
    """`2025-01-15` (or the date part of an ISO-8601 time) as a date; None if not one."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def covered(first: date, last: date, echo_start: str, echo_end: str) -> list[date]:
    """The days of [first, last] the answer speaks for: within the range Cursor echoes
    back in `params`, when it does."""
    lo = max(first, parse_day(echo_start) or first)
    hi = min(last, parse_day(echo_end) or last)
    return days(lo, hi) if lo <= hi else []


def rows_as(model: type[M], data: Iterable[Any], endpoint: str) -> list[M]:
    """Each row validated; a row whose counts are not counts fails the answer (it keeps
    its last good values), as every aggregate does."""
    return [tolerant.parse_as(model, row, endpoint) for row in data]


# -- the requests ---------------------------------------------------------------------------

class AnalyticsClient:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def get(self, endpoint: str, path: str, params: Mapping[str, Any],
            deadline: float | None) -> Any:
        try:
            return self.api.get_json(endpoint, path, params, deadline=deadline)
        except AuthError as e:
            raise hints.explain(e, hints.ANALYTICS) from None

    @staticmethod
    def _range(first: date, last: date) -> dict[str, str]:
        return {"startDate": first.isoformat(), "endDate": last.isoformat()}

    def team(self, endpoint: str, first: date, last: date,
             deadline: float | None) -> TeamReport:
        data = self.get(endpoint, f"{TEAM}/{PATHS[endpoint]}", self._range(first, last),
                        deadline)
        return tolerant.parse_as(TeamReport, data, endpoint)

    def by_user(self, endpoint: str, first: date, last: date, deadline: float | None,
                ) -> Iterator[tuple[str, str, list[Any]]]:
        """(email, user id, that user's rows) of every page."""
        def page(n: int) -> tuple[list[Any], int | None]:
            data = self.get(endpoint, f"{BY_USER}/{PATHS[endpoint]}",
                            {**self._range(first, last), "page": n, "pageSize": PAGE_SIZE},
                            deadline)
            got = tolerant.parse_as(ByUserReport, data, endpoint)
            ids = {m.email.strip().lower(): m.id for m in got.params.userMappings}
            users = [(email, ids.get(email.strip().lower(), ""), rows)
                     for email, rows in got.data.items()]
            return users, got.pagination.pages

        yield from paginate(page, page_size=PAGE_SIZE, endpoint=endpoint)

    def leaderboard(self, first: date, last: date, deadline: float | None,
                    ) -> Iterator[tuple[str, LeaderRow]]:
        """(feature, row) of both boards, every page."""
        def page(n: int) -> tuple[list[Any], int | None]:
            data = self.get("leaderboard", f"{TEAM}/leaderboard",
                            {**self._range(first, last), "page": n, "pageSize": PAGE_SIZE},
                            deadline)
            got = tolerant.parse_as(Leaderboard, data, "leaderboard")
            rows = [("tab", r) for r in got.data.tab_leaderboard.data]
            rows += [("agent", r) for r in got.data.agent_leaderboard.data]
            return rows, got.pagination.pages

        yield from paginate(page, page_size=PAGE_SIZE, endpoint="leaderboard")


# -- team-level reports: rows -> families per day --------------------------------------------

def _by_day(rows: Iterable[M], day_of: Callable[[M], str]) -> dict[date, list[M]]:
    out: dict[date, list[M]] = {}
    for row in rows:
        d = parse_day(day_of(row))
        if d is not None:  # a row without a day cannot be placed
            out.setdefault(d, []).append(row)
    return out


def dau_families(rows: Sequence[DauRow], base: Base) -> list[Family]:
    """aicode_daily_active_users{org="acme",provider="cursor",surface="all"} 42
    aicode_daily_active_users{org="acme",provider="cursor",surface="code_review"} 10"""
    row = rows[-1] if rows else DauRow()
    surfaces = (("all", row.dau), ("cli", row.cli_dau), ("cloud_agent", row.cloud_agent_dau),
                ("code_review", row.bugbot_dau))
    return [catalog.DAILY_ACTIVE_USERS.spec.family(((*base, s), v) for s, v in surfaces)]


def edits_families(rows: Sequence[EditsRow], base: Base, feature: str) -> list[Family]:
    """aicode_daily_suggestions{feature="tab",org="acme",provider="cursor",vendor_feature=""} 5420
    aicode_daily_tab_accept_ratio{org="acme",provider="cursor"} 0.592

    Tabs count suggestions and accepts, agent edits suggested and accepted diffs."""
    tab = feature == "tab"
    shown = sum(r.total_suggestions if tab else r.total_suggested_diffs for r in rows)
    taken = sum(r.total_accepts if tab else r.total_accepted_diffs for r in rows)
    labels = (*base, feature, "")  # Cursor's own names are the shared ones: no vendor_feature
    out = [catalog.DAILY_SUGGESTIONS.spec.family([(labels, shown)]),
           catalog.DAILY_SUGGESTIONS_ACCEPTED.spec.family([(labels, taken)]),
           catalog.DAILY_LINES_SUGGESTED.spec.family(
               [(labels, sum(r.total_lines_suggested for r in rows))]),
           catalog.DAILY_LINES_ACCEPTED.spec.family(
               [(labels, sum(r.total_lines_accepted for r in rows))])]
    if tab:  # the existing tab figures, so panels built on them show Cursor too
        out += [catalog.DAILY_TAB_SUGGESTIONS.spec.family([(base, shown)]),
                catalog.DAILY_TAB_ACCEPTS.spec.family([(base, taken)]),
                catalog.DAILY_TAB_ACCEPT_RATIO.spec.family(
                    [(base, taken / shown if shown else 0.0)])]
    return out


def _keyed(specs: Sequence[Spec], base: Base,
           values: Mapping[str, Sequence[float]]) -> list[Family]:
    """One family per spec, a series per key: values[key][i] feeds specs[i]."""
    return [spec.family(((*base, key), v[i]) for key, v in sorted(values.items()))
            for i, spec in enumerate(specs)]


def _sum_into(into: dict[str, list[float]], key: str, values: Sequence[float]) -> None:
    got = into.setdefault(key, [0.0] * len(values))
    for i, v in enumerate(values):
        got[i] += v


def model_families(rows: Sequence[ModelsRow], base: Base) -> list[Family]:
    """aicode_daily_model_messages{model="claude-sonnet-4.5",org="acme",provider="cursor"} 1250"""
    values: dict[str, list[float]] = {}
    for row in rows:
        for model, use in row.model_breakdown.items():
            _sum_into(values, or_unknown(tolerant.clean_text(model)), (use.messages, use.users))
    return _keyed((metrics.MODEL_MESSAGES, metrics.MODEL_USERS), base, values)


def extension_families(rows: Sequence[ExtensionRow], base: Base) -> list[Family]:
    """aicode_daily_extension_lines_accepted{extension=".tsx",org="acme",provider="cursor"} 2340"""
    values: dict[str, list[float]] = {}
    for r in rows:
        _sum_into(values, normalize_extension(r.file_extension),
                  (r.total_files, r.total_accepts, r.total_lines_suggested,
                   r.total_lines_accepted))
    return _keyed((metrics.EXT_FILES, metrics.EXT_ACCEPTS, metrics.EXT_LINES_SUGGESTED,
                   metrics.EXT_LINES_ACCEPTED), base, values)


def version_families(rows: Sequence[VersionRow], base: Base) -> list[Family]:
    """aicode_daily_client_version_users{client_version="0.42.3",org="acme",provider="cursor"} 35"""
    values: dict[str, list[float]] = {}
    for r in rows:
        _sum_into(values, or_unknown(r.client_version), (r.user_count,))
    return _keyed((metrics.VERSION_USERS,), base, values)


# (rows of one day, base) -> that day's families
Mapper = Callable[[Sequence[Any], Base], list[Family]]
# endpoint -> (row model, the row's day field, mapper)
TEAM_REPORTS: dict[str, tuple[type[tolerant.Tolerant], str, Mapper]] = {
    "dau": (DauRow, "date", dau_families),
    "tabs": (EditsRow, "event_date", lambda rows, base: edits_families(rows, base, "tab")),
    "agent_edits": (EditsRow, "event_date",
                    lambda rows, base: edits_families(rows, base, "agent")),
    "models": (ModelsRow, "date", model_families),
    "top_file_extensions": (ExtensionRow, "event_date", extension_families),
    "client_versions": (VersionRow, "event_date", version_families),
}


def team_report(endpoint: str) -> Callable[[Any, ApiClient, Wiring], DayFetch]:
    """The DailyReport opener of a team-level endpoint."""
    model, field, mapper = TEAM_REPORTS[endpoint]

    def open_(cfg: Any, api: ApiClient, _w: Wiring) -> DayFetch:
        client = AnalyticsClient(api)
        base = (cfg.type, cfg.name)

        def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
            got = client.team(endpoint, first, last, deadline)
            by_day = _by_day(rows_as(model, got.data, endpoint), lambda r: getattr(r, field))
            answered = covered(first, last, got.params.startDate, got.params.endDate)
            return {d: mapper(by_day.get(d, []), base) for d in sorted({*answered, *by_day})}

        return fetch

    return open_


# -- per-user reports -------------------------------------------------------------------------

def leaderboard(cfg: Any, api: ApiClient, w: Wiring) -> DayFetch:
    """aicode_daily_user_lines_accepted{feature="tab",org="acme",provider="cursor",user="a@x.io"} 34

    The leaderboard ranks over its whole range, so each day is asked on its own."""
    client = AnalyticsClient(api)
    labeler = UserLabeler(w.users)
    base = (cfg.type, cfg.name)

    def one_day(d: date, deadline: float | None) -> list[Family]:
        accepts: dict[tuple[str, ...], float] = {}
        suggested: dict[tuple[str, ...], float] = {}
        accepted: dict[tuple[str, ...], float] = {}
        for feature, r in client.leaderboard(d, d, deadline):
            key = (labeler.label(user_id=r.user_id, email=r.email), feature)
            add(accepts, [(key, r.total_accepts)])
            add(suggested, [(key, r.total_lines_suggested)])
            add(accepted, [(key, r.total_lines_accepted)])
        keep = top_users(accepted, w.users.max_users)  # ranked by lines accepted
        return [spec.family(((*base, *k), v) for k, v in sorted(fold_except(values, keep).items()))
                for spec, values in ((catalog.DAILY_USER_SUGGESTIONS_ACCEPTED.spec, accepts),
                                     (metrics.USER_LINES_SUGGESTED, suggested),
                                     (catalog.DAILY_USER_LINES_ACCEPTED.spec, accepted))]

    def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
        return {d: one_day(d, deadline) for d in days(first, last)}

    return fetch


def _by_user_report(endpoint: str, spec: Spec, model: type[M], field: str,
                    values_of: Callable[[M], Iterable[tuple[str, float]]],
                    ) -> Callable[[Any, ApiClient, Wiring], DayFetch]:
    """A by-user endpoint: every user's rows -> spec{user, <label>} per day."""

    def open_(cfg: Any, api: ApiClient, w: Wiring) -> DayFetch:
        client = AnalyticsClient(api)
        labeler = UserLabeler(w.users)
        base = (cfg.type, cfg.name)

        def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
            per_day: dict[date, dict[tuple[str, ...], float]] = {}
            for email, user_id, rows in client.by_user(endpoint, first, last, deadline):
                user = labeler.label(user_id=user_id, email=tolerant.clean_text(email))
                for d, day_rows in _by_day(rows_as(model, rows, endpoint),
                                           lambda r: getattr(r, field)).items():
                    for row in day_rows:
                        add(per_day.setdefault(d, {}),
                            (((user, label), v) for label, v in values_of(row)))
            out: dict[date, Sequence[Family]] = {}
            for d in sorted({*days(first, last), *per_day}):
                kept = fold(per_day.get(d, {}), w.users.max_users)
                out[d] = [spec.family(((*base, *k), v) for k, v in sorted(kept.items()))]
            return out

        return fetch

    return open_


def _model_messages(row: ModelsRow) -> Iterable[tuple[str, float]]:
    return ((or_unknown(tolerant.clean_text(m)), use.messages)
            for m, use in row.model_breakdown.items())


def _version(row: VersionRow) -> Iterable[tuple[str, float]]:
    # The latest version the user ran that day (Cursor reports one per user and day).
    return [(or_unknown(row.client_version), 1.0)]


by_user_models = _by_user_report("by_user_models", metrics.USER_MODEL_MESSAGES, ModelsRow,
                                 "date", _model_messages)
by_user_client_versions = _by_user_report("by_user_client_versions", metrics.USER_VERSION,
                                          VersionRow, "event_date", _version)
