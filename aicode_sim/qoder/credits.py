"""Qoder's Members and Usage data: members, credit usage records, member quotas and the
organisation's resource packages, all derived from one set of usage records so they agree.

* Members: every simulated person is an ENABLED member (admins every fifteenth); a few
  former members (one per twenty people, at least one) are DELETED, left before the data
  window and have no records. A member's ``email`` is absent where the person has none.
* Usage records: per person and UTC day a Poisson number of records (``usage_per_user_day``
  times the person's Qoder activity, a quarter on weekends), each with a timestamp in ms,
  source, operation, model tier, credits (quarter credits, so sums are exact) and a cost.
  Records are aggregated and carry no id; one in fifty is an exact copy of the one before
  it (same timestamp, same fields), some of those ingested later than the original, so a
  read may return one copy first and both later. A record becomes visible at its ingestion
  time (usually minutes after it, hours for a few).
* Quotas: a monthly (UTC calendar month) quota per member, 2,000 credits (admins 3,000);
  ``usedValue`` is what the member's visible records of this month used, up to the limit;
  ``restricted`` once it is reached. Credits beyond the quota are drawn from the
  organisation's resource packages.
* Resource packages: a small welcome gift expiring after 75 days, and two purchases of the
  same pack (the first at the start of the data window, the second 45 days later), sized by
  the population. Each day's credits beyond members' quotas are drawn from the active
  package that expires first, so the packages' ``usedValue`` add up to every member's
  credits beyond their monthly quota, over the data window (as long as the packages last).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from aicode_sim import gen
from aicode_sim.index import RecordIndex
from aicode_sim.population import Person, Population
from aicode_sim.records import Ref, Row, Stream
from aicode_sim.timeutil import DAY_MS, day_of, fmt_seconds, from_ms

# The gen stream code of usage records (4 bits; gen.py's own codes are 0-4).
USAGE_CODE = 13

SOURCES = ("IDE", "JetBrains Plugin", "CLI", "Web", "QoderWork")
_SOURCE_WEIGHTS = gen.cumulative((0.55, 0.20, 0.13, 0.07, 0.05))
# (operation, weight, mean credits at tier multiplier 1)
OPERATIONS = (
    ("Agent", 0.28, 6.0), ("Ask", 0.18, 2.0), ("Inline Chat", 0.12, 1.0),
    ("Completion", 0.12, 0.25), ("Quest", 0.05, 20.0), ("Plan Mode", 0.05, 4.0),
    ("Code Review", 0.05, 5.0), ("Repo Wiki", 0.02, 10.0), ("Optimize Input", 0.04, 0.5),
    ("Voice Input", 0.02, 0.5), ("Experts", 0.03, 8.0), ("Image", 0.04, 3.0),
)
_OPERATION_WEIGHTS = gen.cumulative(tuple(w for _, w, _ in OPERATIONS))
# (model tier, weight, credit multiplier); Image always runs on Vision.
TIERS = (
    ("Auto", 0.40, 1.0), ("Efficient", 0.18, 0.5), ("Performance", 0.12, 1.5),
    ("Lite", 0.08, 0.25), ("Ultimate", 0.05, 3.0), ("Qwen-Coder-Qoder-1.0", 0.07, 0.75),
    ("Kimi-K2.5", 0.04, 1.25), ("GLM-5", 0.03, 1.25), ("DeepSeek-V4.0", 0.03, 1.0),
    ("Vision", 0.0, 1.0),
)
_TIER_WEIGHTS = gen.cumulative(tuple(w for _, w, _ in TIERS[:-1]))
_IMAGE, _VISION = 11, 9
DUPLICATE_SHARE = 0.02
USD_PER_CREDIT = 0.04

MAX_PARTIAL_DAYS = 4  # days still receiving records whose record facts are kept
MEMBER_QUOTA = 2000.0
ADMIN_QUOTA = 3000.0


def admin(index: int) -> bool:
    return index % 15 == 0


class UsageRecord(NamedTuple):
    """What the ledger needs of one record."""

    timestamp_ms: int
    user: int
    credits: float


class QoderUsage(Stream):
    """Usage records; a row's attr packs (source, operation, tier), its idx is
    record * 2 (+1 for an exact copy of the record before it)."""

    code = USAGE_CODE
    sort_is_filter = True
    spills = False
    attr_div = 1
    csv_header = ("timestamp", "userId", "userEmail", "source", "operation", "modelTier",
                  "credits", "cost")

    def activity(self, person: Person) -> float:
        return person.qoder_activity

    def user_day(self, day: int, user: int) -> list[Row]:
        person = self.population.people[user]
        rand = gen.skeleton_rng(self.seed_bits, self.code, day, user).random
        count = min(gen.poisson(rand, self.expected_count(day, person)),
                    gen.MAX_RECORDS_PER_USER_DAY // 2)
        rows: list[Row] = []
        for record in range(count):
            event = day * DAY_MS + gen.time_of_day_ms(rand)
            ingest = event + gen.ingest_delay_ms(rand)
            source = gen.weighted_index(rand, _SOURCE_WEIGHTS)
            operation = gen.weighted_index(rand, _OPERATION_WEIGHTS)
            tier = _VISION if operation == _IMAGE else gen.weighted_index(rand, _TIER_WEIGHTS)
            attr = (source * 16 + operation) * 16 + tier
            rows.append((event, event, ingest, day, user, record * 2, attr))
            if rand() < DUPLICATE_SHARE:  # an exact copy, ingested with it or later
                late = ingest if rand() < 0.5 else ingest + gen.ingest_delay_ms(rand)
                rows.append((event, event, late, day, user, record * 2 + 1, attr))
        return rows

    def record_no(self, ref: Ref) -> int:
        return ref.idx >> 1  # a copy draws exactly what its original drew

    @staticmethod
    def fields(attr: int) -> tuple[str, str, str]:
        """(source, operation, model tier) of a row's attr."""
        rest, tier = divmod(attr, 16)
        source, operation = divmod(rest, 16)
        return SOURCES[source], OPERATIONS[operation][0], TIERS[tier][0]

    def credits(self, ref: Ref) -> float:
        """Quarter credits (exact in binary), at least a quarter."""
        rand = self.detail_rand(ref)
        rest, tier = divmod(ref.attr, 16)
        mean = OPERATIONS[rest % 16][2] * TIERS[tier][2]
        return max(1, round(mean * (0.4 + 1.2 * rand()) * 4)) / 4

    def record(self, ref: Ref) -> dict[str, object]:
        person = self.population.people[ref.user]
        source, operation, tier = self.fields(ref.attr)
        credits = self.credits(ref)
        item: dict[str, object] = {"timestamp": ref.filter_ms, "userId": person.qoder_id}
        if person.email:
            item["userEmail"] = person.email
        item.update({"source": source, "operation": operation, "modelTier": tier,
                     "credits": credits, "cost": round(credits * USD_PER_CREDIT, 4)})
        return item

    def csv_row(self, ref: Ref) -> list[object]:
        return list(self.record(ref).values())

    def usage(self, ref: Ref) -> UsageRecord:
        return UsageRecord(ref.filter_ms, ref.user, self.credits(ref))


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    email: str
    role: str
    status: str  # ENABLED | DELETED
    joined_ms: int
    deleted_ms: int | None
    person: int | None  # index into the population; None for a former member

    def json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "name": self.name}
        if self.email:
            out["email"] = self.email
        out.update({"role": self.role, "status": self.status,
                    "joinedAt": fmt_seconds(self.joined_ms)})
        if self.deleted_ms is not None:
            out["deletedAt"] = fmt_seconds(self.deleted_ms)
        return out

    @property
    def quota_limit(self) -> float:
        return ADMIN_QUOTA if self.role == "org_admin" else MEMBER_QUOTA


