"""The simulated GitHub Copilot usage metrics reports: the twelve endpoints of both scopes,
files on a download host of their own, consistent figures, the documented lag and "no
report yet" answers, expiring links, the policy switch, the REST rate limit, a year of
history; and the exporter against it over real sockets, its token never reaching the
download host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from aicode_exporter.app import App
from aicode_sim import Simulator
from aicode_sim.copilot.api import UNSERVED_DOWNLOADS
from tests.support import exposition
from tests.support.fakes import FakeClock, make_app, make_config

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # 2026-12-02 is the newest day (30 h lag)
NEWEST = date(2026, 12, 2)
AUTH = {"Authorization": "Bearer sim-key", "X-GitHub-Api-Version": "2026-03-10"}
ORG = "/orgs/sim-org/copilot/metrics/reports/"
ENT = "/enterprises/sim-enterprise/copilot/metrics/reports/"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make(users: int = 30, **options: Any) -> tuple[Simulator, Clock]:
    clock = Clock()
    sim = Simulator(users=users, repos=8, days=2, now=clock,
                    vendor_options={"copilot": options})
    return sim, clock


def get(sim: Simulator, path: str, headers: dict[str, str] | None = None,
        **query: str) -> tuple[int, dict[str, str], bytes]:
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    status, head, body = sim.app("GET", target, AUTH if headers is None else headers, b"")
    return status, head, b"".join(body)


def download(sim: Simulator, link: str, headers: dict[str, str] | None = None
             ) -> tuple[int, bytes]:
    parts = urlsplit(link)
    assert link.startswith(UNSERVED_DOWNLOADS)
    status, _, body = sim.app("GET", f"{parts.path}?{parts.query}",
                              {"host": parts.netloc, **(headers or {})}, b"",
                              vendor="copilot")
    return status, b"".join(body)


def report(sim: Simulator, path: str, **query: str) -> tuple[dict[str, Any], list[Any]]:
    """Metadata and the records of every file."""
    status, _, body = get(sim, path, **query)
    assert status == 200, body
    meta = json.loads(body)
    records = []
    for link in meta["download_links"]:
        status, data = download(sim, link)
        assert status == 200, data
        records += [json.loads(line) for line in data.splitlines() if line.strip()]
    return meta, records


@pytest.fixture
def sim() -> Simulator:
    return make()[0]


@pytest.mark.parametrize(("scope", "name", "daily"), [
    (ORG, "organization-1-day", True), (ORG, "organization-28-day/latest", False),
    (ORG, "users-1-day", True), (ORG, "users-28-day/latest", False),
    (ORG, "user-teams-1-day", True), (ORG, "repos-1-day", True),
    (ENT, "enterprise-1-day", True), (ENT, "enterprise-28-day/latest", False),
    (ENT, "users-1-day", True), (ENT, "users-28-day/latest", False),
    (ENT, "user-teams-1-day", True), (ENT, "repos-1-day", True)])
def test_every_endpoint_links_to_files_on_the_download_host(sim: Simulator, scope: str,
                                                            name: str, daily: bool) -> None:
    meta, records = report(sim, scope + name, **({"day": "2026-12-01"} if daily else {}))
    assert records and all(isinstance(r, dict) for r in records)
    assert all(link.startswith(UNSERVED_DOWNLOADS + "/downloads/")
               for link in meta["download_links"])
    if daily:
        assert meta["report_day"] == "2026-12-01"
    else:
        assert (meta["report_start_day"], meta["report_end_day"]) == ("2026-11-05",
                                                                     "2026-12-02")
    enterprise_scope = scope == ENT
    for r in records:
        assert r["enterprise_id"] == "12345" if "enterprise_id" in r else True
        assert ("organization_id" in r) is (not enterprise_scope) or name == "user-teams-1-day"
    if name.endswith("28-day/latest") and "users" not in name:
        (window,) = records
        assert len(window["day_totals"]) == 28
        assert window["day_totals"][-1]["day"] == "2026-12-02"
    if name == "users-28-day/latest":
        assert {r["day"] for r in records} <= {
            (NEWEST - timedelta(days=n)).isoformat() for n in range(28)}
        assert all(r["report_end_day"] == "2026-12-02" for r in records)


def test_the_day_totals_are_the_sum_of_the_users_and_repositories(sim: Simulator) -> None:
    _, (day,) = report(sim, ORG + "organization-1-day", day="2026-12-01")
    _, users = report(sim, ORG + "users-1-day", day="2026-12-01")
    _, repos = report(sim, ORG + "repos-1-day", day="2026-12-01")
    people = {u["user_id"] for u in users}
    assert day["daily_active_users"] == len(people) > 0
    assert len(users) == len(people) + 1  # one person's day split over two files
    for figure in ("code_generation_activity_count", "code_acceptance_activity_count",
                   "loc_added_sum", "user_initiated_interaction_count"):
        assert day[figure] == sum(u[figure] for u in users), figure
        assert day[figure] == sum(f[figure] for f in day["totals_by_feature"])
        assert day[figure] == sum(i[figure] for i in day["totals_by_ide"])
    chat = {u["user_id"] for u in users if u["used_chat"]}
    assert day["monthly_active_chat_users"] >= len(chat)
    assert day["monthly_active_users"] >= day["weekly_active_users"] >= len(people)
    assert day["pull_requests"]["total_created"] == sum(
        r["pull_requests"]["total_created"] for r in repos)
    assert all(r["repo_owner_name"] and r["repo_name"] for r in repos)
    assert all(isinstance(u["user_login"], str) and u["user_login"] for u in users)


@pytest.mark.parametrize("users", [8, 30])
def test_a_small_organisation_has_every_figure_every_day(users: int) -> None:
    """The demo and the tests read whichever day is newest: weekends and quiet days too
    must carry CLI use, agent apps, cloud agents, reviews and merged pull requests."""
    sim = make(users=users)[0]
    for offset in range(42):
        day = NEWEST - timedelta(days=offset)
        _, (record,) = report(sim, ORG + "organization-1-day", day=day.isoformat())
        assert record["daily_active_cli_users"] > 0, day
        assert record["totals_by_cli"] and record["totals_by_3rd_party_agent"], day
        for flag in ("copilot_cloud_agent", "copilot_code_review"):
            assert record[f"daily_active_{flag}_users"] > 0, (day, flag)
        assert record["daily_passive_copilot_code_review_users"] > 0, day
        pr = record["pull_requests"]
        for median in ("median_minutes_to_merge", "median_minutes_to_merge_copilot_authored",
                       "median_minutes_to_merge_copilot_reviewed"):
            assert pr[median] is not None, (day, median)


def test_github_teams_name_the_same_logins_and_leave_out_small_teams(sim: Simulator) -> None:
    _, rows = report(sim, ORG + "user-teams-1-day", day="2026-12-01")
    per_team: dict[str, set[int]] = {}
    for r in rows:
        per_team.setdefault(r["slug"], set()).add(r["user_id"])
    assert per_team and min(len(v) for v in per_team.values()) >= 5
    logins = {p.github_id: p.github_login for p in sim.population.people}
    assert all(logins[r["user_id"]] == r["user_login"] for r in rows)
    small = make(users=8)[0]
    assert report(small, ORG + "user-teams-1-day", day="2026-12-01")[1] == []


@pytest.mark.parametrize(("scope", "name", "code"), [
    (ORG, "organization-1-day", 204), (ORG, "users-1-day", 204),
    (ORG, "user-teams-1-day", 204), (ORG, "repos-1-day", 204),
    (ENT, "repos-1-day", 204), (ENT, "enterprise-1-day", 404), (ENT, "users-1-day", 404),
    (ENT, "user-teams-1-day", 404)])
def test_a_day_not_ready_answers_as_github_documents(sim: Simulator, scope: str,
                                                     name: str, code: int) -> None:
    assert get(sim, scope + name, day="2026-12-02")[0] == 200
    status, _, body = get(sim, scope + name, day="2026-12-03")
    assert status == code and (body == b"" if code == 204 else b"Not Found" in body)


@pytest.mark.parametrize(("mode", "code", "body"), [
    ("body", 200, b'"No report available"'), ("404", 404, None), ("204", 204, b"")])
def test_not_ready_can_be_switched(mode: str, code: int, body: bytes | None) -> None:
    sim, _ = make(not_ready=mode)
    status, _, got = get(sim, ENT + "enterprise-1-day", day="2026-12-03")
    assert status == code and (body is None or got == body)


def test_the_lag_moves_with_the_clock() -> None:
    sim, clock = make(lag_hours=6)
    assert get(sim, ORG + "organization-1-day", day="2026-12-03")[0] == 200  # 12:00 > 06:00
    clock.now = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    assert get(sim, ORG + "organization-1-day", day="2026-12-03")[0] == 204


def test_a_year_of_history_and_no_more(sim: Simulator) -> None:
    year_ago = (NOW.date() - timedelta(days=350)).isoformat()
    assert report(sim, ORG + "organization-1-day", day=year_ago)[1][0]["day"] == year_ago
    assert get(sim, ORG + "organization-1-day", day="2025-11-30")[0] == 404
    assert get(sim, ORG + "repos-1-day", day="2026-07-01")[0] == 204  # before repos GA


@pytest.mark.parametrize(("query", "code"), [({}, 400), ({"day": "2026-13-01"}, 400),
                                             ({"day": "yesterday"}, 400)])
def test_a_missing_or_malformed_day_is_a_400(sim: Simulator, query: dict[str, str],
                                             code: int) -> None:
    status, _, body = get(sim, ORG + "users-1-day", **query)
    assert status == code and json.loads(body)["documentation_url"].startswith("https://")


def test_auth_scope_and_version(sim: Simulator) -> None:
    assert get(sim, ORG + "organization-28-day/latest", headers={})[0] == 401
    bad = {"Authorization": "Bearer nope"}
    status, _, body = get(sim, ORG + "organization-28-day/latest", headers=bad)
    assert status == 401 and json.loads(body)["message"] == "Bad credentials"
    assert get(sim, ORG + "organization-28-day/latest",
               headers={"Authorization": "token sim-key"})[0] == 200
    assert get(sim, "/orgs/other-org/copilot/metrics/reports/organization-28-day/latest")[0] \
        == 404
    assert get(sim, ORG + "enterprise-1-day", day="2026-12-01")[0] == 404  # wrong scope
    old = {**AUTH, "X-GitHub-Api-Version": "2021-01-01"}
    assert get(sim, ORG + "organization-28-day/latest", headers=old)[0] == 400


def test_the_policy_switch_answers_403(sim: Simulator) -> None:
    sim.api("copilot").policy_enabled = False
    status, _, body = get(sim, ORG + "users-1-day", day="2026-12-01")
    assert status == 403 and "policy" in json.loads(body)["message"]
    sim.api("copilot").policy_enabled = True
    assert get(sim, ORG + "users-1-day", day="2026-12-01")[0] == 200


def test_rate_limit_headers_and_the_limit() -> None:
    sim, _ = make(rate_limit_per_hour=3)
    seen = []
    for _ in range(3):
        status, head, _ = get(sim, ORG + "organization-28-day/latest")
        seen.append((status, head["X-RateLimit-Remaining"], head["X-RateLimit-Used"]))
    assert seen == [(200, "2", "1"), (200, "1", "2"), (200, "0", "3")]
    status, head, body = get(sim, ORG + "organization-28-day/latest")
    assert status == 403 and head["X-RateLimit-Remaining"] == "0"
    assert head["X-RateLimit-Reset"] == str(int(datetime(2026, 12, 4, 13, tzinfo=UTC)
                                                .timestamp()))
    assert "rate limit exceeded" in json.loads(body)["message"]


def test_links_expire_and_signatures_are_checked() -> None:
    sim, clock = make(link_ttl_seconds=60)
    status, _, body = get(sim, ORG + "organization-1-day", day="2026-12-01")
    link = json.loads(body)["download_links"][0]
    assert download(sim, link)[0] == 200
    assert download(sim, link.replace("sig=", "sig=0"))[0] == 403
    clock.now += timedelta(seconds=61)
    status, data = download(sim, link)
    assert status == 403 and b"AuthenticationFailed" in data
    assert download(sim, UNSERVED_DOWNLOADS + "/downloads/nope?exp=1&sig=x")[0] == 404


def test_the_api_is_not_served_on_the_download_host(sim: Simulator) -> None:
    status, _, _ = sim.app("GET", ORG + "organization-28-day/latest",
                           {**AUTH, "host": urlsplit(UNSERVED_DOWNLOADS).netloc}, b"",
                           vendor="copilot")
    assert status == 404


def test_legacy_fields_are_there_when_asked() -> None:
    sim, _ = make(legacy_fields=True)
    _, (day,) = report(sim, ORG + "organization-1-day", day="2026-12-01")
    assert "chat_panel_agent_mode" in day and "chat_panel_ask_mode" in day
    _, (plain,) = report(make()[0], ORG + "organization-1-day", day="2026-12-01")
    assert "chat_panel_agent_mode" not in plain


def test_the_same_seed_gives_the_same_bytes() -> None:
    one = [report(make()[0], ORG + "users-1-day", day="2026-11-20")[1] for _ in range(2)]
    assert one[0] == one[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(users=30, repos=8, days=2) as sim:
        yield sim


def test_the_exporter_sends_no_token_to_the_download_host(tmp_path: Path) -> None:
    sim, _ = make()
    download_host = urlsplit(UNSERVED_DOWNLOADS).netloc

    def handle(request: httpx.Request) -> httpx.Response:
        vendor = "copilot" if request.url.host == download_host else None
        status, headers, body = sim.app(request.method, request.url.raw_path.decode(),
                                        dict(request.headers), request.content, vendor=vendor)
        return httpx.Response(status, headers=headers, content=b"".join(body))

    cfg = make_config(tmp_path, [{"type": "copilot", "name": "acme", "base_url": "http://sim",
                                  "enterprise": "sim-enterprise", "api_key": "sim-key"}])
    clock = FakeClock(wall_time=NOW.timestamp())
    samples = exposition.parse(make_app(cfg, handle, clock).run_once().decode())
    assert samples['aicode_daily_date_timestamp_seconds{org="acme",provider="copilot"}'] == \
        datetime(2026, 12, 2, tzinfo=UTC).timestamp()
    downloads = sim.api("copilot").downloads
    assert {d.path.split("/")[4] for d in downloads} == {"window", "users", "teams", "repos"}
    assert all(d.status == 200 and d.authorization is None and d.other_auth_headers == ()
               for d in downloads)


@pytest.mark.slow  # real sockets, a second or so
def test_the_exporter_over_sockets_sends_no_token_to_the_download_host(
        served: Simulator, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, [{"type": "copilot", "name": "acme", "base_url": served.url,
                                  "organization": "sim-org", "api_key": "sim-key",
                                  "rate_limit_per_minute": 6000}],
                      {"label": "name", "per_user_counters": True})
    app = App(cfg)
    try:
        samples = exposition.parse(app.run_once().decode())
    finally:
        app.close()
    for endpoint in ("totals_1_day", "totals_28_day", "users_1_day", "repos_1_day"):
        key = f'aicode_up{{endpoint="{endpoint}",org="acme",provider="copilot"}}'
        assert samples[key] == 1, endpoint
    downloads = served.api("copilot").downloads
    assert len(downloads) >= 5 and all(d.status == 200 for d in downloads)
    assert all(d.authorization is None and d.other_auth_headers == () for d in downloads)
    assert any(k.startswith("aicode_daily_user_lines_accepted{") for k in samples)
