"""The seed's example payloads, polled end to end, give exactly the golden exposition.

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporter.app import App
from tests.helpers import FakeClock, QoderFake, qoder_config

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text)
    assert text.decode() == path.read_text(), f"exposition differs from {path}"


@pytest.mark.parametrize("trend", ["daily-trend.json", "daily-trend-two-days.json"])
def test_seed_payloads_golden(tmp_path: Path, trend: str) -> None:
    fake = QoderFake()
    fake.files["/ai-code/stats/daily-trend"] = trend
    clock = FakeClock()
    cfg = qoder_config(tmp_path, windows=["1d", "7d"])
    app = App(cfg, transport=fake.transport(), clock=clock.monotonic, wall=clock.wall,
              sleep=clock.sleep)
    check_golden(f"qoder-seed-{Path(trend).stem}.prom", app.run_once())
