"""OTLP metric receivers on 127.0.0.1 that decode what arrives with the official
opentelemetry-proto classes: one for http/protobuf (POST /v1/metrics, gzip or not), one
for gRPC (MetricsService/Export). Both record every request with its headers or metadata.
Plus decode(): requests -> resource attributes and metrics by name, points by attributes;
sample families (gauges and counters with labels) and a secret header value to push.
"""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from aicode_exporter.expose import catalog
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.version import build_labels

SECRET = "Bearer s3cr3t-otlp-token-0123"
UP = catalog.UP
REQUESTS = catalog.API_REQUESTS
LAG = catalog.STREAM_LAG
COMMITS = Spec("aicode_commits_total", "counter", "Commit records.",
               ("provider", "org", "repo", "primary_branch"))


def sample_families() -> list[Family]:
    return [
        UP.family([(("qoder", "acme", "overview"), 1.0), (("cursor", "x", "commits"), 0.0)]),
        REQUESTS.family([(("qoder", "acme", "overview", "200"), 12.0),
                         (("qoder", "acme", "overview", "error"), 3.0)]),
        LAG.family([(("qoder", "acme", "commits"), 61.5)]),
        COMMITS.family([(("qoder", "acme", "api", "true"), 1234.0)]),
        catalog.BUILD_INFO.family([(build_labels(), 1.0)]),
    ]


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # PEM, self-signed for 127.0.0.1: also the CA file a client trusts
    key: Path


def self_signed(directory: Path) -> TlsFiles | None:
    """A one-day certificate for IP 127.0.0.1 made by the openssl command; None without it."""
    if shutil.which("openssl") is None:
        return None
    cert, key = directory / "receiver.pem", directory / "receiver-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return TlsFiles(cert, key)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # lower-case names (HTTP headers, or gRPC metadata)
    request: ExportMetricsServiceRequest


class _Recorder:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: list[Received] = []

    def record(self, item: Received) -> None:
        with self._lock:
            self._received.append(item)
            self._lock.notify_all()

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """At least `count` requests, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self._received)} OTLP requests arrived, "
                                         f"expected {count}")
                self._lock.wait(left)
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()


class HttpReceiver(_Recorder):
    """POST /v1/metrics -> ExportMetricsServiceRequest. `status` answers every request."""

    def __init__(self, status: int = 200, tls: TlsFiles | None = None) -> None:
        super().__init__()
        self.status = status
        self._scheme = "https" if tls else "http"
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/metrics":
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                recorder.record(Received({k.lower(): v for k, v in self.headers.items()},
                                         request))
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls.cert, tls.key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL (the pusher appends /v1/metrics)."""
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder

    def Export(self, request: ExportMetricsServiceRequest,
               context: grpc.ServicerContext) -> ExportMetricsServiceResponse:
        metadata = {k.lower(): v if isinstance(v, str) else v.decode()
                    for k, v in context.invocation_metadata()}
        self._recorder.record(Received(metadata, request))
        return ExportMetricsServiceResponse()


class GrpcReceiver(_Recorder):
    """An insecure gRPC MetricsService on 127.0.0.1."""

    def __init__(self, tls: TlsFiles | None = None) -> None:
        super().__init__()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Servicer(self),
                                                                      self._server)
        if tls is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            creds = grpc.ssl_server_credentials([(tls.key.read_bytes(), tls.cert.read_bytes())])
            self.port = self._server.add_secure_port("127.0.0.1:0", creds)
        self._scheme = "https" if tls else "http"

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> GrpcReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None).wait(5)


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- decoding -----------------------------------------------------------------------------


@dataclass
class Point:
    attributes: dict[str, str]
    value: float
    start_time_unix_nano: int
    time_unix_nano: int


@dataclass
class DecodedMetric:
    name: str
    description: str
    unit: str
    kind: str  # gauge | sum | other
    is_monotonic: bool | None = None
    temporality: str | None = None  # CUMULATIVE | DELTA
    points: list[Point] = field(default_factory=list)

    def by_attributes(self) -> dict[tuple[tuple[str, str], ...], Point]:
        return {tuple(sorted(p.attributes.items())): p for p in self.points}


@dataclass
class Decoded:
    resource: dict[str, str]
    scopes: set[tuple[str, str]]
    metrics: dict[str, DecodedMetric]


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    return str(getattr(value, kind)) if kind else ""


def decode(requests: Iterable[ExportMetricsServiceRequest]) -> Decoded:
    """Everything in some requests (one export may be split over several), metrics by
    name, their points appended in arrival order."""
    resource: dict[str, str] = {}
    scopes: set[tuple[str, str]] = set()
    metrics: dict[str, DecodedMetric] = {}
    for request in requests:
        for rm in request.resource_metrics:
            resource.update({a.key: _text(a.value) for a in rm.resource.attributes})
            for sm in rm.scope_metrics:
                scopes.add((sm.scope.name, sm.scope.version))
                for m in sm.metrics:
                    kind = m.WhichOneof("data") or "other"
                    entry = metrics.setdefault(m.name, DecodedMetric(
                        m.name, m.description, m.unit, kind if kind in ("gauge", "sum")
                        else "other"))
                    if kind == "sum":
                        entry.is_monotonic = m.sum.is_monotonic
                        entry.temporality = AggregationTemporality.Name(
                            m.sum.aggregation_temporality).removeprefix(
                                "AGGREGATION_TEMPORALITY_")
                    data = m.sum if kind == "sum" else m.gauge
                    for p in data.data_points:
                        value = p.as_double if p.WhichOneof("value") == "as_double" \
                            else float(p.as_int)
                        entry.points.append(Point({a.key: _text(a.value) for a in p.attributes},
                                                  value, p.start_time_unix_nano,
                                                  p.time_unix_nano))
    return Decoded(resource, scopes, metrics)


def decode_received(received: Iterable[Received]) -> Decoded:
    return decode(r.request for r in received)
