"""A whole-request deadline under httpx, down to each socket operation.

httpx's timeouts are per operation: a read timeout of 30 s lets a server that sends its
status line and headers one byte every 29 s hold a request for hours, and the client
cannot check its clock before the headers are complete. httpcore gives a network stream
no view of the request it serves, so the deadline of the request the current thread is
sending lives in a context variable, set around each send and each body read with
`within()`; the streams of the network backend below cut every connect, read and write to
what is left of it and raise httpcore's own timeouts, which the transport maps to httpx's
TimeoutException as usual.

How the backend gets under the connections: httpcore's public `network_backend=` argument
of `httpcore.ConnectionPool`. The installed httpx (0.28/0.29) does not pass that argument
through: `httpx.HTTPTransport.__init__` builds its pool itself and takes no backend, so
the public route cannot reach httpx's own pool (the alternative, swapping the backend into
its private `_pool._network_backend`, breaks silently when httpcore moves it).
`DeadlineTransport` therefore owns the pool: it builds it with httpx's certificate
context (`httpx.create_ssl_context()`) and httpx's default limits, and does the small part
of `httpx.HTTPTransport` that remains, turning an httpx request into an httpcore one and
back and httpcore's errors into httpx's. Environment proxies are not used (as with any
transport handed to httpx.Client).
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

# time.monotonic() by which the request being sent in this context must be done
_DEADLINE: ContextVar[float | None] = ContextVar("request_deadline", default=None)


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


class DeadlineBackend(httpcore.NetworkBackend):
    """A network backend (httpcore's synchronous one unless given) whose connects, reads
    and writes honour `within()`."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()

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


DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20,
                              keepalive_expiry=5.0)  # httpx's own defaults

# httpcore's errors as httpx's; the most specific match wins (subclasses listed first).
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as e:
        for theirs, ours in _ERRORS:
            if isinstance(e, theirs):
                raise ours(str(e)) from e
        raise


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """HTTP/1.1 with httpx's certificates and default keep-alive limits, whose connections
    honour `within()`."""

    def __init__(self, *, verify: ssl.SSLContext | str | bool = True,
                 limits: httpx.Limits | None = None) -> None:
        limits = limits if limits is not None else DEFAULT_LIMITS
        self._backend = DeadlineBackend()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self._backend)

    @property
    def enforces_deadline(self) -> bool:
        return isinstance(self._backend, DeadlineBackend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream,
            extensions=request.extensions)
        with _as_httpx_errors():
            resp = self._pool.handle_request(req)
        assert isinstance(resp.stream, Iterable)
        return httpx.Response(status_code=resp.status, headers=resp.headers,
                              stream=_Body(resp.stream), extensions=resp.extensions)

    def close(self) -> None:
        self._pool.close()
