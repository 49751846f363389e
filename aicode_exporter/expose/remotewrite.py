"""The backfill's history pushed to a TSDB that takes past samples over Prometheus remote
write 1.0: Prometheus with `--web.enable-remote-write-receiver` and an out-of-order time
window, VictoriaMetrics (`/api/v1/write`), Mimir, Thanos Receive...

The same families, series and samples the OpenMetrics file holds (history.py's
HistoryWriter and this RemoteWriter take the same calls), sent as snappy-framed protobuf
WriteRequests of at most `batch` samples. Both encodings are small enough to write here
rather than add dependencies: the protobuf by hand (four messages), and snappy's block
format with literal chunks only (valid snappy, just not smaller; receivers decode it
like any other).

A receiver refusing old samples answers 400 ("out of bounds", "too old"): that ends the
push with a message saying what to set, and nothing is retried. Other errors are retried
a few times with a pause, then end the push.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Iterable, Sequence

import httpx

from aicode_exporter.expose.history import HistoryStats, Points, check_labels
from aicode_exporter.toolkit.families import LabelValues, Spec

BATCH_SAMPLES = 5000
ATTEMPTS = 3
_SNAPPY_CHUNK = 65536
_OLD = ("out of bounds", "too old", "out of order", "outside of the time window",
        "too far in the past")


class RemoteWriteError(Exception):
    """The receiver refused the history; the message says why and what to change."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_series(labels: Sequence[tuple[str, str]], points: Points) -> bytes:
    """One prometheus.TimeSeries: labels (name order) and samples (value, time in ms)."""
    body = b"".join(_field(1, _field(1, n.encode()) + _field(2, v.encode()))
                    for n, v in sorted(labels))
    for t, v in points:
        sample = b"\x09" + struct.pack("<d", v) + b"\x10" + _varint(round(t * 1000))
        body += _field(2, sample)
    return body


def snappy_block(data: bytes) -> bytes:
    """`data` in snappy's block format, as literal chunks."""
    out = [_varint(len(data))]
    for i in range(0, len(data), _SNAPPY_CHUNK):
        chunk = data[i:i + _SNAPPY_CHUNK]
        n = len(chunk) - 1
        if n < 60:
            out.append(bytes([n << 2]))
        elif n < 256:
            out.append(bytes([60 << 2, n]))
        else:
            out.append(bytes([61 << 2]) + n.to_bytes(2, "little"))
        out.append(chunk)
    return b"".join(out)


class RemoteWriter:
    """Pushes families as they come; close() sends the rest and returns what was sent."""

    def __init__(self, url: str, labels: Sequence[tuple[str, str]] = (), *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0,
                 batch: int = BATCH_SAMPLES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self._labels = check_labels(labels)
        self._client = httpx.Client(transport=transport, timeout=timeout,
                                    follow_redirects=False)
        self._batch = max(1, batch)
        self._sleep = sleep
        self._pending: list[bytes] = []
        self._pending_samples = 0
        self.stats = HistoryStats()  # what was given to send
        self.requests = 0
        self.accepted = 0  # samples the receiver took

    def family(self, spec: Spec, series: Iterable[tuple[LabelValues, Points]]) -> None:
        counter = spec.kind == "counter"
        name = (spec.name if spec.name.endswith("_total") else f"{spec.name}_total") \
            if counter else spec.name
        wrote = False
        for values, points in series:
            if not points:
                continue
            labels = [("__name__", name), *self._labels,
                      *((n, v) for n, v in zip(spec.labelnames, values, strict=True) if v)]
            self.stats.count(points)
            wrote = True
            for i in range(0, len(points), self._batch):
                part = points[i:i + self._batch]
                self._pending.append(encode_series(labels, part))
                self._pending_samples += len(part)
                if self._pending_samples >= self._batch:
                    self._flush()
        if wrote:
            self.stats.families += 1

    def _flush(self) -> None:
        if not self._pending:
            return
        body = snappy_block(b"".join(_field(1, ts) for ts in self._pending))
        samples = self._pending_samples
        self._pending, self._pending_samples = [], 0
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                   "X-Prometheus-Remote-Write-Version": "0.1.0",
                   "User-Agent": "aicode-exporter-backfill"}
        for attempt in range(ATTEMPTS):
            try:
                resp = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as e:
                if attempt + 1 == ATTEMPTS:
                    raise RemoteWriteError(f"{self.url}: {type(e).__name__}: {e}") from None
                self._sleep(2.0 ** attempt)
                continue
            self.requests += 1
            if resp.is_success:
                self.stats.bytes += len(body)
                self.accepted += samples
                return
            text = resp.text.strip()[:300]
            if any(word in text.lower() for word in _OLD):
                raise RemoteWriteError(
                    f"{self.url} refused samples as too old (HTTP {resp.status_code}: "
                    f"{text}); a Prometheus receiver takes past samples only within its "
                    "out-of-order window: set storage.tsdb.out_of_order_time_window in "
                    f"its configuration to more than {_age(self.stats.first)} (Prometheus "
                    "2.39 or later), or write a file and use promtool instead")
            final = resp.status_code < 500 and resp.status_code != 429
            if final or attempt + 1 == ATTEMPTS:
                raise RemoteWriteError(f"{self.url} answered HTTP {resp.status_code}: {text}")
            self._sleep(2.0 ** attempt)

    def close(self) -> HistoryStats:
        try:
            self._flush()
        finally:
            self._client.close()
        return self.stats


def _age(first: float | None) -> str:
    if first is None:
        return "the history's age"
    days = math.ceil((time.time() - first) / 86_400) + 1
    return f"{days}d (the oldest sample is {days - 1} days old)"
