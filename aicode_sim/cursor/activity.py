"""What each person did on each UTC day in Cursor, as the Analytics API and the Admin API's
daily usage and spend report it, computed from the records the other endpoints list, so
all of them describe the same people and agree:

* tab suggestions accepted are the person's TAB changes of the tracking API that day, and
  their accepted lines those changes' lines (added green, deleted red); agent diffs
  accepted are the COMPOSER changes. Rejected suggestions and lines are a share drawn per
  person and day, so accepted <= suggested always;
* requests by mode and kind, models, the CLI and cloud-agent surfaces and the cents
  charged are the person's usage events (usage.py) that day;
* a person is active on a day with at least one change or usage event; bugbot reviews
  and the Cursor version they ran are drawn per person and day.

Only what is visible at `now` counts (a record whose ingestion time has not come yet does
not), so today's figures grow during the day and yesterday's while late records arrive.
A day whose records are all visible is computed once and kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from aicode_sim import gen
from aicode_sim.cursor.data import CHANGE_SOURCES, CursorChanges
from aicode_sim.cursor.usage import CHARGEABLE, KINDS, MODELS, MODES, CursorUsageEvents
from aicode_sim.index import RecordIndex
from aicode_sim.population import Population
from aicode_sim.records import Ref

TAB = CHANGE_SOURCES.index("TAB")


@dataclass
class Edits:
    """Tab completions or agent diffs of one person-day."""

    accepted: int = 0
    rejected: int = 0
    green_accepted: int = 0  # lines added
    red_accepted: int = 0  # lines deleted
    green_rejected: int = 0
    red_rejected: int = 0

    @property
    def suggested(self) -> int:
        return self.accepted + self.rejected

    @property
    def lines_accepted(self) -> int:
        return self.green_accepted + self.red_accepted

    @property
    def lines_rejected(self) -> int:
        return self.green_rejected + self.red_rejected

    @property
    def lines_suggested(self) -> int:
        return self.lines_accepted + self.lines_rejected

    def plus(self, other: Edits) -> None:
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.green_accepted += other.green_accepted
        self.red_accepted += other.red_accepted
        self.green_rejected += other.green_rejected
        self.red_rejected += other.red_rejected

    def reject(self, share: float) -> None:
        self.rejected = round(self.accepted * share)
        self.green_rejected = round(self.green_accepted * share * 0.9)
        self.red_rejected = round(self.red_accepted * share * 0.9)


@dataclass
class Extension:
    files: int = 0
    accepts: int = 0
    rejects: int = 0
    lines_accepted: int = 0
    lines_rejected: int = 0

    @property
    def lines_suggested(self) -> int:
        return self.lines_accepted + self.lines_rejected


@dataclass
class PersonDay:
    tab: Edits = field(default_factory=Edits)
    agent: Edits = field(default_factory=Edits)
    modes: list[int] = field(default_factory=lambda: [0] * len(MODES))
    kinds: list[int] = field(default_factory=lambda: [0] * len(KINDS))
    models: dict[int, int] = field(default_factory=dict)  # MODELS index -> events
    exts: dict[str, Extension] = field(default_factory=dict)  # extension without a dot
    cli: bool = False
    cloud_agent: bool = False
    events: int = 0
    cents: float = 0.0  # chargeable: spendCents
    cents_all: float = 0.0  # all events: overallSpendCents
    bugbot: int = 0
    manual_added: int = 0
    manual_deleted: int = 0
    version: str = ""

    @property
    def active(self) -> bool:
        return bool(self.tab.accepted or self.agent.accepted or self.events)

    def most_used_model(self) -> str | None:
        if not self.models:
            return None
        return MODELS[max(self.models, key=lambda m: (self.models[m], -m))][0]


def client_version(day: int, person: int) -> str:
    """A release every three weeks, each person a few days behind; three patch lines."""
    release = ((day - person % 12) // 21) % 40
    return f"2.{release}.{person % 3}"


class Activity:
    """Person-days of the data window, kept for complete days."""

    def __init__(self, population: Population, seed_bits: int,
                 changes: RecordIndex[CursorChanges], events: RecordIndex[CursorUsageEvents],
                 *, max_days: int = 400) -> None:
        self.population = population
        self.seed_bits = seed_bits
        self.changes = changes
        self.events = events
        self._complete: OrderedDict[int, dict[int, PersonDay]] = OrderedDict()
        self._max_days = max_days
        self._lock = threading.Lock()

    def window(self, now_ms: int) -> tuple[int, int]:
        return self.events.window(now_ms)

    def day(self, day: int, now_ms: int) -> Mapping[int, PersonDay]:
        """person index -> their day as visible at now_ms (people with nothing left out)."""
        first, today = self.window(now_ms)
        if not first <= day <= today:
            return {}
        with self._lock:
            found = self._complete.get(day)
            if found is not None:
                self._complete.move_to_end(day)
                return found
        people, complete = self._build(day, now_ms)
        if complete:
            with self._lock:
                self._complete[day] = people
                while len(self._complete) > self._max_days:
                    self._complete.popitem(last=False)
        return people

    def _build(self, day: int, now_ms: int) -> tuple[dict[int, PersonDay], bool]:
        out: dict[int, PersonDay] = {}
        complete = True
        changes, events = self.changes.stream, self.events.stream
        for user in range(len(self.population.people)):
            pd = PersonDay()
            for row in changes.user_day(day, user):
                ref = Ref(*row)
                if ref.ingest_ms > now_ms:
                    complete = False
                    continue
                _, _, added, deleted, metadata = changes.fields(ref)
                edits = pd.tab if ref.attr == TAB else pd.agent
                edits.accepted += 1
                edits.green_accepted += added
                edits.red_accepted += deleted
                for entry in metadata:
                    ext = str(entry.get("fileExtension") or "")
                    if ext:
                        e = pd.exts.setdefault(ext, Extension())
                        e.files += 1
                        e.accepts += 1
                        e.lines_accepted += int(str(entry["linesAdded"]))
                        e.lines_accepted += int(str(entry["linesDeleted"]))
            for row in events.user_day(day, user):
                ref = Ref(*row)
                if ref.ingest_ms > now_ms:
                    complete = False
                    continue
                ev = events.event(ref)
                pd.events += 1
                pd.modes[ev.mode] += 1
                pd.kinds[ev.kind] += 1
                pd.models[ev.model] = pd.models.get(ev.model, 0) + 1
                pd.cli = pd.cli or ev.surface == 1
                pd.cloud_agent = pd.cloud_agent or ev.surface == 2
                pd.cents_all += ev.cents
                if ev.kind == CHARGEABLE:
                    pd.cents += ev.cents
            if pd.active:
                self._extras(pd, day, user)
                out[user] = pd
        return out, complete

    def _extras(self, pd: PersonDay, day: int, user: int) -> None:
        """What the records do not say, drawn per person and day (the same all day)."""
        rand = gen.rng(self.seed_bits, gen.CURSOR_DAYS, gen.SKELETON, day, user, 0).random
        tab_share, agent_share = 0.3 + 0.9 * rand(), 0.2 + 0.6 * rand()
        pd.tab.reject(tab_share)
        pd.agent.reject(agent_share)
        for e in pd.exts.values():
            e.rejects = round(e.accepts * tab_share)
            e.lines_rejected = round(e.lines_accepted * tab_share * 0.9)
        pd.bugbot = 1 + int(rand() * 3) if rand() < 0.2 else 0
        pd.manual_added = int(rand() * 300)
        pd.manual_deleted = int(rand() * 120)
        pd.version = client_version(day, user)
