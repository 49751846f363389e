"""Daily reports: a vendor endpoint that answers per UTC day becomes `aicode_daily_*`
gauges showing the newest complete day (never today's, which is still accumulating), and
the same reads give the backfill every past day.

A vendor's report is a `DayFetch`: (first day, last day, deadline) -> the families of each
day it has data for, in ranges of at most `max_days` (the job slices longer ones). The
live job asks for the last `lookback_days` complete days and publishes the newest one
present (a report marked `newest_first`, read one day per request, is asked newest day
first and the live job stops at the first day it has, so a vendor that lags costs a
request per missing day, not one per day of the look-back); one report per provider also
publishes that day as aicode_daily_date_timestamp_seconds{provider,org}. A day the vendor
does not have (not yet, or never) is absent from the answer, so the previous day's values
stay published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from aicode_exporter.errors import VendorError
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.jobs import Failure, Outcome, PollContext
from aicode_exporter.pipeline.records import User
from aicode_exporter.toolkit.families import Family

DayFamilies = Mapping[date, Sequence[Family]]
# (first day, last day, both inclusive; deadline or None) -> families per day with data
DayFetch = Callable[[date, date, float | None], DayFamilies]


def day_start(d: date) -> float:
    """Unix time of 00:00 UTC of `d`."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def day_ranges(first: date, last: date, max_days: int) -> list[tuple[date, date]]:
    """[first, last] in ranges of at most `max_days` days, oldest first."""
    out = []
    while first <= last:
        end = min(first + timedelta(days=max_days - 1), last)
        out.append((first, end))
        first = end + timedelta(days=1)
    return out


class DailyJob:
    """One daily report of one provider as a poll job."""

    def __init__(self, *, vendor: str, org: str, fetch: DayFetch, max_days: int = 30,
                 lookback_days: int = 7, dated: bool = False,
                 newest_first: bool = False) -> None:
        self.base = (vendor, org)
        self._fetch = fetch
        self.max_days = max(1, max_days)
        self.lookback_days = max(1, lookback_days)
        self.dated = dated
        self.newest_first = newest_first

    def days(self, first: date, last: date,
             deadline: float | None) -> dict[date, tuple[Family, ...]]:
        """Every day in [first, last] the vendor has data for (VendorError passes through)."""
        out: dict[date, tuple[Family, ...]] = {}
        for a, b in day_ranges(first, last, self.max_days):
            for d, families in self._fetch(a, b, deadline).items():
                if a <= d <= b:  # a vendor answering outside the range asked is ignored
                    out[d] = tuple(families)
        return out

    def _newest(self, first: date, last: date,
                deadline: float | None) -> dict[date, tuple[Family, ...]]:
        """The newest day in [first, last] the vendor has, asking one day at a time from
        `last` back (a vendor whose requests are one day each and cost a lot)."""
        d = last
        while d >= first:
            found = self.days(d, d, deadline)
            if found:
                return found
            d -= timedelta(days=1)
        return {}

    def day_families(self, d: date, families: Sequence[Family]) -> tuple[Family, ...]:
        """A day's families as published, with the day itself when this report dates it."""
        if not self.dated:
            return tuple(families)
        return (*families, catalog.DAILY_DATE.spec.family([(self.base, day_start(d))]))

    def run(self, ctx: PollContext) -> Outcome:
        today = ctx.now.astimezone(UTC).date()
        last = today - timedelta(days=1)
        first = last - timedelta(days=self.lookback_days - 1)
        try:
            found = (self._newest(first, last, ctx.deadline) if self.newest_first
                     else self.days(first, last, ctx.deadline))
        except VendorError as e:
            return Outcome(failures=[Failure("", e)])
        if not found:  # nothing complete yet: what was published stays
            return Outcome(note=f"the vendor has no day from {first} to {last} yet; "
                                "showing the last one it had, if any")
        newest = max(found)
        note = "" if newest == last else (f"the vendor has no day after {newest} yet "
                                         f"(newest complete: {last}); showing {newest}")
        return Outcome(parts={"day": self.day_families(newest, found[newest])}, note=note)


# -- per-team rollups of per-user daily rows ----------------------------------------------

@dataclass(frozen=True, slots=True)
class UserDay:
    """One user's day, as far as team rollups need it."""

    user: User
    active: bool = True
    lines_accepted: Mapping[str, float] = field(default_factory=dict)  # feature -> lines


TeamsFor = Callable[[User], Sequence[str]]


def team_families(base: tuple[str, str], rows: Iterable[UserDay],
                  teams_for: TeamsFor) -> list[Family]:
    """aicode_daily_team_active_users{org="acme",provider="cursor",team="payments"} 12
    aicode_daily_team_lines_accepted{feature="tab",org="acme",provider="cursor",team="payments"} 340

    A user in several teams counts in each; a user appearing in several rows (a vendor
    splitting one day) is one active user."""
    active: dict[str, set[tuple[str, str]]] = {}
    lines: dict[tuple[str, str], float] = {}
    for row in rows:
        teams = teams_for(row.user)
        who = (row.user.id, row.user.email.strip().lower())
        for team in teams:
            people = active.setdefault(team, set())
            if row.active:
                people.add(who)
            for feature, n in row.lines_accepted.items():
                lines[(team, feature)] = lines.get((team, feature), 0.0) + n
    return [
        catalog.DAILY_TEAM_ACTIVE_USERS.spec.family(
            ((*base, team), float(len(people))) for team, people in sorted(active.items())),
        catalog.DAILY_TEAM_LINES_ACCEPTED.spec.family(
            ((*base, team, feature), n) for (team, feature), n in sorted(lines.items())),
    ]
