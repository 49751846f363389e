"""OTLP push without sockets: families -> MetricsData -> the official protobuf encoder,
decoded back; start times; settings from the `otlp:` block and the OTEL_* variables;
counting, skipping and logging of the pusher; secrets."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from pydantic import ValidationError

from aicode_exporter.config.otlp import OtlpConfig, OtlpSettings, resolve
from aicode_exporter.errors import ConfigError
from aicode_exporter.expose.push import (
    OTLP_EXPORT_DURATION,
    OTLP_EXPORTS,
    OtlpPusher,
    build_resource,
)
from aicode_exporter.expose.snapshot import Publisher, build_snapshot
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.toolkit.otlp.data import otlp_name, otlp_unit
from aicode_exporter.toolkit.otlp.pusher import build_exporter
from aicode_exporter.toolkit.otlp.starts import (
    FixedStartTimes,
    InMemoryStartTimes,
    SplitStartTimes,
)
from aicode_exporter.version import __version__
from tests.support.fakes import FakeClock
from tests.support.otlp_receivers import (
    COMMITS,
    REQUESTS,
    SECRET,
    UP,
    Decoded,
    decode,
    sample_families,
)


class RecordingExporter(MetricExporter):
    """Encodes what it is given with the official OTLP encoder, like the real exporters."""

    def __init__(self, results: list[MetricExportResult] | None = None,
                 on_export: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.requests: list[ExportMetricsServiceRequest] = []
        self.results = results or []
        self.on_export = on_export
        self.shut = False

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
               **kwargs: Any) -> MetricExportResult:
        if self.on_export is not None:
            self.on_export()
        self.requests.append(encode_metrics(metrics_data))
        return self.results.pop(0) if self.results else MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.shut = True


def settings(**kw: Any) -> OtlpSettings:
    return OtlpSettings(**{"endpoint": "http://127.0.0.1:4318/v1/metrics", **kw})


def pusher(families: Callable[[], Iterable[Family]], exporter: MetricExporter, *,
           store: Any = None, clock: FakeClock | None = None, **kw: Any) -> OtlpPusher:
    clock = clock or FakeClock()
    store = InMemoryStartTimes() if store is None else store
    return OtlpPusher(kw.pop("settings", settings()), families, store,
                      clock=clock.monotonic, wall=clock.wall,
                      exporter_factory=lambda s: exporter, **kw)


def pushed(exporter: RecordingExporter) -> Decoded:
    return decode(exporter.requests)


# -- the data ---------------------------------------------------------------------------


def test_every_family_is_pushed_under_its_name_with_equal_values_and_attributes() -> None:
    exp = RecordingExporter()
    clock = FakeClock()
    assert pusher(sample_families, exp, clock=clock).export_once()
    got = pushed(exp)
    now_ns = int(clock.wall_time * 1e9)
    for fam in sample_families():
        m = got.metrics[otlp_name(fam.spec)]
        assert m.description == fam.spec.help
        points = m.by_attributes()
        assert len(points) == len(fam.samples)
        for values, value in fam.samples:
            p = points[tuple(sorted(zip(fam.spec.labelnames, values, strict=True)))]
            assert p.value == value and p.time_unix_nano == now_ns
    assert set(got.metrics) == {"aicode_up", "aicode_api_requests", "aicode_stream_lag_seconds",
                                "aicode_commits", "aicode_exporter_build_info"}


def test_gauges_are_gauges_and_counters_monotonic_cumulative_sums() -> None:
    exp = RecordingExporter()
    pusher(sample_families, exp).export_once()
    got = pushed(exp).metrics
    assert got["aicode_up"].kind == "gauge"
    assert got["aicode_up"].points[0].start_time_unix_nano == 0
    for name in ("aicode_api_requests", "aicode_commits"):
        assert got[name].kind == "sum"
        assert got[name].is_monotonic is True
        assert got[name].temporality == "CUMULATIVE"
    # Units only where the name already says it, so a Prometheus translation adds nothing.
    assert got["aicode_stream_lag_seconds"].unit == "s"
    assert got["aicode_commits"].unit == "" and got["aicode_up"].unit == ""


def test_names_and_units() -> None:
    assert otlp_name(COMMITS) == "aicode_commits"
    assert otlp_name(UP) == "aicode_up"
    gauge_total = Spec("x_total", "gauge", "", ())
    assert otlp_name(gauge_total) == "x_total"  # only counters lose the suffix
    assert otlp_unit(Spec("process_cpu_seconds_total", "counter", "", ())) == "s"
    assert otlp_unit(Spec("process_resident_memory_bytes", "gauge", "", ())) == "By"
    assert otlp_unit(Spec("a_ratio", "gauge", "", ())) == "1"


def test_samples_of_one_name_from_many_parts_are_merged_as_render_does() -> None:
    a = UP.family([(("qoder", "a", "overview"), 1.0)])
    b = UP.family([(("qoder", "b", "overview"), 0.0), (("qoder", "a", "overview"), 0.0)])
    exp = RecordingExporter()
    pusher(lambda: [a, b], exp).export_once()
    points = pushed(exp).metrics["aicode_up"].by_attributes()
    assert len(points) == 2
    assert points[(("endpoint", "overview"), ("org", "a"), ("provider", "qoder"))].value == 0.0


class PostedSession(requests.Session):
    """The official HTTP exporter's session, answering 200 to every export and keeping
    what was posted, decoded."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ExportMetricsServiceRequest] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        body = kwargs["data"]
        if kwargs.get("headers", {}).get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.requests.append(ExportMetricsServiceRequest.FromString(body))
        response = requests.Response()
        response.status_code = 200
        return response


