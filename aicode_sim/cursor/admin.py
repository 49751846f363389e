"""Cursor Admin API, read endpoints: members, spend, billing groups, daily usage data and
usage events, from the same people and records as everything else (activity.py,
usage.py), so that they agree:

* members: everyone in the population; people who never use Cursor and have an even
  index are listed with ``isRemoved: true`` (no seat). A few older-shape members carry a
  numeric ``id``; people without an e-mail have no ``email`` key;
* spend: per current member, the cents their usage events charged in the current billing
  cycle (a calendar month, UTC, through now): ``spendCents`` the chargeable ones
  (``Usage-based``), ``overallSpendCents`` all of them; fractional, six decimals. The sum
  of ``spendCents`` is the sum of ``chargedCents`` of the cycle's chargeable events;
* billing groups: each person's first team of ``aicode_sim.teams`` (one group per team,
  members in no team in ``Unassigned``); a group's spend is its members' ``spendCents``,
  so the groups add up to the team; removed members are former members;
* daily usage: per member and UTC day, epoch-millisecond bounds (at most 30 days); with
  ``page`` and ``pageSize`` every current member with ``isActive``, without them only the
  active ones; ``userId`` is the numeric id;
* usage events: newest first, ``startDate``/``endDate`` inclusive, at most 30 days,
  ``pageSize`` at most 1000, filters ``email`` and numeric ``userId``; an unknown
  ``hostingType`` is a 400.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aicode_sim import gen
from aicode_sim.cursor.activity import Activity, PersonDay
from aicode_sim.cursor.analytics import checked_range
from aicode_sim.cursor.usage import KINDS, MODELS, MODES, CursorUsageEvents
from aicode_sim.index import Query, RecordIndex
from aicode_sim.population import Person, Population
from aicode_sim.responses import ApiError
from aicode_sim.teams import TEAMS, team_assignment
from aicode_sim.timeutil import DAY_MS, day_of, fmt_millis, iso_date, to_ms

MAX_RANGE_MS = 30 * DAY_MS
MAX_EVENTS_PAGE = 1000
MAX_USAGE_PAGE = 1000
HOSTING_TYPES = ("CLOUD", "SELF_HOSTED", "SELF_HOSTED_POOL", "SELF_HOSTED_MACHINE")
UNASSIGNED = "Unassigned"
Row = dict[str, object]


def cycle_start_day(day: int) -> int:
    """First day of the calendar month (UTC) holding `day`: the billing cycle's start."""
    d = datetime.fromtimestamp(day * DAY_MS / 1000, UTC)
    return day_of(to_ms(d.replace(day=1)))


def next_cycle_day(start: int) -> int:
    d = datetime.fromtimestamp(start * DAY_MS / 1000, UTC)
    following = d.replace(year=d.year + (d.month == 12), month=d.month % 12 + 1)
    return day_of(to_ms(following))


def removed(person: Person) -> bool:
    return person.cursor_activity == 0 and person.index % 2 == 0


def body_of(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "request body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def _int(body: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{name} must be a number")
    return int(value)


