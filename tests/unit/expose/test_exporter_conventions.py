"""What an exporter user types without looking: several listen addresses, another
telemetry path, no process_*/python_* metrics on request, 405 with Allow for methods
other than GET and HEAD."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.server import check_telemetry_path
from tests.support.fakes import FakeClock, QoderFake, make_app, qoder_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_several_listen_addresses_and_another_telemetry_path(tmp_path: Path) -> None:
    app = make_app(qoder_config(tmp_path), QoderFake(), FakeClock())
    ports = [_free_port(), _free_port()]
    app.start([f"127.0.0.1:{p}" for p in ports], metrics_path="/x/metrics")
    try:
        for port in ports:
            url = f"http://127.0.0.1:{port}"
            assert b"aicode_exporter_build_info" in httpx.get(f"{url}/x/metrics").content
            assert httpx.get(f"{url}/metrics").status_code == 404
            assert 'href="x/metrics"' in httpx.get(f"{url}/").text
            assert httpx.get(f"{url}/-/healthy").status_code == 200
    finally:
        app.stop()


def test_a_second_address_that_cannot_be_bound_closes_the_first(tmp_path: Path) -> None:
    app = make_app(qoder_config(tmp_path), QoderFake(), FakeClock())
    port = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with pytest.raises(OSError) as e:
            app.start([f"127.0.0.1:{port}", f"127.0.0.1:{busy}"])
    assert e.value.filename == f"127.0.0.1:{busy}"
    assert app.servers == []
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # released
    app.close()


@pytest.mark.parametrize("bad", ["metrics", "/", "/-/ready", "/a b", "/m?x"])
def test_telemetry_path_must_be_a_free_path(bad: str) -> None:
    with pytest.raises(ValueError, match=r"--web\.telemetry-path"):
        check_telemetry_path(bad)


def test_disable_exporter_metrics_drops_process_and_python_families(tmp_path: Path) -> None:
    with_them = make_app(qoder_config(tmp_path), QoderFake(), FakeClock())
    text = with_them.publisher.render().text.decode()
    with_them.close()
    assert "\n# TYPE python_info gauge" in text
    cfg = qoder_config(tmp_path)
    app = App(cfg, transport=httpx.MockTransport(QoderFake()), exporter_metrics=False)
    text = app.publisher.render().text.decode()
    app.close()
    assert "\n# TYPE process_" not in text and "\n# TYPE python_" not in text
    assert "aicode_exporter_build_info" in text


def test_other_methods_get_405_with_allow(tmp_path: Path) -> None:
    app = make_app(qoder_config(tmp_path), QoderFake(), FakeClock())
    app.start("127.0.0.1:0")
    try:
        url = f"http://127.0.0.1:{app.servers[0].port}"
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            r = httpx.request(method, f"{url}/metrics", content=b"x=1")
            assert r.status_code == 405, method
            assert r.headers["allow"] == "GET, HEAD"
        assert httpx.request("BREW", f"{url}/metrics").status_code == 501
        assert httpx.get(f"{url}/metrics").status_code == 200
    finally:
        app.stop()
