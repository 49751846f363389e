"""Claude Code usage per actor per UTC day, fixed by the seed.

People come from the simulator's population (same e-mails as the other vendors and the
teams map); a person without an e-mail signs in with an API key of their own
(``api_actor``, key ``dev-<index>``), and a few shared keys (CI, bots) work most weekdays.
An active actor has a local row, a remote row, or both (remote and local usage are
separate rows), and every fifteenth person a second local row from another terminal.

Each row has the whole day's figures and an activity window (first to last use); what the
API shows at a moment is the row scaled to the part of the window before the visibility
boundary (now minus the data lag), so today's rows grow during the day and a day is final
once its last use is older than the lag. Some rows lack ``is_remote`` or
``subscription_type`` (optional fields), a few carry a tool the docs do not list, and
about one row in five has fractional cents.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aicode_sim.population import Person, Population
from aicode_sim.timeutil import DAY_MS, HOUR_MS, MINUTE_MS, fmt_day, weekday

TOOLS = (("edit_tool", 0.9), ("multi_edit_tool", 0.5), ("write_tool", 0.6),
         ("notebook_edit_tool", 0.08))
NEW_TOOL = "apply_patch_tool"  # not in the docs' list: a tool that appeared later
# model -> cents per million input, output, cache-read, cache-write tokens
MODELS = {
    "claude-sonnet-4-5-20250929": (300.0, 1500.0, 30.0, 375.0),
    "claude-opus-4-1-20250805": (1500.0, 7500.0, 150.0, 1875.0),
    "claude-haiku-4-5-20251001": (100.0, 500.0, 10.0, 125.0),
}
SHARED_KEYS = ("ci-claude-code", "nightly-refactor-bot", "docs-assistant")
TERMINALS = ("iTerm.app", "vscode", "tmux", "Apple_Terminal", "cursor", "jetbrains")
ORGANIZATION_ID = "5f0c1e9a-2b7d-4c61-9a1e-7d3b2f8c4e10"
CACHED_DAYS = 16


@dataclass(frozen=True, slots=True)
class Row:
    """One record's whole-day values and when in the day its usage happened."""

    order: int  # position in the API's (stable, not alphabetical) order
    actor: dict[str, str]
    remote: bool | None  # None: the row has no is_remote field
    terminal: str
    customer_type: str
    subscription: str | None  # "-": field absent
    first_ms: int  # first and last use, ms since the day's start
    last_ms: int
    sessions: int
    added: int
    removed: int
    commits: int
    pull_requests: int
    tools: tuple[tuple[str, int, int], ...]  # (tool, accepted, rejected)
    models: tuple[tuple[str, int, int, int, int], ...]  # (model, in, out, cache_read, cache_write)
    fractional: bool  # cents with decimals

    def shown(self, day: int, visible_ms: int) -> dict[str, Any] | None:
        """The record as the API answers it when data up to `visible_ms` (ms since the
        day's start) is visible; None when none of its usage is."""
        if visible_ms < self.first_ms:
            return None
        span = self.last_ms - self.first_ms
        f = 1.0 if visible_ms >= self.last_ms or span <= 0 else (
            (visible_ms - self.first_ms) / span)

        def part(n: int) -> int:
            return n if f >= 1.0 else math.floor(n * f)

        record: dict[str, Any] = {
            "date": fmt_day(day),
            "actor": dict(self.actor),
            "organization_id": ORGANIZATION_ID,
            "customer_type": self.customer_type,
            "terminal_type": self.terminal,
            "core_metrics": {
                "num_sessions": max(1, part(self.sessions)),
                "lines_of_code": {"added": part(self.added), "removed": part(self.removed)},
                "commits_by_claude_code": part(self.commits),
                "pull_requests_by_claude_code": part(self.pull_requests),
            },
            "tool_actions": {t: {"accepted": part(a), "rejected": part(r)}
                             for t, a, r in self.tools},
            "model_breakdown": [self._model(m, part) for m in self.models],
        }
        if self.subscription != "-":
            record["subscription_type"] = self.subscription
        if self.remote is not None:
            record["is_remote"] = self.remote
        return record

    def _model(self, m: tuple[str, int, int, int, int], part: Any) -> dict[str, Any]:
        name, tin, tout, tread, twrite = (m[0], part(m[1]), part(m[2]), part(m[3]), part(m[4]))
        price = MODELS[name]
        cents = (tin * price[0] + tout * price[1] + tread * price[2] + twrite * price[3]) / 1e6
        amount: float | int = round(cents, 2) if self.fractional else round(cents)
        return {"model": name,
                "tokens": {"input": tin, "output": tout, "cache_read": tread,
                           "cache_creation": twrite},
                "estimated_cost": {"currency": "USD", "amount": amount}}


def _rand(seed_bits: int, *parts: object) -> random.Random:
    # A string seed is hashed with SHA-512: the same in every process (no salted hash()).
    return random.Random(":".join(str(p) for p in (seed_bits, "claude_code", *parts)))


