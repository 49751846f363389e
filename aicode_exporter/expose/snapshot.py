"""Snapshot: the fully rendered exposition, built once per poll and served as bytes.

A scrape only picks the right pre-rendered bytes (text or OpenMetrics, gzip or not), so it
costs the same at 100,000 series as at 100. prometheus_client does the formatting, once per
render and only for the metric families whose samples changed since the last render: the
Publisher keeps every family's rendered block (both formats) and concatenates them.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from aicode_exporter.expose import catalog
from aicode_exporter.toolkit.families import Family, LabelValues, Samples, Spec, merge
from aicode_exporter.version import build_labels

logger = logging.getLogger(__name__)

PartKey = tuple[str, ...]

# Level 1 is about twice as fast as 6 on a 10 MB exposition and, on such repetitive text,
# no larger (bench/scrape.py prints both); the gzip of both bodies is most of what a
# re-render after a small change costs.
GZIP_LEVEL = 1
OPENMETRICS_EOF = b"# EOF\n"
# Every metric block of both formats starts with its HELP line; sample lines start with a
# metric name, and HELP texts and label values have their newlines escaped.
_BLOCK_START = re.compile(rb"^# HELP ", re.MULTILINE)


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


class Snapshot:
    """Immutable rendered output in both formats, each also gzipped. Both are rendered
    in the poll: Prometheus asks for OpenMetrics by default, so rendering it on the
    first scrape would put a render in the scrape path after every poll."""

    def __init__(self, text: bytes, openmetrics: bytes, series: int,
                 gzipped: tuple[bytes, bytes] | None = None) -> None:
        self.series = series
        self.text = text
        self.openmetrics = openmetrics
        self.text_gzip, self.openmetrics_gzip = gzipped or (
            gzip.compress(text, compresslevel=GZIP_LEVEL),
            gzip.compress(openmetrics, compresslevel=GZIP_LEVEL))


def build_snapshot(families: Iterable[Family]) -> Snapshot:
    """A full render of everything, nothing cached (what Publisher.render() must equal)."""
    merged = merge(families)
    reg = _Collected([_to_metric(spec, samples) for spec, samples in merged if samples])
    return Snapshot(generate_latest(reg),
                    generate_openmetrics(reg),  # type: ignore[no-untyped-call]
                    sum(len(s) for _, s in merged))


def _split(body: bytes, count: int) -> list[bytes] | None:
    """One rendered body of `count` metrics -> each metric's block, or None if the body
    does not have exactly `count` blocks (a format the splitting does not know)."""
    starts = [m.start() for m in _BLOCK_START.finditer(body)]
    if len(starts) != count or (starts[0] if starts else len(body)) != 0:
        return None
    ends = [*starts[1:], len(body)] if starts else []
    return [body[a:b] for a, b in zip(starts, ends, strict=True)]


def _render_blocks(metrics: list[Metric]) -> list[tuple[bytes, bytes]]:
    """(0.0.4 text block, OpenMetrics block) of each metric: one call of each generator
    for all of them, split per metric."""
    text = generate_latest(_Collected(metrics))
    om = generate_openmetrics(_Collected(metrics))  # type: ignore[no-untyped-call]
    om = om[:-len(OPENMETRICS_EOF)] if om.endswith(OPENMETRICS_EOF) else om
    text_blocks, om_blocks = _split(text, len(metrics)), _split(om, len(metrics))
    if text_blocks is None or om_blocks is None:  # not expected; still exact, just slower
        text_blocks = [generate_latest(_Collected([m])) for m in metrics]
        om_blocks = [body[:-len(OPENMETRICS_EOF)] for body in (
            generate_openmetrics(_Collected([m]))  # type: ignore[no-untyped-call]
            for m in metrics)]
    return list(zip(text_blocks, om_blocks, strict=True))


def _values(samples: Samples) -> bytes:
    """The sample values bit for bit: == would call 0.0 and -0.0 equal, which render
    differently."""
    return array("d", [v for _, v in samples]).tobytes()


@dataclass(slots=True)
class _Block:
    """One metric name's merged samples and rendered blocks, and the families they came
    from (compared by identity to know, without merging, that nothing changed)."""

    sources: tuple[Family, ...]
    spec: Spec
    samples: Samples
    values: bytes
    text: bytes = b""
    openmetrics: bytes = b""

    def same_as(self, other: _Block) -> bool:
        return (self.spec == other.spec and self.samples == other.samples
                and self.values == other.values)


def _same_sources(a: tuple[Family, ...], b: tuple[Family, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class Publisher:
    """Holds the last good families of every (vendor, org, endpoint, part) and the
    current snapshot. A failed part is simply not re-published, so its old values stay.

    render() re-renders only the metric names whose merged samples changed since the last
    render (a name's contributing families are compared by identity first, then, if some
    were re-published, its merged samples by value); the rest reuse their cached blocks.

    A family that cannot be rendered (a label UTF-8 cannot encode, a bug) never freezes
    the others: it keeps its last good block (or stays out), the error is logged once per
    family and kind of error, and aicode_render_failures_total (always present, like
    aicode_exporter_build_info) counts each failed render of a family. If the render as a
    whole fails, the last good snapshot stays served and that counts too."""

    def __init__(self, extra: Callable[[], list[Family]] = list,
                 catalogue: Mapping[str, Spec] | None = None,
                 fold: Callable[[PartKey, tuple[Family, ...]], tuple[Family, ...]]
                 | None = None) -> None:
        self._extra = extra
        # Bounds the label values of what a part publishes (toolkit/labelcap.py).
        self._fold = fold
        # name -> the catalogue's spec: its HELP wins over what a mapping built the
        # family with (a shared metric's HELP names every vendor that feeds it).
        self._catalogue = dict(catalogue or {})
        self._parts: dict[PartKey, tuple[Family, ...]] = {}
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._blocks: dict[str, _Block] = {}  # only touched under _render_lock
        self._failures = 0  # failed renders (of a family, or of all); under _render_lock
        self._logged: set[tuple[str, str]] = set()  # (family, error type) already logged
        self._failures_fam: Family | None = None
        self._snapshot = build_snapshot([])

    def _failed(self, name: str, error: Exception) -> None:
        self._failures += 1
        if (name, type(error).__name__) not in self._logged and len(self._logged) < 1000:
            self._logged.add((name, type(error).__name__))
            text = str(error).encode("utf-8", "backslashreplace").decode("utf-8")
            logger.error("metric family not rendered, serving its last good values",
                         extra={"metric": name, "error": f"{type(error).__name__}: {text}"})

    def _render_stale(self, stale: list[_Block]) -> list[_Block]:
        """Render the changed blocks (one call of each generator for all of them); if that
        fails, each on its own. Returns the blocks that could not be rendered."""
        try:
            rendered = _render_blocks([_to_metric(b.spec, b.samples) for b in stale])
        except Exception:  # which one? each on its own, below
            rendered = None
        if rendered is not None:
            for b, (text, om) in zip(stale, rendered, strict=True):
                b.text, b.openmetrics = text, om
            return []
        failed = []
        for b in stale:
            try:
                ((b.text, b.openmetrics),) = _render_blocks([_to_metric(b.spec, b.samples)])
            except Exception as e:
                self._failed(b.spec.name, e)
                failed.append(b)
        return failed

    def publish(self, key: PartKey, families: Iterable[Family]) -> None:
        fams = tuple(families)
        if self._fold is not None:
            fams = self._fold(key, fams)
        with self._lock:
            self._parts[key] = fams

    def render(self) -> Snapshot:
        with self._render_lock:
            try:
                return self._render()
            except Exception as e:
                self._failed("(all)", e)
                with self._lock:
                    return self._snapshot

    def _render(self) -> Snapshot:
        with self._lock:
            parts = [f for fams in self._parts.values() for f in fams]
            previous = self._snapshot
        build = catalog.BUILD_INFO.family([(build_labels(), 1.0)])
        sources: dict[str, list[Family]] = {}
        for fam in [build, *parts, *self._extra()]:
            sources.setdefault(fam.spec.name, []).append(fam)
        failures = self._failures
        sources[catalog.RENDER_FAILURES.name] = [self._failures_family()]

        blocks: dict[str, _Block] = {}
        stale: list[_Block] = []
        for name in sorted(sources):
            group = tuple(sources[name])
            old = self._blocks.get(name)
            if old is not None and _same_sources(old.sources, group):
                blocks[name] = old
                continue
            ((spec, samples),) = merge(group)
            spec = self._catalogue.get(name, spec)
            new = _Block(group, spec, samples, _values(samples))
            if old is not None and new.same_as(old):
                new.text, new.openmetrics = old.text, old.openmetrics
            elif samples:
                stale.append(new)
            blocks[name] = new

        # Always one call of each generator, even for no metric: a render formats here.
        for b in self._render_stale(stale):
            name = b.spec.name
            old = self._blocks.get(name)
            if old is not None:  # the last good rendering of that family
                blocks[name] = old
            else:
                del blocks[name]
        stale = [b for b in stale if blocks.get(b.spec.name) is b]
        if self._failures != failures:  # this render failed somewhere: count it now
            fam = self._failures_family()
            b = _Block((fam,), fam.spec, list(fam.samples), _values(list(fam.samples)))
            ((b.text, b.openmetrics),) = _render_blocks([_to_metric(b.spec, b.samples)])
            blocks[b.spec.name] = b
            stale.append(b)

        unchanged = (not stale and blocks.keys() == self._blocks.keys()
                     and all(b.text is self._blocks[n].text for n, b in blocks.items()))
        self._blocks = blocks
        series = sum(len(b.samples) for b in blocks.values())
        if unchanged and series == previous.series:
            snap = previous
        else:
            snap = Snapshot(b"".join(b.text for b in blocks.values()),
                            b"".join([*(b.openmetrics for b in blocks.values()),
                                      OPENMETRICS_EOF]),
                            series)
        with self._lock:
            self._snapshot = snap
        return snap

    def _failures_family(self) -> Family:
        """aicode_render_failures_total (no labels: it cannot fail to render itself); the
        same object while the count stays, so an unchanged render compares by identity."""
        fam = self._failures_fam
        if fam is None or fam.samples[0][1] != self._failures:
            fam = self._failures_fam = catalog.RENDER_FAILURES.family(
                [((), float(self._failures))])
        return fam

    def families(self) -> list[Family]:
        """The merged families of the last render: exactly what /metrics serves (the
        OTLP push reads these, so both outputs come from one snapshot)."""
        blocks = self._blocks  # replaced whole by render(); a block's samples never change
        return [Family(b.spec, tuple(b.samples)) for b in list(blocks.values()) if b.samples]

    @property
    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot
