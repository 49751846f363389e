"""Publisher.render() re-renders only the families that changed, and its bytes are exactly
those of a fresh full render with prometheus_client, in both formats."""

from __future__ import annotations

import gzip
import math
import threading
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

import aicode_exporter.expose.snapshot as snapshot
from aicode_exporter.expose import catalog
from aicode_exporter.expose.snapshot import PartKey, Publisher, Snapshot
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.version import build_labels

LINES = Spec("t_lines", "gauge", 'Lines; with "quotes", a \\ and a\nnewline.', ("org", "user"))
SHARE = Spec("t_share_ratio", "gauge", "Share.", ("org",))
COMMITS = Spec("t_commits", "counter", "Commits (counter, rendered with _total).",
               ("org", "repo"))
EMPTY = Spec("t_empty", "gauge", "Never has samples.", ("org",))
ZZZ = Spec("t_zzz", "gauge", "Sorts last.", ())
MIDDLE = Spec("t_middle", "counter", "Appears and disappears.", ("org",))
NASTY = ('a"quote', "back\\slash", "new\nline", "ünïcødé 日本 🚀", "", "tab\tand\r")


class Registry:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def full_render(families: Iterable[Family]) -> tuple[bytes, bytes, int]:
    """What a render of everything produces, written out here independently: the first
    spec of a name wins, later samples of the same labels win, samples sorted, names
    sorted, families without samples left out."""
    specs: dict[str, Spec] = {}
    samples: dict[str, dict[tuple[str, ...], float]] = {}
    for fam in families:
        specs.setdefault(fam.spec.name, fam.spec)
        samples.setdefault(fam.spec.name, {}).update(fam.samples)
    metrics: list[Metric] = []
    for name in sorted(specs):
        spec = specs[name]
        cls = GaugeMetricFamily if spec.kind == "gauge" else CounterMetricFamily
        metric = cls(name, spec.help, labels=list(spec.labelnames))
        for values, value in sorted(samples[name].items()):
            metric.add_metric(list(values), value)
        if metric.samples:
            metrics.append(metric)
    reg = Registry(metrics)
    return (generate_latest(reg), generate_openmetrics(reg),  # type: ignore[no-untyped-call]
            sum(len(s) for s in samples.values()))


class Model:
    """A Publisher and what it should hold, side by side."""

    def __init__(self) -> None:
        self.parts: dict[PartKey, tuple[Family, ...]] = {}
        self.extra: list[Family] = []
        self.pub = Publisher(extra=lambda: list(self.extra))

    def publish(self, key: PartKey, families: Iterable[Family]) -> None:
        fams = tuple(families)
        self.parts[key] = fams
        self.pub.publish(key, fams)

    def check(self) -> Snapshot:
        snap = self.pub.render()
        build = catalog.BUILD_INFO.family([(build_labels(), 1.0)])
        failures = catalog.RENDER_FAILURES.family([((), 0.0)])
        text, om, series = full_render(
            [build, failures, *(f for fams in self.parts.values() for f in fams), *self.extra])
        assert snap.text == text
        assert snap.openmetrics == om
        assert snap.series == series
        assert gzip.decompress(snap.text_gzip) == text
        assert gzip.decompress(snap.openmetrics_gzip) == om
        assert self.pub.snapshot is snap
        return snap


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the metrics each render formats, in the 0.0.4 generator's calls."""
    names: list[str] = []

    def spy(reg: Registry) -> bytes:
        names.extend(m.name for m in reg.collect())
        return generate_latest(reg)

    monkeypatch.setattr(snapshot, "generate_latest", spy)
    return names


def lines(*users: tuple[str, float], org: str = "acme") -> Family:
    return LINES.family(((org, u), v) for u, v in users)


