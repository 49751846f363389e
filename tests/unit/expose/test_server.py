"""The HTTP surface: cached bytes on /metrics in the format and encoding asked for."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.server import MetricsServer
from tests.support.fakes import FakeClock, QoderFake, make_app, qoder_config


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, str]]:
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path), QoderFake(), clock)
    app.publisher.render()
    server = MetricsServer("127.0.0.1:0", app.publisher, app.telemetry,
                           lambda: app.poller.ready)
    server.start()
    yield app, f"http://127.0.0.1:{server.port}"
    server.stop()
    app.close()


def test_ready_only_after_first_poll_and_healthy_always(served: tuple[App, str]) -> None:
    app, url = served
    assert httpx.get(f"{url}/-/healthy").status_code == 200
    assert httpx.get(f"{url}/-/ready").status_code == 503
    app.poller.poll_all_once()
    assert httpx.get(f"{url}/-/ready").status_code == 200


def test_metrics_text_gzip_and_openmetrics(served: tuple[App, str]) -> None:
    app, url = served
    app.poller.poll_all_once()
    plain = httpx.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"})
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in plain.headers
    assert b'aicode_ai_share_ratio{org="acme",provider="qoder",window="7d"} 0.3' in plain.content
    with httpx.stream("GET", f"{url}/metrics", headers={"Accept-Encoding": "gzip"}) as r:
        raw = r.read()  # httpx decodes; compare with our own decode of the raw bytes
        assert r.headers["content-encoding"] == "gzip"
    assert raw == plain.content
    om = httpx.get(f"{url}/metrics",
                   headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
    assert gzip.decompress(app.publisher.snapshot.text_gzip) == plain.content


def test_scrape_never_calls_the_vendor(tmp_path: Path) -> None:
    fake = QoderFake()
    app2 = make_app(qoder_config(tmp_path), fake, FakeClock())
    app2.poller.poll_all_once()
    before = len(fake.requests)
    server = MetricsServer("127.0.0.1:0", app2.publisher, app2.telemetry, lambda: True)
    server.start()
    for _ in range(5):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics")
    assert len(fake.requests) == before
    server.stop()
    app2.close()


def test_landing_page_and_404(served: tuple[App, str]) -> None:
    app, url = served
    app.poller.poll_all_once()
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'href="metrics"' in page.text
    for ep in ("overview", "daily_trend", "member_ranking", "repos", "file_extensions"):
        assert f"<td>{ep}</td>" in page.text
    assert "<td>up</td>" in page.text
    assert httpx.get(f"{url}/nope").status_code == 404
    assert httpx.head(f"{url}/metrics").status_code == 200


def test_scrapes_never_render_in_either_format(served: tuple[App, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Prometheus asks for OpenMetrics by default: that format too must be ready-made."""
    import aicode_exporter.expose.snapshot as exposition

    app, url = served
    app.poller.poll_all_once()
    calls: list[str] = []
    for name in ("generate_latest", "generate_openmetrics"):
        real = getattr(exposition, name)
        monkeypatch.setattr(exposition, name,
                            lambda reg, _n=name, _r=real: calls.append(_n) or _r(reg))
    prometheus_accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-"
                         "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    for accept in (prometheus_accept, "text/plain"):
        for encoding in ("gzip", "identity"):
            r = httpx.get(f"{url}/metrics", headers={"Accept": accept,
                                                    "Accept-Encoding": encoding})
            assert b"aicode_ai_share_ratio" in r.content
    assert calls == []
    app.publisher.render()  # the poll is where rendering happens
    assert calls == ["generate_latest", "generate_openmetrics"]
