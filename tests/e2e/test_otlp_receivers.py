"""OTLP push over real loopback sockets to receivers that decode with the official
opentelemetry-proto classes: http/protobuf (gzip) and gRPC, through the official
OTLPMetricExporter. Every family arrives exactly; counters are monotonic cumulative sums
whose start survives a restart; the resource; a dead receiver; headers kept secret."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicode_exporter.config.otlp import OtlpConfig, OtlpSettings, resolve
from aicode_exporter.expose.push import OtlpPusher
from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.logfmt import setup_logging
from aicode_exporter.toolkit.otlp.data import otlp_name
from aicode_exporter.toolkit.otlp.starts import InMemoryStartTimes
from aicode_exporter.version import __version__
from tests.support.fakes import FakeClock
from tests.support.otlp_receivers import (
    COMMITS,
    SECRET,
    GrpcReceiver,
    HttpReceiver,
    dead_port,
    decode_received,
    sample_families,
    self_signed,
)

PROTOCOLS = ("http/protobuf", "grpc")


@pytest.fixture(params=PROTOCOLS)
def receiver(request: pytest.FixtureRequest) -> Iterator[HttpReceiver | GrpcReceiver]:
    with (HttpReceiver() if request.param == "http/protobuf" else GrpcReceiver()) as r:
        yield r


def protocol_of(receiver: HttpReceiver | GrpcReceiver) -> str:
    return "http/protobuf" if isinstance(receiver, HttpReceiver) else "grpc"


def settings_for(receiver: HttpReceiver | GrpcReceiver, **block: Any) -> OtlpSettings:
    """Through the real config path: an `otlp:` block and resolve()."""
    cfg = OtlpConfig.model_validate({"endpoint": receiver.url,
                                     "protocol": protocol_of(receiver),
                                     "timeout": "3s", **block})
    s = resolve(cfg, {})
    assert s is not None
    return s


def test_every_family_arrives_exactly(receiver: HttpReceiver | GrpcReceiver,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,team=ai")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "aicode-e2e")
    clock = FakeClock()
    s = settings_for(receiver, headers={"Authorization": SECRET}, compression="gzip")
    p = OtlpPusher(s, sample_families, InMemoryStartTimes(), clock=clock.monotonic,
                   wall=clock.wall)
    try:
        assert p.export_once(), p.status().last_error
    finally:
        p.stop()
    (got,) = receiver.wait(1)
    assert got.headers["authorization"] == SECRET
    decoded = decode_received([got])
    assert decoded.resource["service.name"] == "aicode-e2e"
    assert decoded.resource["service.version"] == __version__
    assert decoded.resource["service.instance.id"]
    assert decoded.resource["deployment.environment.name"] == "test"
    assert decoded.resource["team"] == "ai"
    assert decoded.scopes == {("aicode_exporter", __version__)}
    families = sample_families()
    assert set(decoded.metrics) == {otlp_name(f.spec) for f in families}
    now_ns = int(clock.wall_time * 1e9)
    for fam in families:
        m = decoded.metrics[otlp_name(fam.spec)]
        assert m.description == fam.spec.help
        if fam.spec.kind == "counter":
            assert (m.kind, m.is_monotonic, m.temporality) == ("sum", True, "CUMULATIVE")
        else:
            assert m.kind == "gauge"
        points = m.by_attributes()
        assert len(points) == len(m.points) == len(fam.samples)
        for values, value in fam.samples:
            point = points[tuple(sorted(zip(fam.spec.labelnames, values, strict=True)))]
            assert point.value == value
            assert point.time_unix_nano == now_ns
            if fam.spec.kind == "counter":
                assert point.start_time_unix_nano == now_ns  # first seen now


def test_start_time_survives_a_restart(receiver: HttpReceiver | GrpcReceiver) -> None:
    store = InMemoryStartTimes()
    s = settings_for(receiver)
    first = FakeClock(wall_time=1_700_000_000.0)
    second = FakeClock(wall_time=1_700_086_400.0)
    for clock in (first, second):  # two processes sharing one state file
        p = OtlpPusher(s, sample_families, store, clock=clock.monotonic, wall=clock.wall)
        try:
            assert p.export_once(), p.status().last_error
        finally:
            p.stop()
    a, b = receiver.wait(2)
    for got, clock in ((a, first), (b, second)):
        for point in decode_received([got]).metrics["aicode_commits"].points:
            assert point.start_time_unix_nano == 1_700_000_000 * 10**9
            assert point.time_unix_nano == int(clock.wall_time * 1e9)


def test_cumulative_even_if_the_environment_prefers_delta(
        receiver: HttpReceiver | GrpcReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    p = OtlpPusher(settings_for(receiver), sample_families, InMemoryStartTimes())
    try:
        assert p.export_once()
    finally:
        p.stop()
    metrics = decode_received(receiver.wait(1)).metrics
    for name in ("aicode_commits", "aicode_api_requests"):
        assert metrics[name].temporality == "CUMULATIVE"


def test_5000_series_of_one_metric_arrive(receiver: HttpReceiver | GrpcReceiver) -> None:
    fam = COMMITS.family((("qoder", "acme", f"r{i}", "true"), float(i)) for i in range(5000))
    p = OtlpPusher(settings_for(receiver, compression="none"), lambda: [fam],
                   InMemoryStartTimes(), max_points_per_request=2000)
    try:
        assert p.export_once(), p.status().last_error
    finally:
        p.stop()
    received = receiver.wait(3)
    if isinstance(receiver, HttpReceiver):
        assert "content-encoding" not in received[0].headers
    m = decode_received(received).metrics["aicode_commits"]
    assert sorted(p.value for p in m.points) == [float(i) for i in range(5000)]
    assert len({p.attributes["repo"] for p in m.points}) == 5000


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_dead_receiver_is_counted_and_blocks_nobody(
        protocol: str, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "logfmt")
    try:
        cfg = OtlpConfig.model_validate({
            "endpoint": f"http://127.0.0.1:{dead_port()}", "protocol": protocol,
            "interval": "1s", "timeout": "1s", "headers": {"Authorization": SECRET}})
        s = resolve(cfg, {})
        assert s is not None
        p = OtlpPusher(s, sample_families, InMemoryStartTimes())
        t0 = time.monotonic()
        p.start()
        assert time.monotonic() - t0 < 0.5  # the caller goes on at once
        deadline = time.monotonic() + 15
        while p.status().exports["failure"] < 2 and time.monotonic() < deadline:
            t1 = time.monotonic()
            p.status(), p.families()  # what a scrape or the landing page reads
            assert time.monotonic() - t1 < 0.5  # never waits on the 1 s export
            time.sleep(0.05)
        t2 = time.monotonic()
        p.stop()
        assert time.monotonic() - t2 < 5
        st = p.status()
        assert st.exports["failure"] >= 2 and st.exports["success"] == 0
        assert st.last_error and st.last_success is None
        fams = {f.spec.name: f for f in p.families()}
        assert dict(fams["aicode_otlp_exports_total"].samples)[("failure",)] >= 2
        logs = capsys.readouterr().err
        assert logs.count("otlp export failed") == 1, logs  # once per distinct error
        for where in (logs, st.last_error, repr(s), str(s), repr(cfg), repr(st),
                      repr(p.families())):
            assert SECRET not in where
            assert SECRET.split()[1] not in where
    finally:
        logging.getLogger().handlers.clear()


def test_headers_reach_the_receiver_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "logfmt")
    try:
        with HttpReceiver(status=503) as rec:  # fails: every error path logs something
            s = resolve(OtlpConfig.model_validate({"endpoint": rec.url, "timeout": "1s",
                                                   "headers": {"X-Api-Key": SECRET}}), {})
            assert s is not None
            p = OtlpPusher(s, sample_families, InMemoryStartTimes())
            assert not p.export_once()
            p.stop()
            got = rec.wait(1)
        assert got[0].headers["x-api-key"] == SECRET
        logs = capsys.readouterr().err
        assert "otlp export failed" in logs and "503" in p.status().last_error
        for where in (logs, p.status().last_error, repr(s)):
            assert SECRET not in where
    finally:
        logging.getLogger().handlers.clear()


def test_the_thread_pushes_every_interval_and_skips_when_an_export_overruns() -> None:
    with HttpReceiver() as rec:
        slow = threading.Event()
        calls = 0

        def families() -> list[Family]:
            nonlocal calls
            calls += 1
            if calls == 2:
                slow.wait(0.75)  # the second export overruns 0.3 s intervals
            return sample_families()

        s = OtlpSettings(endpoint=rec.url + "/v1/metrics", interval=0.3, timeout=0.3)
        p = OtlpPusher(s, families, InMemoryStartTimes())
        p.start()
        rec.wait(4, timeout=10)
        p.stop()
        st = p.status()
        assert st.exports["success"] >= 4 and st.exports["failure"] == 0
        assert st.exports["skipped"] >= 2  # the due times the slow one ran over


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tls_to_the_collector_with_ca_file(protocol: str, tmp_path: Path) -> None:
    tls = self_signed(tmp_path)
    if tls is None:
        pytest.skip("no openssl command to make a certificate")
    rec = HttpReceiver(tls=tls) if protocol == "http/protobuf" else GrpcReceiver(tls=tls)
    with rec:
        assert rec.url.startswith("https://")
        for ca_file, ok in ((None, False), (str(tls.cert), True)):  # untrusted, then trusted
            block = {"endpoint": rec.url, "protocol": protocol, "timeout": "2s"}
            s = resolve(OtlpConfig.model_validate(
                {**block, **({"ca_file": ca_file} if ca_file else {})}), {})
            assert s is not None
            p = OtlpPusher(s, sample_families, InMemoryStartTimes())
            try:
                assert p.export_once() is ok, p.status().last_error
            finally:
                p.stop()
        assert decode_received(rec.wait(1)).metrics["aicode_up"].points
