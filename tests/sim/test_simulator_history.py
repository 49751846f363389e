"""The simulator keeps 90 days of history for every vendor, as the demo runs it
(`Simulator()` defaults), so `aicode-exporter backfill` can be tried end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from aicode_sim import Simulator
from tests.support import simhistory
from tests.support.fakes import sim_transport

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)
DAY = 86_400


def test_the_demo_simulator_holds_90_days_for_every_vendor() -> None:
    sim = Simulator(users=8, repos=3, now=lambda: NOW, cursor_rate_limit_per_minute=0)
    assert sorted(sim.vendors) == ["claude_code", "copilot", "cursor", "qoder"]
    # The first of the 90 days before today, and the day before it.
    first = datetime(2026, 3, 12, tzinfo=UTC).timestamp()
    with httpx.Client(transport=sim_transport(sim), base_url="http://sim") as c:
        events = simhistory.records(c, first, first + 2 * DAY)
        daily = simhistory.qoder_daily(c, first, first + DAY)
        # The daily reports of GitHub Copilot and Claude Code answer for that day too.
        day = datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d")
        copilot = c.get("/orgs/sim-org/copilot/metrics/reports/organization-1-day",
                        params={"day": day}, headers={"Authorization": "Bearer sim-key",
                                                      "X-GitHub-Api-Version": "2026-03-10"})
        claude = c.get("/v1/organizations/usage_report/claude_code",
                       params={"starting_at": day},
                       headers={"x-api-key": "sim-key", "anthropic-version": "2023-06-01"})
    assert copilot.status_code == 200 and copilot.json()["download_links"], copilot.text
    assert claude.status_code == 200 and claude.json()["data"], claude.text
    for key, ev in events.items():
        assert any(first <= t < first + 2 * DAY for t in ev.times), key
    assert (NOW - timedelta(days=90)).timestamp() < first + 2 * DAY
    assert sum(item["commitCount"] for item in daily.values()) > 0
