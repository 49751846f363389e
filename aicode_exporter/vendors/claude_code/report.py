"""The usage report as a daily report: one request series per UTC day, a day shown only
once it is complete and past the vendor's data lag.

The API serves only data older than an hour ("to ensure consistent pagination"), so day D
is complete at D+1 00:00 UTC + LAG; before that it is absent from the answer (the
previous day stays published), and an empty answer after it is a day without usage (zeros,
not a failure). A complete day is re-read on every poll until SETTLE after it ended (late
rows land in it), then kept in memory and not asked again: in the steady state a poll
reads only yesterday. Backfill asks the same fetch for any past day (one request series
per day: ceil(rows / 1000) requests).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from aicode_exporter.pipeline.daily import DayFamilies, DayFetch, day_start
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.claude_code.client import ClaudeCodeClient
from aicode_exporter.vendors.claude_code.config import ClaudeCodeProvider
from aicode_exporter.vendors.claude_code.mapping import DayView, day_families

LAG = timedelta(hours=1)  # documented: only data older than an hour is served
SETTLE = timedelta(days=1)  # re-read a complete day until this long after it ended
KEEP_DAYS = 8  # settled days kept in memory (the live look-back reads three)


def day_end(d: date) -> float:
    return day_start(d + timedelta(days=1))


class UsageReport:
    """DayFetch over ClaudeCodeClient: (first, last, deadline) -> families per complete day."""

    def __init__(self, client: ClaudeCodeClient, view: DayView,
                 wall: Callable[[], float]) -> None:
        self.client = client
        self.view = view
        self.wall = wall
        self._settled: OrderedDict[date, tuple[Family, ...]] = OrderedDict()

    def __call__(self, first: date, last: date, deadline: float | None) -> DayFamilies:
        out: dict[date, Sequence[Family]] = {}
        d = first
        while d <= last:
            got = self._day(d, deadline)
            if got is not None:
                out[d] = got
            d += timedelta(days=1)
        return out

    def _day(self, d: date, deadline: float | None) -> tuple[Family, ...] | None:
        now = self.wall()
        if now < day_end(d) + LAG.total_seconds():
            return None  # not complete yet (or in the future): nothing to show
        kept = self._settled.get(d)
        if kept is not None:
            return kept
        families = tuple(day_families(self.client.day(d, deadline=deadline), self.view))
        if now >= day_end(d) + SETTLE.total_seconds():
            self._settled[d] = families
            while len(self._settled) > KEEP_DAYS:
                self._settled.popitem(last=False)
        return families


def usage_report(cfg: ClaudeCodeProvider, api: ApiClient, w: Wiring) -> DayFetch:
    labeler = UserLabeler(w.users)
    per_user = w.users.per_user_counters and labeler.enabled
    teams = w.teams
    view = DayView(base=(cfg.type, cfg.name), labeler=labeler if per_user else None,
                   max_users=w.users.max_users,
                   teams_for=(lambda u: teams.teams_for(u.id, u.email)) if teams else None)
    return UsageReport(ClaudeCodeClient(api), view, w.wall)
