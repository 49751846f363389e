"""A stream's catch-up as the landing page and the lag gauge show it."""

from __future__ import annotations

from aicode_exporter.expose.landing import landing_page
from aicode_exporter.expose.telemetry import Telemetry

KEY = ("qoder", "acme", "changes")


def test_pages_left_and_eta_come_from_the_committed_slices() -> None:
    now = [1000.0]
    t = Telemetry(wall=lambda: now[0])
    t.register(KEY)
    t.progress(KEY, done=0, total=4, watermark=1000.0 - 4 * 86400)
    for _ in range(10):
        t.request(KEY, "200")
    now[0] += 60
    t.progress(KEY, done=1, total=4, watermark=1000.0 - 3 * 86400)
    for _ in range(3):
        t.request(KEY, "200")
    p = t.statuses()[KEY].progress
    assert p is not None
    assert (p.pages_done, p.pages_committed, p.pages_left) == (13, 10, 27)
    assert p.eta == 180.0
    lag = next(f for f in t.families() if f.spec.name == "aicode_stream_lag_seconds")
    assert lag.samples == ((KEY, 3 * 86400 + 60.0),)
    page = landing_page(t, now[0]).decode()
    assert "slices 1/4, pages 13 done, 27 left, ETA 3m00s" in page
    assert "lag 72h01m" in page
