"""Snapshot: the fully rendered exposition, built once per poll and served as bytes.

A scrape only picks the right pre-rendered bytes (text or OpenMetrics, gzip or not), so it
costs the same at 100,000 series as at 100. prometheus_client does the formatting, once.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterable, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.expose import catalog
from exporter.expose.families import Family, LabelValues, Spec
from exporter.version import __version__

PartKey = tuple[str, ...]


class _Collected:
    """The `registry` prometheus_client's generators ask for: anything with collect()."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def _to_metric(spec: Spec, samples: Sequence[tuple[LabelValues, float]]) -> Metric:
    cls = GaugeMetricFamily if spec.kind == "gauge" else CounterMetricFamily
    metric = cls(spec.name, spec.help, labels=list(spec.labelnames))
    for values, value in samples:
        metric.add_metric(list(values), value)
    return metric


def merge(families: Iterable[Family]) -> list[tuple[Spec, list[tuple[LabelValues, float]]]]:
    """Group samples of the same metric from many parts, in a stable order."""
    by_name: dict[str, tuple[Spec, dict[LabelValues, float]]] = {}
    for fam in families:
        entry = by_name.setdefault(fam.spec.name, (fam.spec, {}))
        entry[1].update(fam.samples)
    return [(spec, sorted(samples.items())) for _, (spec, samples) in sorted(by_name.items())]


class Snapshot:
    """Immutable rendered output in both formats, each also gzipped. Both are rendered
    here, in the poll: Prometheus asks for OpenMetrics by default, so rendering it on the
    first scrape would put a full render in the scrape path after every poll."""

    def __init__(self, metrics: list[Metric], series: int) -> None:
        self.series = series
        self.text = generate_latest(_Collected(metrics))
        self.text_gzip = gzip.compress(self.text, compresslevel=6)
        self.openmetrics = generate_openmetrics(  # type: ignore[no-untyped-call]
            _Collected(metrics))
        self.openmetrics_gzip = gzip.compress(self.openmetrics, compresslevel=6)


def build_snapshot(families: Iterable[Family]) -> Snapshot:
    merged = merge(families)
    metrics = [_to_metric(spec, samples) for spec, samples in merged if samples]
    return Snapshot(metrics, sum(len(s) for _, s in merged))


class Publisher:
    """Holds the last good families of every (vendor, org, endpoint, part) and the
    current snapshot. A failed part is simply not re-published, so its old values stay."""

    def __init__(self, extra: Callable[[], list[Family]] = list) -> None:
        self._extra = extra
        self._parts: dict[PartKey, tuple[Family, ...]] = {}
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._snapshot = build_snapshot([])

    def publish(self, key: PartKey, families: Iterable[Family]) -> None:
        with self._lock:
            self._parts[key] = tuple(families)

    def render(self) -> Snapshot:
        with self._render_lock:
            with self._lock:
                parts = [f for fams in self._parts.values() for f in fams]
            build = catalog.BUILD_INFO.family([((__version__,), 1.0)])
            snap = build_snapshot([build, *parts, *self._extra()])
            with self._lock:
                self._snapshot = snap
            return snap

    @property
    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot
