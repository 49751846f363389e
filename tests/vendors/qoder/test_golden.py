"""The seed's example payloads, polled end to end, give exactly the golden exposition.

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import FakeClock, QoderFake, make_app, qoder_config
from tests.support.golden import check_golden

AGGREGATES_AND_TRACKING = ("overview", "member_ranking", "repos", "file_extensions",
                           "commits", "changes")


@pytest.mark.parametrize("trend", ["daily-trend.json", "daily-trend-two-days.json"])
def test_seed_payloads_golden(tmp_path: Path, trend: str) -> None:
    fake = QoderFake()
    fake.files["/ai-code/stats/daily-trend"] = trend
    clock = FakeClock()
    # The credits stream has a golden of its own (below): its paced reads, polled last,
    # would move the other streams' lag at render time.
    cfg = qoder_config(tmp_path, windows=["1d", "7d"], endpoints={"credits": {"enabled": False}})
    app = make_app(cfg, fake, clock)
    check_golden(f"qoder-seed-{Path(trend).stem}.prom", app.run_once())


def test_members_and_usage_payloads_golden(tmp_path: Path) -> None:
    """Members (seats, roles and statuses, a deleted member, a member without e-mail),
    each enabled member's quota (one restricted, its reset time in Unix ms), resource
    packages (two of one name, one expired) and usage records (two that say exactly the
    same, counted twice; one without e-mail), with per-user data on."""
    fake = QoderFake()
    clock = FakeClock()
    cfg = qoder_config(tmp_path, users={"per_user_counters": True},
                       endpoints={ep: {"enabled": False} for ep in AGGREGATES_AND_TRACKING})
    app = make_app(cfg, fake, clock)
    check_golden("qoder-seed-members-usage.prom", app.run_once())
