"""Cursor Admin API usage events (``POST /teams/filtered-usage-events``): every request a
person makes, with its model, kind, tokens and cost, and no id.

Events are generated per (UTC day, person) like the tracking records, from the same
people and activity. Cursor aggregates usage hourly: an event becomes visible some minutes
after the end of its hour (a few hours later for ``gen.LATE_SHARE`` of them). About one
in 250 events has a *twin*: a second request with the very same fields in the same
millisecond (parallel calls of one conversation), often ingested later than the first;
only counting alike events per answer tells them apart.

Costs: token-based calls cost their tokens at the model's price (``totalCents``), less any
discount, plus Cursor's token fee on third-party models; the rest are legacy request
pricing (``requestsCosts`` x 4 cents). ``chargedCents`` is fractional. Kinds:
``Usage-based`` (chargeable: what ``spendCents`` adds up), ``Included in Business`` (not
chargeable, still priced: in ``overallSpendCents``) and ``User API Key`` (0 cents).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NamedTuple

from aicode_sim import gen
from aicode_sim.population import Person
from aicode_sim.records import Ref, Row, Stream
from aicode_sim.timeutil import DAY_MS, HOUR_MS, MINUTE_MS

# (Admin API name, Analytics API name, $ per million input/output/cache read/cache write
# tokens, third-party: Cursor's token fee applies)
MODELS = (
    ("claude-4.5-sonnet", "claude-sonnet-4.5", (3.0, 15.0, 0.3, 3.75), True),
    ("claude-4-sonnet-thinking", "claude-sonnet-4-thinking", (3.0, 15.0, 0.3, 3.75), True),
    ("gpt-5", "gpt-5", (1.25, 10.0, 0.125, 1.25), True),
    ("gpt-5-codex", "gpt-5-codex", (1.25, 10.0, 0.125, 1.25), True),
    ("auto", "default", (1.25, 6.0, 0.25, 1.25), False),
    ("composer-1", "composer-1", (1.25, 10.0, 0.125, 1.25), False),
)
_MODEL_WEIGHTS = gen.cumulative((0.3, 0.08, 0.2, 0.1, 0.22, 0.1))
TOKEN_FEE_PER_MILLION = 0.25  # dollars
MODES = ("agent", "chat", "composer", "cmdk")
_MODE_WEIGHTS = gen.cumulative((0.45, 0.25, 0.15, 0.15))
KINDS = ("Included in Business", "Usage-based", "User API Key")
_KIND_WEIGHTS = gen.cumulative((0.55, 0.4, 0.05))
CHARGEABLE = 1  # index of Usage-based
API_KEY = 2
SURFACES = ("ide", "cli", "cloud_agent")
TWIN_SHARE = 0.004
DEFAULT_EVENTS_PER_USER_DAY = 12.0


class Event(NamedTuple):
    """What the analytics, the daily usage and spend need of one event."""

    ts_ms: int
    ingest_ms: int
    user: int
    model: int  # index into MODELS
    mode: int  # index into MODES
    kind: int  # index into KINDS
    surface: int  # index into SURFACES
    cents: float  # chargedCents


class _Draws(NamedTuple):
    event: Event
    max_mode: bool
    conversation: int
    in_conversation: bool
    service_account: bool
    tokens: tuple[int, int, int, int] | None  # input, output, cache read, cache write
    discount: int
    units: float  # requestsCosts of a call priced by request
    total: float  # totalCents before discount and fee
    fee: float  # cursorTokenFee (cents)


def hourly_ingest(ts_ms: int, rand: Callable[[], float]) -> int:
    """Visible 5-20 minutes after the end of the event's hour, or hours later (late)."""
    hour_end = (ts_ms // HOUR_MS + 1) * HOUR_MS
    ingest = hour_end + int((5 + 15 * rand()) * MINUTE_MS)
    if rand() < gen.LATE_SHARE:
        ingest += int((2 + 7 * rand()) * HOUR_MS)
    return ingest


class CursorUsageEvents(Stream):
    """Rows (ts, ts, ingest, day, user, record * 2 + twin, 0); the twin of a record shares
    its detail (record_no), so its fields are the same."""

    code = gen.CURSOR_USAGE
    sort_is_filter = True
    spills = False
    attr_div = 1
    csv_header = ()

    def activity(self, person: Person) -> float:
        return person.cursor_activity

    def record_no(self, ref: Ref) -> int:
        return ref.idx >> 1

    def user_day(self, day: int, user: int) -> list[Row]:
        person = self.population.people[user]
        rand = gen.skeleton_rng(self.seed_bits, self.code, day, user).random
        count = min(gen.poisson(rand, self.expected_count(day, person)),
                    gen.MAX_RECORDS_PER_USER_DAY // 2)
        rows: list[Row] = []
        for record in range(count):
            ts = day * DAY_MS + gen.time_of_day_ms(rand)
            ingest = hourly_ingest(ts, rand)
            rows.append((ts, ts, ingest, day, user, record * 2, 0))
            if rand() < TWIN_SHARE:
                twin_ingest = ingest + (int(rand() * 3) * HOUR_MS if rand() < 0.5 else 0)
                rows.append((ts, ts, twin_ingest, day, user, record * 2 + 1, 0))
        return rows

    def _draw(self, ref: Ref) -> _Draws:
        """Every random choice of one event, in one fixed order."""
        rand = self.detail_rand(ref)
        model = gen.weighted_index(rand, _MODEL_WEIGHTS)
        mode = gen.weighted_index(rand, _MODE_WEIGHTS)
        kind = gen.weighted_index(rand, _KIND_WEIGHTS)
        surface = self.surface(self.population.people[ref.user], rand())
        max_mode, conversation, in_conversation = rand() < 0.2, int(rand() * 6), rand() < 0.9
        service_account = surface == 2 and rand() < 0.2
        tokens: tuple[int, int, int, int] | None = None
        discount, units = 0, 0.0
        if rand() < 0.85:
            tokens = (1 + gen.long_tail(rand, 2500, 200_000),
                      1 + gen.long_tail(rand, 450, 32_000),
                      gen.long_tail(rand, 9000, 400_000) if rand() < 0.7 else 0,
                      gen.long_tail(rand, 3000, 200_000) if rand() < 0.5 else 0)
            discount = 10 if rand() < 0.1 else 0
        else:
            units = (1, 1.4, 2, 5)[int(rand() * 4)]
        total = fee = 0.0
        if tokens is not None:
            _, _, prices, third_party = MODELS[model]
            total = sum(n * p for n, p in zip(tokens, prices, strict=True)) / 1e6 * 100
            fee = sum(tokens) * TOKEN_FEE_PER_MILLION / 1e6 * 100 if third_party else 0.0
            cents = round(total * (100 - discount) / 100 + fee, 5)
        else:
            cents = units * 4.0
        if kind == API_KEY:
            cents = 0.0
        return _Draws(Event(ref.sort_ms, ref.ingest_ms, ref.user, model, mode, kind, surface,
                            cents), max_mode, conversation, in_conversation, service_account,
                      tokens, discount, units, total, fee)

    def event(self, ref: Ref) -> Event:
        """What the analytics, the daily usage and spend need of the event."""
        return self._draw(ref).event

    def record(self, ref: Ref) -> dict[str, object]:
        """The event as filtered-usage-events lists it."""
        d = self._draw(ref)
        ev = d.event
        person = self.population.people[ref.user]
        item: dict[str, object] = {"timestamp": str(ref.sort_ms)}
        if person.email:  # people without one show the exporter a missing userEmail
            item["userEmail"] = person.email
        if d.in_conversation:
            item["conversationId"] = str(uuid.UUID(gen.hex_digest(
                self.seed_bits, "conv", ref.gen_day, ref.user, d.conversation, size=16)))
        if ev.surface == 2:
            item["cloudAgentId"] = "bc-" + gen.hex_digest(self.seed_bits, "agent", ref.gen_day,
                                                          ref.user, size=8)
            if d.service_account:
                item["serviceAccountId"] = f"sa_{person.index % 3}"
                item["serviceAccountName"] = "Nightly CI Agent"
        item.update(model=MODELS[ev.model][0], kind=KINDS[ev.kind], maxMode=d.max_mode,
                    isTokenBasedCall=d.tokens is not None, isChargeable=ev.kind == CHARGEABLE,
                    isHeadless=d.service_account)
        if d.tokens is not None:
            usage: dict[str, object] = {
                "inputTokens": d.tokens[0], "outputTokens": d.tokens[1],
                "cacheWriteTokens": d.tokens[3], "cacheReadTokens": d.tokens[2],
                "totalCents": round(d.total, 5)}
            if d.discount:
                usage["discountPercentOff"] = d.discount
            item["requestsCosts"] = round(max(0.5, d.total / 4), 1)
            item["tokenUsage"] = usage
            if d.fee:
                item["cursorTokenFee"] = round(d.fee, 5)
        else:
            item["requestsCosts"] = d.units
        item["chargedCents"] = ev.cents
        return item

    @staticmethod
    def surface(person: Person, roll: float) -> int:
        """Every fourth person also works in the CLI, every fifth runs cloud agents."""
        if person.index % 4 == 0 and roll < 0.4:
            return 1
        if person.index % 5 == 0 and roll > 0.7:
            return 2
        return 0

    def csv_row(self, ref: Ref) -> list[object]:
        raise NotImplementedError("usage events have no CSV export")
