"""Hostile bodies built cheaply, and the peak memory of a sub-process that reads one.

A compression bomb is built from one compressed MiB of zeros, flushed so that the next
MiB compresses to the very same bytes: repeating that segment makes a valid stream of
any size at once (1 GiB of zeros is 1 MB of gzip, 2 KB of `gzip, gzip`)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator

import httpx

from tests.support.processes import ROOT

MIB = 1 << 20
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _segment() -> tuple[bytes, bytes]:
    """(raw deflate of one MiB of zeros that can follow itself, the final empty block)"""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    c.compress(bytes(MIB))
    c.flush(zlib.Z_FULL_FLUSH)
    seg = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return seg, c.flush()


def raw_deflate_bomb(mib: int) -> bytes:
    seg, end = _segment()
    return seg * mib + end


def gzip_bomb(mib: int) -> bytes:
    """A valid gzip member inflating to `mib` MiB of zeros."""
    crc, zeros = 0, bytes(MIB)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return (_GZIP_HEADER + raw_deflate_bomb(mib)
            + struct.pack("<II", crc, (mib * MIB) & 0xFFFFFFFF))


def zlib_bomb(mib: int) -> bytes:
    """zlib-wrapped deflate (what `deflate` means in HTTP) inflating to `mib` MiB of zeros;
    its checksum is left wrong (the cap stops any reader long before it)."""
    return b"\x78\xda" + raw_deflate_bomb(mib) + b"\0\0\0\0"


def gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


class Chunks(httpx.SyncByteStream):
    """A body streamed in network-sized chunks (not read by httpx when the response is
    made, unlike `content=`); `sent` counts the bytes handed out."""

    def __init__(self, body: bytes, size: int = 64 * 1024) -> None:
        self.body, self.size, self.sent = body, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.body), self.size):
            chunk = self.body[i:i + self.size]
            self.sent += len(chunk)
            yield chunk


# What a peak_growth() case starts from: a client serving one body (streamed, with an
# optional Content-Encoding) and helpers to read it once or from several threads at once.
CLIENT = """
from tests.support.bombs import raw_deflate_bomb, zlib_bomb
import threading
import httpx
from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.toolkit.http.budget import MemoryBudget
from aicode_exporter.toolkit.http.client import MAX_JSON_COST, ApiClient
from aicode_exporter.toolkit.http.jsonbody import JsonCost
from tests.support.bombs import MIB, Chunks, gzip, gzip_bomb
from tests.support.fakes import Observer

def client(body, encoding="", budget=None):
    headers = {"content-type": "application/json"}
    if encoding:
        headers["content-encoding"] = encoding
    return ApiClient(vendor="v", org="o", base_url="http://v.test", timeout=600,
                     rate_per_minute={"ep": 6000}, observer=Observer(), budget=budget,
                     auth=basic_auth("k"), transport=httpx.MockTransport(
                         lambda r: httpx.Response(200, stream=Chunks(body), headers=headers)))

def attempt(api):
    try:
        api.get_json("ep", "/x", {}, deadline=None)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return "read"

def costliest():
    one = b'{"a":1.5}'
    n = MAX_JSON_COST // JsonCost.of(one + b",").estimate - 100
    return b'{"items":[' + b",".join([one] * n) + b"]}"

def together(apis):
    out, held = [], []
    def one(api):
        try:
            held.append(api.get_json("ep", "/x", {}, deadline=None))  # kept, as a job does
            out.append("read")
        except Exception as e:
            out.append(type(e).__name__)
    threads = [threading.Thread(target=one, args=(a,)) for a in apis]
    for t in threads: t.start()
    for t in threads: t.join()
    return f"{out.count('read')} read, {len(out) - out.count('read')} refused"
"""


_HARNESS = """
import json, resource, sys
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return None
{setup}
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the high-water mark starts again from here
    reset = True
except OSError:
    reset = False
base = status("VmRSS:")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
outcome = run()
peak = status("VmHWM:") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if not reset and peak <= before:
    peak = base  # the setup's own peak hides the run's: nothing measured
print(json.dumps({{"growth": peak - base, "outcome": outcome}}))
"""


def peak_growth(setup: str) -> tuple[float, str]:
    """Run `setup` (Python that defines `run()`, returning a string) in a fresh
    interpreter; (growth of its peak resident size during run() in MiB, what run()
    returned)."""
    code = _HARNESS.format(setup=textwrap.dedent(setup))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return got["growth"] / MIB, str(got["outcome"])
