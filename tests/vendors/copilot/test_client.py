"""GitHub Copilot against a scripted GitHub (MockTransport): what goes to which host,
"no report yet" in its three forms, expiring and refused links, refusals that name the
fix, the signed links' query never in a log or an error, few requests per day, and the
backfill reading any day."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.daily import DailyJob
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.copilot import VENDOR
from aicode_exporter.vendors.copilot.client import link_expiry
from aicode_exporter.vendors.registry import make_api
from tests.support import exposition
from tests.support.fakes import FakeClock, make_app
from tests.vendors.copilot.fake import (
    FILES,
    SIG,
    TOKEN,
    CopilotFake,
    copilot_config,
    no_report_body,
    organization_fake,
)
from tests.vendors.copilot.test_golden import DEC_2

KEY = ("copilot", "acme")
ONLY_TOTALS = {n: {"enabled": False} for n in ("totals_28_day", "users_1_day", "repos_1_day")}


def poll(app: App) -> dict[str, float]:
    app.poller.poll_all_once()
    return exposition.parse(app.publisher.render().text.decode())


def up(samples: dict[str, float], endpoint: str) -> float:
    return samples[f'aicode_up{{endpoint="{endpoint}",org="acme",provider="copilot"}}']


def status(app: App, endpoint: str) -> Any:
    return app.telemetry.statuses()[(*KEY, endpoint)]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged, at debug, as the exporter configures its loggers (httpx,
    which would log every URL, at warning)."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return caplog


def test_the_api_gets_the_token_and_github_headers_the_download_host_neither(
        tmp_path: Path) -> None:
    fake = organization_fake()
    app = make_app(copilot_config(tmp_path), fake, FakeClock(wall_time=DEC_2))
    samples = poll(app)
    assert all(up(samples, ep) == 1 for ep in ("totals_1_day", "totals_28_day",
                                                "users_1_day", "repos_1_day"))
    for r in fake.api_requests():
        assert r.url.host == "api.github.test"
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
        assert r.headers["x-github-api-version"] == "2026-03-10"
        assert r.headers["accept"] == "application/vnd.github+json"
        assert r.headers["user-agent"].startswith("aicode-exporter/")
    downloads = fake.downloads()
    assert len(downloads) == 6  # 28-day, 1-day, users x2, user-teams, repos
    for r in downloads:
        assert "authorization" not in r.headers and "x-github-api-version" not in r.headers
        assert TOKEN not in str(r.url) and TOKEN not in str(r.headers)
    app.close()


def test_a_redirect_from_the_storage_host_gets_no_credentials(tmp_path: Path) -> None:
    fake = CopilotFake(reports={("organization-1-day", "2026-11-30"): ["moved.json"]})
    elsewhere: list[httpx.Request] = []
    fixture = (Path(__file__).parents[2] / "fixtures/copilot/organization-1-day.json")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "mirror.test":
            elsewhere.append(request)
            return httpx.Response(200, content=fixture.read_bytes())
        if request.url.path.endswith("/moved.json"):
            fake.requests.append(request)
            return httpx.Response(302, headers={"location": "https://mirror.test/r?sig=m"})
        return fake(request)

    app = make_app(copilot_config(tmp_path, endpoints=ONLY_TOTALS), handle,
                   FakeClock(wall_time=DEC_2))
    samples = poll(app)
    assert up(samples, "totals_1_day") == 1
    assert samples['aicode_daily_active_users{org="acme",provider="copilot",surface="all"}'] == 42
    assert [r.headers.get("authorization") for r in elsewhere] == [None]
    app.close()


@pytest.mark.parametrize("answer", ["204", "404", "body", "no links"])
def test_no_report_yet_shows_the_day_before_and_is_no_failure(tmp_path: Path,
                                                              answer: str) -> None:
    fake = CopilotFake(reports={("organization-1-day", "2026-11-30"): [
        "organization-1-day.json"]})
    fake.missing = {"204": lambda: httpx.Response(204),
                    "404": lambda: httpx.Response(404, json={"message": "Not Found"}),
                    "body": no_report_body,
                    "no links": lambda: httpx.Response(200, json={"download_links": []}),
                    }[answer]
    app = make_app(copilot_config(tmp_path, endpoints=ONLY_TOTALS), fake,
                   FakeClock(wall_time=DEC_2))
    samples = poll(app)
    assert up(samples, "totals_1_day") == 1
    day = 'aicode_daily_date_timestamp_seconds{org="acme",provider="copilot"}'
    assert samples[day] == 1_795_996_800  # 2026-11-30
    st = status(app, "totals_1_day")
    assert st.last_error == "" and "no day after 2026-11-30 yet" in st.note
    # 2026-12-01 asked first, then 2026-11-30, and no day before it.
    assert fake.asked() == [("organization-1-day", "2026-12-01"),
                            ("organization-1-day", "2026-11-30")]
    app.close()


def test_no_day_at_all_keeps_what_was_published(tmp_path: Path) -> None:
    fake = organization_fake()
    clock = FakeClock(wall_time=DEC_2)
    app = make_app(copilot_config(tmp_path), fake, clock)
    first = poll(app)
    fake.reports.clear()  # GitHub answers 204 for every day now
    clock.wall_time += 7 * 86_400.0  # a week later: nothing in the look-back any more
    again = poll(app)
    assert all(up(again, ep) == 1 for ep in ("totals_1_day", "users_1_day", "repos_1_day"))
    kept = {k: v for k, v in first.items() if k.startswith("aicode_daily_")}
    assert kept and all(again[k] == v for k, v in kept.items())
    assert "no day from" in status(app, "users_1_day").note
    assert "no 28-day report" in status(app, "totals_28_day").note
    app.close()


@pytest.mark.parametrize("refusal", [403, 404, 410])
def test_a_link_the_storage_host_refuses_is_asked_for_again(
        tmp_path: Path, refusal: int, logs: pytest.LogCaptureFixture) -> None:
    fake = organization_fake()
    gone = httpx.Response(refusal, content=f"<Error>expired {SIG}</Error>".encode())
    fake.files_script["users-1-day-part-2.ndjson"] = [gone]
    app = make_app(copilot_config(tmp_path, endpoints={"repos_1_day": {"enabled": False}}),
                   fake, FakeClock(wall_time=DEC_2))
    samples = poll(app)
    assert up(samples, "users_1_day") == 1
    # The whole report read again from fresh metadata: nothing counted twice.
    assert fake.asked().count(("users-1-day", "2026-11-30")) == 2
    assert samples['aicode_daily_active_users{org="acme",provider="copilot",'
                   'surface="chat"}'] == 2
    assert "asking for fresh links" in logs.text and SIG not in logs.text
    app.close()


def test_a_link_whose_expiry_has_passed_is_not_even_tried(tmp_path: Path) -> None:
    clock = FakeClock(wall_time=DEC_2)
    fake = CopilotFake(reports={("organization-1-day", "2026-11-30"): [
        "organization-1-day.json"]})
    stale = {"download_links": [f"https://{FILES}/copilot/organization-1-day.json"
                                f"?sig={SIG}0&exp={int(DEC_2) - 60}"]}
    fake.script[("organization-1-day", "2026-11-30")] = [httpx.Response(200, json=stale)]
    app = make_app(copilot_config(tmp_path, endpoints=ONLY_TOTALS), fake, clock)
    samples = poll(app)
    assert up(samples, "totals_1_day") == 1
    assert [r.url.params["sig"] for r in fake.downloads()] == [f"{SIG}1"]
    app.close()


def test_links_that_keep_failing_fail_the_endpoint_without_their_query(
        tmp_path: Path, logs: pytest.LogCaptureFixture) -> None:
    fake = CopilotFake(reports={("organization-1-day", "2026-11-30"): [
        "organization-1-day.json"]})
    fake.files_script["organization-1-day.json"] = [
        httpx.Response(403, content=f"<Error><Url>?sig={SIG}</Url></Error>".encode())
        for _ in range(5)]
    app = make_app(copilot_config(tmp_path, endpoints=ONLY_TOTALS), fake,
                   FakeClock(wall_time=DEC_2))
    samples = poll(app)
    assert up(samples, "totals_1_day") == 0
    error = status(app, "totals_1_day").last_error
    assert "download links failed 3 times" in error and "HTTP 403" in error
    assert f"https://{FILES}/copilot/organization-1-day.json" in error
    assert SIG not in error and "sig=" not in error
    assert SIG not in logs.text
    assert SIG not in app.publisher.render().text.decode()
    app.close()


@pytest.mark.parametrize(("code", "fix"), [
    (403, "'Copilot usage metrics' policy is enabled"),
    (401, "the token is missing, invalid or expired")])
def test_a_refusal_names_the_fix(tmp_path: Path, code: int, fix: str) -> None:
    fake = CopilotFake()
    fake.missing = lambda: httpx.Response(code, json={
        "message": "Resource not accessible by integration", "status": str(code)})
    app = make_app(copilot_config(tmp_path, endpoints=ONLY_TOTALS), fake,
                   FakeClock(wall_time=DEC_2))
    samples = poll(app)
    assert up(samples, "totals_1_day") == 0
    error = status(app, "totals_1_day").last_error
    assert fix in error and "Resource not accessible by integration" in error
    assert len(fake.api_requests()) == 1  # not retried, no other day tried
    app.close()


def test_a_spent_rate_limit_waits_for_the_reset(tmp_path: Path) -> None:
    clock = FakeClock(wall_time=DEC_2)
    fake = CopilotFake()
    fake.missing = lambda: httpx.Response(
        403, json={"message": "API rate limit exceeded for user ID 1."},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000",
                 "x-ratelimit-reset": str(int(clock.wall_time) + 1800)})
    app = make_app(copilot_config(tmp_path, endpoints=ONLY_TOTALS), fake, clock)
    samples = poll(app)
    assert up(samples, "totals_1_day") == 0
    error = status(app, "totals_1_day").last_error
    assert error.startswith("rate limited: API rate limit exceeded")
    # The reset is past the run's deadline (90% of 30 minutes): not slept, remembered.
    assert "vendor asked to wait until 2026-12-02T10:30:00Z (X-RateLimit-Reset)" in error
    assert not [s for s in clock.sleeps if s > 60]
    assert app.poller.not_before("copilot/acme/totals_1_day") == DEC_2 + 1800
    assert samples['aicode_api_rate_limited_total{endpoint="totals_1_day",org="acme",'
                   'provider="copilot"}'] == 1
    app.close()


def test_a_users_file_that_is_no_ndjson_fails_and_keeps_the_last_day(tmp_path: Path) -> None:
    fake = organization_fake()
    cfg = copilot_config(tmp_path, endpoints={"repos_1_day": {"enabled": False}})
    clock = FakeClock(wall_time=DEC_2)
    app = make_app(cfg, fake, clock)
    before = poll(app)
    clock.wall_time += 7 * 3600.0  # past the re-read time: downloaded again
    html = httpx.Response(200, content=b"<html>\n<body>Service unavailable</body>\n</html>\n")
    fake.files_script["users-1-day-part-1.ndjson"] = [html]
    after = poll(app)
    assert up(after, "users_1_day") == 0
    assert "neither NDJSON nor JSON" in status(app, "users_1_day").last_error
    chat = 'aicode_daily_active_users{org="acme",provider="copilot",surface="chat"}'
    assert after[chat] == before[chat] == 2
    app.close()


def test_a_day_already_read_is_not_downloaded_again_for_a_while(tmp_path: Path) -> None:
    fake = organization_fake()
    clock = FakeClock(wall_time=DEC_2)
    app = make_app(copilot_config(tmp_path), fake, clock)
    poll(app)
    downloads = len(fake.downloads())
    clock.wall_time += 3600.0
    poll(app)
    # The 28-day report again (it is small and moves every day), the users file not.
    assert len(fake.downloads()) == downloads + 1
    assert fake.downloads()[-1].url.path.endswith("organization-28-day.json")
    app.close()


def test_the_live_totals_poll_takes_covered_days_from_the_28_day_report(
        tmp_path: Path) -> None:
    fake = organization_fake()
    app = make_app(copilot_config(tmp_path, endpoints={"users_1_day": {"enabled": False},
                                                       "repos_1_day": {"enabled": False}}),
                   fake, FakeClock(wall_time=DEC_2))
    poll(app)
    # The window ends on 2026-11-29: only the two days after it are asked for one by one.
    assert fake.asked() == [("organization-28-day/latest", ""),
                            ("organization-1-day", "2026-12-01"),
                            ("organization-1-day", "2026-11-30")]
    app.close()


def _daily_job(tmp_path: Path, fake: CopilotFake, name: str,
               **overrides: Any) -> tuple[DailyJob, ApiClient]:
    cfg = copilot_config(tmp_path, **overrides).providers[0]
    clock = FakeClock(wall_time=DEC_2)
    wiring = Wiring(telemetry=Telemetry(), users=copilot_config(tmp_path).users,
                    transport=httpx.MockTransport(fake), clock=clock.monotonic,
                    wall=clock.wall, sleep=clock.sleep)
    api = make_api(cfg, wiring)
    report = next(r for r in VENDOR.daily if r.name == name)
    return DailyJob(vendor="copilot", org="acme", fetch=report.open(cfg, api, wiring),
                    max_days=report.max_days, dated=report.dates), api


def test_the_backfill_reads_any_kept_day_with_one_request_for_the_28_days(
        tmp_path: Path) -> None:
    fake = organization_fake()
    fake.reports[("organization-1-day", "2026-10-15")] = ["organization-1-day.json"]
    job, api = _daily_job(tmp_path, fake, "totals_1_day")
    got = job.days(date(2026, 10, 14), date(2026, 12, 1), None)
    # The 28-day report gives its two days, one-day reports the rest (one day has data
    # twice over: the file's own day is 2026-11-30 whatever is asked).
    assert sorted(got) == [date(2026, 10, 15), date(2026, 11, 2), date(2026, 11, 29),
                           date(2026, 11, 30)]
    asked = fake.asked()
    assert asked.count(("organization-28-day/latest", "")) == 1
    one_day = [d for r, d in asked if r == "organization-1-day"]
    # Every day outside 2026-11-02..29 once, none inside it.
    assert len(one_day) == len(set(one_day)) == 49 - 28
    assert not any("2026-11-02" <= d <= "2026-11-29" for d in one_day)
    # Days GitHub keeps nothing for are not asked at all.
    fake.requests.clear()
    assert job.days(date(2024, 1, 1), date(2025, 12, 1), None) == {}
    assert fake.requests == []
    api.close()


def test_users_of_any_day_for_the_backfill(tmp_path: Path) -> None:
    fake = organization_fake()
    job, api = _daily_job(tmp_path, fake, "users_1_day")
    got = job.days(date(2026, 11, 28), date(2026, 11, 30), None)
    assert list(got) == [date(2026, 11, 30)]
    assert [d for r, d in fake.asked() if r == "users-1-day"] == [
        "2026-11-28", "2026-11-29", "2026-11-30"]
    api.close()


def test_link_expiry_is_read_from_the_usual_signatures() -> None:
    assert link_expiry("https://h/x?sig=a&exp=1700000000") == 1_700_000_000
    assert link_expiry("https://h/x?se=2026-12-04T10:00:00Z&sig=a") == 1_796_378_400
    assert link_expiry("https://h/x?X-Amz-Date=20261204T100000Z&X-Amz-Expires=60") == \
        1_796_378_460
    assert link_expiry("https://h/x?se=garbage") is None
    assert link_expiry("https://h/x?sig=a") is None



def test_teams_file_wins_over_github_teams_and_matches_the_id_or_the_login(
        tmp_path: Path) -> None:
    from aicode_exporter.config.file import config_model

    (tmp_path / "teams.csv").write_text("team,user_id\ncore,octocat\nweb,2000001\n")
    cfg = config_model().model_validate({
        "state_path": str(tmp_path / "state.db"), "teams": {"file": str(tmp_path / "teams.csv")},
        "providers": [{"type": "copilot", "name": "acme", "base_url": "https://api.github.test",
                       "organization": "octo-org", "api_key": TOKEN,
                       "endpoints": {"repos_1_day": {"enabled": False}}}]})
    fake = organization_fake()
    app = make_app(cfg, fake, FakeClock(wall_time=DEC_2))
    samples = poll(app)
    active = {k: v for k, v in samples.items()
              if k.startswith("aicode_daily_team_active_users{")}
    assert active == {
        'aicode_daily_team_active_users{org="acme",provider="copilot",team="core"}': 1,
        'aicode_daily_team_active_users{org="acme",provider="copilot",team="unassigned"}': 1,
        'aicode_daily_team_active_users{org="acme",provider="copilot",team="web"}': 1}
    assert not any(r == "user-teams-1-day" for r, _ in fake.asked())
    # Per-user series are off by default.
    assert not any(k.startswith("aicode_daily_user_") for k in samples)
    app.close()
