"""OTLP push: the same families as /metrics, pushed to an OpenTelemetry collector by the
official OTLP exporter (http/protobuf or gRPC).

What the library does: the wire format and transport, retries with backoff and
Retry-After within the timeout, compression, TLS, splitting an export into requests of
at most `max_export_batch_size` data points (each with the resource), the resource from
OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME (`Resource.create`), and every OTEL_*
variable it reads with the spec's meaning (settings.from_env; config/otlp.py says which
stay ours and why).

What stays here, and why:

* families -> MetricsData (data.py), with start times from a store (starts.py): the
  SDK's MeterProvider/MetricReader would aggregate, apply Views and a cardinality limit
  (folding series into an overflow point) and pick temporality, none of which /metrics
  does; so every interval the pusher takes the merged families, exactly what /metrics
  serves, and builds the MetricsData itself.
* why an export failed: the exporter returns only FAILURE and logs the reason, once per
  retry, every interval. Its log records from the push thread are taken out of the log
  and kept (`_SdkLogCapture`), the HTTP session remembers how the last request ended
  (`_RecordingSession`, on the exporter's public `session=` option), and the pusher
  reports each distinct error once, scrubbed of header values.
* the CA file winning over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, which requests lets
  override a session's `verify` (`_RecordingSession` again).
* the schedule: one export at a time in a daemon thread; an export still running when
  the next is due makes that one skipped and counted, never queued.

Header values are secrets: they appear in no repr, log or error.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import requests
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from aicode_exporter.config.otlp import OtlpSettings
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.toolkit.otlp.data import Builder, build_resource
from aicode_exporter.toolkit.otlp.starts import StartTimes

logger = logging.getLogger(__name__)

# Data points per request: keeps a request well under the collector's default limits
# (gRPC: 4 MiB received message; HTTP: 20 MiB body) at ~150 bytes a point.
MAX_POINTS_PER_REQUEST = 10_000
RESULTS = ("success", "failure", "skipped")


class PushSpecs(NamedTuple):
    """The pusher's own metrics, under the caller's prefix."""

    exports: Spec
    duration: Spec


def push_specs(prefix: str) -> PushSpecs:
    """<prefix>_otlp_exports_total{result} and <prefix>_otlp_export_duration_seconds."""
    return PushSpecs(
        Spec(f"{prefix}_otlp_exports_total", "counter",
             "OTLP pushes of all metrics to the collector, by result (`skipped`: an export "
             "was due while the previous one was still running).", ("result",)),
        Spec(f"{prefix}_otlp_export_duration_seconds", "gauge",
             "Wall time the last OTLP push took, the OTLP exporter's retries included.", ()))


# -- the official exporters -------------------------------------------------------------


class _RecordingSession(requests.Session):
    """The HTTP exporter's session (a public option of OTLPMetricExporter), remembering
    how the last request ended: the exporter itself only returns FAILURE and logs a
    generic "due to timeout, max retries" when it gives up. Never records headers.

    It also makes the CA file win: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    override a session's `verify`, so the exporter's certificate_file alone is ignored
    wherever those are set (many container images set them)."""

    last_failure = ""

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(self.verify, str):
            kwargs.setdefault("verify", self.verify)
        try:
            response = super().request(method, url, *args, **kwargs)
        except Exception as e:
            self.last_failure = f"{type(e).__name__}: {e}"
            raise
        self.last_failure = ("" if response.status_code < 300
                             else f"HTTP {response.status_code} {response.reason}")
        return response


def build_exporter(settings: OtlpSettings, session: requests.Session | None = None, *,
                   batch_size: int | None = MAX_POINTS_PER_REQUEST) -> MetricExporter:
    """The official OTLPMetricExporter for the protocol. A setting an OTEL_* variable
    supplied (settings.from_env) is left for the exporter to read; the timeout and gRPC's
    plaintext flag are always passed (config/otlp.py says why). `batch_size`: data points
    per request (the exporter splits); `session`: http/protobuf only."""
    env = settings.from_env

    def unless_env(name: str, value: Any) -> Any:
        return None if name in env else value

    if settings.protocol == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcExporter,
        )

        credentials = None
        if settings.ca_file and not settings.insecure and "ca_file" not in env:
            with open(settings.ca_file, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        return GrpcExporter(
            endpoint=unless_env("endpoint", settings.endpoint), insecure=settings.insecure,
            credentials=credentials, headers=unless_env("headers", dict(settings.headers) or None),
            timeout=settings.timeout, max_export_batch_size=batch_size,
            compression=unless_env("compression", grpc.Compression.Gzip
                                   if settings.compression == "gzip"
                                   else grpc.Compression.NoCompression))
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpExporter,
    )

    return HttpExporter(
        endpoint=unless_env("endpoint", settings.endpoint),
        certificate_file=unless_env("ca_file", settings.ca_file),
        headers=unless_env("headers", dict(settings.headers)), timeout=settings.timeout,
        compression=unless_env("compression", Compression.Gzip if settings.compression == "gzip"
                               else Compression.NoCompression),
        session=session, max_export_batch_size=batch_size)


class _SdkLogCapture(logging.Filter):
    """Takes the OTLP exporter's own log records that the pusher's export thread emits
    (one per retry, one per failure, repeated every interval) out of the log and keeps
    them, so the pusher can report the error once, scrubbed."""

    def __init__(self) -> None:
        super().__init__()
        self.thread: int | None = None
        self.messages: list[tuple[int, str]] = []
        self._loggers: list[logging.Logger] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.thread is None or record.thread != self.thread:
            return True
        if record.levelno >= logging.WARNING:
            try:
                self.messages.append((record.levelno, record.getMessage()))
            except Exception:  # a malformed record: keep its template
                self.messages.append((record.levelno, str(record.msg)))
        return False

    def install(self) -> None:
        """On every opentelemetry.exporter* logger that exists (the exporter's modules are
        imported by now), before the SDK's own DuplicateFilter."""
        manager = logging.Logger.manager
        for name, obj in list(manager.loggerDict.items()):
            if (name == "opentelemetry.exporter" or name.startswith("opentelemetry.exporter.")) \
                    and isinstance(obj, logging.Logger) and obj not in self._loggers:
                obj.filters.insert(0, self)
                self._loggers.append(obj)

    def remove(self) -> None:
        for lg in self._loggers:
            lg.removeFilter(self)
        self._loggers.clear()

    def error(self) -> str:
        """The exporter's final failure message, else its last retry warning."""
        for wanted in (logging.ERROR, logging.WARNING):
            found = [m for lvl, m in self.messages if lvl >= wanted]
            if found:
                return found[-1]
        return ""


