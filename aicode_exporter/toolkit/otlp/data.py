"""Families -> the SDK's MetricsData, built directly (no MeterProvider: it would
aggregate, apply Views and a cardinality limit, and pick temporality, none of which
/metrics does). A gauge is an OTLP Gauge; a counter a monotonic Sum with CUMULATIVE
temporality, named without its `_total`, its start time from a StartTimes store; values
exact, attributes the labels."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from aicode_exporter.toolkit.families import Family, Samples, Spec, merge
from aicode_exporter.toolkit.otlp.starts import StartTimes, starts_of

# Stable for the life of this process (two pushers in one process share it).
PROCESS_INSTANCE_ID = str(uuid.uuid4())
_NS = 1_000_000_000


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
class Built:
    data: MetricsData | None  # None: nothing to push
    points: int


class Builder:
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

    def build(self, families: Iterable[Family], now: float) -> Built:
        now_ns = int(now * _NS)
        starts: dict[tuple[str, tuple[str, ...]], int] = {}
        merged = [(spec, samples) for spec, samples in merge(families) if samples]
        self._learn_new_starts(merged, now)
        metrics = [self._metric(spec, self._points(spec, samples, now_ns, starts))
                   for spec, samples in merged]
        self._starts = starts
        points = sum(len(samples) for _, samples in merged)
        return Built(self._data(metrics) if metrics else None, points)

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
