"""The documented example reports, polled end to end through both steps (metadata, then
the signed files), give exactly the golden expositions.

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

from pathlib import Path

from tests.support import exposition
from tests.support.fakes import FakeClock, make_app
from tests.support.golden import check_golden
from tests.vendors.copilot.fake import CopilotFake, copilot_config, organization_fake

DEC_2 = 1_796_205_600.0  # 2026-12-02T10:00:00Z: 2026-11-30 is two full days old
MAR_22 = 1_774_173_600.0  # 2026-03-22T10:00:00Z


def test_every_organization_report_golden(tmp_path: Path) -> None:
    cfg = copilot_config(tmp_path, users={"label": "name", "per_user_counters": True})
    text = make_app(cfg, organization_fake(), FakeClock(wall_time=DEC_2)).run_once()
    check_golden("copilot-organization.prom", text)


def test_enterprise_reports_with_users_and_repos_capped_golden(tmp_path: Path) -> None:
    fake = CopilotFake(scope="/enterprises/octo-corp", reports={
        ("enterprise-1-day", "2026-11-30"): ["enterprise-1-day.json"],
        ("enterprise-28-day/latest", ""): ["organization-28-day.json"],
        ("users-1-day", "2026-11-30"): ["users-1-day-part-1.ndjson",
                                        "users-1-day-part-2.ndjson"],
        ("user-teams-1-day", "2026-11-30"): ["user-teams-1-day-enterprise.ndjson"],
        ("repos-1-day", "2026-11-30"): ["repos-1-day-three.ndjson"],
    })
    cfg = copilot_config(tmp_path, users={"label": "id", "per_user_counters": True,
                                          "max_users": 1},
                         enterprise="octo-corp", max_repos=1)
    text = make_app(cfg, fake, FakeClock(wall_time=DEC_2)).run_once()
    check_golden("copilot-enterprise.prom", text)


def test_legacy_fields_missing_fields_and_unknown_values_golden(tmp_path: Path) -> None:
    fake = CopilotFake(reports={
        ("organization-1-day", "2026-03-20"): ["organization-1-day-legacy.json"]})
    endpoints = {name: {"enabled": False} for name in
                 ("totals_28_day", "users_1_day", "repos_1_day")}
    cfg = copilot_config(tmp_path, endpoints=endpoints)
    text = make_app(cfg, fake, FakeClock(wall_time=MAR_22)).run_once()
    check_golden("copilot-legacy.prom", text)


def test_a_pretty_printed_report_reads_like_the_one_line_file(tmp_path: Path) -> None:
    def poll(name: str, where: Path) -> dict[str, float]:
        where.mkdir()
        fake = CopilotFake(reports={("organization-1-day", "2026-11-30"): [name]})
        cfg = copilot_config(where, endpoints={n: {"enabled": False} for n in (
            "totals_28_day", "users_1_day", "repos_1_day")})
        samples = exposition.parse(make_app(cfg, fake, FakeClock(wall_time=DEC_2))
                                   .run_once().decode())
        return {k: v for k, v in samples.items() if k.startswith("aicode_daily_")}

    compact = poll("organization-1-day.json", tmp_path / "a")
    assert len(compact) > 50
    assert poll("organization-1-day-pretty.json", tmp_path / "b") == compact