def _poisson(rand: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rand.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rand.random()
        if p <= limit:
            return k
        k += 1


class ClaudeCodeUsage:
    """Rows per day for a population; a day's rows are built once and kept (LRU)."""

    def __init__(self, seed_bits: int, population: Population) -> None:
        self.seed_bits = seed_bits
        self.population = population
        self._activity = [self._affinity(p) for p in population.people]
        # One of these people works every day, weekends too, so a small simulated
        # organisation (the demo's, the tests') has per-person figures on every day.
        self._regulars = [p.index for p in population.people
                          if p.email and self._activity[p.index] > 0]
        self._days: OrderedDict[int, tuple[Row, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def _affinity(self, p: Person) -> float:
        rand = _rand(self.seed_bits, "person", p.index)
        return 0.0 if rand.random() < 0.12 else 0.3 + 1.7 * rand.random()

    def rows(self, day: int) -> tuple[Row, ...]:
        with self._lock:
            kept = self._days.get(day)
            if kept is not None:
                self._days.move_to_end(day)
                return kept
            rows = self._build(day)
            self._days[day] = rows
            while len(self._days) > CACHED_DAYS:
                self._days.popitem(last=False)
            return rows

    def records(self, day: int, visible_ms: int) -> list[dict[str, Any]]:
        """Every record of `day` the API shows when data up to `visible_ms` (epoch ms) is
        visible, in the API's order."""
        since_start = visible_ms - day * DAY_MS
        out = []
        for row in self.rows(day):
            record = row.shown(day, since_start)
            if record is not None:
                out.append(record)
        return out

    def _build(self, day: int) -> tuple[Row, ...]:
        weekend = weekday(day) >= 5
        rows: list[Row] = []
        regular = self._regulars[day % len(self._regulars)] if self._regulars else None
        for p in self.population.people:
            a = self._activity[p.index]
            rand = _rand(self.seed_bits, "day", day, p.index)
            if (a <= 0 or rand.random() >= min(0.95, 0.55 * a) * (0.25 if weekend else 1.0)
                    ) and p.index != regular:
                continue
            actor = ({"type": "user_actor", "email_address": p.email} if p.email else
                     {"type": "api_actor", "api_key_name": f"dev-{p.index}"})
            local = rand.random() < 0.85
            remote = not local or rand.random() < 0.25
            terminal = TERMINALS[p.index % len(TERMINALS)]
            if local:
                rows.append(self._row(rand, p.index, actor, a, False, terminal))
                if p.index % 15 == 2:  # the same person, a second terminal
                    other = TERMINALS[(p.index + 1) % len(TERMINALS)]
                    rows.append(self._row(rand, p.index, actor, 0.4 * a, False, other))
            if remote:
                rows.append(self._row(rand, p.index, actor, 0.6 * a, True, "web"))
        for k, key in enumerate(SHARED_KEYS):
            rand = _rand(self.seed_bits, "key", day, k)
            if rand.random() >= (0.3 if weekend else 0.8):
                continue
            actor = {"type": "api_actor", "api_key_name": key}
            rows.append(self._row(rand, 10_000 + k, actor, 1.5, False, "non-interactive"))
            if rand.random() < 0.3:
                rows.append(self._row(rand, 10_000 + k, actor, 0.5, True, "web"))
        return tuple(sorted(rows, key=lambda r: r.order))

    def _row(self, rand: random.Random, who: int, actor: dict[str, str], a: float,
             remote: bool, terminal: str) -> Row:
        sessions = 1 + _poisson(rand, 2.0 * a)
        added = sum(_poisson(rand, 45.0) for _ in range(sessions))
        removed = round(added * (0.1 + 0.4 * rand.random()))
        commits = _poisson(rand, 0.4 * sessions)
        prs = _poisson(rand, 0.35 * commits)
        tools = []
        for tool, p in TOOLS:
            if rand.random() < p:
                accepted = _poisson(rand, 4.0 * sessions)
                tools.append((tool, accepted, _poisson(rand, 0.12 * accepted)))
        if rand.random() < 0.05:
            tools.append((NEW_TOOL, _poisson(rand, 3.0), _poisson(rand, 0.5)))
        names = list(MODELS)
        used = [names[0]] if rand.random() < 0.6 else rand.sample(names, 2)
        models = []
        for name in used:
            tin = _poisson(rand, 40.0) * 1000 * sessions
            models.append((name, tin, tin // 4 + _poisson(rand, 20.0),
                           tin * (3 + int(rand.random() * 6)), tin // 10))
        first = int(rand.random() * 14 * HOUR_MS) + 6 * HOUR_MS
        last = min(DAY_MS - MINUTE_MS, first + int((1 + 8 * rand.random()) * HOUR_MS))
        # The vendor's order is its own: stable, not by e-mail.
        order = int(rand.random() * (1 << 30)) * 4 + (2 if remote else 0) + (who & 1)
        return Row(order=order, actor=actor,
                   remote=None if (not remote and who % 20 == 11) else remote,
                   terminal=terminal,
                   customer_type="subscription" if who % 9 == 4 else "api",
                   subscription=("-" if who % 4 == 0 else None if who % 4 == 1 else
                                 "team" if who % 9 == 4 else "enterprise"),
                   first_ms=first, last_ms=last, sessions=sessions, added=added,
                   removed=removed, commits=commits, pull_requests=prs,
                   tools=tuple(tools), models=tuple(models),
                   fractional=rand.random() < 0.2)
