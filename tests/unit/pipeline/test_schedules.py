"""Every (provider, endpoint) on its own schedule: a stream stuck in a long read never
delays the aggregates, readiness does not wait for it, and its skipped runs are counted,
not logged as warnings."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.fakes import QoderFake, make_app, qoder_config

KEY = ("qoder", "acme")


@pytest.mark.slow
def test_a_slow_stream_never_delays_the_aggregates(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    fake = QoderFake()
    release = threading.Event()
    served = fake.__call__

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ai-code-tracking/changes"):
            release.wait(10)  # a vendor that takes its time (or a long paced backfill)
        return served(request)

    cfg = qoder_config(tmp_path, poll_interval="1s", rate_limit_per_minute=6000,
                       endpoints={"commits": {"enabled": False}})
    app = make_app(cfg, handler)
    caplog.set_level(logging.DEBUG)
    try:
        app.poller.start()
        deadline = time.monotonic() + 5
        while not app.poller.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.poller.ready  # the stream is still in its first read
        time.sleep(3.5)
        st = app.telemetry.statuses()
        assert st[(*KEY, "changes")].up is None  # still running
        overview = st[(*KEY, "overview")]
        assert overview.up and overview.last_success is not None
        assert time.time() - overview.last_success < 2.5  # refreshed every interval
        overview_polls = sum(v for k, v in app.telemetry._requests.items()
                             if k[2] == "overview")
        assert overview_polls >= 3
        text = app.publisher.render().text.decode()
        coalesced = [line for line in text.splitlines() if line.startswith(
            'aicode_polls_coalesced_total{endpoint="changes"')]
        assert coalesced and float(coalesced[0].rpartition(" ")[2]) >= 2
        assert not [r for r in caplog.records if r.name.startswith("apscheduler")
                    and r.levelno >= logging.WARNING]
        assert any("coalesced" in r.getMessage() and vars(r).get("endpoint") == "changes"
                   for r in caplog.records)
    finally:
        release.set()
        app.stop()
