"""The backfill's OpenMetrics writer: what promtool's create-blocks-from openmetrics reads
(timestamps on every sample, a family once, a series' samples in time order, # EOF)."""

from __future__ import annotations

import io

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from aicode_exporter.expose.history import HistoryWriter, check_label_name
from aicode_exporter.toolkit.families import Spec

GAUGE = Spec("aicode_daily_commits", "gauge", 'Commits "per" day\\ok\nsecond line.',
             ("provider", "org"))
COUNTER = Spec("aicode_commits_total", "counter", "Commit records.",
               ("provider", "org", "repo"))
DAY = 86_400


def write(*families: tuple[Spec, list[tuple[tuple[str, ...], list[tuple[float, float]]]]],
          labels: tuple[tuple[str, str], ...] = ()) -> str:
    out = io.BytesIO()
    w = HistoryWriter(out, labels)
    for spec, series in families:
        w.family(spec, series)
    w.close()
    return out.getvalue().decode()


def test_gauges_and_counters_with_timestamps_and_added_labels() -> None:
    text = write(
        (GAUGE, [(("qoder", "acme"), [(DAY, 12.0), (2 * DAY, 0.5)])]),
        (COUNTER, [(("cursor", "acme", 'we"ird\\repo\n'), [(DAY, 0.0), (DAY + 3600, 3.0)])]),
        labels=(("job", "aicode"), ("instance", "exporter:19877")))
    assert text == (
        '# HELP aicode_daily_commits Commits \\"per\\" day\\\\ok\\nsecond line.\n'
        "# TYPE aicode_daily_commits gauge\n"
        'aicode_daily_commits{provider="qoder",org="acme",job="aicode",'
        'instance="exporter:19877"} 12 86400\n'
        'aicode_daily_commits{provider="qoder",org="acme",job="aicode",'
        'instance="exporter:19877"} 0.5 172800\n'
        "# HELP aicode_commits Commit records.\n"
        "# TYPE aicode_commits counter\n"
        'aicode_commits_total{provider="cursor",org="acme",repo="we\\"ird\\\\repo\\n",'
        'job="aicode",instance="exporter:19877"} 0 86400\n'
        'aicode_commits_total{provider="cursor",org="acme",repo="we\\"ird\\\\repo\\n",'
        'job="aicode",instance="exporter:19877"} 3 90000\n'
        "# EOF\n")
    # A strict OpenMetrics parser reads it back: names, labels, values, timestamps.
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counter = families["aicode_commits"]
    assert counter.type == "counter"
    assert [(s.name, s.labels["repo"], s.value, float(s.timestamp))
            for s in counter.samples] == [
        ("aicode_commits_total", 'we"ird\\repo\n', 0.0, 86400),
        ("aicode_commits_total", 'we"ird\\repo\n', 3.0, 90000)]
    assert families["aicode_daily_commits"].samples[1].labels == {
        "provider": "qoder", "org": "acme", "job": "aicode", "instance": "exporter:19877"}


def test_stats_count_what_was_written() -> None:
    out = io.BytesIO()
    w = HistoryWriter(out)
    w.family(GAUGE, [(("qoder", "a"), [(DAY, 1.0), (3 * DAY, 2.0)]), (("qoder", "b"), [])])
    w.family(COUNTER, [])  # nothing to write: no HELP/TYPE either
    st = w.close()
    assert (st.families, st.series, st.samples, st.first, st.last, st.days) == (
        1, 1, 2, DAY, 3 * DAY, 2)
    assert st.bytes == len(out.getvalue())
    assert "aicode_commits" not in out.getvalue().decode()


def test_special_values_and_fractional_times() -> None:
    text = write((GAUGE, [(("q", "a"), [(1.5, float("nan")), (2.0, float("inf")),
                                        (3.0, -1e300), (4.0, 1e16)])]))
    values = [line.split(" ", 1)[1] for line in text.splitlines() if line[0] != "#"]
    assert values == ["NaN 1.5", "+Inf 2", "-1e+300 3", "1e+16 4"]


@pytest.mark.parametrize(("series", "error"), [
    ([(("q", "a", "r"), [(2.0, 1.0), (1.0, 2.0)])], "out of time order"),
    ([(("q", "a", "r"), [(1.0, 1.0), (1.0, 1.0)])], "out of time order"),
    ([(("q", "a", "r"), [(1.0, 2.0), (2.0, 1.0)])], "counter decreases"),
    ([(("q", "a", "r"), [(1.0, -1.0)])], "counter decreases"),
    ([(("q", "a"), [(1.0, 1.0)])], "2 label values for 3 label names"),
])
def test_what_promtool_would_refuse_or_misread_is_refused(
        series: list[tuple[tuple[str, ...], list[tuple[float, float]]]], error: str) -> None:
    w = HistoryWriter(io.BytesIO())
    with pytest.raises(ValueError, match=error):
        w.family(COUNTER, series)


def test_a_family_appears_once_and_added_labels_do_not_clash() -> None:
    w = HistoryWriter(io.BytesIO())
    w.family(GAUGE, [(("q", "a"), [(1.0, 1.0)])])
    with pytest.raises(ValueError, match="only once"):
        w.family(GAUGE, [(("q", "b"), [(1.0, 1.0)])])
    with pytest.raises(ValueError, match="already has the label 'org'"):
        HistoryWriter(io.BytesIO(), (("org", "x"),)).family(GAUGE, [(("q", "a"), [(1, 1)])])


@pytest.mark.parametrize(("name", "ok"), [("job", True), ("_x9", True), ("9x", False),
                                          ("a-b", False), ("__name__", False), ("", False)])
def test_added_label_names(name: str, ok: bool) -> None:
    assert (check_label_name(name) is None) is ok
    if not ok:
        with pytest.raises(ValueError):
            HistoryWriter(io.BytesIO(), ((name, "v"),))
