"""Scrape cost of /metrics at 100 and 100,000 series: the exporter serves bytes rendered
once per poll, so a scrape should cost the same at both sizes. Also shows what rendering
per scrape (client_python's default collector path) would cost instead.

Then the render itself at --render-series (default 100,000): a full render (cold publisher,
every family dirty) against incremental re-renders after small changes and after none, and
what gzip of the whole body costs at a few compression levels.

Run: .venv/bin/python bench/scrape.py [--series 100000] [--scrapes 200] [--render-series N]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from collections.abc import Callable

import httpx

from aicode_exporter.expose import snapshot
from aicode_exporter.expose.server import MetricsServer
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.toolkit.families import Family
from aicode_exporter.vendors.qoder import metrics as catalog

# What a Prometheus server sends: it prefers OpenMetrics.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


BIG_PART = ("qoder", "acme", "member_ranking", "30d")


def big_part(series: int) -> list[Family]:
    # Realistic label sets: per-user gauges, the widest family the exporter has.
    per_family = series // 4
    specs = (catalog.USER_LINES, catalog.USER_AI_LINES, catalog.USER_AI_SHARE,
             catalog.USER_COMMITS)
    return [spec.family((("qoder", "acme", "30d", f"user{i:06d}@example.com"), float(i))
                        for i in range(per_family)) for spec in specs]


def publisher_with(series: int, extra: Callable[[], list[Family]] = list) -> Publisher:
    pub = Publisher(extra=extra)
    pub.publish(BIG_PART, big_part(series))
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
    ap.add_argument("--render-series", type=int, default=100_000)
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
    render_table(args.render_series)
    gzip_table(args.render_series)


def median_ms(runs: list[float]) -> float:
    return statistics.median(runs) * 1000


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def render_table(series: int, reps: int = 7) -> None:
    """Full render vs incremental re-renders, medians of `reps`, in one process."""
    telemetry = Telemetry()
    eps = [("qoder", "acme", ep) for ep in ("overview", "member_ranking", "repos")]
    for key in eps:
        telemetry.register(key)
        telemetry.finished(key, ok=True, at=1.7e9, duration=0.5)
    full = [timed(publisher_with(series, telemetry.families).render) for _ in range(3)]
    pub = Publisher(extra=telemetry.families)
    big = big_part(series)
    pub.publish(BIG_PART, big)
    pub.render()
    small_key = ("qoder", "acme", "overview", "30d")

    def small_part(i: int) -> None:
        pub.publish(small_key, [catalog.AI_SHARE.family([(("qoder", "acme", "30d"), i / 10)])])

    def one_big_family(i: int) -> None:
        fam = big[0]
        changed = (*fam.samples[:-1], (fam.samples[-1][0], float(-i)))
        pub.publish(BIG_PART, (Family(fam.spec, changed), *big[1:]))

    cases: list[tuple[str, Callable[[int], object]]] = [
        ("self-metrics: 1 small family changed",
         lambda i: telemetry.request(eps[i % 3], "200")),
        ("small part re-published, 1 value changed", small_part),
        ("big part re-published, values equal",
         lambda i: pub.publish(BIG_PART, [Family(f.spec, tuple(f.samples)) for f in big])),
        (f"1 of 4 big families changed ({series // 4} series)", one_big_family),
        ("nothing changed", lambda i: None),
    ]
    full_ms = median_ms(full)
    print(f"\nrender at {pub.snapshot.series} series (median of {reps}; full: cold publisher, "
          "every family dirty; both formats, each gzipped at level "
          f"{snapshot.GZIP_LEVEL}):")
    print(f"{'case':<44} {'render':>10} {'vs full':>8}")
    print(f"{'full render':<44} {full_ms:>8.1f}ms {1:>7.3f}x")
    for label, change in cases:
        runs = []
        for i in range(1, reps + 1):
            change(i)
            runs.append(timed(pub.render))
        ms = median_ms(runs)
        print(f"{label:<44} {ms:>8.1f}ms {ms / full_ms:>7.3f}x")


def gzip_table(series: int) -> None:
    """What one re-render pays to gzip both bodies, by compression level."""
    snap = publisher_with(series).render()
    print(f"\ngzip of both bodies ({len(snap.text) + len(snap.openmetrics)} bytes), per level:")
    print(f"{'level':>5} {'time':>10} {'gzip bytes (text)':>18}")
    for level in (1, 3, 6, 9):
        runs, size = [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            size = len(gzip.compress(snap.text, compresslevel=level))
            gzip.compress(snap.openmetrics, compresslevel=level)
            runs.append(time.perf_counter() - t0)
        print(f"{level:>5} {median_ms(runs):>8.1f}ms {size:>18}")


if __name__ == "__main__":
    main()
