"""Cursor's Admin API, read endpoints only (an exporter never calls a write endpoint):
seats, billing-cycle spend, billing groups as poll jobs (members and groups at most once
a minute, spend at most every 15 minutes), and the per-user daily usage as a daily report
(Cursor aggregates it hourly and asks for at most one poll an hour).

Members, spend, groups and daily usage share Cursor's 20 requests a minute; every page of
a paginated answer is read before anything is published (a read that fails half-way
keeps the last good values). Spend is in cents, fractional since 2026-06-04, and is
published in USD, never truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aicode_exporter.errors import AuthError, VendorError
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.daily import DayFamilies, DayFetch, UserDay, team_families
from aicode_exporter.pipeline.jobs import Endpoint, Failure, Outcome, PollContext
from aicode_exporter.pipeline.labels import or_unknown
from aicode_exporter.pipeline.records import User
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.paging import paginate
from aicode_exporter.vendors import tolerant
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.cursor import hints, metrics
from aicode_exporter.vendors.cursor.analytics import days, parse_day
from aicode_exporter.vendors.cursor.models import (
    DailyUsage,
    DailyUsageRow,
    Groups,
    Members,
    MemberSpend,
    SpendPage,
)
from aicode_exporter.vendors.cursor.peruser import fold

SPEND_PAGE_SIZE = 100  # Cursor documents no default or maximum; its clients use 100
USAGE_PAGE_SIZE = 1000  # users per page, as Cursor's own example asks
MODES = ("chat", "composer", "agent", "cmdk", "bugbot")
# Seats and spend change slowly and share Cursor's 20 requests a minute with the daily
# usage: polled at most this often, however short poll_interval is (spend costs a request
# per 100 members).
EVERY = {"members": timedelta(minutes=1), "groups": timedelta(minutes=1),
         "spend": timedelta(minutes=15)}

Base = tuple[str, str]


def day_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1000


class AdminClient:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _call(self, endpoint: str, method: str, path: str, body: Any,
              deadline: float | None) -> Any:
        try:
            if method == "GET":
                return self.api.get_json(endpoint, path, {}, deadline=deadline)
            return self.api.post_json(endpoint, path, body, deadline=deadline)
        except AuthError as e:
            raise hints.explain(e, hints.ADMIN) from None

    def members(self, deadline: float | None) -> Members:
        data = self._call("members", "GET", "/teams/members", None, deadline)
        return tolerant.parse_as(Members, data, "members")

    def groups(self, deadline: float | None) -> Groups:
        data = self._call("groups", "GET", "/teams/groups", None, deadline)
        return tolerant.parse_as(Groups, data, "groups")

    def spend(self, deadline: float | None) -> tuple[list[MemberSpend], float | None]:
        """Every member's spend (all pages: 1..totalPages, Cursor sends no hasNextPage)
        and the cycle start (epoch ms)."""
        start: list[float | None] = [None]

        def page(n: int) -> tuple[list[Any], int | None]:
            data = self._call("spend", "POST", "/teams/spend",
                              {"page": n, "pageSize": SPEND_PAGE_SIZE}, deadline)
            got = tolerant.parse_as(SpendPage, data, "spend")
            start[0] = got.subscriptionCycleStart or start[0]
            return list(got.teamMemberSpend), got.totalPages

        members = list(paginate(page, page_size=SPEND_PAGE_SIZE, endpoint="spend"))
        return members, start[0]

    def daily_usage(self, first: date, last: date,
                    deadline: float | None) -> Iterator[DailyUsageRow]:
        """Every member's rows for the whole UTC days [first, last]: paginated mode, so
        members without activity come too (isActive false)."""
        body = {"startDate": day_ms(first), "endDate": day_ms(last + timedelta(days=1)) - 1,
                "pageSize": USAGE_PAGE_SIZE}

        def page(n: int) -> tuple[list[Any], int | None]:
            data = self._call("daily_usage", "POST", "/teams/daily-usage-data",
                              {**body, "page": n}, deadline)
            got = tolerant.parse_as(DailyUsage, data, "daily_usage")
            p = got.pagination
            if p is None or p.hasNextPage is False:
                return list(got.data), n  # no pagination: all in one answer; or the last
            return list(got.data), p.pages

        # A page holds USAGE_PAGE_SIZE users, each with all their days: the vendor's own
        # page count says when to stop.
        yield from paginate(page, page_size=1, endpoint="daily_usage")


def _job(name: str, body: Callable[[float], Sequence[Family]]) -> Endpoint:
    def run(ctx: PollContext) -> Outcome:
        try:
            return Outcome(parts={"": tuple(body(ctx.deadline))})
        except VendorError as e:
            return Outcome(failures=[Failure("", e)])

    return Endpoint(name, run, interval=EVERY[name])


def _identity(user_id: str, email: str) -> str:
    return email.strip().lower() or user_id


def seats_families(members: Members, base: Base) -> list[Family]:
    """aicode_seats{org="acme",provider="cursor"} 2

    Removed members are still listed (isRemoved: true) and hold no seat; a member listed
    twice counts once."""
    seated = {_identity(m.id, m.email) for m in members.teamMembers if not m.isRemoved}
    return [catalog.SEATS.spec.family([(base, float(len(seated)))])]


def spend_families(members: Sequence[MemberSpend], cycle_start: float | None, base: Base,
                   labeler: UserLabeler | None, max_users: int) -> list[Family]:
    """aicode_billing_cycle_spend_usd{org="acme",provider="cursor"} 43.256256
    aicode_billing_cycle_start_timestamp_seconds{org="acme",provider="cursor"} 1708992000

    A member met on two pages (the list moved while it was read) counts once."""
    unique = {_identity(m.userId, m.email): m for m in members}
    out = [catalog.BILLING_CYCLE_SPEND.spec.family(
               [(base, sum(m.spendCents for m in unique.values()) / 100)]),
           metrics.OVERALL_SPEND.family(
               [(base, sum(m.overallSpendCents for m in unique.values()) / 100)])]
    if cycle_start is not None:
        out.append(catalog.BILLING_CYCLE_START.spec.family([(base, cycle_start / 1000)]))
    if labeler is not None:
        per: dict[tuple[str, ...], float] = {}
        for m in unique.values():
            key = (labeler.label(user_id=m.userId, email=m.email, name=m.name),)
            per[key] = per.get(key, 0.0) + m.spendCents / 100
        out.append(metrics.USER_SPEND.family(
            ((*base, *k), v) for k, v in sorted(fold(per, max_users).items())))
    return out


def group_families(groups: Groups, base: Base) -> list[Family]:
    """aicode_billing_group_spend_usd{group="Engineering",org="acme",provider="cursor"} 2450
    aicode_billing_group_members{group="Unassigned",org="acme",provider="cursor"} 3

    The group label is the group's name (groups sharing one add up)."""
    spend: dict[str, float] = {}
    members: dict[str, float] = {}
    everyone = [*groups.groups, *([groups.unassignedGroup] if groups.unassignedGroup else [])]
    for g in everyone:
        name = or_unknown(g.name or g.id)
        spend[name] = spend.get(name, 0.0) + g.spendCents / 100
        count = g.memberCount if g.memberCount is not None else len(g.currentMembers)
        members[name] = members.get(name, 0.0) + count
    return [catalog.BILLING_GROUP_SPEND.spec.family(
                ((*base, n), v) for n, v in sorted(spend.items())),
            metrics.GROUP_MEMBERS.family(((*base, n), v) for n, v in sorted(members.items()))]


