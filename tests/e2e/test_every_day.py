"""Every day of a week, weekend included and at any hour: a poll of every simulated vendor
(the demo's providers) against a small simulated organisation serves every metric of the
catalogue, with every endpoint up. test_integration checks the same today; this pins the
week, so a quiet simulated day (no CLI use, no merged pull request, nobody at work on a
Saturday) fails here, on any date, rather than in CI on the day it comes round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from aicode_sim import Simulator, teams_csv
from tests.ops.helpers import unserved_contract_metrics
from tests.support import exposition
from tests.support.fakes import FakeClock, make_app, make_config

MONDAY = datetime(2026, 11, 23, 0, 40, tzinfo=UTC)
WEEK = [MONDAY + timedelta(days=d, hours=7 * d) for d in range(7)]  # 00:40, 07:40 ... 18:40


@pytest.mark.parametrize("now", WEEK, ids=[w.strftime("%a-%H%M") for w in WEEK])
def test_a_poll_on_any_day_serves_every_metric(tmp_path: Path, now: datetime) -> None:
    clock = FakeClock(wall_time=now.timestamp())
    sim = Simulator(users=30, repos=8, cursor_rate_limit_per_minute=1000,
                    now=lambda: datetime.fromtimestamp(clock.wall(), UTC),
                    clock=clock.monotonic)
    sim.start()
    try:
        (tmp_path / "teams.csv").write_text(teams_csv(sim))
        cfg = make_config(tmp_path, [{**entry, "name": "sim", "rate_limit_per_minute": 6000}
                                     for entry in sim.demo_providers()],
                          users={"per_user_counters": True},
                          top={"teams": {"file": str(tmp_path / "teams.csv")}})
        app = make_app(cfg, httpx.HTTPTransport(), clock)
        try:
            got = exposition.parse(app.run_once().decode())
        finally:
            app.close()
    finally:
        sim.stop()
    missing = unserved_contract_metrics(got)
    assert not missing, f"{now:%A %H:%M}: no {missing}"
    down = sorted(k for k, v in got.items() if k.startswith("aicode_up{") and v != 1)
    assert not down, down
