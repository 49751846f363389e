"""The exporter's HTTP endpoints on the toolkit's server: /metrics serves the current
snapshot's bytes (nothing is computed per scrape), / the landing page, /-/healthy and
/-/ready the probes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from email.message import Message
from typing import Any

from aicode_exporter.expose.landing import landing_page
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.toolkit.web.negotiate import (
    OPENMETRICS_TYPE,
    TEXT_TYPE,
    accepts_gzip,
    accepts_openmetrics,
)
from aicode_exporter.toolkit.web.server import Response, Route, WebServer
from aicode_exporter.version import __version__

NAME = "aicode-exporter"
PLAIN = "text/plain; charset=utf-8"
NOT_READY = b"Not ready: not every aggregate endpoint has been polled once\n"


PROBE_PATHS = ("/-/healthy", "/-/ready")


def check_telemetry_path(path: str) -> str:
    """--web.telemetry-path: an absolute path that is none of the other routes."""
    if not path.startswith("/") or any(c.isspace() or c in "?#" for c in path):
        raise ValueError(f"--web.telemetry-path: {path!r} must be a path starting with /")
    if path in ("/", *PROBE_PATHS):
        raise ValueError(f"--web.telemetry-path: {path!r} is taken by another endpoint")
    return path


def routes(publisher: Publisher, telemetry: Telemetry, ready: Callable[[], bool],
           notes: Callable[[], Sequence[str]] = tuple,
           metrics_path: str = "/metrics") -> dict[str, Route]:
    def metrics(headers: Message) -> Response:
        snap = publisher.snapshot
        if accepts_openmetrics(headers.get("Accept", "")):
            ctype, plain, gz = OPENMETRICS_TYPE, snap.openmetrics, snap.openmetrics_gzip
        else:
            ctype, plain, gz = TEXT_TYPE, snap.text, snap.text_gzip
        if accepts_gzip(headers.get("Accept-Encoding", "")):
            return Response(200, ctype, gz, encoding="gzip")
        return Response(200, ctype, plain)

    def landing(headers: Message) -> Response:
        return Response(200, "text/html; charset=utf-8",
                        landing_page(telemetry, time.time(), notes(), metrics_path))

    def readiness(headers: Message) -> Response:
        ok = ready()
        return Response(200 if ok else 503, PLAIN, b"Ready\n" if ok else NOT_READY)

    return {metrics_path: metrics, "/": landing, "/-/ready": readiness,
            "/-/healthy": lambda headers: Response(200, PLAIN, b"Healthy\n")}


class MetricsServer(WebServer):
    """The toolkit's WebServer with the exporter's routes; `limits` are WebServer's
    (max_connections, header/idle/write timeouts, web)."""

    def __init__(self, listen: str, publisher: Publisher, telemetry: Telemetry,
                 ready: Callable[[], bool], *, notes: Callable[[], Sequence[str]] = tuple,
                 metrics_path: str = "/metrics", **limits: Any) -> None:
        super().__init__(listen, routes(publisher, telemetry, ready, notes, metrics_path),
                         name=f"{NAME}/{__version__}", **limits)