def admin_jobs(cfg: Any, api: ApiClient, w: Wiring) -> list[Endpoint]:
    """Seats, spend and billing groups: one poll job each, on the provider's interval."""
    client = AdminClient(api)
    base = (cfg.type, cfg.name)
    labeler = UserLabeler(w.users) if w.users.per_user else None

    def spend(deadline: float) -> list[Family]:
        members, start = client.spend(deadline)
        return spend_families(members, start, base, labeler, w.users.max_users)

    jobs = [_job("members", lambda d: seats_families(client.members(d), base)),
            _job("spend", spend),
            _job("groups", lambda d: group_families(client.groups(d), base))]
    return [j for j in jobs if cfg.enabled(j.name)]


# -- daily usage ------------------------------------------------------------------------------

def _row_day(row: DailyUsageRow) -> date | None:
    found = parse_day(row.day)
    if found is None and row.date is not None:
        found = datetime.fromtimestamp(row.date / 1000, UTC).date()
    return found


def _active(row: DailyUsageRow) -> bool:
    if row.isActive is not None:
        return row.isActive
    return any((row.acceptedLinesAdded, row.totalTabsAccepted, row.totalAccepts,
                row.composerRequests, row.chatRequests, row.agentRequests, row.cmdkUsages,
                row.bugbotUsages))


def _modes(row: DailyUsageRow) -> tuple[float, ...]:
    return (row.chatRequests, row.composerRequests, row.agentRequests, row.cmdkUsages,
            row.bugbotUsages)


def usage_day_families(rows: Sequence[DailyUsageRow], base: Base, w: Wiring,
                       labeler: UserLabeler | None) -> list[Family]:
    """aicode_daily_requests{mode="agent",org="acme",provider="cursor"} 12
    aicode_daily_team_active_users{org="acme",provider="cursor",team="payments"} 9
    aicode_daily_user_active{org="acme",provider="cursor",user="a@x.io"} 1"""
    totals = [0.0] * len(MODES)
    for row in rows:
        for i, n in enumerate(_modes(row)):
            totals[i] += n
    out = [metrics.DAILY_REQUESTS.family(((*base, m), totals[i]) for i, m in enumerate(MODES))]
    if w.teams is not None:
        teams = w.teams
        out += team_families(
            base, (UserDay(User(r.userId, r.email), _active(r), {"agent": r.acceptedLinesAdded})
                   for r in rows),
            lambda u: teams.teams_for(u.id, u.email))
    if labeler is not None:
        active: dict[tuple[str, ...], float] = {}
        for r in rows:
            key = (labeler.label(user_id=r.userId, email=r.email),)
            active[key] = max(active.get(key, 0.0), 1.0 if _active(r) else 0.0)
        out.append(metrics.USER_ACTIVE.family(
            ((*base, *k), v) for k, v in sorted(fold(active, w.users.max_users).items())))
    return out


def daily_usage(cfg: Any, api: ApiClient, w: Wiring) -> DayFetch:
    """Per member and UTC day: requests by mode, team rollups (teams.file) and, with
    per-user data, who was active."""
    client = AdminClient(api)
    base = (cfg.type, cfg.name)
    labeler = UserLabeler(w.users) if w.users.per_user else None

    def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
        if w.teams is not None:
            w.teams.refresh()  # a changed map applies from this read on
        by_day: dict[date, list[DailyUsageRow]] = {}
        for row in client.daily_usage(first, last, deadline):
            d = _row_day(row)
            if d is not None:
                by_day.setdefault(d, []).append(row)
        return {d: usage_day_families(by_day.get(d, []), base, w, labeler)
                for d in sorted({*days(first, last), *by_day})}

    return fetch