def test_incremental_render_equals_a_full_render_step_by_step(rendered: list[str]) -> None:
    m = Model()
    m.check()  # only build_info
    m.extra = [catalog.UP.family([(("v", "acme", "ep"), 1.0)]),
               catalog.API_REQUESTS.family([(("v", "acme", "ep", "200"), 3.0)])]
    m.publish(("v", "acme", "a", "7d"), [
        lines(*((f"user {n}", float(i)) for i, n in enumerate(NASTY))),
        SHARE.family([(("acme",), 0.25)]),
        COMMITS.family([(("acme", "r1"), 5.0), (("acme", 'r"2'), 7.0)]),
        EMPTY.family([])])
    # A second part feeds the same families; its sample with the same labels wins.
    m.publish(("v", "acme", "b", "7d"), [
        lines(("user " + NASTY[0], 99.0), ("zed", -1.5), org="other"),
        lines(("user " + NASTY[1], 42.0)),
        COMMITS.family([(("other", "r1"), 1.0)]),
        ZZZ.family([((), math.inf)])])
    m.check()

    # One part changes one value: only the families it feeds are formatted again.
    rendered.clear()
    m.publish(("v", "acme", "b", "7d"), [
        lines(("user " + NASTY[0], 99.0), ("zed", -1.5), org="other"),
        lines(("user " + NASTY[1], 43.0)),
        COMMITS.family([(("other", "r1"), 1.0)]),
        ZZZ.family([((), math.inf)])])
    m.check()
    assert rendered == ["t_lines"]

    # The self-telemetry changes: a new label set in one family.
    rendered.clear()
    m.extra = [m.extra[0], catalog.API_REQUESTS.family([(("v", "acme", "ep", "200"), 3.0),
                                                        (("v", "acme", "ep", "429"), 1.0)])]
    m.check()
    assert rendered == ["aicode_api_requests"]

    # Nothing changed, or a part re-published with equal new objects: nothing formatted,
    # the snapshot (and its gzip) is reused.
    rendered.clear()
    before = m.check()
    m.publish(("v", "acme", "a", "7d"), [Family(f.spec, tuple(f.samples))
                                         for f in m.parts[("v", "acme", "a", "7d")]])
    m.extra = list(m.extra)
    assert m.check() is before
    assert rendered == []

    # A family appears between others, then disappears (empty, then its part gone).
    m.publish(("v", "acme", "c", "30d"), [MIDDLE.family([(("acme",), 2.0)])])
    m.check()
    assert rendered == ["t_middle"]
    m.publish(("v", "acme", "c", "30d"), [MIDDLE.family([])])
    m.check()
    m.publish(("v", "acme", "c", "30d"), [])
    m.check()
    # A telemetry family goes away; a family becomes empty; 0.0 becomes -0.0 (== says
    # equal, the text differs); NaN and huge values.
    m.extra = m.extra[1:]
    m.publish(("v", "acme", "b", "7d"), [ZZZ.family([((), 0.0)])])
    m.check()
    rendered.clear()
    m.publish(("v", "acme", "b", "7d"), [ZZZ.family([((), -0.0)])])
    assert b"t_zzz -0.0\n" in m.check().text
    assert rendered == ["t_zzz"]
    m.publish(("v", "acme", "b", "7d"), [ZZZ.family([((), math.nan)]),
                                         SHARE.family([(("big",), 1e22)])])
    m.check()
    m.publish(("v", "acme", "a", "7d"), [EMPTY.family([])])
    m.check()


def test_one_call_of_each_generator_per_render_even_when_nothing_changed(
        rendered: list[str]) -> None:
    pub = Publisher()
    pub.publish(("p",), [SHARE.family([(("a",), 1.0)]), ZZZ.family([((), 1.0)])])
    first = pub.render()
    assert rendered == ["aicode_exporter_build_info", "aicode_render_failures", "t_share_ratio",
                        "t_zzz"]
    assert pub.render() is first


def test_split_refuses_a_body_it_does_not_understand() -> None:
    body = b"# HELP a x\n# TYPE a gauge\na 1.0\n# HELP b y\n# TYPE b gauge\nb 2.0\n"
    second = body.index(b"# HELP b")
    assert snapshot._split(body, 2) == [body[:second], body[second:]]
    assert snapshot._split(body, 1) is None
    assert snapshot._split(b"a 1.0\n" + body, 2) is None
    assert snapshot._split(b"", 0) == []
    assert snapshot._split(b"junk", 0) is None


def test_per_metric_fallback_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "_split", lambda body, count: None)
    m = Model()
    m.publish(("p",), [lines(("u", 1.0)), COMMITS.family([(("acme", "r"), 2.0)]),
                       EMPTY.family([])])
    m.check()
    m.publish(("p",), [lines(("u", 2.0)), COMMITS.family([(("acme", "r"), 2.0)])])
    m.check()


label = st.sampled_from(["acme", "x", *NASTY])
value = st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, math.inf, 1e22, 7])
spec_ = st.sampled_from([LINES, SHARE, COMMITS, EMPTY, ZZZ, MIDDLE])


@st.composite
def family(draw: st.DrawFn) -> Family:
    spec = draw(spec_)
    n = len(spec.labelnames)
    return spec.family(draw(st.lists(st.tuples(st.tuples(*[label] * n), value), max_size=4)))


step: st.SearchStrategy[tuple[str, str, list[Family]]] = st.one_of(
    st.tuples(st.just("publish"), st.sampled_from(["p1", "p2", "p3"]),
              st.lists(family(), max_size=4)),
    st.tuples(st.just("republish"), st.sampled_from(["p1", "p2", "p3"]), st.just([])),
    st.tuples(st.just("extra"), st.just(""), st.lists(family(), max_size=2)),
    st.tuples(st.just("render"), st.just(""), st.just([])),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=12))
def test_any_sequence_of_publishes_renders_like_a_full_render(
        steps: list[tuple[str, str, list[Family]]]) -> None:
    m = Model()
    for op, key, fams in steps:
        if op == "publish":
            m.publish((key,), fams)
        elif op == "republish" and (key,) in m.parts:  # equal, but new objects
            m.publish((key,), [Family(f.spec, tuple(f.samples)) for f in m.parts[(key,)]])
        elif op == "extra":
            m.extra = fams
        else:
            m.check()
    m.check()


def test_publishing_and_rendering_from_many_threads() -> None:
    m = Model()

    def poll(part: str) -> None:
        for i in range(30):
            m.pub.publish((part,), [lines((part, float(i))), SHARE.family([((part,), i)])])
            m.pub.render()

    threads = [threading.Thread(target=poll, args=(f"p{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(4):
        m.parts[(f"p{n}",)] = (lines((f"p{n}", 29.0)), SHARE.family([((f"p{n}",), 29)]))
    m.check()
