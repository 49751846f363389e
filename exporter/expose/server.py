"""The HTTP server: /metrics serves the current snapshot's bytes, nothing is computed
per scrape. Also the landing page and the health/readiness probes."""

from __future__ import annotations

import html
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from exporter.expose.snapshot import Publisher
from exporter.expose.telemetry import EndpointStatus, Telemetry
from exporter.version import __version__

logger = logging.getLogger(__name__)

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NOT_READY = b"Not ready: not every aggregate endpoint has been polled once\n"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def parse_listen_address(addr: str) -> tuple[str, int]:
    """`:19877` (all interfaces), `127.0.0.1:19877`, `[::1]:19877`."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {addr!r}: expected HOST:PORT or :PORT")
    return host.strip("[]"), int(port)


def _accepts_openmetrics(accept: str) -> bool:
    return "application/openmetrics-text" in accept


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() == "gzip" and params.replace(" ", "") != "q=0":
            return True
    return False


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _progress(st: EndpointStatus, now: float) -> str:
    """Lag, and while a stream catches up: slices and pages done and left, and an ETA."""
    p = st.progress
    if p is None:
        return "-"
    lag = f"lag {_fmt_duration(now - p.watermark)}" if p.watermark is not None else "lag -"
    if p.slices_done >= p.slices_total:
        return lag
    left = p.pages_left
    eta = _fmt_duration(p.eta) if p.eta is not None else "unknown"
    return (f"{lag}; catching up: slices {p.slices_done}/{p.slices_total}, pages "
            f"{p.pages_done} done, {'?' if left is None else left} left, ETA {eta}")


def _fmt_duration(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def landing_page(telemetry: Telemetry, now: float) -> bytes:
    rows = []
    for (provider, org, endpoint), st in telemetry.statuses().items():
        state = "pending" if st.up is None else ("up" if st.up else "down")
        if st.up is None and st.progress is not None:
            state = "running"
        rows.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                provider, org, endpoint, state, _fmt_time(st.last_success),
                f"{_fmt_time(st.last_error_time)} {st.last_error}" if st.last_error else "-",
                _fmt_time(st.next_poll), _progress(st, now))) + "</tr>")
    table = "\n".join(rows) or '<tr><td colspan="8">no endpoints enabled</td></tr>'
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>aicode-exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}}</style></head>
<body><h1>aicode-exporter</h1>
<p>Version {html.escape(__version__)}. Metrics: <a href="metrics">/metrics</a>.
Probes: <a href="-/healthy">/-/healthy</a>, <a href="-/ready">/-/ready</a>.</p>
<table><tr><th>provider</th><th>org</th><th>endpoint</th><th>state</th>
<th>last success</th><th>last error</th><th>next poll</th><th>progress</th></tr>
{table}
</table></body></html>
""".encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)


class MetricsServer:
    def __init__(self, listen: str, publisher: Publisher, telemetry: Telemetry,
                 ready: Callable[[], bool]) -> None:
        host, port = parse_listen_address(listen)
        self._httpd = _Server((host, port), _handler(publisher, telemetry, ready))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(publisher: Publisher, telemetry: Telemetry,
             ready: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"aicode-exporter/{__version__}"
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, keep-alive scrapes
        # stall ~40 ms on the peer's delayed ACK.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._route(head=False)

        def do_HEAD(self) -> None:
            self._route(head=True)

        def _route(self, *, head: bool) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._metrics(head)
            elif path == "/":
                page = landing_page(telemetry, time.time())
                self._send(200, "text/html; charset=utf-8", page, head)
            elif path == "/-/healthy":
                self._send(200, "text/plain; charset=utf-8", b"Healthy\n", head)
            elif path == "/-/ready":
                ok = ready()
                self._send(200 if ok else 503, "text/plain; charset=utf-8",
                           b"Ready\n" if ok else NOT_READY, head)
            else:
                self._send(404, "text/plain; charset=utf-8", b"Not found\n", head)

        def _metrics(self, head: bool) -> None:
            snap = publisher.snapshot
            if _accepts_openmetrics(self.headers.get("Accept", "")):
                ctype, plain, gz = OPENMETRICS_TYPE, snap.openmetrics, snap.openmetrics_gzip
            else:
                ctype, plain, gz = TEXT_TYPE, snap.text, snap.text_gzip
            if _accepts_gzip(self.headers.get("Accept-Encoding", "")):
                self._send(200, ctype, gz, head, encoding="gzip")
            else:
                self._send(200, ctype, plain, head)

        def _send(self, code: int, ctype: str, body: bytes, head: bool,
                  encoding: str | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept, Accept-Encoding")
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("http request client=%s line=%s", self.client_address[0],
                         format % args)

    return Handler
