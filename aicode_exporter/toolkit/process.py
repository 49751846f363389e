"""The standard `process_*` and `python_*` metrics (prometheus_client's collectors), as
families for the snapshot, so the exporter can be alerted on like any other."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from aicode_exporter.toolkit.families import Family, Spec


def standard_collectors() -> tuple[Collector, ...]:
    """Our own instances, registered nowhere (no global registry)."""
    scratch = CollectorRegistry()  # GCCollector insists on a registry: a private one
    return (ProcessCollector(registry=None), PlatformCollector(registry=None),
            GCCollector(registry=scratch))


def process_families(collectors: Iterable[Collector]) -> list[Family]:
    """process_resident_memory_bytes 4.2e+07
    python_gc_objects_collected_total{generation="0"} 1234"""
    out = []
    for collector in collectors:
        for metric in collector.collect():
            counter = metric.type == "counter"
            name = f"{metric.name}_total" if counter else metric.name
            samples = [s for s in metric.samples if s.name == name or
                       (not counter and s.name == metric.name)]
            if not samples:
                continue
            labelnames = tuple(sorted(samples[0].labels))
            spec = Spec(name, "counter" if counter else "gauge", metric.documentation,
                        labelnames)
            out.append(spec.family((tuple(s.labels[n] for n in labelnames), s.value)
                                   for s in samples))
    return out
