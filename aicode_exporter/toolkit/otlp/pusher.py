"""OTLP push: the same families as /metrics, pushed to an OpenTelemetry collector by the
official OTLP exporter (http/protobuf or gRPC).

What the library does: the wire format and transport, retries with backoff and
Retry-After within the timeout, compression, TLS, splitting an export into requests of
at most `max_export_batch_size` data points (each with the resource), the resource from
OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME (`Resource.create`), and every OTEL_*
variable it reads with the spec's meaning (settings.from_env; config/otlp.py says which
stay ours and why).

What stays here, and why:

* families -> MetricsData. There is no second set of SDK instruments: the SDK's
  MeterProvider/MetricReader would aggregate, apply Views and a cardinality limit (folding
  series into an overflow point) and pick temporality, none of which /metrics does. So
  every interval the pusher takes the merged families (exactly what /metrics serves) and
  builds the SDK's `MetricsData` itself: a gauge is an OTLP Gauge; a counter a monotonic
  Sum with CUMULATIVE temporality, named without its `_total` (a Prometheus-compatible
  translation appends it again), its start time the series' first-seen time from a
  `StartTimes` store (so a restart is not a reset); values exact, attributes the labels.
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
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import requests
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from aicode_exporter.config.otlp import OtlpSettings
from aicode_exporter.toolkit.families import Family, Samples, Spec, merge

logger = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]  # (label name, value) in the spec's label order

# Data points per request: keeps a request well under the collector's default limits
# (gRPC: 4 MiB received message; HTTP: 20 MiB body) at ~150 bytes a point.
MAX_POINTS_PER_REQUEST = 10_000
# Stable for the life of this process (two pushers in one process share it).
PROCESS_INSTANCE_ID = str(uuid.uuid4())
_NS = 1_000_000_000
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


# -- start times ------------------------------------------------------------------------


class StartTimes(Protocol):
    """When a counter series began: its first-seen wall time, kept across restarts."""

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        """The stored start of this series (the /metrics name, with `_total`); if unknown,
        store `now` and return it."""
        ...


class BatchStartTimes(StartTimes, Protocol):
    """A store that can answer many new series at once (one transaction for SQLite): the
    pusher uses starts_of() when the store has it, for all new series of an export."""

    def starts_of(self, series: Sequence[tuple[str, Labels]], now: float) -> list[float]:
        """start_of() for each (metric name, labels), in order."""
        ...


def starts_of(store: StartTimes, series: Sequence[tuple[str, Labels]],
              now: float) -> list[float]:
    """The starts of `series` from `store`, in one call if it is a BatchStartTimes."""
    if not series:
        return []
    batch = getattr(store, "starts_of", None)
    if callable(batch):
        out: list[float] = batch(series, now)
        return out
    return [store.start_of(name, labels, now) for name, labels in series]


class InMemoryStartTimes:
    """First-seen times for the life of this object (tests, and counters that restart
    at zero with the process when no better store is given)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starts: dict[tuple[str, Labels], float] = {}

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        with self._lock:
            return self._starts.setdefault((metric_name, labels), now)

    def starts_of(self, series: Sequence[tuple[str, Labels]], now: float) -> list[float]:
        with self._lock:
            return [self._starts.setdefault(key, now) for key in series]

    def __len__(self) -> int:
        with self._lock:
            return len(self._starts)


class FixedStartTimes:
    """One start for every series: the process start, for the counters that live in
    memory only (request counters, process_*), which restart at zero with the process."""

    def __init__(self, start: float) -> None:
        self._start = start

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        return self._start


class SplitStartTimes:
    """Persisted counters' starts from `persistent` (the state file), the rest from
    `other` (usually FixedStartTimes(process start))."""

    def __init__(self, persistent: StartTimes, is_persistent: Callable[[str], bool],
                 other: StartTimes) -> None:
        self._persistent, self._is_persistent, self._other = persistent, is_persistent, other

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        store = self._persistent if self._is_persistent(metric_name) else self._other
        return store.start_of(metric_name, labels, now)

    def starts_of(self, series: Sequence[tuple[str, Labels]], now: float) -> list[float]:
        routed = [self._is_persistent(name) for name, _ in series]
        kept = iter(starts_of(self._persistent, [k for k, r in zip(series, routed, strict=True)
                                                 if r], now))
        other = iter(starts_of(self._other, [k for k, r in zip(series, routed, strict=True)
                                             if not r], now))
        return [next(kept) if r else next(other) for r in routed]


