"""The pure mapping: a hostile day with more tools and models than any real one folds the
excess into `__other__` (bounded series, totals kept)."""

from __future__ import annotations

from aicode_exporter.expose import catalog
from aicode_exporter.vendors.claude_code.mapping import MAX_NAMES, DayView, day_families
from aicode_exporter.vendors.claude_code.models import UsageRecord


def test_too_many_tools_and_models_fold_into_other() -> None:
    n = MAX_NAMES + 5
    record = UsageRecord.model_validate({
        "actor": {"type": "user_actor", "email_address": "a@x.io"},
        "tool_actions": {f"tool_{i:03d}": {"accepted": 1, "rejected": 1} for i in range(n)},
        "model_breakdown": [{"model": f"m{i:03d}", "tokens": {"input": 1},
                             "estimated_cost": {"amount": 100}} for i in range(n)]})
    families = {f.spec.name: f for f in day_families([record], DayView(("claude_code", "o")))}
    shown = dict(families[catalog.DAILY_SUGGESTIONS.name].samples)
    assert len(shown) == MAX_NAMES + 1 and sum(shown.values()) == 2 * n
    assert shown[("claude_code", "o", "agent", "__other__")] == 10
    cost = dict(families[catalog.DAILY_COST.name].samples)
    assert len(cost) == MAX_NAMES + 1 and sum(cost.values()) == n
    assert cost[("claude_code", "o", "__other__")] == 5
