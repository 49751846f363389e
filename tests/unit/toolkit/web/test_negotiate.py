"""Content negotiation: q-values in Accept and Accept-Encoding decide OpenMetrics and
gzip."""

from __future__ import annotations

import pytest

from aicode_exporter.toolkit.web.negotiate import accepts_gzip, accepts_openmetrics


@pytest.mark.parametrize("header", [
    "gzip;q=0", "gzip;q=0.0", "gzip; q=0.000", "gzip ; Q=0.", "GZIP;q=0.00",
    "*;q=0", "identity", "", "br", "deflate, br;q=0.5", "gzip;q=0, *;q=1",
    "gzip;q=garbage", "gzip;q=-1", "x-gzip;q=0",
])
def test_gzip_not_acceptable(header: str) -> None:
    assert not accepts_gzip(header), header


@pytest.mark.parametrize("header", [
    "gzip", "GZIP", "gzip;q=1", "gzip;q=0.001", "gzip; q=0.5", "*", "*;q=0.1",
    "br, *;q=0.2", "identity;q=0.5, gzip", "x-gzip", "deflate, gzip;q=0.8",
])
def test_gzip_acceptable(header: str) -> None:
    assert accepts_gzip(header), header


@pytest.mark.parametrize(("accept", "om"), [
    ("application/openmetrics-text; version=1.0.0", True),
    ("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,"
     "*/*;q=0.2", True),
    ("application/openmetrics-text;q=0", False),
    ("application/openmetrics-text; version=1.0.0; q=0.0", False),
    ("text/plain, application/openmetrics-text;q=0.5", False),
    ("text/plain", False),
    ("", False),
    ("*/*", False),
])
def test_openmetrics_only_when_acceptable(accept: str, om: bool) -> None:
    assert accepts_openmetrics(accept) is om
