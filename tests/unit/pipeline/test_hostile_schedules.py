"""Hostile vendors against the poller: a long Retry-After is remembered and the
endpoint's runs skipped until it passes (aicode_up 0 with the reason, no knocking, no
other endpoint held up); one hanging or trickling aggregate endpoint never marks the
others down."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_sim import Simulator
from tests.support.fakes import QODER_NO_STREAMS, FakeClock, QoderFake, make_app, qoder_config

KEY = ("qoder", "acme")
OVERVIEW = "/ai-code/stats/overview"
AGGREGATES = ("overview", "daily_trend", "member_ranking", "repos", "file_extensions")
NO_STREAMS = QODER_NO_STREAMS


def too_many(retry_after: str, n: int = 1) -> list[httpx.Response | Exception]:
    return [httpx.Response(429, headers={"Retry-After": retry_after},
                           json={"code": "TooManyRequests", "message": "quota"})
            for _ in range(n)]


def qoder_app(tmp_path: Path, fake: QoderFake, **cfg: Any) -> tuple[App, FakeClock]:
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path, **cfg), fake, clock)
    return app, clock


def requests_to(fake: QoderFake, suffix: str) -> int:
    return sum(1 for p in fake.paths() if p == suffix)


def test_a_long_retry_after_skips_the_endpoints_runs_until_it_passes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = QoderFake(script={OVERVIEW: too_many("3600")})
    app, clock = qoder_app(tmp_path, fake, endpoints=NO_STREAMS)  # 5 min interval
    caplog.set_level(logging.DEBUG)
    poller, overview = app.poller, "qoder/acme/overview"
    poller.poll_all_once()
    st = app.telemetry.statuses()[(*KEY, "overview")]
    assert st.up is False and clock.sleeps == []  # not slept: raised at once
    assert "vendor asked to wait until 2025-06-04T02:20:00Z (Retry-After)" in st.last_error
    assert poller.not_before(overview) == pytest.approx(clock.wall_time + 3600)

    for _ in range(11):  # 55 minutes of scheduled runs
        clock.sleep(300)
        poller.poll_all_once()
    assert requests_to(fake, OVERVIEW) == 1  # never knocked again
    st = app.telemetry.statuses()[(*KEY, "overview")]
    assert st.up is False
    assert st.last_error == "vendor asked to wait until 2025-06-04T02:20:00Z (Retry-After)"
    assert all(app.telemetry.statuses()[(*KEY, ep)].up for ep in AGGREGATES[1:])
    assert requests_to(fake, "/ai-code/stats/daily-trend") == 12  # the others went on
    skipped = [r for r in caplog.records if "run skipped" in r.getMessage()]
    assert len(skipped) == 11 and {r.levelno for r in skipped} == {logging.DEBUG}

    clock.sleep(300)  # an hour has passed
    poller.poll_all_once()
    assert requests_to(fake, OVERVIEW) == 2
    assert app.telemetry.statuses()[(*KEY, "overview")].up is True
    assert poller.not_before(overview) is None
    app.close()


def test_an_aggregate_remembers_retry_after_between_polls(tmp_path: Path) -> None:
    """A 1 s poll interval and a vendor asking for 60 s: one request a minute, not one a
    second (each run's deadline is shorter than the wait, so none of them sleeps it)."""
    fake = QoderFake(script={OVERVIEW: too_many("60", 100)})
    app, clock = qoder_app(tmp_path, fake, poll_interval="1s", rate_limit_per_minute=6000,
                          endpoints=NO_STREAMS)
    for _ in range(30):
        app.poller.run_endpoint("qoder/acme/overview")
        clock.sleep(1)
    assert requests_to(fake, OVERVIEW) == 1
    for _ in range(40):
        app.poller.run_endpoint("qoder/acme/overview")
        clock.sleep(1)
    assert requests_to(fake, OVERVIEW) == 2
    app.close()


def test_a_stream_told_to_wait_fails_at_once_and_the_other_stream_goes_on(
        tmp_path: Path) -> None:
    fake = QoderFake(script={"/ai-code-tracking/changes": too_many("7200")})
    app, clock = qoder_app(tmp_path, fake, endpoints={
        "changes": {"format": "json"}, "commits": {"format": "json"}})
    t0 = clock.monotonic()
    app.poller.run_endpoint("qoder/acme/changes")
    app.poller.run_endpoint("qoder/acme/commits")
    st = app.telemetry.statuses()
    assert st[(*KEY, "changes")].up is False and clock.monotonic() - t0 < 300
    assert "(Retry-After)" in st[(*KEY, "changes")].last_error
    # The other stream read as usual: not held up, not told to wait.
    assert requests_to(fake, "/ai-code-tracking/commits") >= 1
    assert "Retry-After" not in st[(*KEY, "commits")].last_error
    before = requests_to(fake, "/ai-code-tracking/changes")
    clock.sleep(300)
    app.poller.run_endpoint("qoder/acme/changes")
    assert requests_to(fake, "/ai-code-tracking/changes") == before
    app.close()


# -- real scheduler, real time --------------------------------------------------------------

def run_a_while(app: App, seconds: float) -> None:
    app.poller.start()
    end = time.monotonic() + 5
    while not all(app.telemetry.statuses()[(*KEY, ep)].up is not None
                  for ep in AGGREGATES[1:]) and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(seconds)


def fast_config(tmp_path: Path, **cfg: Any) -> Any:
    """Aggregates only, polled every second: a run's deadline is 0.9 s."""
    return qoder_config(tmp_path, poll_interval="1s", rate_limit_per_minute=6000,
                        endpoints=NO_STREAMS, **cfg)


def overview_app(tmp_path: Path,
                 overview: Callable[[httpx.Request], httpx.Response | None]) -> App:
    """An App whose vendor answers the overview with `overview` (None: as usual, once it
    returns) and every other endpoint as usual."""
    fake = QoderFake()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(OVERVIEW):
            answer = overview(request)
            if answer is not None:
                return answer
        return fake(request)

    return make_app(fast_config(tmp_path), handler)


def assert_others_fresh(app: App) -> None:
    st = app.telemetry.statuses()
    for ep in AGGREGATES[1:]:
        s = st[(*KEY, ep)]
        assert s.up is True, (ep, s.last_error)
        assert s.last_success is not None and time.time() - s.last_success < 2.5, ep


@pytest.mark.slow
def test_a_hanging_overview_keeps_the_other_aggregates_up_and_fresh(tmp_path: Path) -> None:
    release = threading.Event()

    def hang(request: httpx.Request) -> None:
        # A vendor that never answers this one (MockTransport has no socket to time out).
        release.wait(10)

    app = overview_app(tmp_path, hang)
    try:
        run_a_while(app, 3.0)
        assert app.telemetry.statuses()[(*KEY, "overview")].up is None  # still hanging
        assert_others_fresh(app)
    finally:
        release.set()
        app.stop()


class RealTrickle(httpx.SyncByteStream):
    """One byte every 0.1 s of real time, for up to `seconds`."""

    def __init__(self, stop: threading.Event, seconds: float = 10.0) -> None:
        self.stop, self.seconds = stop, seconds

    def __iter__(self) -> Iterator[bytes]:
        end = time.monotonic() + self.seconds
        while time.monotonic() < end and not self.stop.wait(0.1):
            yield b" "
        yield b"{}"


@pytest.mark.slow
def test_a_trickling_overview_fails_within_its_deadline_and_the_others_stay_up(
        tmp_path: Path) -> None:
    stop = threading.Event()
    app = overview_app(tmp_path, lambda request: httpx.Response(
        200, headers={"content-type": "application/json"}, stream=RealTrickle(stop)))
    try:
        run_a_while(app, 2.5)
        overview = app.telemetry.statuses()[(*KEY, "overview")]
        assert overview.up is False  # ended by its 0.9 s deadline, not hanging
        assert "response took longer than" in overview.last_error
        assert_others_fresh(app)
        text = app.publisher.render().text.decode()
        assert 'aicode_api_requests_total{code="error",endpoint="overview"' in text
    finally:
        stop.set()
        app.stop()


@pytest.mark.slow
def test_an_overview_trickling_its_headers_over_a_real_socket_fails_in_time(
        tmp_path: Path) -> None:
    """The simulator sends the overview's status line and headers ten bytes a second,
    each byte well within a per-read timeout: only the request's total budget ends it."""
    sim = Simulator(users=12, repos=5, days=20)
    sim.faults.mode("drip", rf"{OVERVIEW}$", rate=10, head=1)
    sim.start()
    app = App(fast_config(tmp_path, base_url=sim.url, organization_id="org_sim",
                          api_key="sim-key"))
    try:
        run_a_while(app, 2.5)
        overview = app.telemetry.statuses()[(*KEY, "overview")]
        assert overview.up is False, overview.last_error
        assert "response took longer than" in overview.last_error
        assert_others_fresh(app)
    finally:
        app.stop()
        sim.stop()