def test_5000_series_of_one_metric_all_arrive_without_an_overflow_point() -> None:
    fam = COMMITS.family((("qoder", "acme", f"repo-{i}", "true"), float(i)) for i in range(5000))
    exp = PostedSession()  # the official exporter splits the export into requests
    p = OtlpPusher(settings(), lambda: [fam], InMemoryStartTimes(), max_points_per_request=1000,
                   exporter_factory=lambda s: build_exporter(s, exp, batch_size=1000))
    assert p.export_once()
    assert len(exp.requests) == 5  # split into requests, every one with the resource
    assert all(r.resource_metrics[0].resource.attributes for r in exp.requests)
    m = pushed(exp).metrics["aicode_commits"]
    assert len(m.points) == 5000
    assert {p.attributes["repo"] for p in m.points} == {f"repo-{i}" for i in range(5000)}
    assert sum(p.value for p in m.points) == sum(range(5000))
    assert not any("otel.metric.overflow" in p.attributes for p in m.points)


def test_nothing_published_nothing_pushed_or_counted() -> None:
    exp = RecordingExporter()
    p = pusher(list, exp)
    assert p.export_once()
    assert exp.requests == [] and p.status().exports["success"] == 0


def test_published_families_are_what_metrics_serves() -> None:
    pub = Publisher()
    pub.publish(("qoder", "a", "overview", ""), [UP.family([(("qoder", "a", "overview"), 1.0)])])
    pub.publish(("qoder", "b", "overview", ""), [UP.family([(("qoder", "b", "overview"), 0.0)]),
                                                 REQUESTS.family([])])
    snap = pub.render()
    fams = pub.families()
    assert build_snapshot(fams).text == snap.text
    names = {f.spec.name for f in fams}
    assert {"aicode_up", "aicode_exporter_build_info"} <= names
    assert REQUESTS.name not in names  # no samples: not on /metrics, not pushed


# -- start times --------------------------------------------------------------------------


def test_counter_start_time_comes_from_the_store_and_survives_a_restart() -> None:
    store = InMemoryStartTimes()
    first, second = FakeClock(wall_time=1_700_000_000.0), FakeClock(wall_time=1_700_003_600.0)
    a, b = RecordingExporter(), RecordingExporter()
    pusher(sample_families, a, store=store, clock=first).export_once()
    pusher(sample_families, b, store=store, clock=second).export_once()  # "after a restart"
    for exp, clock in ((a, first), (b, second)):
        m = pushed(exp).metrics["aicode_commits"]
        assert m.points[0].start_time_unix_nano == 1_700_000_000 * 10**9
        assert m.points[0].time_unix_nano == int(clock.wall_time * 1e9)


