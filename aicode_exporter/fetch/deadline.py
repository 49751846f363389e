"""A whole-request deadline under httpx, down to each socket read.

httpx's timeouts are per operation: a read timeout of 30 s lets a vendor that sends its
status line and headers one byte every 29 s hold a request for hours, and the client
cannot check its clock before the headers are complete. httpcore gives a network stream
no view of the request it serves, so the deadline of the request the current thread is
sending lives in a context variable, set around each send and each body read with
`within()`; the streams of `DeadlineTransport` cut every connect, read and write to
what is left of it and raise httpcore's own timeouts, which httpx maps to its
TimeoutException as usual.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

logger = logging.getLogger(__name__)

# time.monotonic() by which the request being sent in this context must be done
_DEADLINE: ContextVar[float | None] = ContextVar("aicode_request_deadline", default=None)


@contextlib.contextmanager
def within(seconds_left: float) -> Iterator[None]:
    """Socket operations of this context end within `seconds_left` from now."""
    token = _DEADLINE.set(time.monotonic() + max(seconds_left, 0.0))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _cut(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout` shortened to what is left of the context's deadline."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(
            ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(
            host, port, _cut(timeout, httpcore.ConnectTimeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(
            path, _cut(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's default transport (certificates, keep-alive, limits) whose connections
    honour `within()`."""

    def __init__(self) -> None:
        super().__init__()
        pool = self._pool
        inner = getattr(pool, "_network_backend", None)
        if isinstance(inner, httpcore.NetworkBackend):
            pool._network_backend = _Backend(inner)
        else:  # an httpcore that moved it: per-read timeouts still bound each read
            logger.warning("httpcore has no network backend to wrap: request deadlines "
                           "are checked between reads only")

    @property
    def enforces_deadline(self) -> bool:
        return isinstance(getattr(self._pool, "_network_backend", None), _Backend)