class AdminApi:
    def __init__(self, population: Population, activity: Activity,
                 events: RecordIndex[CursorUsageEvents], seed_bits: int) -> None:
        self.population = population
        self.activity = activity
        self.events = events
        self.seed_bits = seed_bits
        self._teams = team_assignment(population)

    # ---- people ------------------------------------------------------------------------

    def current_members(self) -> list[Person]:
        return [p for p in self.population.people if not removed(p)]

    def group_of(self, person: Person) -> str:
        teams = self._teams.get(person.index, ())
        return teams[0] if teams else UNASSIGNED

    def members(self) -> Row:
        out = []
        for p in self.population.people:
            member: Row = {"id": p.cursor_numeric_id if p.index % 25 == 11 else p.cursor_id,
                           "name": p.display_name}
            if p.email:
                member["email"] = p.email
            member.update(role="owner" if p.index == 0 else "member", isRemoved=removed(p))
            out.append(member)
        return {"teamMembers": out}

    # ---- spend -------------------------------------------------------------------------

    def cycle(self, start: int, now_ms: int) -> dict[int, tuple[float, float, int]]:
        """person -> (chargeable cents, all cents, usage-based requests) from the cycle's
        first day through now (a past cycle: through its end)."""
        out: dict[int, tuple[float, float, int]] = {}
        last = min(day_of(now_ms), next_cycle_day(start) - 1)
        for d in range(start, last + 1):
            for u, pd in self.activity.day(d, now_ms).items():
                c, a, n = out.get(u, (0.0, 0.0, 0))
                out[u] = (c + pd.cents, a + pd.cents_all, n + pd.kinds[1])
        return out

    def spend(self, body: dict[str, Any], now_ms: int) -> Row:
        start = cycle_start_day(day_of(now_ms))
        spent = self.cycle(start, now_ms)
        term = str(body.get("searchTerm") or "").strip().lower()
        people = [p for p in self.current_members()
                  if not term or term in p.email.lower() or term in p.display_name.lower()]
        sort_by = body.get("sortBy") or "date"
        if sort_by not in ("amount", "date", "user"):
            raise ApiError(400, "sortBy must be amount, date or user")
        if sort_by == "amount":
            people.sort(key=lambda p: (spent.get(p.index, (0.0,))[0], p.index))
        elif sort_by == "user":
            people.sort(key=lambda p: (p.email or p.cursor_id, p.index))
        if (body.get("sortDirection") or "desc") == "desc":
            people.reverse()
        page = _int(body, "page", 1) or 1
        size = _int(body, "pageSize", 100) or 100
        if page < 1 or not 1 <= size <= 1000:
            raise ApiError(400, "page must be >= 1 and pageSize 1-1000")
        rows = []
        for p in people[(page - 1) * size:page * size]:
            cents, overall, requests = spent.get(p.index, (0.0, 0.0, 0))
            row: Row = {"userId": p.cursor_id, "spendCents": round(cents, 6),
                        "overallSpendCents": round(overall, 6),
                        "fastPremiumRequests": requests, "name": p.display_name}
            if p.email:
                row["email"] = p.email
            row.update(role="owner" if p.index == 0 else "member",
                       hardLimitOverrideDollars=0, monthlyLimitDollars=None,
                       effectivePerUserLimitDollars=100)
            rows.append(row)
        return {"teamMemberSpend": rows, "subscriptionCycleStart": start * DAY_MS,
                "totalMembers": len(people), "totalPages": -(-len(people) // size)}

    # ---- billing groups ----------------------------------------------------------------

    def _group_id(self, name: str) -> str:
        if name == UNASSIGNED:
            return "group_unassigned"
        return "group_" + gen.hex_digest(self.seed_bits, "billing-group", name, size=13)

    def groups(self, query: dict[str, str], now_ms: int, only: str | None = None) -> Row:
        day = day_of(now_ms)
        asked = query.get("billingCycle", "").strip()
        if asked:
            try:
                day = day_of(to_ms(datetime.fromisoformat(asked[:10]).replace(tzinfo=UTC)))
            except ValueError:
                raise ApiError(400, "billingCycle must be a date such as 2025-01-15") from None
        start = cycle_start_day(day)
        end = next_cycle_day(start)
        spent = self.cycle(start, now_ms)
        daily: dict[str, dict[int, float]] = {}
        for d in range(start, min(end - 1, day_of(now_ms)) + 1):
            for u, pd in self.activity.day(d, now_ms).items():
                per = daily.setdefault(self.group_of(self.population.people[u]), {})
                per[d] = per.get(d, 0.0) + pd.cents
        groups = [self._group(name, spent, daily.get(name, {})) for name in (*TEAMS, UNASSIGNED)]
        cycle = {"cycleStart": fmt_millis(start * DAY_MS), "cycleEnd": fmt_millis(end * DAY_MS)}
        if only is not None:
            found = [g for g in groups if g["id"] == only]
            if not found:
                raise ApiError(404, "Resource not found")
            return {"group": found[0], "billingCycle": cycle}
        return {"groups": groups[:-1], "unassignedGroup": groups[-1], "billingCycle": cycle}

    def _group(self, name: str, spent: dict[int, tuple[float, float, int]],
               daily: dict[int, float]) -> Row:
        people = [p for p in self.population.people if self.group_of(p) == name]
        current = [p for p in people if not removed(p)]
        cents = {p.index: spent.get(p.index, (0.0, 0.0, 0))[0] for p in current}

        def member(p: Person, left: str | None) -> Row:
            return {"userId": p.cursor_id, "name": p.display_name, "email": p.email,
                    "joinedAt": "2024-01-15T10:30:00.000Z", "leftAt": left,
                    "spendCents": round(cents.get(p.index, 0.0), 6)}

        return {"id": self._group_id(name), "name": name, "type": "BILLING",
                "directoryGroupId": None, "memberCount": len(current),
                "createdAt": "2024-01-15T10:30:00.000Z",
                "updatedAt": "2024-01-20T14:22:00.000Z",
                "spendCents": round(sum(cents.values()), 6),
                "currentMembers": [member(p, None) for p in current],
                "formerMembers": [member(p, "2024-06-01T17:00:00.000Z")
                                  for p in people if removed(p)],
                "dailySpend": [{"date": iso_date(d), "spendCents": round(c, 6)}
                               for d, c in sorted(daily.items()) if c]}

    # ---- daily usage -------------------------------------------------------------------

    def _bounds(self, body: dict[str, Any], required: bool) -> tuple[int, int] | None:
        start, end = _int(body, "startDate"), _int(body, "endDate")
        if start is None or end is None:
            if required:
                raise ApiError(400, "startDate and endDate (epoch milliseconds) are required")
            return None
        return checked_range(start, end, MAX_RANGE_MS)

    def daily_usage(self, body: dict[str, Any], now_ms: int) -> Row:
        bounds = self._bounds(body, required=True)
        assert bounds is not None
        start, end = bounds
        page, size = _int(body, "page"), _int(body, "pageSize")
        people = chosen = self.current_members()
        paged = page is not None and size is not None
        if page is not None and size is not None:
            if page < 1 or not 1 <= size <= MAX_USAGE_PAGE:
                raise ApiError(400, f"page must be >= 1 and pageSize 1-{MAX_USAGE_PAGE}")
            chosen = people[(page - 1) * size:page * size]
        first, last = day_of(start), min(day_of(end), day_of(now_ms))
        days = {d: self.activity.day(d, now_ms) for d in range(first, last + 1)}
        rows = []
        for p in chosen:
            for d, people_of_day in days.items():
                pd = people_of_day.get(p.index)
                if pd is None and not paged:
                    continue
                rows.append(self._usage_row(p, d, pd))
        out: Row = {"data": rows, "period": {"startDate": start, "endDate": end}}
        if page is not None and size is not None:
            pages = -(-len(people) // size)
            out["pagination"] = {"page": page, "pageSize": size, "totalUsers": len(people),
                                 "totalPages": pages, "hasNextPage": page < pages,
                                 "hasPreviousPage": page > 1}
        return out

    @staticmethod
    def _usage_row(p: Person, day: int, pd: PersonDay | None) -> Row:
        d = pd or PersonDay()
        exts = sorted(d.exts.items(), key=lambda kv: (-kv[1].lines_accepted, kv[0]))
        tab_ext = f".{exts[0][0]}" if exts and d.tab.accepted else None
        apply_ext = f".{exts[-1][0]}" if exts and d.agent.accepted else None
        modes = dict(zip(MODES, d.modes, strict=True))
        kinds = dict(zip(KINDS, d.kinds, strict=True))
        row: Row = {
            "userId": p.cursor_numeric_id, "day": iso_date(day), "date": day * DAY_MS,
            "isActive": d.active,
            "totalLinesAdded": d.tab.green_accepted + d.agent.green_accepted + d.manual_added,
            "totalLinesDeleted": d.tab.red_accepted + d.agent.red_accepted + d.manual_deleted,
            "acceptedLinesAdded": d.agent.green_accepted,
            "acceptedLinesDeleted": d.agent.red_accepted,
            "totalApplies": d.agent.suggested, "totalAccepts": d.agent.accepted,
            "totalRejects": d.agent.rejected, "totalTabsShown": d.tab.suggested,
            "totalTabsAccepted": d.tab.accepted, "composerRequests": modes["composer"],
            "chatRequests": modes["chat"], "agentRequests": modes["agent"],
            "cmdkUsages": modes["cmdk"],
            "subscriptionIncludedReqs": kinds["Included in Business"],
            "apiKeyReqs": kinds["User API Key"], "usageBasedReqs": kinds["Usage-based"],
            "bugbotUsages": d.bugbot, "mostUsedModel": d.most_used_model(),
            "applyMostUsedExtension": apply_ext, "tabMostUsedExtension": tab_ext,
            "clientVersion": d.version or None,
        }
        if p.email:
            row["email"] = p.email
        return row

    # ---- usage events ------------------------------------------------------------------

    def usage_events(self, body: dict[str, Any], now_ms: int) -> Row:
        bounds = self._bounds(body, required=False) or (now_ms - 7 * DAY_MS, now_ms)
        hosting = body.get("hostingType")
        if hosting is not None and hosting not in HOSTING_TYPES:
            raise ApiError(400, f"Invalid hostingType: {hosting!r}")
        user = None
        if body.get("email"):
            user = self.population.by_email(str(body["email"]))
            if user is None:
                raise ApiError(400, "Some users are not in the team")
        elif body.get("userId") is not None:
            number = _int(body, "userId")
            user = None if number is None else number - 1
            if user is None or not 0 <= user < len(self.population.people):
                raise ApiError(400, "Some users are not in the team")
        page = _int(body, "page", 1) or 1
        size = _int(body, "pageSize", 100) or 100
        if page < 1 or not 1 <= size <= MAX_EVENTS_PAGE:
            raise ApiError(400, f"page must be >= 1 and pageSize 1-{MAX_EVENTS_PAGE}")
        selection = self.events.select(Query(bounds[0], bounds[1], user), now_ms)
        items = [self.events.stream.record(ref)
                 for ref in selection.refs((page - 1) * size, size)]
        pages = max(1, -(-selection.total // size))
        return {"totalUsageEventsCount": selection.total,
                "pagination": {"numPages": pages, "currentPage": page, "pageSize": size,
                               "hasNextPage": page < pages, "hasPreviousPage": page > 1},
                "usageEvents": items,
                "period": {"startDate": bounds[0], "endDate": bounds[1]}}

    def usage_totals(self, start_ms: int, end_ms: int, now_ms: int) -> dict[str, float]:
        """What a reader of every usage event in [start_ms, end_ms] visible at now_ms
        should count, keyed like the exporter's counters: ``requests|model|kind``,
        ``tokens|model|type``, ``cost|model`` (USD). For tests."""
        out: dict[str, float] = {}

        def add(key: str, v: float) -> None:
            out[key] = out.get(key, 0.0) + v

        for ref in self.events.select(Query(start_ms, end_ms), now_ms).refs():
            ev = self.events.stream.event(ref)
            item = self.events.stream.record(ref)
            model = MODELS[ev.model][0]
            add(f"requests|{model}|{KINDS[ev.kind]}", 1)
            usage = item.get("tokenUsage")
            if isinstance(usage, dict):
                for name, key in (("input", "inputTokens"), ("output", "outputTokens"),
                                  ("cache_read", "cacheReadTokens"),
                                  ("cache_write", "cacheWriteTokens")):
                    add(f"tokens|{model}|{name}", float(usage[key]))
            add(f"cost|{model}", ev.cents / 100)
        return out

