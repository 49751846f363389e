"""Pure functions: one day of Claude Code usage records -> metric families.

Who counts: a `user_actor` row is a person (by e-mail, case-insensitive); an `api_actor`
row is an API key (by its name), never a person; both feed the day's totals (sessions,
lines, tool decisions, tokens, cost), only people feed active users, teams and per-user
series. One actor may have several rows a day (remote and local usage are separate rows,
and possibly one per terminal): each row counts once, and the actor is one active user.

`surface`: `cli` for local usage (the Claude Code CLI, in a terminal or an IDE;
`is_remote` false or absent), `cloud_agent` for remote usage (`is_remote` true: Claude
Code on the web), `all` for either. Tool decisions are suggestions with `feature="agent"`
and the API's tool key (`edit_tool`, `multi_edit_tool`, `write_tool`,
`notebook_edit_tool`, any new one) as `vendor_feature`; lines carry
`vendor_feature="claude_code"`. Costs arrive in cents (maybe fractional) and leave as
USD; an amount in another currency is left out (and logged), its tokens still count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.daily import UserDay, team_families
from aicode_exporter.pipeline.labels import UNKNOWN, or_unknown
from aicode_exporter.pipeline.records import OTHER_USER, User
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family
from aicode_exporter.vendors.claude_code import metrics
from aicode_exporter.vendors.claude_code.models import API_ACTOR, USER_ACTOR, UsageRecord
from aicode_exporter.vendors.tolerant import clean_text

logger = logging.getLogger(__name__)

Base = tuple[str, str]
ALL, LOCAL, REMOTE = "all", "cli", "cloud_agent"
SURFACES = (ALL, LOCAL, REMOTE)
FEATURE = "agent"
VENDOR_FEATURE = "claude_code"
# cache_creation is the shared vocabulary's cache_write.
TOKEN_TYPES = (("input", "input"), ("output", "output"), ("cache_read", "cache_read"),
               ("cache_creation", "cache_write"))
# Far beyond the handful of tools and models that exist; past it a hostile answer would
# blow up the series count, so further names share the series `__other__`.
MAX_NAMES = 200
OTHER = "__other__"


@dataclass(frozen=True)
class DayView:
    """How a day is published: the base labels, per-user series (a labeler, or None when
    users.per_user_counters is off or users.label is none) and the teams map, if any."""

    base: Base
    labeler: UserLabeler | None = None
    max_users: int = 500
    teams_for: Callable[[User], Sequence[str]] | None = None


@dataclass
class _Person:
    sessions: float = 0.0
    lines: float = 0.0
    commits: float = 0.0
    cents: float = 0.0


@dataclass
class _Day:
    people: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SURFACES})
    keys: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SURFACES})
    sessions: float = 0.0
    commits: float = 0.0
    pull_requests: float = 0.0
    added: float = 0.0
    removed: float = 0.0
    tools: dict[str, list[float]] = field(default_factory=dict)  # [accepted, rejected]
    tokens: dict[tuple[str, str], float] = field(default_factory=dict)
    cents: dict[str, float] = field(default_factory=dict)
    per_person: dict[str, _Person] = field(default_factory=dict)
    not_usd: dict[str, float] = field(default_factory=dict)  # currency -> amount left out


def _person(r: UsageRecord) -> str:
    """A person's identity: the e-mail, lower-cased (`unknown` when the row has none)."""
    return r.actor.email_address.strip().lower() or UNKNOWN


def _add_row(day: _Day, r: UsageRecord) -> None:
    surface = REMOTE if r.remote else LOCAL
    kind = r.actor.type
    if kind == USER_ACTOR:
        who = _person(r)
        day.people[ALL].add(who)
        day.people[surface].add(who)
    elif kind == API_ACTOR:
        key = r.actor.api_key_name.strip() or UNKNOWN
        day.keys[ALL].add(key)
        day.keys[surface].add(key)
    core = r.core_metrics
    day.sessions += core.num_sessions
    day.commits += core.commits_by_claude_code
    day.pull_requests += core.pull_requests_by_claude_code
    day.added += core.lines_of_code.added
    day.removed += core.lines_of_code.removed
    for tool, decisions in r.tool_actions.items():
        acc = day.tools.setdefault(or_unknown(clean_text(tool)), [0.0, 0.0])
        acc[0] += decisions.accepted
        acc[1] += decisions.rejected
    cents = 0.0
    for m in r.model_breakdown:
        model = or_unknown(m.model)
        for attr, kind_ in TOKEN_TYPES:
            day.tokens[(model, kind_)] = (day.tokens.get((model, kind_), 0.0)
                                         + getattr(m.tokens, attr))
        currency = m.estimated_cost.currency.strip().upper()
        if currency in ("", "USD"):
            day.cents[model] = day.cents.get(model, 0.0) + m.estimated_cost.amount
            cents += m.estimated_cost.amount
        else:
            day.not_usd[currency] = day.not_usd.get(currency, 0.0) + m.estimated_cost.amount
    if kind == USER_ACTOR:
        p = day.per_person.setdefault(_person(r), _Person())
        p.sessions += core.num_sessions
        p.lines += core.lines_of_code.added
        p.commits += core.commits_by_claude_code
        p.cents += cents


