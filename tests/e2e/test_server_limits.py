"""The HTTP server under hostile or careless clients, over real sockets with real time
(slow): listen backlog, connection cap, header and keep-alive idle timeouts, oversized
heads, EMFILE on accept. The heavy versions (hundreds of sockets, a subprocess at its
descriptor limit) are in test_server_load.py; content negotiation is unit-tested in
tests/unit/toolkit/web/test_negotiate.py."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from aicode_exporter.expose.server import MetricsServer
from aicode_exporter.expose.snapshot import Publisher, Snapshot
from aicode_exporter.expose.telemetry import Telemetry

# --- a server with small limits -------------------------------------------------------


def _publisher(body: bytes | None = None) -> Any:
    if body is None:
        pub = Publisher()
        pub.render()
        return pub
    # A body far larger than the socket buffers, so a client that never reads keeps
    # its handler busy in the write.
    return SimpleNamespace(snapshot=Snapshot(body, body, 1, gzipped=(body, body)))


@pytest.fixture
def make_server() -> Iterator[Callable[..., MetricsServer]]:
    servers: list[MetricsServer] = []

    def make(body: bytes | None = None, start: bool = True, **kw: Any) -> MetricsServer:
        s = MetricsServer("127.0.0.1:0", _publisher(body), Telemetry(), lambda: True, **kw)
        servers.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in servers:
        s.stop()


def _connect(port: int, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _closed_by_server(s: socket.socket, within: float) -> float | None:
    """Seconds until the server closed `s` (EOF or reset), None if it stayed open."""
    start = time.monotonic()
    s.settimeout(within)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return time.monotonic() - start
    except TimeoutError:
        return None
    except ConnectionResetError:
        return time.monotonic() - start


def _get(port: int, path: str = "/metrics", timeout: float = 2.0) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=timeout)


def _conn_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "http-conn")


def test_listen_backlog_absorbs_a_burst(make_server: Callable[..., MetricsServer]) -> None:
    """With the accept loop not yet running, 150 connects must all complete in the
    kernel's accept queue; a backlog of 5 completes about 6 and stalls the rest."""
    server = make_server(start=False)
    socks, done = [], 0
    try:
        for _ in range(150):
            s = socket.socket()
            s.settimeout(0.2)
            socks.append(s)
            try:
                s.connect(("127.0.0.1", server.port))
                done += 1
            except OSError:
                pass
    finally:
        for s in socks:
            s.close()
    assert done == 150


def test_silent_client_dropped_after_header_timeout(
        make_server: Callable[..., MetricsServer]) -> None:
    server = make_server(header_timeout=0.3)
    with _connect(server.port) as s:
        took = _closed_by_server(s, within=2.0)
    assert took is not None and took < 1.0, took
    assert server.stats().timed_out >= 1


def test_half_request_line_dropped_after_header_timeout(
        make_server: Callable[..., MetricsServer]) -> None:
    server = make_server(header_timeout=0.3)
    with _connect(server.port) as s:
        s.sendall(b"GET /metr")
        took = _closed_by_server(s, within=2.0)
    assert took is not None and took < 1.0, took


def test_trickling_headers_dropped_at_the_header_deadline(
        make_server: Callable[..., MetricsServer]) -> None:
    """A byte every 0.1 s resets a per-read socket timeout forever; the deadline for the
    whole head does not move."""
    server = make_server(header_timeout=0.4)
    with _connect(server.port) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 3:
            try:
                s.sendall(b"X")
            except OSError:
                closed = True
                break
            s.settimeout(0.1)
            try:
                if s.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
                break
        took = time.monotonic() - start
    assert closed and took < 1.5, took


def test_keep_alive_connection_closed_when_idle(
        make_server: Callable[..., MetricsServer]) -> None:
    server = make_server(idle_timeout=0.3)
    with _connect(server.port) as s:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(2)
        first = b""
        while not first.endswith(b"Healthy\n"):  # headers and body are separate writes
            first += s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        took = _closed_by_server(s, within=2.0)
    assert took is not None and took < 1.0, took