_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+(?:\.\d+)?")
_MAX_ERROR = 500


# -- the pusher -------------------------------------------------------------------------


@dataclass(frozen=True)
class OtlpStatus:
    """For the landing page. `endpoint` has no userinfo; nothing here carries a header."""

    endpoint: str
    protocol: str
    interval: float
    last_success: float | None = None  # wall time
    last_error: str = ""
    last_error_time: float | None = None
    last_duration: float | None = None
    last_points: int = 0  # data points in the last export
    exports: dict[str, int] = field(default_factory=dict)  # result -> count


class OtlpPusher:
    """Pushes `families()` every `settings.interval` from a daemon thread, as `service`
    (service.name) at `version`, with its own metrics named by `specs`. The exporter is
    the official one unless `exporter_factory` gives another; `max_points_per_request`
    is its batch size."""

    def __init__(self, settings: OtlpSettings, families: Callable[[], Iterable[Family]],
                 start_times: StartTimes, *, service: str, version: str, specs: PushSpecs,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 exporter_factory: Callable[[OtlpSettings], MetricExporter] | None = None,
                 resource: Resource | None = None, instance_id: str | None = None,
                 max_points_per_request: int = MAX_POINTS_PER_REQUEST) -> None:
        self.settings = settings
        self.specs = specs
        self._families = families
        self._clock, self._wall = clock, wall
        self._factory = exporter_factory
        self._batch_size = max(1, max_points_per_request)
        self._session: _RecordingSession | None = None
        self._builder = Builder(
            build_resource(service, version, instance_id) if resource is None else resource,
            InstrumentationScope(service.replace("-", "_"), version), start_times)
        self._exporter: MetricExporter | None = None
        self._capture = _SdkLogCapture()
        self._export_lock = threading.Lock()  # at most one export at a time
        self._lock = threading.Lock()  # the counters and status below
        self._counts = dict.fromkeys(RESULTS, 0)
        self._status = OtlpStatus(settings.safe_endpoint, settings.protocol, settings.interval)
        self._logged: set[str] = set()  # distinct errors logged since the last success
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        temporality = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "")
        if temporality.strip().lower() not in ("", "cumulative"):
            logger.info("otlp temporality preference ignored: counters are pushed "
                        "cumulative, as /metrics serves them",
                        extra={"temporality": temporality.strip().lower()})

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; the first export runs at once, then every interval."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="otlp-push", daemon=True)
        self._thread.start()
        logger.info("otlp push started", extra={
            "endpoint": self.settings.safe_endpoint, "protocol": self.settings.protocol,
            "interval_seconds": self.settings.interval})

    def stop(self, *, flush: bool = False, timeout: float | None = None) -> None:
        """Stop the thread; with `flush`, push once more first (bounded by the timeout).
        Shutting the exporter down aborts its retry waits, so this returns promptly."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        wait = self.settings.timeout + 5 if timeout is None else timeout
        if flush:
            if thread is not None:
                thread.join(wait)  # let a running export finish, then push the latest
            self.export_once()
        exporter, self._exporter = self._exporter, None
        if exporter is not None:
            try:
                exporter.shutdown()
            except Exception as e:  # shutting down a broken exporter is not an error
                logger.debug("otlp exporter shutdown failed",
                             extra={"error": self.settings.scrub(str(e))})
        if thread is not None:
            thread.join(wait)
        self._capture.remove()

    def _run(self) -> None:
        due = self._clock()
        interval = self.settings.interval
        while not self._stopping.wait(max(0.0, due - self._clock())):
            self.export_once()
            due += interval
            now = self._clock()
            if now >= due:  # the export ran past one or more due times: skip those
                missed = int((now - due) // interval) + 1
                with self._lock:
                    self._counts["skipped"] += missed
                due += missed * interval

    # -- one export ---------------------------------------------------------------------

    def export_once(self) -> bool:
        """Push the current families once; False if it failed or was skipped because an
        export is already running (counted as `skipped`)."""
        if not self._export_lock.acquire(blocking=False):
            with self._lock:
                self._counts["skipped"] += 1
            return False
        try:
            return self._export()
        finally:
            self._export_lock.release()

    def _export(self) -> bool:
        started = self._clock()
        now = self._wall()
        error = ""
        points = 0
        try:
            built = self._builder.build(self._families(), now)
            points = built.points
            if built.data is None:
                return True  # nothing published yet: nothing to push, nothing counted
            exporter = self._get_exporter()
            if self._session is not None:
                self._session.last_failure = ""
            self._capture.messages.clear()
            self._capture.thread = threading.get_ident()
            try:
                result = exporter.export(built.data,
                                         timeout_millis=self.settings.timeout * 1000)
                if result is not MetricExportResult.SUCCESS:
                    error = ((self._session.last_failure if self._session else "")
                             or self._capture.error() or "export failed")
            finally:
                self._capture.thread = None
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
        duration = self._clock() - started
        self._finished(ok=not error, error=error, at=now, duration=duration, points=points)
        return not error

    def _get_exporter(self) -> MetricExporter:
        if self._exporter is None:
            if self._factory is not None:
                self._exporter = self._factory(self.settings)
            else:
                if self.settings.protocol == "http/protobuf":
                    self._session = _RecordingSession()
                self._exporter = build_exporter(self.settings, self._session,
                                                batch_size=self._batch_size)
            self._capture.install()
        return self._exporter

    def _finished(self, *, ok: bool, error: str, at: float, duration: float,
                  points: int) -> None:
        error = self.settings.scrub(error)[:_MAX_ERROR]
        with self._lock:
            self._counts["success" if ok else "failure"] += 1
            st = self._status
            if ok:
                self._status = OtlpStatus(st.endpoint, st.protocol, st.interval, at,
                                          st.last_error, st.last_error_time, duration, points)
                recovered = bool(self._logged)
                self._logged.clear()
                first = False
            else:
                self._status = OtlpStatus(st.endpoint, st.protocol, st.interval,
                                          st.last_success, error, at, duration, points)
                key = _VARYING.sub("#", error)
                first = key not in self._logged
                if first and len(self._logged) < 100:
                    self._logged.add(key)
                recovered = False
        if first and not self._stopping.is_set():  # an aborted retry at shutdown is no news
            logger.warning("otlp export failed", extra={
                "endpoint": self.settings.safe_endpoint, "error": error})
        elif recovered:
            logger.info("otlp export recovered",
                        extra={"endpoint": self.settings.safe_endpoint})

    # -- what the exporter shows about itself -------------------------------------------

    def status(self) -> OtlpStatus:
        with self._lock:
            st = self._status
            counts = dict(self._counts)
        return OtlpStatus(st.endpoint, st.protocol, st.interval, st.last_success,
                          st.last_error, st.last_error_time, st.last_duration,
                          st.last_points, counts)

    def families(self) -> list[Family]:
        """<prefix>_otlp_exports_total{result} and <prefix>_otlp_export_duration_seconds."""
        st = self.status()
        fams = [self.specs.exports.family(((r,), float(st.exports[r])) for r in RESULTS)]
        if st.last_duration is not None:
            fams.append(self.specs.duration.family([((), st.last_duration)]))
        else:
            fams.append(self.specs.duration.family([]))
        return fams