def _capped(names: Iterable[str]) -> dict[str, str]:
    """name -> its label value: itself for the first MAX_NAMES (sorted), else `__other__`."""
    ordered = sorted(set(names))
    return {n: (n if i < MAX_NAMES else OTHER) for i, n in enumerate(ordered)}


def _summed(pairs: Iterable[tuple[tuple[str, ...], float]]) -> list[tuple[tuple[str, ...], float]]:
    out: dict[tuple[str, ...], float] = {}
    for labels, v in pairs:
        out[labels] = out.get(labels, 0.0) + v
    return sorted(out.items())


def day_families(records: Iterable[UsageRecord], view: DayView) -> list[Family]:
    """One day, all its rows:
    aicode_daily_active_users{org="acme",provider="claude_code",surface="all"} 12
    aicode_daily_suggestions_accepted{feature="agent",org="acme",provider="claude_code",vendor_feature="edit_tool"} 25
    aicode_daily_cost_usd{model="claude-opus-4-8",org="acme",provider="claude_code"} 1.86"""
    day = _Day()
    for r in records:
        _add_row(day, r)
    for currency, amount in day.not_usd.items():
        logger.warning("cost not in USD left out", extra={
            "provider": view.base[0], "org": view.base[1], "currency": currency,
            "amount": amount})
    base = view.base
    lines = (*base, FEATURE, VENDOR_FEATURE)
    tool = _capped(day.tools)
    model = _capped([m for m, _ in day.tokens] + list(day.cents))
    families = [
        catalog.DAILY_ACTIVE_USERS.spec.family(
            ((*base, s), float(len(day.people[s]))) for s in SURFACES),
        metrics.ACTIVE_API_KEYS.family(((*base, s), float(len(day.keys[s]))) for s in SURFACES),
        metrics.SESSIONS.family([(base, day.sessions)]),
        metrics.COMMITS.family([(base, day.commits)]),
        metrics.PULL_REQUESTS.family([(base, day.pull_requests)]),
        catalog.DAILY_LINES_ACCEPTED.spec.family([(lines, day.added)]),
        catalog.DAILY_LINES_REMOVED.spec.family([(lines, day.removed)]),
        catalog.DAILY_SUGGESTIONS.spec.family(_summed(
            ((*base, FEATURE, tool[t]), a + rej) for t, (a, rej) in day.tools.items())),
        catalog.DAILY_SUGGESTIONS_ACCEPTED.spec.family(_summed(
            ((*base, FEATURE, tool[t]), a) for t, (a, _) in day.tools.items())),
        catalog.DAILY_TOKENS.spec.family(_summed(
            ((*base, model[m], kind), n) for (m, kind), n in day.tokens.items())),
        catalog.DAILY_COST.spec.family(_summed(
            ((*base, model[m]), c / 100.0) for m, c in day.cents.items())),
    ]
    if view.teams_for is not None:
        rows = [UserDay(User(who, "" if who == UNKNOWN else who), True, {FEATURE: p.lines})
                for who, p in day.per_person.items()]
        families += team_families(base, rows, view.teams_for)
    if view.labeler is not None:
        families += _per_user(day.per_person, view.labeler, view)
    return families


def _per_user(people: dict[str, _Person], labeler: UserLabeler,
              view: DayView) -> list[Family]:
    """aicode_daily_user_lines_accepted{feature="agent",org="acme",provider="claude_code",user="alice@example.com"} 342

    The users.max_users most active people (by lines, then sessions) get their own
    series; the others are summed into user="__other__"."""
    ranked = sorted(people.items(), key=lambda kv: (-kv[1].lines, -kv[1].sessions, kv[0]))
    rows: dict[str, _Person] = {}
    for i, (who, p) in enumerate(ranked):
        label = (OTHER_USER if i >= view.max_users else
                 labeler.label(user_id=who, email="" if who == UNKNOWN else who))
        acc = rows.setdefault(label, _Person())
        acc.sessions += p.sessions
        acc.lines += p.lines
        acc.commits += p.commits
        acc.cents += p.cents
    ordered = sorted(rows.items())
    base = view.base
    return [
        metrics.USER_SESSIONS.family(((*base, u), p.sessions) for u, p in ordered),
        catalog.DAILY_USER_LINES_ACCEPTED.spec.family(
            ((*base, u, FEATURE), p.lines) for u, p in ordered),
        metrics.USER_COMMITS.family(((*base, u), p.commits) for u, p in ordered),
        metrics.USER_COST.family(((*base, u), p.cents / 100.0) for u, p in ordered),
    ]
