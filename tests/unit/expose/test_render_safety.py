"""A family that cannot be rendered never freezes the exposition: it keeps its last good
block (or stays out), the error is logged once naming it, and
aicode_render_failures_total counts each failed render."""

from __future__ import annotations

import logging

import pytest

from aicode_exporter.expose import catalog
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.toolkit.families import Family, Spec
from tests.support import exposition

GOOD = Spec("t_good", "gauge", "A family that always renders.", ("provider", "model"))
FRAGILE = Spec("t_fragile_total", "counter", "A family that gets a bad label.",
               ("provider", "model"))
BAD_LABEL = "gpt\udc80"  # UTF-8 cannot encode it: prometheus_client's encode() raises


def good(v: float) -> Family:
    return GOOD.family([(("qoder", "m"), v)])


def fragile(model: str, v: float) -> Family:
    return FRAGILE.family([(("qoder", model), v)])


def samples(pub: Publisher) -> dict[str, float]:
    return exposition.parse(pub.snapshot.text)


def failures(pub: Publisher) -> float | None:
    return samples(pub).get(catalog.RENDER_FAILURES.name)


def test_a_family_that_cannot_render_keeps_its_last_good_values_and_the_rest_move_on(
        caplog: pytest.LogCaptureFixture) -> None:
    pub = Publisher()
    pub.publish(("a",), [good(1)])
    pub.publish(("b",), [fragile("gpt", 5)])
    pub.render()
    assert failures(pub) == 0  # always there, like build_info
    pub.publish(("a",), [good(2)])
    pub.publish(("b",), [fragile(BAD_LABEL, 6)])
    with caplog.at_level(logging.ERROR):
        pub.render()
        pub.publish(("a",), [good(3)])
        pub.render()
    got = samples(pub)
    assert got['t_good{model="m",provider="qoder"}'] == 3  # the rest keeps moving
    assert got['t_fragile_total{model="gpt",provider="qoder"}'] == 5  # last good values
    assert failures(pub) == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and vars(errors[0])["metric"] == "t_fragile_total"
    # both formats stay whole and valid
    assert pub.snapshot.openmetrics.endswith(b"# EOF\n")
    pub.snapshot.text.decode("utf-8")
    pub.publish(("b",), [fragile("gpt", 7)])  # fixed: renders again
    pub.render()
    assert samples(pub)['t_fragile_total{model="gpt",provider="qoder"}'] == 7


def test_a_family_that_never_rendered_stays_out_and_the_rest_is_served() -> None:
    pub = Publisher()
    pub.publish(("a",), [good(1)])
    pub.publish(("b",), [fragile(BAD_LABEL, 6)])
    snap = pub.render()
    got = exposition.parse(snap.text)
    assert got['t_good{model="m",provider="qoder"}'] == 1
    assert not any(k.startswith("t_fragile") for k in got)
    assert got["aicode_render_failures_total"] == 1
    assert any(k.startswith("aicode_exporter_build_info{") for k in got)


def test_a_failing_render_as_a_whole_keeps_the_last_snapshot(
        caplog: pytest.LogCaptureFixture) -> None:
    broken = {"on": False}

    def extra() -> list[Family]:
        if broken["on"]:
            raise RuntimeError("telemetry bug")
        return []

    pub = Publisher(extra=extra)
    pub.publish(("a",), [good(1)])
    first = pub.render()
    broken["on"] = True
    pub.publish(("a",), [good(2)])
    with caplog.at_level(logging.ERROR):
        assert pub.render() is first
    assert pub.snapshot is first
    [error] = [vars(r) for r in caplog.records if r.levelno == logging.ERROR]
    assert error["metric"] == "(all)" and error["error"] == "RuntimeError: telemetry bug"
    broken["on"] = False
    pub.render()
    assert samples(pub)['t_good{model="m",provider="qoder"}'] == 2
    assert failures(pub) == 1