def test_keep_alive_still_serves_several_requests(
        make_server: Callable[..., MetricsServer]) -> None:
    server = make_server(idle_timeout=0.5)
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as c:
        for _ in range(3):
            assert c.get("/-/healthy").status_code == 200
            time.sleep(0.1)
    assert server.stats().accepted == 1


def test_waiting_connections_make_room_for_a_new_one(
        make_server: Callable[..., MetricsServer]) -> None:
    """At the cap, the connection that has waited longest for its request is dropped so
    a scrape still gets through."""
    server = make_server(max_connections=4)
    idle = [_connect(server.port) for _ in range(4)]
    try:
        _wait_for(lambda: server.stats().open_connections == 4)
        r = _get(server.port)
        assert r.status_code == 200
        assert _closed_by_server(idle[0], within=1.0) is not None
        assert server.stats().evicted >= 1
        assert server.stats().open_connections <= 4
    finally:
        for s in idle:
            s.close()


def test_503_when_every_connection_is_busy(make_server: Callable[..., MetricsServer],
                                           caplog: pytest.LogCaptureFixture) -> None:
    big = b"x" * (64 << 20)
    server = make_server(body=big, max_connections=2)
    busy = []
    try:
        for _ in range(2):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(2)
            s.connect(("127.0.0.1", server.port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            busy.append(s)  # never read: the handler blocks in its write
        _wait_for(lambda: server.stats().open_connections == 2)
        time.sleep(0.2)
        with caplog.at_level(logging.WARNING, logger="aicode_exporter.toolkit.web.server"):
            start = time.monotonic()
            r = _get(server.port, "/-/healthy")
            took = time.monotonic() - start
        assert r.status_code == 503 and r.text == "too many connections\n"
        assert r.headers["connection"] == "close"
        assert took < 2.0  # at once, not after the 30 s write deadline of the busy ones
        assert server.stats().rejected == 1
        assert "connection limit reached" in caplog.text
    finally:
        for s in busy:
            s.close()
    _wait_for(lambda: server.stats().open_connections == 0)
    assert _get(server.port, "/-/healthy").status_code == 200


def test_oversized_request_head_rejected(make_server: Callable[..., MetricsServer]) -> None:
    server = make_server()
    with _connect(server.port) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(100):
                s.sendall(b"X-Junk: " + b"a" * 1000 + b"\r\n")
        except OSError:
            pass
        s.settimeout(2)
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:80]


def test_stop_drops_open_connections(make_server: Callable[..., MetricsServer]) -> None:
    server = make_server()
    before = _conn_threads()
    socks = [_connect(server.port) for _ in range(5)]
    try:
        _wait_for(lambda: _conn_threads() >= before + 5)
        server.stop()
        _wait_for(lambda: _conn_threads() <= before)
    finally:
        for s in socks:
            s.close()


def test_emfile_on_accept_backs_off_and_recovers(
        make_server: Callable[..., MetricsServer], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """accept() failing with EMFILE leaves the connection pending, so the listening socket
    stays readable: without a back-off the loop retries as fast as it can."""
    server = make_server()
    calls = 0
    real_accept = socket.socket.accept

    def emfile(self: socket.socket) -> Any:
        nonlocal calls
        calls += 1
        raise OSError(errno.EMFILE, "Too many open files")

    with caplog.at_level(logging.INFO, logger="aicode_exporter.toolkit.web.server"):
        monkeypatch.setattr(socket.socket, "accept", emfile)
        pending = _connect(server.port)
        time.sleep(0.6)
        monkeypatch.setattr(socket.socket, "accept", real_accept)
        pending.close()
        assert calls <= 10, calls
        assert _get(server.port).status_code == 200
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and vars(errors[0])["error"] == "Too many open files"
    assert "accepting connections again" in caplog.text
    assert server.stats().accept_errors == calls


def _wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)