def test_the_store_is_asked_about_new_series_only() -> None:
    calls: list[tuple[str, tuple[tuple[str, str], ...]]] = []

    class Store:  # start_of() only: asked series by series
        def start_of(self, metric_name: str, labels: tuple[tuple[str, str], ...],
                     now: float) -> float:
            calls.append((metric_name, labels))
            return now

    p = pusher(sample_families, RecordingExporter(), store=Store())
    p.export_once()
    assert ("aicode_commits_total", (("provider", "qoder"), ("org", "acme"), ("repo", "api"),
                                     ("primary_branch", "true"))) in calls
    assert len(calls) == 3  # the three counter series; gauges have no start
    p.export_once()
    assert len(calls) == 3


def test_a_batch_store_is_asked_once_per_export_for_all_new_series() -> None:
    batches: list[int] = []

    class Store(InMemoryStartTimes):
        def starts_of(self, series: Sequence[tuple[str, tuple[tuple[str, str], ...]]],
                      now: float) -> list[float]:
            batches.append(len(series))
            return super().starts_of(series, now)

    more = COMMITS.family((("qoder", "acme", f"r{i}", "true"), 1.0) for i in range(100))
    p = pusher(lambda: [*sample_families(), more], RecordingExporter(), store=Store())
    p.export_once()
    p.export_once()
    assert batches == [103]  # once, for every counter series; then nothing is new


def test_split_start_times_route_persisted_counters_to_the_store() -> None:
    store = InMemoryStartTimes()
    split = SplitStartTimes(store, {"aicode_commits_total"}.__contains__, FixedStartTimes(5.0))
    assert split.start_of("aicode_commits_total", (), 100.0) == 100.0
    assert split.start_of("aicode_commits_total", (), 200.0) == 100.0
    assert split.start_of("aicode_api_requests_total", (), 300.0) == 5.0
    assert len(store) == 1
    got = split.starts_of([("aicode_api_requests_total", ()), ("aicode_commits_total", ()),
                           ("aicode_commits_total", (("repo", "x"),))], 400.0)
    assert got == [5.0, 100.0, 400.0]


# -- resource ----------------------------------------------------------------------------


def test_resource_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    attrs = build_resource("host:1").attributes
    assert attrs["service.name"] == "aicode-exporter"
    assert attrs["service.version"] == __version__
    assert attrs["service.instance.id"] == "host:1"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES",
                       "deployment.environment.name=prod,service.namespace=ai")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "aicode-prod")
    attrs = build_resource().attributes
    assert attrs["service.name"] == "aicode-prod"
    assert attrs["deployment.environment.name"] == "prod"
    assert attrs["service.namespace"] == "ai"
    assert attrs["service.instance.id"]  # this process's


# -- the pusher ----------------------------------------------------------------------------


def test_failures_are_counted_and_logged_once_per_distinct_error(
        caplog: pytest.LogCaptureFixture) -> None:
    sdk = logging.getLogger("opentelemetry.exporter.otlp.fake")

    def log_like_the_sdk() -> None:
        sdk.error("Failed to export metrics batch code: %s, reason: %s", 503, "Unavailable")

    exp = RecordingExporter([MetricExportResult.FAILURE] * 3, on_export=log_like_the_sdk)
    p = pusher(sample_families, exp)
    with caplog.at_level(logging.INFO):
        assert not p.export_once()
        assert not p.export_once()
        assert not p.export_once()
        assert p.export_once()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "reason: Unavailable" in vars(warnings[0])["error"]
    # The SDK's own records were taken out of the log (they repeat every interval).
    assert not [r for r in caplog.records if r.name == sdk.name]
    assert any("recovered" in r.getMessage() for r in caplog.records)
    st = p.status()
    assert st.exports == {"success": 1, "failure": 3, "skipped": 0}
    assert "503" in st.last_error and st.last_success is not None
    fams = {f.spec.name: f for f in p.families()}
    assert dict(fams[OTLP_EXPORTS.name].samples) == {("success",): 1.0, ("failure",): 3.0,
                                                     ("skipped",): 0.0}
    assert fams[OTLP_EXPORT_DURATION.name].samples[0][0] == ()


