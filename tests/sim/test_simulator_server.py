"""The simulator over loopback HTTP: streaming, fault injection, lifecycle, serve()."""

from __future__ import annotations

import base64
import csv
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from aicode_sim import AbortConnection, RequestLog, Simulator

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)
QODER = {"Authorization": "Bearer sim-key"}
CURSOR = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
ORG = "/v1/organizations/org_sim"
COMMITS = f"{ORG}/ai-code-tracking/commits"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=9, users=20, days=20, now=lambda: NOW, cursor_rate_limit_per_minute=0) as s:
        yield s


def request(
    sim: Simulator, path: str, headers: dict[str, str], *, timeout: float = 10, method: str = "GET"
) -> http.client.HTTPResponse:
    parts = urlsplit(sim.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    conn.request(method, path, headers={**headers, "User-Agent": "aicode-exporter/test"})
    return conn.getresponse()


def test_url_lifecycle_and_keep_alive() -> None:
    sim = Simulator(users=3, days=2, now=lambda: NOW)
    with pytest.raises(RuntimeError):
        _ = sim.url
    sim.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.url)
        parts = urlsplit(sim.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        for _ in range(3):  # one connection, several requests
            conn.request("GET", f"{ORG}/ai-code/repos", headers=QODER)
            response = conn.getresponse()
            assert response.status == 200
            assert int(response.headers["Content-Length"]) == len(response.read())
        conn.close()
    finally:
        sim.stop()
    sim.stop()  # idempotent
    with socket.socket() as probe:
        assert probe.connect_ex((parts.hostname or "", parts.port or 0)) != 0


def test_csv_is_streamed_chunked(sim: Simulator) -> None:
    response = request(sim, f"{COMMITS}/export?startDate=2025-07-01T00:00:00Z", QODER)
    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.read().decode(), newline="")))
    listed = json.loads(
        request(sim, f"{COMMITS}?startDate=2025-07-01T00:00:00Z&pageSize=1", QODER).read()
    )
    assert len(rows) == listed["data"]["pagination"]["totalItems"]
    assert rows[0]["commitHash"] == listed["data"]["items"][0]["commitHash"]


def test_fault_500_once_then_ok(sim: Simulator) -> None:
    sim.faults.add(r"/ai-code-tracking/commits$", status=500)
    first = request(sim, COMMITS, QODER)
    error = json.loads(first.read())
    assert first.status == 500
    assert error["code"] == "InternalError" and error["requestId"].startswith("req_")
    assert request(sim, COMMITS, QODER).status == 200
    assert [(r.path, r.status) for r in sim.requests[-2:]] == [(COMMITS, 500), (COMMITS, 200)]
    assert isinstance(sim.requests[-1], RequestLog)


def test_fault_uses_the_vendor_error_shape_and_headers(sim: Simulator) -> None:
    sim.faults.add(r"^/analytics/", status=503, times=2, headers={"Retry-After": "7"})
    for _ in range(2):
        response = request(sim, "/analytics/ai-code/changes", CURSOR)
        assert response.status == 503
        assert response.headers["Retry-After"] == "7"
        assert set(json.loads(response.read())) == {"error", "message"}
    assert request(sim, "/analytics/ai-code/changes", CURSOR).status == 200


def test_fault_gateway_html_page(sim: Simulator) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    sim.faults.add("overview", status=502, body=page, content_type="text/html")
    response = request(sim, f"{ORG}/ai-code/stats/overview", QODER)
    assert response.status == 502
    assert response.headers["Content-Type"] == "text/html"
    assert response.read() == page


def test_fault_truncated_json_and_csv(sim: Simulator) -> None:
    sim.faults.add("commits$", status=200, truncate_after=100)
    response = request(sim, COMMITS, QODER)
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == 100

    sim.faults.add("export$", status=200, truncate_after=5000)
    response = request(sim, f"{COMMITS}/export?startDate=2025-07-01T00:00:00Z", QODER)
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    # The next request is whole again.
    assert json.loads(request(sim, COMMITS, QODER).read())["success"] is True


def test_truncation_without_a_socket(sim: Simulator) -> None:
    sim.faults.add("repos", status=200, truncate_after=10)
    status, _, body = sim.app("GET", f"{ORG}/ai-code/repos", QODER, b"")
    assert status == 200
    received = b""
    with pytest.raises(AbortConnection):
        for chunk in body:
            received += chunk
    assert len(received) == 10


@pytest.mark.slow  # real sockets, a timeout against a delay
def test_fault_delay_trips_client_timeouts(sim: Simulator) -> None:
    sim.faults.add("repos", status=200, delay=0.6)
    with pytest.raises(TimeoutError):
        request(sim, f"{ORG}/ai-code/repos", QODER, timeout=0.2)
    sim.faults.clear()
    sim.faults.add("nothing-matches-this", status=500)
    sim.faults.clear()
    assert request(sim, f"{ORG}/ai-code/repos", QODER, timeout=2).status == 200


def test_unknown_paths_and_methods(sim: Simulator) -> None:
    assert request(sim, "/", {}).status == 404
    assert request(sim, "/v1/nope", QODER).status == 404
    response = request(sim, "/analytics/ai-code/commits", CURSOR, method="DELETE")
    assert response.status == 405


@pytest.mark.slow  # a subprocess on a real socket
def test_serve_runs_until_sigterm() -> None:
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr);"
        "from aicode_sim import serve; serve('127.0.0.1:0', users=3, repos=2, seed=1)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert ("use api_key sim-key, copilot organization sim-org, "
                "qoder organization_id org_sim") in line
        match = re.search(r"url=(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        parts = urlsplit(match.group(1))
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        conn.request("GET", f"{ORG}/ai-code/repos", headers=QODER)
        assert conn.getresponse().status == 200
        conn.close()
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
