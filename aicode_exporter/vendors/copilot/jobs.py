"""The reports as poll jobs: three daily reports (totals, users, repositories) and the
28-day window.

GitHub makes a day available within two full UTC days after it closes, so each daily
report looks back LOOKBACK_DAYS and the pipeline publishes the newest day present (the
one-day-per-request reports are asked newest first and stop at the first day found).
A day already read is not downloaded again for REREAD_AFTER (a users file of a large
enterprise is hundreds of MB), and every endpoint is polled at most every 30 minutes.

Requests per day are kept few: every daily report asks one day per request (the live
poll newest first, stopping at the first day found; the backfill every day it wants),
and the totals of any day the latest 28-day report covers come from that one report,
which the totals and the window endpoints of a provider share for a few minutes. Days
GitHub keeps no reports for (more than HISTORY_DAYS ago, or before reports began) are
not asked for.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from aicode_exporter.config.teams import DEFAULT_UNASSIGNED
from aicode_exporter.errors import SchemaError, Unavailable, VendorError
from aicode_exporter.pipeline.daily import DayFamilies, DayFetch, team_families
from aicode_exporter.pipeline.jobs import Endpoint, Failure, Outcome, PollContext
from aicode_exporter.pipeline.records import User
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.copilot import mapping
from aicode_exporter.vendors.copilot.client import CopilotClient, Item, parse, reason
from aicode_exporter.vendors.copilot.config import (
    REPOS,
    TOTALS,
    USER_TEAMS,
    USERS,
    WINDOW,
    CopilotProvider,
)
from aicode_exporter.vendors.copilot.models import (
    DayTotals,
    Metadata,
    RepoLine,
    UserLine,
    UserTeam,
    WindowReport,
)

logger = logging.getLogger(__name__)

LOOKBACK_DAYS = 5  # two full UTC days of lag, and a margin for a late report
MIN_INTERVAL = timedelta(minutes=30)
REREAD_AFTER = 6 * 3600.0  # seconds before a day already read is downloaded again
WINDOW_FRESH = 600.0  # seconds the 28-day report is shared between endpoints
HISTORY_DAYS = 365
FIRST_DAY = {"organization": date(2025, 12, 12), "enterprise": date(2025, 10, 10)}
CACHED_DAYS = 16
M = TypeVar("M", bound=BaseModel)


@dataclass
class Lines:
    """Counts lines of one report that could not be read."""

    report: str
    endpoint: str
    bad: int = 0
    good: int = 0
    first: str = ""

    def records(self, model: type[M], items: Iterator[Item]) -> Iterator[M]:
        """Each item read as `model`; one that is not is skipped and counted."""
        for item in items:
            try:
                record = parse(model, item)
            except (ValidationError, ValueError) as e:
                self.bad += 1
                self.first = self.first or reason(e)
                continue
            self.good += 1
            yield record

    def done(self, base: tuple[str, str]) -> None:
        """A report none of whose lines could be read is broken, not empty."""
        if self.bad and not self.good:
            raise SchemaError(f"no line of the {self.report} report could be read "
                              f"({self.bad} lines; first: {self.first})",
                              endpoint=self.endpoint)
        if self.bad:
            logger.warning("report lines skipped", extra={
                "provider": base[0], "org": base[1], "report": self.report,
                "lines": self.bad, "first_reason": self.first})


@dataclass
class Reports:
    """One provider's reports, shared by its endpoints: the client, the 28-day report
    while fresh, and the days already read."""

    client: CopilotClient
    cfg: CopilotProvider
    wall: Callable[[], float]
    lock: threading.Lock = field(default_factory=threading.Lock)
    window: tuple[float, WindowReport | None] | None = None  # (read at, report)
    days: OrderedDict[tuple[str, date], tuple[float, tuple[Family, ...]]] = field(
        default_factory=OrderedDict)

    @property
    def base(self) -> tuple[str, str]:
        return (self.cfg.type, self.cfg.name)

    def latest_window(self, endpoint: str, deadline: float | None) -> WindowReport | None:
        """The latest 28-day report (None: GitHub has none yet), read at most every
        WINDOW_FRESH seconds."""
        with self.lock:
            now = self.wall()
            if self.window is not None and now - self.window[0] < WINDOW_FRESH:
                return self.window[1]
            report = self.client.read(endpoint, "window", None, self._one_window, deadline)
            self.window = (self.wall(), report)
            return report

    def _one_window(self, items: Iterator[Item]) -> WindowReport:
        days: dict[date, DayTotals] = {}
        start = end = None
        for item in items:  # one object, in principle; several files add their days
            try:
                part = parse(WindowReport, item)
            except (ValidationError, ValueError) as e:
                raise SchemaError(f"28-day report: {reason(e)}", endpoint=WINDOW) from None
            start = min(filter(None, (start, part.report_start_day)), default=None)
            end = max(filter(None, (end, part.report_end_day)), default=None)
            days.update((d.day, d) for d in part.day_totals)
        return WindowReport(report_start_day=start, report_end_day=end,
                            day_totals=[days[d] for d in sorted(days)])

    def cached(self, report: str, d: date) -> tuple[Family, ...] | None:
        with self.lock:
            found = self.days.get((report, d))
            if found is None or self.wall() - found[0] >= REREAD_AFTER:
                return None
            return found[1]

    def remember(self, report: str, d: date, families: Sequence[Family]) -> tuple[Family, ...]:
        kept = tuple(families)
        with self.lock:
            self.days[(report, d)] = (self.wall(), kept)
            self.days.move_to_end((report, d))
            while len(self.days) > CACHED_DAYS:
                self.days.popitem(last=False)
        return kept

    def kept(self, first: date, last: date) -> list[date]:
        """The days of [first, last] GitHub keeps reports for, newest first."""
        today = datetime.fromtimestamp(self.wall(), UTC).date()
        oldest = max(FIRST_DAY[self.cfg.scope], today - timedelta(days=HISTORY_DAYS))
        out, d = [], last
        while d >= max(first, oldest):
            out.append(d)
            d -= timedelta(days=1)
        return out


# One Reports per provider: its endpoints are built separately, from the same client.
_REPORTS: weakref.WeakKeyDictionary[ApiClient, Reports] = weakref.WeakKeyDictionary()
_REPORTS_LOCK = threading.Lock()


def reports(cfg: CopilotProvider, api: ApiClient, w: Wiring) -> Reports:
    with _REPORTS_LOCK:
        found = _REPORTS.get(api)
        if found is None:
            found = _REPORTS[api] = Reports(CopilotClient(api, cfg, w.wall), cfg, w.wall)
        return found


# -- totals: the aggregated day ------------------------------------------------------------

def totals(cfg: CopilotProvider, api: ApiClient, w: Wiring) -> DayFetch:
    """The aggregated record of each day: from the latest 28-day report for the days it
    covers (one request for all of them), else from the one-day report."""
    r = reports(cfg, api, w)

    def one_day(items: Iterator[Item]) -> DayTotals:
        for item in items:  # one object: the first is the day
            try:
                return parse(DayTotals, item)
            except (ValidationError, ValueError) as e:
                raise SchemaError(f"one-day report: {reason(e)}", endpoint=TOTALS) from None
        raise SchemaError("one-day report: its file is empty", endpoint=TOTALS)

    def window(deadline: float | None) -> WindowReport | None:
        """The 28-day report, if there is one and it may be used; one that cannot be
        read now leaves the days to the one-day report (its endpoint shows why)."""
        if not cfg.enabled(WINDOW):
            return None
        try:
            return r.latest_window(TOTALS, deadline)
        except (Unavailable, SchemaError):
            return None

    def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
        days = r.kept(first, last)
        out: dict[date, tuple[Family, ...]] = {}
        covering = window(deadline) if days else None
        for d in days:
            families = r.cached("totals", d)
            if families is None and covering is not None and covering.covers(d):
                entry = covering.day(d)  # none: no data that day
                if entry is None:
                    continue
                families = r.remember("totals", d, mapping.day_families(entry, r.base))
            if families is None:
                rec = r.client.read(TOTALS, "totals", d, one_day, deadline)
                if rec is None:
                    continue
                families = r.remember("totals", d, mapping.day_families(rec, r.base))
            out[d] = families
        return out

    return fetch


# -- the 28-day window ---------------------------------------------------------------------

def window_endpoints(cfg: CopilotProvider, api: ApiClient, w: Wiring) -> list[Endpoint]:
    if not cfg.enabled(WINDOW):
        return []
    r = reports(cfg, api, w)

    def run(ctx: PollContext) -> Outcome:
        try:
            report = r.latest_window(WINDOW, ctx.deadline)
        except VendorError as e:
            return Outcome(failures=[Failure("", e)])
        if report is None or not report.day_totals:
            return Outcome(note="GitHub has no 28-day report yet (or the organization or "
                                "enterprise name is unknown to it); showing the last one, "
                                "if any")
        span = (f"window {report.report_start_day or report.day_totals[0].day} to "
                f"{report.report_end_day or report.day_totals[-1].day}")
        return Outcome(parts={"28d": tuple(mapping.window_families(report, r.base))},
                       note=span)

    return [Endpoint(WINDOW, run, interval=MIN_INTERVAL)]


# -- users (and their GitHub teams) ----------------------------------------------------------

def _team_source(cfg: CopilotProvider, w: Wiring) -> str:
    """Where team rollups come from: `file` (teams.file), `github` (user-teams-1-day), or
    `none`."""
    if w.teams is not None:
        return "file"
    return "github" if cfg.enabled(USER_TEAMS) else "none"


def file_teams(teams: TeamMapSource) -> mapping.TeamsFor:
    """teams.file matched by the GitHub user id, else by the login, in its user_id column."""
    def teams_for(user: User) -> Sequence[str]:
        found = teams.teams_for(user.id, "")
        if found == (teams.map.unassigned,) and user.name:
            return teams.teams_for(user.name, "")
        return found
    return teams_for


def users(cfg: CopilotProvider, api: ApiClient, w: Wiring) -> DayFetch:
    """Distinct users per surface, AI credits, per-user figures (when on) and team
    rollups of each day."""
    r = reports(cfg, api, w)
    labeler = UserLabeler(w.users)
    per_user = w.users.per_user_counters and labeler.enabled
    source = _team_source(cfg, w)

    def read_teams(d: date, deadline: float | None
                   ) -> tuple[dict[int, tuple[str, ...]], Lines] | None:
        def consume(items: Iterator[Item]) -> tuple[dict[int, tuple[str, ...]], Lines]:
            lines = Lines("user-teams-1-day", USER_TEAMS)
            found: dict[int, set[str]] = {}
            names: dict[str, str] = {}  # each team name once in memory
            for row in lines.records(UserTeam, items):
                team = row.slug or (str(row.team_id) if row.team_id is not None else "")
                if team:
                    found.setdefault(row.user_id, set()).add(names.setdefault(team, team))
            lines.done(r.base)
            shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per team set
            return {uid: shared.setdefault(key, key)
                    for uid, key in ((uid, tuple(sorted(ts))) for uid, ts in found.items())
                    }, lines
        return r.client.read(USER_TEAMS, "user_teams", d, consume, deadline)

    def read_users(d: date, deadline: float | None, meta: Metadata,
                   teams_for: mapping.TeamsFor | None
                   ) -> tuple[mapping.UsersDay, list[Family], Lines] | None:
        def consume(items: Iterator[Item]
                    ) -> tuple[mapping.UsersDay, list[Family], Lines]:
            lines = Lines("users-1-day", USERS)
            acc = mapping.UsersDay(keep=per_user)

            rows = (acc.add(line) for line in lines.records(UserLine, items))
            teams: list[Family] = []
            if teams_for is not None:  # rolled up as the file streams past
                teams = team_families(r.base, rows, teams_for)
            else:
                for _ in rows:
                    pass
            lines.done(r.base)
            return acc, teams, lines
        return r.client.read(USERS, "users", d, consume, deadline, meta=meta)

    def one(d: date, deadline: float | None) -> tuple[Family, ...] | None:
        """The users report of `d` (GitHub's teams read only once it exists), or None."""
        meta = r.client.metadata(USERS, "users", d, deadline)
        if meta is None:
            return None
        counts: dict[str, int] = {}
        teams_for: mapping.TeamsFor | None = None
        if source == "file" and w.teams is not None:
            teams_for = file_teams(w.teams)
        elif source == "github":
            github = read_teams(d, deadline)
            if github is not None:
                teams_for = _github_teams(github[0])
                counts[USER_TEAMS] = github[1].bad
        found = read_users(d, deadline, meta, teams_for)
        if found is None:
            return None
        acc, teams, lines = found
        counts[USERS] = lines.bad
        families = mapping.users_families(
            acc, r.base, labeler=labeler if per_user else None, max_users=w.users.max_users)
        return r.remember("users", d, [*families, *teams,
                                       mapping.invalid_lines(r.base, counts)])

    def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
        out: dict[date, tuple[Family, ...]] = {}
        for d in r.kept(first, last):
            families = r.cached("users", d)
            if families is None:
                families = one(d, deadline)
            if families is not None:
                out[d] = families
        return out

    return fetch


def _github_teams(members: dict[int, tuple[str, ...]]) -> mapping.TeamsFor:
    """GitHub's own teams; a user in none (or only in teams under GitHub's five-user
    floor) counts as `unassigned`."""
    def teams_for(user: User) -> Sequence[str]:
        try:
            return members.get(int(user.id)) or (DEFAULT_UNASSIGNED,)
        except ValueError:
            return (DEFAULT_UNASSIGNED,)
    return teams_for


# -- repositories ----------------------------------------------------------------------------

def repos(cfg: CopilotProvider, api: ApiClient, w: Wiring) -> DayFetch:
    """Each active repository's pull-request figures, the busiest `max_repos` by name."""
    r = reports(cfg, api, w)

    def consume(items: Iterator[Item]) -> tuple[mapping.ReposDay, Lines]:
        lines = Lines("repos-1-day", REPOS)
        acc = mapping.ReposDay()
        for line in lines.records(RepoLine, items):
            acc.add(line)
        lines.done(r.base)
        return acc, lines

    def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
        out: dict[date, tuple[Family, ...]] = {}
        for d in r.kept(first, last):
            families = r.cached("repos", d)
            if families is None:
                found = r.client.read(REPOS, "repos", d, consume, deadline)
                if found is None:
                    continue
                acc, lines = found
                families = r.remember("repos", d, [
                    *mapping.repo_families(acc, r.base, cfg.max_repos),
                    mapping.invalid_lines(r.base, {REPOS: lines.bad})])
            out[d] = families
        return out

    return fetch

