"""The running App pushes over OTLP exactly what /metrics serves: every family under its
name (counters without _total) with equal values, a stream counter's start time unchanged
by a restart, and a dead receiver counted as failures while /metrics keeps serving."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from aicode_exporter.app import App
from aicode_exporter.config.file import Config, config_model
from aicode_sim import Simulator
from tests.support import exposition
from tests.support.fakes import make_app, sim_transport
from tests.support.otlp_receivers import HttpReceiver, decode_received
from tests.support.processes import free_port


def labels_of(series: str) -> dict[str, str]:
    inner = series.partition("{")[2].rstrip("}")
    return dict(re.findall(r'(\w+)="([^"]*)"', inner))


def config(tmp_path: Path, endpoint: str) -> Config:
    return config_model().model_validate({
        "state_path": str(tmp_path / "state.db"),
        "otlp": {"endpoint": endpoint, "interval": "1s", "timeout": "1s",
                 "compression": "gzip"},
        "providers": [{"type": "cursor", "name": "sim", "base_url": "http://sim",
                       "api_key": "sim-key", "rate_limit_per_minute": 6000}]})


def run_app(tmp_path: Path, sim: Simulator, endpoint: str) -> tuple[App, str]:
    app = make_app(config(tmp_path, endpoint), sim_transport(sim))
    app.poller.poll_all_once()
    port = free_port()
    app.start(f"127.0.0.1:{port}")
    return app, f"http://127.0.0.1:{port}/metrics"


def test_the_push_equals_metrics_and_start_times_survive_a_restart(tmp_path: Path) -> None:
    sim = Simulator(users=10, repos=3, cursor_rate_limit_per_minute=10_000)
    starts = []
    with HttpReceiver() as receiver:
        for _ in range(2):  # a restart between the two runs
            receiver.clear()
            app, url = run_app(tmp_path, sim, receiver.url)
            try:
                served = exposition.parse(httpx.get(url).content)
                got = decode_received(receiver.wait(1, timeout=15)).metrics
            finally:
                app.stop()
            counters = [k for k in served if k.startswith("aicode_changes_total{")]
            assert counters
            for key in served:
                name = key.split("{")[0]
                if name.startswith(("process_", "python_", "aicode_otlp_", "aicode_stream_lag",
                                    "aicode_poll", "aicode_last_success", "aicode_api_")):
                    continue  # move between the scrape and the push
                otlp_name = name.removesuffix("_total")
                assert otlp_name in got, name
            changes = got["aicode_changes"]
            assert changes.kind == "sum" and changes.is_monotonic
            assert changes.temporality == "CUMULATIVE"
            pushed = {tuple(sorted(p.attributes.items())): p for p in changes.points}
            for key in counters:
                labels = tuple(sorted(labels_of(key).items()))
                assert pushed[labels].value == served[key]
            starts.append({k: p.start_time_unix_nano for k, p in pushed.items()})
    assert starts[0] == starts[1] and all(starts[0].values())


def test_a_dead_receiver_is_counted_while_metrics_keeps_serving(tmp_path: Path) -> None:
    sim = Simulator(users=5, repos=2, cursor_rate_limit_per_minute=10_000)
    app, url = run_app(tmp_path, sim, f"http://127.0.0.1:{free_port()}")
    try:
        deadline = time.monotonic() + 20
        failures = 0.0
        while time.monotonic() < deadline and failures < 2:
            t0 = time.monotonic()
            r = httpx.get(url, timeout=5)
            assert r.status_code == 200 and time.monotonic() - t0 < 1
            failures = exposition.parse(r.content).get(
                'aicode_otlp_exports_total{result="failure"}', 0.0)
            time.sleep(0.5)
        assert failures >= 2
        page = httpx.get(url.removesuffix("metrics")).text
        assert "OTLP push to http://127.0.0.1:" in page and "failure" in page
    finally:
        app.stop()