def roster(seed_bits: int, population: Population, window_start_ms: int) -> list[Member]:
    """Every member, in the order the API lists them (by joining time)."""
    out = []
    for p in population.people:
        rand = gen.rng(seed_bits, USAGE_CODE, gen.SKELETON, 0, p.index, 1).random
        joined = window_start_ms - int((1 + 400 * rand()) * DAY_MS)
        out.append(Member(_member_id(seed_bits, p.index), p.display_name or f"user{p.index}",
                          p.email, "org_admin" if admin(p.index) else "org_member",
                          "ENABLED", joined, None, p.index))
    for k in range(max(1, len(population.people) // 20)):
        index = len(population.people) + k
        rand = gen.rng(seed_bits, USAGE_CODE, gen.SKELETON, 0, index, 1).random
        joined = window_start_ms - int((200 + 400 * rand()) * DAY_MS)
        left = window_start_ms - int((1 + 100 * rand()) * DAY_MS)
        email = f"former{k}@example.com" if k % 3 else ""
        out.append(Member(_member_id(seed_bits, index), f"Former Member {k}", email,
                          "org_member", "DELETED", joined, left, None))
    out.sort(key=lambda m: (m.joined_ms, m.id))
    return out


def _member_id(seed_bits: int, index: int) -> str:
    return "member_" + gen.hex_digest(seed_bits, "qoder-member", index, size=8)


class Package(NamedTuple):
    id: str
    name: str
    source: str
    activated_ms: int
    expires_ms: int
    limit: float


def packages(seed_bits: int, users: int, window_start_ms: int) -> list[Package]:
    """The organisation's resource packages, oldest first, sized by the population."""
    start = day_of(window_start_ms) * DAY_MS
    pack = 1000.0 * max(5, round(users * 1.5))

    def pid(n: int) -> str:
        return "rp_" + gen.hex_digest(seed_bits, "qoder-package", n, size=6)

    return [
        Package(pid(0), "Welcome Credits", "gift", start, start + 75 * DAY_MS,
                100.0 * max(10, users)),
        Package(pid(1), "Add-on Credits", "purchase", start, start + 365 * DAY_MS, pack),
        Package(pid(2), "Add-on Credits", "purchase", start + 45 * DAY_MS,
                start + 410 * DAY_MS, pack),
    ]


def month_start(day: int) -> int:
    """The first UTC day of the calendar month of `day`."""
    d = from_ms(day * DAY_MS)
    return day - (d.day - 1)


def next_month_ms(day: int) -> int:
    d = from_ms(day * DAY_MS)
    first = d.replace(day=1, year=d.year + d.month // 12, month=d.month % 12 + 1)
    return int(first.timestamp() * 1000)


class Ledger:
    """Members, and credits per member and day as the vendor has ingested them at `now`,
    and what the quotas and packages make of them. The roster and the packages are laid
    out around the data window of the first request (the members' joining dates, the
    packages' activation) and stay so for the simulator's life."""

    def __init__(self, usage: RecordIndex[QoderUsage], seed_bits: int) -> None:
        self._usage = usage
        self._seed_bits = seed_bits
        self._users = len(usage.stream.population.people)
        self._laid_out: tuple[list[Member], list[Package]] | None = None
        self._complete: dict[int, list[float]] = {}  # day -> credits per user, all visible
        # Days still receiving records: (ingestion, user, credits) of each record, summed
        # again for each `now` (generating the credits is what costs).
        self._partial: OrderedDict[int, list[tuple[int, int, float]]] = OrderedDict()
        self._lock = threading.Lock()

    def _layout(self, now_ms: int) -> tuple[list[Member], list[Package]]:
        with self._lock:
            if self._laid_out is None:
                start = self._usage.window(now_ms)[0] * DAY_MS
                population = self._usage.stream.population
                self._laid_out = (roster(self._seed_bits, population, start),
                                  packages(self._seed_bits, self._users, start))
            return self._laid_out

    def members(self, now_ms: int) -> list[Member]:
        return self._layout(now_ms)[0]

    def member(self, member_id: str, now_ms: int) -> Member | None:
        return next((m for m in self.members(now_ms) if m.id == member_id), None)

    def day_credits(self, day: int, now_ms: int) -> list[float]:
        """Credits of each user's records of `day` visible at now_ms."""
        first, today = self._usage.window(now_ms)
        if not first <= day <= today:
            return [0.0] * self._users
        with self._lock:
            found = self._complete.get(day)
        if found is not None:
            return found
        bucket = self._usage.bucket(day, first)
        with self._lock:
            facts = self._partial.get(day)
        if facts is None:
            stream = self._usage.stream
            facts = [(bucket.ingest[pos], bucket.user[pos], stream.credits(bucket.ref(pos)))
                     for pos in range(len(bucket))]
        totals = [0.0] * self._users
        for ingest, user, credits in facts:
            if ingest <= now_ms:
                totals[user] += credits
        with self._lock:
            if bucket.max_ingest <= now_ms:
                self._partial.pop(day, None)
                self._complete[day] = totals
            else:
                self._partial[day] = facts
                self._partial.move_to_end(day)
                while len(self._partial) > MAX_PARTIAL_DAYS:
                    self._partial.popitem(last=False)
        return totals

    def month_used(self, user: int, now_ms: int) -> float:
        """The user's credits of this calendar month, visible at now_ms."""
        today = day_of(now_ms)
        return sum(self.day_credits(d, now_ms)[user]
                   for d in range(month_start(today), today + 1))

    def quota(self, member: Member, now_ms: int) -> dict[str, object]:
        assert member.person is not None
        used = self.month_used(member.person, now_ms)
        limit = member.quota_limit
        return {
            "status": "restricted" if used >= limit else "normal",
            "totalQuota": {"quotaSummary": {"usedValue": min(used, limit),
                                            "limitValue": limit, "unit": "credits"}},
            "nextResetAt": fmt_seconds(next_month_ms(day_of(now_ms))),
        }

    def overflow_by_day(self, now_ms: int) -> dict[int, float]:
        """Per day of the data window: members' credits beyond their monthly quota."""
        first, today = self._usage.window(now_ms)
        limits = [0.0] * self._users
        for m in self.members(now_ms):
            if m.person is not None:
                limits[m.person] = m.quota_limit
        out: dict[int, float] = {}
        used = [0.0] * self._users
        for day in range(first, today + 1):
            if day == month_start(day):
                used = [0.0] * self._users
            over = 0.0
            for user, credits in enumerate(self.day_credits(day, now_ms)):
                before = used[user]
                used[user] = before + credits
                over += max(0.0, used[user] - limits[user]) - max(0.0, before - limits[user])
            out[day] = over
        return out

    def package_state(self, now_ms: int) -> list[dict[str, object]]:
        """The packages activated by now_ms, with what each day's overflow drew from them
        (the active package expiring first pays first)."""
        listed = [p for p in self._layout(now_ms)[1] if p.activated_ms <= now_ms]
        used = [0.0] * len(listed)
        for day, over in sorted(self.overflow_by_day(now_ms).items()):
            t = day * DAY_MS
            for i in sorted(range(len(listed)), key=lambda i: listed[i].expires_ms):
                p = listed[i]
                if over <= 0:
                    break
                if p.activated_ms <= t < p.expires_ms:
                    take = min(over, p.limit - used[i])
                    used[i] += take
                    over -= take
        out = []
        for p, u in zip(listed, used, strict=True):
            status = ("expired" if now_ms >= p.expires_ms
                      else "exhausted" if u >= p.limit else "active")
            out.append({"id": p.id, "name": p.name, "source": p.source, "status": status,
                        "activatedAt": fmt_seconds(p.activated_ms),
                        "expiresAt": fmt_seconds(p.expires_ms), "limitValue": p.limit,
                        "usedValue": u, "remainingValue": p.limit - u, "unit": "credits"})
        return out