def test_an_export_due_while_one_runs_is_skipped_and_counted() -> None:
    release, entered = threading.Event(), threading.Event()

    def block() -> None:
        entered.set()
        release.wait(5)

    exp = RecordingExporter(on_export=block)
    p = pusher(sample_families, exp)
    t = threading.Thread(target=p.export_once)
    t.start()
    assert entered.wait(5)
    assert p.export_once() is False  # not queued: skipped
    release.set()
    t.join(5)
    assert p.status().exports == {"success": 1, "failure": 0, "skipped": 1}
    assert len(exp.requests) == 1


def test_exporter_errors_are_failures_without_secrets() -> None:
    def broken(s: OtlpSettings) -> MetricExporter:
        raise OSError(f"cannot connect with {SECRET}")

    s = settings(headers=(("authorization", SECRET),))
    p = OtlpPusher(s, sample_families, InMemoryStartTimes(), exporter_factory=broken)
    assert not p.export_once()
    st = p.status()
    assert st.exports["failure"] == 1
    assert SECRET not in st.last_error and "<redacted>" in st.last_error


def test_stop_shuts_the_exporter_down_and_can_flush() -> None:
    exp = RecordingExporter()
    p = pusher(sample_families, exp)
    p.export_once()
    p.stop(flush=True)
    assert exp.shut and len(exp.requests) == 2


def test_cumulative_even_when_the_environment_prefers_delta(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    real = build_exporter(settings())  # the official exporter reads the variable...
    real.shutdown()
    exp = RecordingExporter()
    pusher(sample_families, exp).export_once()
    assert pushed(exp).metrics["aicode_commits"].temporality == "CUMULATIVE"  # ...unused


# -- settings -------------------------------------------------------------------------------


def test_no_block_and_no_endpoint_variable_means_off() -> None:
    assert resolve(None, {}) is None
    assert resolve(OtlpConfig(enabled=False), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) \
        is None


def test_an_endpoint_variable_alone_turns_the_push_on_with_defaults() -> None:
    s = resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert s is not None
    assert s.endpoint == "http://collector:4318/v1/metrics"
    assert (s.protocol, s.interval, s.timeout, s.compression, s.headers) == (
        "http/protobuf", 60.0, 10.0, "gzip", ())


def test_endpoint_resolution() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/otlp/",
           "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:4318/custom"}
    s = resolve(None, env)
    assert s is not None and s.endpoint == "http://m:4318/custom"  # as is, per the spec
    s = resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/otlp/"})
    assert s is not None and s.endpoint == "http://base:4318/otlp/v1/metrics"
    s = resolve(OtlpConfig(endpoint="https://cfg:4318"), env)  # the block wins
    assert s is not None and s.endpoint == "https://cfg:4318/v1/metrics"
    s = resolve(OtlpConfig(endpoint="http://cfg:4318/v1/metrics"), {})
    assert s is not None and s.endpoint == "http://cfg:4318/v1/metrics"
    s = resolve(OtlpConfig(), {})  # a block without endpoint: the spec's default
    assert s is not None and s.endpoint == "http://localhost:4318/v1/metrics"
    with pytest.raises(ConfigError, match=r"otlp\.endpoint"):
        resolve(OtlpConfig(endpoint="collector:4318"), {})


def test_grpc_endpoints_and_plaintext() -> None:
    s = resolve(OtlpConfig(protocol="grpc", endpoint="http://c:4317"), {})
    assert s is not None and (s.endpoint, s.insecure) == ("http://c:4317", True)
    s = resolve(OtlpConfig(protocol="grpc", endpoint="https://c:4317"), {})
    assert s is not None and s.insecure is False
    s = resolve(OtlpConfig(protocol="grpc", endpoint="c:4317"), {})
    assert s is not None and s.insecure is False  # the spec's default: TLS
    s = resolve(OtlpConfig(protocol="grpc", endpoint="c:4317"),
                {"OTEL_EXPORTER_OTLP_INSECURE": "true"})
    assert s is not None and s.insecure is True
    s = resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
                       "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert s is not None and (s.protocol, s.endpoint) == ("grpc", "http://c:4317")
    s = resolve(OtlpConfig(protocol="grpc"), {})
    assert s is not None and s.endpoint == "http://localhost:4317"
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL":
                       "http/json"})


