"""One budgeted reader for a response body, whether the caller wants it whole
(`read_body`) or as a file it reads lazily (`BodyReader` is a raw stream, for
TextIOWrapper and csv).

The budget (`clock`, and `budget` = started, end, deadline): the time spent waiting for
the body, plus what the status line and headers took since `started`, may not pass
`end - started`, nor the clock pass `deadline`; every socket read is cut to what is left
of it (deadline.within), so a server sending one byte a second fails with Unavailable
instead of hanging. Time the caller spends between reads is not counted. A body longer
than `limit` is a SchemaError before more than that is buffered (with `truncate`, it is
cut at `limit` instead: an error response read for its message). A body cut off mid-way
is Unavailable. `on_error` is called before any of these raises; `keep(body)` gets the
whole body once it was read to the end, unless it grew past `keep_limit`; `on_chunk` sees
each chunk before it is taken and may refuse it by raising a VendorError.

The chunks are the body as decoded (`response_chunks`): each layer of Content-Encoding is
undone in bounded pieces (decode.py), so `limit` counts decompressed bytes as they
inflate; a coding we do not decode, or bytes that are not what it says, is a SchemaError.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from aicode_exporter.errors import SchemaError, Unavailable, VendorError
from aicode_exporter.toolkit.http.deadline import within
from aicode_exporter.toolkit.http.decode import DecodeError, decoded

Budget = tuple[float, float, float | None]  # started, end, deadline (monotonic times)


def overrun(endpoint: str, budget: float) -> Unavailable:
    """Any timeout of a request: its whole budget is what ran out."""
    return Unavailable(f"response took longer than {round(budget, 1):g}s", endpoint=endpoint)


def size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n and n % (1 << 20) == 0 else f"{n} bytes"


def too_large(endpoint: str, limit: int, setting: str = "max_body_bytes",
              encoded: bool = False) -> SchemaError:
    """A body over `limit`; `setting` is what raises the limit, `encoded` that the limit
    was reached while inflating a compressed body."""
    what = " decompressed" if encoded else ""
    return SchemaError(f"response from endpoint {endpoint} is larger{what} than the "
                       f"{size_text(limit)} allowed per request ({setting})",
                       endpoint=endpoint)


def response_chunks(resp: httpx.Response) -> Iterator[bytes]:
    """The body of a streamed response as it arrives, its Content-Encoding undone in
    bounded pieces. A response built in memory (a replayed 304, a test's MockTransport
    answer with bytes) was read, and decoded, by httpx when it was made: its content as
    it is."""
    try:
        body = resp.content
    except httpx.ResponseNotRead:
        return decoded(resp.iter_raw(), resp.headers.get("content-encoding", ""))
    return iter((body,) if body else ())


class BodyReader(io.RawIOBase):
    """A body's chunks, read as they arrive within a time budget and a size limit."""

    def __init__(self, chunks: Iterator[bytes], endpoint: str, *,
                 clock: Callable[[], float] | None = None, budget: Budget | None = None,
                 limit: int | None = None, truncate: bool = False, declared: str = "",
                 keep: Callable[[bytes], None] | None = None, keep_limit: int = 0,
                 on_error: Callable[[], None] | None = None,
                 limit_name: str = "max_body_bytes",
                 on_chunk: Callable[[bytes], None] | None = None,
                 encoded: bool = False) -> None:
        self._chunks = chunks
        self._limit_name = limit_name
        self._endpoint = endpoint
        self._clock = clock
        self._budget = budget
        self._spent = (clock() - budget[0]) if clock is not None and budget else 0.0
        self._limit = limit
        self._truncate = truncate
        self._declared = declared.strip()  # Content-Length, checked before the first read
        self._size = 0
        self._done = False
        self._buf = b""
        self._keep = keep
        self._keep_limit = keep_limit
        self._kept: list[bytes] = []
        self._kept_size = 0
        self._on_error = on_error
        self._on_chunk = on_chunk
        self._encoded = encoded

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            chunk = self._next()
            if chunk is None:
                return 0
            self._buf = chunk
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def read_all(self) -> bytes:
        """The rest of the body, joined only when it came in more than one chunk."""
        chunks = []
        while (chunk := self._next()) is not None:
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _next(self) -> bytes | None:
        """The next chunk, every check done; None at the end of the body."""
        if self._done:
            return None
        if (self._size == 0 and not self._truncate and self._limit is not None
                and self._declared.isdigit() and int(self._declared) > self._limit):
            raise self._fail(too_large(self._endpoint, self._limit, self._limit_name))
        try:
            chunk = self._wait_for_chunk()
        except StopIteration:
            self._done = True
            self._finish()
            return None
        except httpx.TimeoutException:
            raise self._fail(self._too_slow()) from None
        except httpx.HTTPError as e:
            raise self._fail(Unavailable(f"response body cut off: {type(e).__name__}",
                                         endpoint=self._endpoint)) from None
        except DecodeError as e:
            raise self._fail(SchemaError(f"response from endpoint {self._endpoint}: {e}",
                                         endpoint=self._endpoint)) from None
        if self._limit is not None and self._size + len(chunk) > self._limit:
            if not self._truncate:
                raise self._fail(too_large(self._endpoint, self._limit, self._limit_name,
                                           self._encoded))
            chunk, self._done = chunk[:self._limit - self._size], True
        if self._on_chunk is not None:
            try:
                self._on_chunk(chunk)
            except VendorError as e:
                raise self._fail(e) from None
        self._size += len(chunk)
        if self._keep is not None:
            self._kept_size += len(chunk)
            if self._kept_size > self._keep_limit:
                self._keep, self._kept = None, []
            else:
                self._kept.append(chunk)
        return chunk

    def _wait_for_chunk(self) -> bytes:
        if self._clock is None or self._budget is None:
            return next(self._chunks)
        started, end, until = self._budget
        t0 = self._clock()
        left = end - started - self._spent
        if until is not None:
            left = min(left, until - t0)
        with within(left):
            chunk = next(self._chunks)  # StopIteration at the end: the body is all in
        now = self._clock()
        self._spent += now - t0
        if self._spent > end - started or (until is not None and now > until):
            raise httpx.ReadTimeout("the body's budget is spent")
        return chunk

    def _too_slow(self) -> Unavailable:
        budget = self._budget[1] - self._budget[0] if self._budget else 0.0
        return overrun(self._endpoint, budget)

    def _fail(self, error: VendorError) -> VendorError:
        self._keep, self._kept, self._buf = None, [], b""
        if self._on_error is not None:
            self._on_error()
        return error

    def _finish(self) -> None:
        keep, self._keep = self._keep, None
        if keep is not None:
            keep(b"".join(self._kept))
        self._kept = []


def read_body(resp: httpx.Response, endpoint: str, *, clock: Callable[[], float],
              started: float, end: float, limit: int, truncate: bool = False,
              on_chunk: Callable[[bytes], None] | None = None) -> bytes:
    """The whole body of a streamed response, within (started, end), then closed."""
    reader = BodyReader(response_chunks(resp), endpoint, clock=clock,
                        budget=(started, end, None), limit=limit, truncate=truncate,
                        declared=resp.headers.get("content-length", ""), on_chunk=on_chunk,
                        encoded=bool(resp.headers.get("content-encoding", "").strip()))
    try:
        return reader.read_all()
    finally:
        resp.close()
