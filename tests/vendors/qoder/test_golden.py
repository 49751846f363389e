"""The seed's example payloads, polled end to end, give exactly the golden exposition.

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import FakeClock, QoderFake, make_app, qoder_config
from tests.support.golden import check_golden


@pytest.mark.parametrize("trend", ["daily-trend.json", "daily-trend-two-days.json"])
def test_seed_payloads_golden(tmp_path: Path, trend: str) -> None:
    fake = QoderFake()
    fake.files["/ai-code/stats/daily-trend"] = trend
    clock = FakeClock()
    cfg = qoder_config(tmp_path, windows=["1d", "7d"])
    app = make_app(cfg, fake, clock)
    check_golden(f"qoder-seed-{Path(trend).stem}.prom", app.run_once())
