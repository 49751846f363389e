"""Cursor Analytics API: team-level daily reports (``/analytics/team/*``), the leaderboard
and the by-user reports (``/analytics/by-user/*``), computed from activity.py.

As documented: dates are ``YYYY-MM-DD``, ISO-8601 times (the time part ignored),
``now``/``today``, ``yesterday`` or ``<n>d``, resolved to UTC days, by default the last 7
days through today, and a range may span at most 30 days (``endDate`` inclusive); the
``users`` filter takes e-mails and ``user_...`` ids; days without activity are left out of
the rows; rows come oldest first; ``top-file-extensions`` gives the top 5 extensions per
day by suggestion volume and echoes ``"metric": "top-files"``. The leaderboard and the
by-user reports page over users (``pageSize`` at most 500). People without an e-mail are
keyed by their ``user_...`` id in the by-user maps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from aicode_sim.cursor.activity import Activity, Edits, Extension, PersonDay
from aicode_sim.cursor.usage import MODELS
from aicode_sim.population import Person, Population
from aicode_sim.responses import ApiError
from aicode_sim.timeutil import day_of, iso_date

MAX_RANGE_DAYS = 30
MAX_PAGE_SIZE = 500
TOP_EXTENSIONS = 5
_RELATIVE = re.compile(r"^(\d{1,4})d$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

Row = dict[str, object]
Day = Sequence[PersonDay]  # the people of one day (one person for by-user rows)


def parse_day(value: str, today: int, name: str) -> int:
    """One of the documented date forms -> a UTC day number; 400 when it is none."""
    text = value.strip().lower()
    if text in ("now", "today"):
        return today
    if text == "yesterday":
        return today - 1
    relative = _RELATIVE.match(text)
    if relative:
        return today - int(relative.group(1))
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text[:10]).toordinal() - date(1970, 1, 1).toordinal()
        except ValueError:
            pass
    raise ApiError(400, f"Invalid {name}: use YYYY-MM-DD, an ISO-8601 time, now, today, "
                        "yesterday or a number of days such as 7d")


def day_range(query: dict[str, str], now_ms: int) -> tuple[int, int]:
    today = day_of(now_ms)
    first = parse_day(query.get("startDate") or "7d", today, "startDate")
    last = parse_day(query.get("endDate") or "today", today, "endDate")
    return checked_range(first, last, MAX_RANGE_DAYS)


def checked_range(start: int, end: int, longest: int) -> tuple[int, int]:
    """(start, end), or the 400 Cursor answers a reversed range or one over 30 days with
    (`longest`: 30 days in the bounds' unit)."""
    if end < start:
        raise ApiError(400, "endDate is before startDate")
    if end - start > longest:
        raise ApiError(400, "Date range cannot exceed 30 days. Make multiple requests for "
                            "longer periods.")
    return start, end


def _edits_row(tab: bool, e: Edits) -> Row:
    counts: Row = ({"total_suggestions": e.suggested, "total_accepts": e.accepted,
                    "total_rejects": e.rejected} if tab else
                   {"total_suggested_diffs": e.suggested, "total_accepted_diffs": e.accepted,
                    "total_rejected_diffs": e.rejected})
    return {**counts,
            "total_green_lines_accepted": e.green_accepted,
            "total_red_lines_accepted": e.red_accepted,
            "total_green_lines_rejected": e.green_rejected,
            "total_red_lines_rejected": e.red_rejected,
            "total_green_lines_suggested": e.green_accepted + e.green_rejected,
            "total_red_lines_suggested": e.red_accepted + e.red_rejected,
            "total_lines_suggested": e.lines_suggested,
            "total_lines_accepted": e.lines_accepted}


def _sum_edits(people: Day, tab: bool) -> Edits:
    out = Edits()
    for p in people:
        out.plus(p.tab if tab else p.agent)
    return out


def dau_rows(day: str, people: Day) -> list[Row]:
    if not people:
        return []
    return [{"date": day, "dau": len(people), "cli_dau": sum(p.cli for p in people),
             "cloud_agent_dau": sum(p.cloud_agent for p in people),
             "bugbot_dau": sum(p.bugbot > 0 for p in people)}]


def edits_rows(tab: bool) -> Callable[[str, Day], list[Row]]:
    def rows(day: str, people: Day) -> list[Row]:
        e = _sum_edits(people, tab)
        return [{"event_date": day, **_edits_row(tab, e)}] if e.suggested else []

    return rows


def model_rows(day: str, people: Day) -> list[Row]:
    breakdown: dict[str, dict[str, int]] = {}
    for p in people:
        for model, messages in p.models.items():
            use = breakdown.setdefault(MODELS[model][1], {"messages": 0, "users": 0})
            use["messages"] += messages
            use["users"] += 1
    if not breakdown:
        return []
    ordered = dict(sorted(breakdown.items(), key=lambda kv: -kv[1]["messages"]))
    return [{"date": day, "model_breakdown": ordered}]


def extension_rows(day: str, people: Day) -> list[Row]:
    exts: dict[str, Extension] = {}
    for p in people:
        for name, e in p.exts.items():
            t = exts.setdefault(name, Extension())
            t.files += e.files
            t.accepts += e.accepts
            t.rejects += e.rejects
            t.lines_accepted += e.lines_accepted
            t.lines_rejected += e.lines_rejected
    top = sorted(exts.items(), key=lambda kv: (-kv[1].lines_suggested, kv[0]))[:TOP_EXTENSIONS]
    return [{"event_date": day, "file_extension": name, "total_files": e.files,
             "total_accepts": e.accepts, "total_rejects": e.rejects,
             "total_lines_suggested": e.lines_suggested,
             "total_lines_accepted": e.lines_accepted,
             "total_lines_rejected": e.lines_rejected} for name, e in top]


def version_rows(day: str, people: Day) -> list[Row]:
    counts: dict[str, int] = {}
    for p in people:
        counts[p.version] = counts.get(p.version, 0) + 1
    total = sum(counts.values())
    return [{"event_date": day, "client_version": v, "user_count": n,
             "percentage": round(n / total, 3)}
            for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


# path segment -> (rows of one day, the metric params echo)
REPORTS: dict[str, tuple[Callable[[str, Day], list[Row]], str]] = {
    "dau": (dau_rows, "dau"),
    "tabs": (edits_rows(True), "tabs"),
    "agent-edits": (edits_rows(False), "agent-edits"),
    "models": (model_rows, "models"),
    "top-file-extensions": (extension_rows, "top-files"),
    "client-versions": (version_rows, "client-versions"),
}
BY_USER = ("tabs", "agent-edits", "models", "top-file-extensions", "client-versions")


class AnalyticsApi:
    def __init__(self, population: Population, activity: Activity,
                 members: Callable[[], Sequence[Person]]) -> None:
        self.population = population
        self.activity = activity
        self._members = members  # current members (not removed), in listing order

    def _people(self, query: dict[str, str]) -> set[int] | None:
        """The `users` filter as person indexes (None: everyone)."""
        raw = query.get("users", "").strip()
        if not raw:
            return None
        found = set()
        for value in (v.strip() for v in raw.split(",") if v.strip()):
            index = (self.population.by_cursor_user(value) if value.startswith("user_")
                     else self.population.by_email(value) if "@" in value else None)
            if index is None:
                raise ApiError(400, "Some users are not in the team")
            found.add(index)
        return found

    def _params(self, metric: str, first: int, last: int, **more: Any) -> Row:
        return {"metric": metric, "teamId": 12345, "startDate": iso_date(first),
                "endDate": iso_date(last), **more}

    def _day(self, day: int, now_ms: int, only: set[int] | None) -> dict[int, PersonDay]:
        return {u: p for u, p in self.activity.day(day, now_ms).items()
                if only is None or u in only}

    def team(self, report: str, query: dict[str, str], now_ms: int) -> Row:
        rows_of, metric = REPORTS[report]
        first, last = day_range(query, now_ms)
        only = self._people(query)
        rows: list[Row] = []
        for d in range(first, last + 1):
            rows += rows_of(iso_date(d), list(self._day(d, now_ms, only).values()))
        return {"data": rows, "params": self._params(metric, first, last)}

    @staticmethod
    def _paging(query: dict[str, str], default: int) -> tuple[int, int]:
        try:
            page = int(query.get("page") or 1)
            size = int(query.get("pageSize") or default)
        except ValueError:
            raise ApiError(400, "page and pageSize must be numbers") from None
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise ApiError(400, f"page must be >= 1 and pageSize 1-{MAX_PAGE_SIZE}")
        return page, size

    @staticmethod
    def _pagination(page: int, size: int, total: int) -> Row:
        pages = -(-total // size)
        return {"page": page, "pageSize": size, "totalUsers": total, "totalPages": pages,
                "hasNextPage": page < pages, "hasPreviousPage": page > 1}

    def leaderboard(self, query: dict[str, str], now_ms: int) -> Row:
        first, last = day_range(query, now_ms)
        page, size = self._paging(query, 10)
        only = self._people(query)
        tab: dict[int, Edits] = {}
        agent: dict[int, Edits] = {}
        for d in range(first, last + 1):
            for u, p in self._day(d, now_ms, only).items():
                for board, e in ((tab, p.tab), (agent, p.agent)):
                    if e.suggested:
                        board.setdefault(u, Edits()).plus(e)
        boards = {}
        for name, board, is_tab in (("tab_leaderboard", tab, True),
                                    ("agent_leaderboard", agent, False)):
            ranked = sorted(board.items(), key=lambda kv: (-kv[1].lines_accepted,
                                                          self.population.people[kv[0]].email))
            rows = [self._leader_row(u, e, is_tab, rank)
                    for rank, (u, e) in enumerate(ranked, 1)]
            boards[name] = {"data": rows[(page - 1) * size:page * size],
                            "total_users": len(rows)}
        total = max(len(tab), len(agent))
        return {"data": boards, "pagination": self._pagination(page, size, total),
                "params": self._params("leaderboard", first, last, page=page, pageSize=size)}

    def _leader_row(self, user: int, e: Edits, tab: bool, rank: int) -> Row:
        person = self.population.people[user]
        row: Row = {"email": person.email, "user_id": person.cursor_id,
                    "profile_picture_url": None if user % 4 else
                    f"https://example.com/avatars/{person.cursor_id}.jpg",
                    "total_accepts": e.accepted, "total_lines_accepted": e.lines_accepted,
                    "total_lines_suggested": e.lines_suggested,
                    "line_acceptance_ratio": (e.lines_accepted / e.lines_suggested
                                              if e.lines_suggested else 0.0)}
        if tab:
            row["accept_ratio"] = e.accepted / e.suggested if e.suggested else 0.0
        row["rank"] = rank
        return row

    def by_user(self, report: str, query: dict[str, str], now_ms: int) -> Row:
        rows_of, metric = REPORTS[report]
        first, last = day_range(query, now_ms)
        page, size = self._paging(query, 100)
        only = self._people(query)
        members = [p for p in self._members() if only is None or p.index in only]
        chosen = members[(page - 1) * size:page * size]
        days = [self._day(d, now_ms, None) for d in range(first, last + 1)]
        data: dict[str, list[Row]] = {}
        for person in chosen:
            rows: list[Row] = []
            for offset, people in enumerate(days):
                mine = people.get(person.index)
                if mine is not None:
                    rows += rows_of(iso_date(first + offset), [mine])
            data[person.email or person.cursor_id] = rows
        mappings = [{"id": p.cursor_id, "email": p.email} for p in chosen]
        return {"data": data, "pagination": self._pagination(page, size, len(members)),
                "params": self._params(metric, first, last, page=page, pageSize=size,
                                       userMappings=mappings)}

