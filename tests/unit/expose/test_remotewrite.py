"""The backfill's remote-write push: WriteRequests as the protobuf wire format and snappy's
block format define them (decoded here independently), batches, and the receiver's
refusals said plainly (a real Prometheus takes them in tests/ops/test_ops_backfill.py)."""

from __future__ import annotations

import struct

import httpx
import pytest

from aicode_exporter.expose.remotewrite import RemoteWriteError, RemoteWriter, snappy_block
from aicode_exporter.toolkit.families import Spec

COUNTER = Spec("aicode_commits_total", "counter", "Commits.", ("provider", "org", "repo"))
GAUGE = Spec("aicode_daily_commits", "gauge", "Commits per day.", ("provider", "org"))


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """(the base-128 varint at pos, the position after it)"""
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, pos


def unsnappy(data: bytes) -> bytes:
    """Snappy's block format: a varint length, then literal and copy elements."""
    n, pos = varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        assert tag & 3 == 0, "only literals are expected"
        size = tag >> 2
        if size >= 60:
            extra = size - 59
            size = int.from_bytes(data[pos:pos + extra], "little")
            pos += extra
        out += data[pos:pos + size + 1]
        pos += size + 1
    assert len(out) == n
    return bytes(out)


def fields(data: bytes) -> list[tuple[int, object]]:
    """(field number, value) of one protobuf message: varints, 64-bit, bytes."""
    out: list[tuple[int, object]] = []
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
            out.append((number, value))
        elif wire == 1:
            out.append((number, struct.unpack("<d", data[pos:pos + 8])[0]))
            pos += 8
        else:
            assert wire == 2
            size, pos = varint(data, pos)
            out.append((number, data[pos:pos + size]))
            pos += size
    return out


def decode(body: bytes) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """A WriteRequest as (labels, [(ms, value)]) per TimeSeries."""
    series = []
    for number, ts in fields(unsnappy(body)):
        assert number == 1 and isinstance(ts, bytes)
        labels, samples = {}, []
        for n, part in fields(ts):
            assert isinstance(part, bytes)
            inner = dict(fields(part))
            if n == 1:
                labels[bytes(inner[1]).decode()] = bytes(inner[2]).decode()  # type: ignore[arg-type]
            else:
                samples.append((int(inner[2]), float(inner[1])))  # type: ignore[arg-type]
        series.append((labels, samples))
    return series


class Receiver:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        self.headers.append(request.headers)
        return self.answers.pop(0) if self.answers else httpx.Response(204)


def push(receiver: Receiver, batch: int = 5000) -> RemoteWriter:
    w = RemoteWriter("http://tsdb/api/v1/write", [("job", "aicode")],
                     transport=httpx.MockTransport(receiver), batch=batch,
                     sleep=lambda _s: None)
    w.family(COUNTER, [(("cursor", "acme", "api"), [(86400.0, 0.0), (90000.0, 3.0)]),
                       (("cursor", "acme", ""), [(86400.0, 1.0)])])
    w.family(GAUGE, [(("qoder", "acme"), [(86400.0, 12.0)])])
    return w


def test_series_go_out_as_write_requests() -> None:
    r = Receiver()
    st = push(r).close()
    assert len(r.bodies) == 1
    assert r.headers[0]["content-encoding"] == "snappy"
    assert r.headers[0]["x-prometheus-remote-write-version"] == "0.1.0"
    assert decode(r.bodies[0]) == [
        ({"__name__": "aicode_commits_total", "job": "aicode", "org": "acme",
          "provider": "cursor", "repo": "api"}, [(86_400_000, 0.0), (90_000_000, 3.0)]),
        # An empty label is no label, as a scrape has it.
        ({"__name__": "aicode_commits_total", "job": "aicode", "org": "acme",
          "provider": "cursor"}, [(86_400_000, 1.0)]),
        ({"__name__": "aicode_daily_commits", "job": "aicode", "org": "acme",
          "provider": "qoder"}, [(86_400_000, 12.0)]),
    ]
    assert (st.families, st.series, st.samples) == (2, 3, 4)


def test_batches_hold_at_most_the_batch_size() -> None:
    r = Receiver()
    push(r, batch=2).close()
    sizes = [sum(len(s) for _, s in decode(b)) for b in r.bodies]
    assert sizes == [2, 2] and len(r.bodies) == 2


def test_a_receiver_refusing_old_samples_is_said_plainly_and_not_retried() -> None:
    r = Receiver(httpx.Response(400, text="out of bounds"))
    with pytest.raises(RemoteWriteError, match="out_of_order_time_window") as e:
        push(r, batch=1)
    assert "HTTP 400: out of bounds" in str(e.value)
    assert len(r.bodies) == 1


def test_server_errors_are_retried_then_reported() -> None:
    r = Receiver(httpx.Response(503, text="busy"), httpx.Response(204))
    w = push(r)
    w.close()
    assert len(r.bodies) == 2 and w.accepted == 4
    r = Receiver(*[httpx.Response(500, text="broken")] * 3)
    with pytest.raises(RemoteWriteError, match="HTTP 500: broken"):
        push(r).close()
    r = Receiver(httpx.Response(401, text="no"))
    with pytest.raises(RemoteWriteError, match="HTTP 401"):
        push(r).close()
    assert len(r.bodies) == 1


def test_snappy_literals_of_every_length_class() -> None:
    for size in (0, 1, 59, 60, 61, 255, 256, 257, 65536, 65537, 200_000):
        data = bytes(i % 251 for i in range(size))
        assert unsnappy(snappy_block(data)) == data