# -- families -> MetricsData ------------------------------------------------------------


def otlp_name(spec: Spec) -> str:
    """The /metrics name, less `_total` for a counter."""
    if spec.kind == "counter" and spec.name.endswith("_total"):
        return spec.name[:-len("_total")]
    return spec.name


def otlp_unit(spec: Spec) -> str:
    """UCUM unit where the name already carries it (so a Prometheus translation adds no
    second suffix); empty otherwise."""
    name = otlp_name(spec)
    for suffix, unit in (("_seconds", "s"), ("_bytes", "By"), ("_ratio", "1")):
        if name.endswith(suffix):
            return unit
    return ""


def build_resource(service_name: str, version: str, instance_id: str | None = None
                   ) -> Resource:
    """service.name, service.version and service.instance.id (this process's, unless
    given), each overridden by OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, plus
    everything else those set; built by the SDK's Resource.create() (which adds
    telemetry.sdk.*)."""
    from opentelemetry.sdk.resources import OTELResourceDetector

    defaults = {"service.name": service_name, "service.version": version,
                "service.instance.id": instance_id or PROCESS_INSTANCE_ID}
    from_env = OTELResourceDetector().detect().attributes
    return Resource.create({**defaults, **from_env})


@dataclass
class _Built:
    data: MetricsData | None  # None: nothing to push
    points: int


class _Builder:
    """Families -> one MetricsData (the exporter splits it into requests)."""

    def __init__(self, resource: Resource, scope: InstrumentationScope,
                 start_times: StartTimes) -> None:
        self._resource = resource
        self._start_times = start_times
        self._scope = scope
        # Starts of the counter series of the last export (a start never changes, so the
        # store is asked about new series only); rebuilt every export, so it never holds
        # more than the current series.
        self._starts: dict[tuple[str, tuple[str, ...]], int] = {}

    def build(self, families: Iterable[Family], now: float) -> _Built:
        now_ns = int(now * _NS)
        starts: dict[tuple[str, tuple[str, ...]], int] = {}
        merged = [(spec, samples) for spec, samples in merge(families) if samples]
        self._learn_new_starts(merged, now)
        metrics = [self._metric(spec, self._points(spec, samples, now_ns, starts))
                   for spec, samples in merged]
        self._starts = starts
        points = sum(len(samples) for _, samples in merged)
        return _Built(self._data(metrics) if metrics else None, points)

    def _learn_new_starts(self, merged: list[tuple[Spec, Samples]], now: float) -> None:
        """Ask the store, in one call, about the counter series not in the last export."""
        keys, series = [], []
        for spec, samples in merged:
            if spec.kind != "counter":
                continue
            for values, _ in samples:
                if (spec.name, values) not in self._starts:
                    keys.append((spec.name, values))
                    series.append((spec.name, tuple(zip(spec.labelnames, values, strict=True))))
        now_ns = int(now * _NS)
        for key, started in zip(keys, starts_of(self._start_times, series, now), strict=True):
            self._starts[key] = int(started * _NS) if math.isfinite(started) else now_ns

    def _points(self, spec: Spec, samples: Samples, now_ns: int,
                starts: dict[tuple[str, tuple[str, ...]], int]) -> list[NumberDataPoint]:
        counter = spec.kind == "counter"
        out = []
        for values, value in samples:
            start_ns = 0  # gauges: unset, as the data model allows
            if counter:
                key = (spec.name, values)
                starts[key] = start_ns = min(self._starts[key], now_ns)
            out.append(NumberDataPoint(
                attributes=dict(zip(spec.labelnames, values, strict=True)),
                start_time_unix_nano=start_ns, time_unix_nano=now_ns, value=float(value)))
        return out

    @staticmethod
    def _metric(spec: Spec, points: list[NumberDataPoint]) -> Metric:
        data: Gauge | Sum
        if spec.kind == "counter":
            data = Sum(data_points=points,
                       aggregation_temporality=AggregationTemporality.CUMULATIVE,
                       is_monotonic=True)
        else:
            data = Gauge(data_points=points)
        return Metric(name=otlp_name(spec), description=spec.help, unit=otlp_unit(spec),
                      data=data)

    def _data(self, metrics: list[Metric]) -> MetricsData:
        return MetricsData(resource_metrics=[ResourceMetrics(
            resource=self._resource,
            scope_metrics=[ScopeMetrics(scope=self._scope, metrics=metrics, schema_url="")],
            schema_url=self._resource.schema_url)])


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
        self._builder = _Builder(
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