def test_durations_from_the_block_or_milliseconds_from_the_environment() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRIC_EXPORT_INTERVAL": "15000",
           "OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "3000"}
    s = resolve(None, env)
    assert s is not None and (s.interval, s.timeout) == (15.0, 3.0)
    s = resolve(OtlpConfig(interval=timedelta(seconds=30), timeout=timedelta(seconds=5)), env)
    assert s is not None and (s.interval, s.timeout) == (30.0, 5.0)
    s = resolve(OtlpConfig.model_validate({"interval": "5s", "timeout": "1m"}), {})
    assert s is not None and s.timeout == 5.0  # capped: one export ends within its interval
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_TIMEOUT: expected milliseconds"):
        resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TIMEOUT":
                       "10s"})
    with pytest.raises(ValidationError, match="at least 1s"):
        OtlpConfig.model_validate({"interval": "500ms"})


def test_compression_and_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_COMPRESSION":
           "none", "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca)}
    s = resolve(None, env)
    assert s is not None and (s.compression, s.ca_file) == ("none", str(ca))
    s = resolve(OtlpConfig(compression="gzip"), env)
    assert s is not None and s.compression == "gzip"
    with pytest.raises(ConfigError, match="deflate"):
        resolve(None, {**env, "OTEL_EXPORTER_OTLP_COMPRESSION": "deflate"})
    with pytest.raises(ValidationError, match="ca_file"):
        OtlpConfig(ca_file=tmp_path / "missing.pem")


def test_headers_from_block_file_or_environment(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
           "OTEL_EXPORTER_OTLP_HEADERS": "api-key=generic",
           "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "Authorization=Bearer%20tok,x-tenant = t1"}
    s = resolve(None, env)
    assert s is not None and s.headers == (("authorization", "Bearer tok"), ("x-tenant", "t1"))
    cfg = OtlpConfig.model_validate({"headers": {"X-Scope-OrgID": "team"}})
    s = resolve(cfg, env)
    assert s is not None and s.headers == (("x-scope-orgid", "team"),)
    f = tmp_path / "otlp-headers"
    f.write_text(f"# the collector's token\nauthorization = {SECRET}\n\nx-tenant=t2\n")
    s = resolve(OtlpConfig(headers_file=f), env)
    assert s is not None and s.headers == (("authorization", SECRET), ("x-tenant", "t2"))


def test_an_unquoted_number_is_a_header_value() -> None:
    cfg = OtlpConfig.model_validate({"headers": {"x-tenant": 12345}})
    assert cfg.header_pairs == (("x-tenant", "12345"),)


def test_header_errors_never_quote_a_value(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both") as e:
        OtlpConfig.model_validate({"headers": {"a": SECRET}, "headers_file": "/x"})
    assert SECRET not in str(e.value)
    f = tmp_path / "h"
    f.write_text(f"authorization={SECRET}\n{SECRET}\n")
    with pytest.raises(ValidationError, match="line 2 is not key=value") as e:
        OtlpConfig(headers_file=f)
    assert SECRET not in str(e.value)
    with pytest.raises(ConfigError, match="entry 2") as ce:
        resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c",
                       "OTEL_EXPORTER_OTLP_HEADERS": f"a=b,{SECRET.replace(' ', '')}"})
    assert SECRET.replace(" ", "") not in str(ce.value)


def test_headers_never_in_repr(tmp_path: Path) -> None:
    cfg = OtlpConfig.model_validate({"headers": {"Authorization": SECRET}})
    s = resolve(cfg, {})
    assert s is not None
    for text in (repr(cfg), str(cfg), repr(s), str(s), f"{s}", repr(s.headers and s)):
        assert SECRET not in text
    assert "authorization" in repr(s)
    assert s.scrub(f"failed with {SECRET}") == "failed with <redacted>"


def test_userinfo_in_an_endpoint_is_not_shown() -> None:
    s = resolve(OtlpConfig(endpoint="https://user:pw@c:4318"), {})
    assert s is not None and "pw" not in repr(s) and s.safe_endpoint == \
        "https://<redacted>@c:4318/v1/metrics"
