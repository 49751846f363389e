"""Per-endpoint independence: a failure keeps last good values and flips only its own
aicode_up; series that vanish upstream vanish from /metrics."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.jobs import Endpoint, Outcome, PollContext, ProviderRuntime
from aicode_exporter.pipeline.poller import Poller
from tests.support.exposition import parse as samples
from tests.support.fakes import FakeClock, QoderFake, make_app, qoder_config


def qoder_app(tmp_path: Path, fake: QoderFake, **cfg: object) -> tuple[App, FakeClock]:
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path, **cfg), fake, clock)
    return app, clock


UP = 'aicode_up{{endpoint="{}",org="acme",provider="qoder"}}'
SHARE = 'aicode_ai_share_ratio{org="acme",provider="qoder",window="7d"}'
REPO = 'aicode_repo_commits{{org="acme",provider="qoder",repo="{}",window="7d"}}'


def poll(app: App) -> dict[str, float]:
    app.poller.poll_all_once()
    return samples(app.publisher.snapshot.text)


def test_failed_endpoint_keeps_values_and_only_its_up_drops(tmp_path: Path) -> None:
    fake = QoderFake()
    app, _ = qoder_app(tmp_path, fake)
    first = poll(app)
    assert first[SHARE] == 0.3 and first[UP.format("overview")] == 1
    fake.script["/ai-code/stats/overview"] = [httpx.Response(500, json={"code": "x"})] * 10
    fake.script["/ai-code/repos"] = [httpx.Response(200, json={"repos": [
        {"repoName": "new-repo", "commitCount": 7, "totalLinesAdded": 70}], "totalCount": 1})]
    second = poll(app)
    assert second[SHARE] == 0.3  # last good value still served
    assert second[UP.format("overview")] == 0
    assert all(second[UP.format(ep)] == 1 for ep in
               ("daily_trend", "member_ranking", "repos", "file_extensions"))
    assert second[REPO.format("new-repo")] == 7
    assert REPO.format("my-project") not in second  # vanished upstream -> gone
    assert 'aicode_api_requests_total{code="500",endpoint="overview",org="acme",' \
           'provider="qoder"}' in second
    app.close()


def test_one_window_failing_keeps_that_window_and_publishes_the_other(tmp_path: Path) -> None:
    fake = QoderFake()
    app, _ = qoder_app(tmp_path, fake, windows=["1d", "7d"])
    poll(app)
    fake.script["/ai-code/stats/overview"] = [
        httpx.Response(200, json={"aiShareRate": 50.0}),
        httpx.Response(400, json={"code": "BadRequest", "message": "nope"}),
    ]
    got = poll(app)
    assert got[SHARE.replace("7d", "1d")] == 0.5
    assert got[SHARE] == 0.3
    assert got[UP.format("overview")] == 0
    lines = app.telemetry.statuses()[("qoder", "acme", "overview")].last_error
    assert "window 7d" in lines and "BadRequest" in lines
    app.close()


def test_disabled_endpoints_are_not_requested(tmp_path: Path) -> None:
    fake = QoderFake()
    app, _ = qoder_app(tmp_path, fake, endpoints={"member_ranking": {"enabled": False},
                                                 "repos": {"enabled": False}})
    got = poll(app)
    assert not any("member-ranking" in p or p.endswith("/repos") for p in fake.paths())
    assert UP.format("repos") not in got and UP.format("overview") in got
    app.close()


def test_auth_failure_stops_after_first_window(tmp_path: Path) -> None:
    fake = QoderFake()
    fake.key = "rotated"
    app, _ = qoder_app(tmp_path, fake, windows=["1d", "7d", "30d"])
    got = poll(app)
    overview_calls = [p for p in fake.paths() if p == "/ai-code/stats/overview"]
    assert len(overview_calls) == 1
    assert got[UP.format("overview")] == 0
    assert got['aicode_api_requests_total{code="401",endpoint="overview",org="acme",'
               'provider="qoder"}'] == 1
    app.close()


def test_user_label_modes(tmp_path: Path) -> None:
    key = tmp_path / "hmac"
    key.write_text("0123456789abcdef-secret")
    from aicode_exporter.config.base import UsersConfig
    from aicode_exporter.pipeline.userlabels import UserLabeler

    base = {"user_id": "user_abc123", "email": "Alice@Example.com", "name": "Alice"}
    assert UserLabeler(UsersConfig(label="email")).label(**base) == "Alice@Example.com"
    assert UserLabeler(UsersConfig(label="id")).label(**base) == "user_abc123"
    assert UserLabeler(UsersConfig(label="name")).label(**base) == "Alice"
    assert UserLabeler(UsersConfig(label="name")).label(user_id="u9", name="") == "u9"
    h = UserLabeler(UsersConfig(label="hmac", hmac_key_file=key))
    a = h.label(**base)
    assert len(a) == 16 and a == h.label(user_id="other-id", email="alice@example.com")
    assert "alice" not in a
    assert not UserLabeler(UsersConfig(label="none")).enabled


def test_an_endpoint_asking_for_a_longer_interval_is_scheduled_so() -> None:
    quick = Endpoint("quick", lambda ctx: Outcome())
    hourly = Endpoint("hourly", lambda ctx: Outcome(), interval=timedelta(hours=1))
    short = Endpoint("short", lambda ctx: Outcome(), interval=timedelta(seconds=1))
    p = ProviderRuntime("v", "o", timedelta(minutes=5), [quick, hourly, short])
    assert [p.interval_of(ep) for ep in (quick, hourly, short)] == [
        timedelta(minutes=5), timedelta(hours=1), timedelta(minutes=5)]
    poller = Poller([p], Publisher(), Telemetry())
    poller.start()
    try:
        sched = poller._scheduler
        assert sched is not None
        got = {j: sched.get_job(j).trigger.interval for j in ("v/o/quick", "v/o/hourly")}
    finally:
        poller.stop()
    assert got == {"v/o/quick": timedelta(minutes=5), "v/o/hourly": timedelta(hours=1)}


def test_stop_waits_for_its_own_runs_not_for_other_threads() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def slow(ctx: PollContext) -> Outcome:
        started.set()
        release.wait(5)
        finished.append("slow")
        return Outcome()

    done = threading.Event()
    foreign = threading.Thread(target=done.wait, args=(60,), daemon=False)
    foreign.start()  # someone else's thread, still running when the poller stops
    p = ProviderRuntime("v", "o", timedelta(minutes=5), [Endpoint("slow", slow)])
    poller = Poller([p], Publisher(), Telemetry())
    poller.start()
    try:
        assert started.wait(5)
        threading.Timer(0.2, release.set).start()
        t0 = time.monotonic()
        poller.stop(grace=30)
        # It waited for its run (released after 0.2 s), not for the foreign thread (which
        # would have held it the whole grace).
        assert finished == ["slow"] and foreign.is_alive()
        assert time.monotonic() - t0 < 15
    finally:
        release.set()
        done.set()
        foreign.join()


@pytest.mark.slow  # a slow vendor in real time
def test_poll_all_once_says_what_a_slow_endpoint_waits_for(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = QoderFake()

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ai-code/stats/overview"):
            time.sleep(0.4)  # the vendor takes its time
        return fake(request)

    app = make_app(qoder_config(tmp_path), slow, FakeClock())
    with caplog.at_level(logging.INFO, logger="aicode_exporter.pipeline.poller"):
        app.poller.poll_all_once(report_after=0.1)
    still = [r for r in caplog.records if r.getMessage() == "still polling"]
    slow_ones = [r for r in still if r.endpoint == "overview"]  # type: ignore[attr-defined]
    assert slow_ones, caplog.text
    assert slow_ones[0].doing == "waiting for http://qoder.test"  # type: ignore[attr-defined]
    before = len(still)
    app.poller.poll_all_once()  # without report_after: silent
    assert len([r for r in caplog.records if r.getMessage() == "still polling"]) == before
    app.close()
