"""Scrape cost of /metrics at 100 and 100,000 series: the exporter serves bytes rendered
once per poll, so a scrape should cost the same at both sizes. Also shows what rendering
per scrape (client_python's default collector path) would cost instead.

Run: .venv/bin/python bench/scrape.py [--series 100000] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from exporter.expose.server import MetricsServer
from exporter.expose.snapshot import Publisher
from exporter.expose.telemetry import Telemetry
from exporter.vendors.qoder import metrics as catalog

# What a Prometheus server sends: it prefers OpenMetrics.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def publisher_with(series: int) -> Publisher:
    pub = Publisher()
    # Realistic label sets: per-user gauges, the widest family the exporter has.
    per_family = series // 4
    specs = (catalog.USER_LINES, catalog.USER_AI_LINES, catalog.USER_AI_SHARE,
             catalog.USER_COMMITS)
    fams = [spec.family((("qoder", "acme", "30d", f"user{i:06d}@example.com"), float(i))
                         for i in range(per_family)) for spec in specs]
    pub.publish(("qoder", "acme", "member_ranking", "30d"), fams)
    return pub


def scrape_times(url: str, n: int, headers: dict[str, str]) -> list[float]:
    out = []
    with httpx.Client(headers=headers) as client:
        client.get(url)
        for _ in range(n):
            t0 = time.perf_counter()
            r = client.get(url)
            r.read()
            out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, nargs="+", default=[100, 100_000])
    ap.add_argument("--scrapes", type=int, default=200)
    args = ap.parse_args()
    rows = []
    for series in args.series:
        pub = publisher_with(series)
        t0 = time.perf_counter()
        snap = pub.render()
        render = time.perf_counter() - t0
        server = MetricsServer("127.0.0.1:0", pub, Telemetry(), lambda: True)
        server.start()
        url = f"http://127.0.0.1:{server.port}/metrics"
        for label, headers in (("text", {"Accept-Encoding": "identity"}),
                               ("text+gzip", {"Accept-Encoding": "gzip"}),
                               ("om+gzip", {"Accept": PROMETHEUS_ACCEPT,
                                            "Accept-Encoding": "gzip"})):
            ts = sorted(scrape_times(url, args.scrapes, headers))
            rows.append((snap.series, label, render, len(snap.text), len(snap.text_gzip),
                         statistics.median(ts), ts[int(len(ts) * 0.99) - 1]))
        server.stop()
    print(f"{'series':>8} {'format':>10} {'render/poll':>12} {'text bytes':>11} "
          f"{'gzip bytes':>11} {'scrape p50':>11} {'scrape p99':>11}")
    for s, label, render, tb, gb, p50, p99 in rows:
        print(f"{s:>8} {label:>10} {render * 1000:>10.0f}ms {tb:>11} {gb:>11} "
              f"{p50 * 1000:>9.2f}ms {p99 * 1000:>9.2f}ms")
    print("\nrender/poll (text and OpenMetrics, each gzipped too) is paid once per poll in the "
          "poll thread;\na scrape of either format only copies bytes.")


if __name__ == "__main__":
    main()
