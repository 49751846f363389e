"""A hardened HTTP/1.1 server for a few GET routes (an exporter's /metrics and friends):
it serves the routes it is given and knows nothing of what they return.

Clients cannot hold the server: the listen backlog absorbs bursts, connections are capped
(at the cap the one waiting longest for its request is closed; when all are busy the new
one gets a 503), every connection has a deadline for its request head, for idling between
keep-alive requests and for a response write, request heads are bounded in size, and
accept() failing for lack of descriptors backs off instead of spinning. WebServer.stats()
counts all of it. With a web config (toolkit/web/auth.py) connections speak TLS and
requests need basic auth.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from aicode_exporter.toolkit.web.auth import WebConfigSource

logger = logging.getLogger(__name__)

UNAUTHORIZED = b"Unauthorized\n"
ALLOW = "GET, HEAD"  # every route answers these two methods only
NOT_ALLOWED = f"Method not allowed: use {ALLOW}\n".encode()
KNOWN_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: str
    body: bytes
    encoding: str | None = None  # Content-Encoding of body, if any


# A route: the request's headers -> the response (the same for GET and HEAD; HEAD sends
# no body).
Route = Callable[[Message], Response]
NOT_FOUND = Response(404, "text/plain; charset=utf-8", b"Not found\n")


def parse_listen_address(addr: str) -> tuple[str, int]:
    """`:19877` (all interfaces), `127.0.0.1:19877`, `[::1]:19877`."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {addr!r}: expected HOST:PORT or :PORT")
    return host.strip("[]"), int(port)


# Connection handling. One thread per connection (ThreadingHTTPServer), so everything a
# client can hold on to is bounded: the number of connections, how long a connection may
# take to send its request head, how long it may sit idle between keep-alive requests, how
# long a response write may take, and how large a request head may be.
MAX_CONNECTIONS = 256
HEADER_TIMEOUT = 5.0  # accept -> complete request line and headers
IDLE_TIMEOUT = 10.0  # end of a response -> complete head of the next keep-alive request
WRITE_TIMEOUT = 30.0  # writing one response
LISTEN_BACKLOG = 512  # the kernel caps it at net.core.somaxconn
MAX_HEAD_BYTES = 32 * 1024  # request line and headers together
ACCEPT_BACKOFF = 0.1  # after accept() fails for lack of descriptors or memory
REAP_EVERY = 0.1  # seconds between sweeps for connections past their deadline
LINGER = 1.0  # a rejected connection is drained this long before it is closed
MAX_LINGERING = 64
LOG_EVERY = 60.0  # the limit and EMFILE warnings, at most this often
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
REJECT = (b"HTTP/1.1 503 Service Unavailable\r\n"
          b"Content-Type: text/plain; charset=utf-8\r\n"
          b"Content-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
          b"too many connections\n")


@dataclass(frozen=True)
class ServerStats:
    """Counters since start; `open_connections` is current."""

    open_connections: int
    accepted: int
    rejected: int  # answered 503 at the connection cap: every connection was busy
    evicted: int  # closed while waiting for a request, to make room at the cap
    timed_out: int  # closed for missing the header, idle or write deadline
    accept_errors: int  # accept() failures for lack of descriptors or memory


class _Conn:
    __slots__ = ("busy", "deadline", "killed", "since", "sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.busy = False
        self.since = time.monotonic()  # entered the current state
        self.deadline = deadline
        self.killed = False


def _kill(sock: socket.socket) -> None:
    """Wake the handler thread blocked on `sock` (its read returns EOF, its write fails);
    the thread closes the socket itself, so its descriptor is never reused under it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler], *,
                 routes: Mapping[str, Route], name: str,
                 max_connections: int = MAX_CONNECTIONS,
                 header_timeout: float = HEADER_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
                 write_timeout: float = WRITE_TIMEOUT,
                 web: WebConfigSource | None = None) -> None:
        self.web = web
        self.routes = dict(routes)
        self.name = name  # the Server header
        self.realm = name.split("/", 1)[0].replace('"', "")  # the basic auth realm
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self._lock = threading.Lock()
        self._conns: dict[socket.socket, _Conn] = {}
        self._lingering: list[tuple[socket.socket, float]] = []  # serve thread only
        self._next_reap = 0.0
        self._counts = dict.fromkeys(
            ("accepted", "rejected", "evicted", "timed_out", "accept_errors"), 0)
        self._failing_since: float | None = None  # accept() failing for lack of resources
        self._failed = 0
        self._last_log = {"limit": -LOG_EVERY, "accept": -LOG_EVERY}
        super().__init__(addr, handler)

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(open_connections=len(self._conns), **self._counts)

    def _should_log(self, what: str) -> bool:
        now = time.monotonic()
        if now - self._last_log[what] < LOG_EVERY:
            return False
        self._last_log[what] = now
        return True

    # -- accept --------------------------------------------------------------------------

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            conn, addr = self.socket.accept()
        except OSError as e:
            if e.errno not in _RESOURCE_ERRNOS:
                raise
            # The connection stays in the accept queue, so the listening socket stays
            # readable: retrying at once would spin. Wait for descriptors to free up
            # (idle connections go within the header timeout).
            with self._lock:
                self._counts["accept_errors"] += 1
            self._failed += 1
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                if self._should_log("accept"):
                    logger.error("http accept failed, backing off", extra={
                        "error": e.strerror, "open_connections": len(self._conns),
                        "backoff_seconds": ACCEPT_BACKOFF})
            time.sleep(ACCEPT_BACKOFF)
            raise
        if self._failing_since is not None:
            logger.log(logging.INFO if self._last_log["accept"] > self._failing_since
                       else logging.DEBUG, "http accepting connections again",
                       extra={"failed_accepts": self._failed,
                              "failing_seconds": time.monotonic() - self._failing_since})
            self._failing_since, self._failed = None, 0
        return conn, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        now = time.monotonic()
        victim: _Conn | None = None
        full = False
        with self._lock:
            self._counts["accepted"] += 1
            if len(self._conns) >= self.max_connections:
                waiting = [c for c in self._conns.values() if not c.busy]
                if not waiting:
                    self._counts["rejected"] += 1
                    full = True
                else:
                    victim = min(waiting, key=lambda c: c.since)
                    victim.killed = True
                    del self._conns[victim.sock]
                    self._counts["evicted"] += 1
                if self._should_log("limit"):
                    logger.warning(
                        "http connection limit reached, see the evicted and rejected "
                        "counts", extra={
                            "max_connections": self.max_connections,
                            "effect": "every connection is busy, answering 503" if full
                            else "closing the connection that waited longest for its request",
                            "log_every_seconds": LOG_EVERY})
            if not full:
                self._conns[sock] = _Conn(sock, now + self.header_timeout)
        if full:
            self._reject(sock)
            return
        if victim is not None:
            _kill(victim.sock)
        t = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                             name="http-conn", daemon=True)
        t.start()

    def _reject(self, sock: socket.socket) -> None:
        """503 and close, without a thread. What the client already sent is drained and the
        socket lingers a moment before close, so the close is a FIN, not a reset that
        could destroy the 503 before the client reads it."""
        try:
            sock.setblocking(False)
            self._drain(sock)
            sock.send(REJECT)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if len(self._lingering) >= MAX_LINGERING:
            self._lingering.pop(0)[0].close()
        self._lingering.append((sock, time.monotonic() + LINGER))

    @staticmethod
    def _drain(sock: socket.socket) -> bool:
        """Read what is there without blocking; True at EOF."""
        try:
            while True:
                if not sock.recv(65536):
                    return True
        except (BlockingIOError, InterruptedError):
            return False

    # -- deadlines -----------------------------------------------------------------------

    def conn_wait(self, sock: socket.socket, *, idle: bool) -> _Conn | None:
        """The connection now waits for a request head; None if it has been closed."""
        with self._lock:
            c = self._conns.get(sock)
            if c is None or c.killed:
                return None
            if idle:  # keep-alive: the next request's clock starts now
                c.deadline = time.monotonic() + self.idle_timeout
            c.busy, c.since = False, time.monotonic()
            return c

    def conn_busy(self, c: _Conn) -> bool:
        """A complete head arrived: the connection is no longer eligible for eviction."""
        with self._lock:
            if c.killed:
                return False
            c.busy, c.since = True, time.monotonic()
            c.deadline = c.since + self.write_timeout
            return True

    def conn_timed_out(self, c: _Conn) -> None:
        """The handler's own socket timeout fired before the sweep got to it."""
        with self._lock:
            if c.killed:
                return
            c.killed = True
            self._conns.pop(c.sock, None)
            self._counts["timed_out"] += 1
        logger.debug("http connection closed: request deadline passed")

    def service_actions(self) -> None:
        """Runs in the serve loop after every accept and at least every REAP_EVERY."""
        now = time.monotonic()
        if self._lingering:
            keep = []
            for sock, until in self._lingering:
                try:
                    eof = self._drain(sock)
                except OSError:
                    eof = True
                if eof or now >= until:
                    sock.close()
                else:
                    keep.append((sock, until))
            self._lingering = keep
        if now < self._next_reap:
            return
        self._next_reap = now + REAP_EVERY
        with self._lock:
            late = [c for c in self._conns.values() if c.deadline <= now]
            for c in late:
                c.killed = True
                del self._conns[c.sock]
            self._counts["timed_out"] += len(late)
        for c in late:
            logger.debug("http connection closed: deadline passed",
                         extra={"deadline": "write" if c.busy else "request"})
            _kill(c.sock)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """TLS, when the web config asks for it: the handshake runs here, in the
        connection's own thread and within the header deadline, so a slow or plain-HTTP
        client never holds up the accept loop; a failed handshake just closes."""
        if self.web is not None:
            self.web.refresh()
            ctx = self.web.ssl_context
            if ctx is not None:
                try:
                    request.settimeout(self.header_timeout)
                    tls = ctx.wrap_socket(request, server_side=True,
                                          do_handshake_on_connect=False)
                    self._rekey(request, tls)
                    request = tls
                    tls.do_handshake()
                except OSError as e:
                    logger.debug("tls handshake failed", extra={
                        "client": client_address[0] if client_address else "-",
                        "error": str(e)})
                    self.shutdown_request(request)
                    return
        super().process_request_thread(request, client_address)

    def _rekey(self, old: socket.socket, new: socket.socket) -> None:
        with self._lock:
            c = self._conns.pop(old, None)
            if c is not None:
                c.sock = new
                self._conns[new] = c

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # resets, broken pipes, timeouts: the client's doing
            logger.debug("http connection error", extra={
                "client": client_address[0] if client_address else "-", "error": repr(exc)})
        else:
            logger.exception("http handler failed",
                             extra={"client": client_address[0] if client_address else "-"})

    def close_all(self) -> None:
        with self._lock:
            conns = list(self._conns.values())
            for c in conns:
                c.killed = True
            self._conns.clear()
        for c in conns:
            _kill(c.sock)
        for sock, _ in self._lingering:
            sock.close()
        self._lingering = []


class WebServer:
    """`routes` (path -> Route; GET and HEAD) on `listen`, named `name` (the Server header
    and the basic auth realm). At most `max_connections` connections at once (beyond it,
    the one that has waited longest for its request is closed, or, when every connection
    is busy answering, the new one gets a 503); each must send its request head within
    `header_timeout`, its next keep-alive request within `idle_timeout`, and take at most
    `write_timeout` to read a response. `web`: TLS and basic auth, re-read as it changes."""

    def __init__(self, listen: str, routes: Mapping[str, Route], *, name: str,
                 max_connections: int = MAX_CONNECTIONS, header_timeout: float = HEADER_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT, write_timeout: float = WRITE_TIMEOUT,
                 web: WebConfigSource | None = None) -> None:
        host, port = parse_listen_address(listen)
        self._httpd = _Server((host, port), _Handler, routes=routes, name=name,
                              max_connections=max_connections, header_timeout=header_timeout,
                              idle_timeout=idle_timeout, write_timeout=write_timeout, web=web)
        # The loop wakes this often even when idle: to sweep deadlines and to see stop().
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http",
                                        args=(REAP_EVERY,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def stats(self) -> ServerStats:
        return self._httpd.stats()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_all()


class _HeadTooLarge(Exception):
    pass


class _HeadReader:
    """The handler's rfile, with a byte budget for one request's line and headers."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.left = MAX_HEAD_BYTES

    def readline(self, size: int = -1) -> bytes:
        limit = self.left + 1 if size < 0 else min(size, self.left + 1)
        line: bytes = self._raw.readline(limit)
        self.left -= len(line)
        if self.left < 0:
            raise _HeadTooLarge
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _Handler(BaseHTTPRequestHandler):
    """One connection: heads read within their deadline and size, then the server's
    routes."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive scrapes
    # stall ~40 ms on the peer's delayed ACK.
    disable_nagle_algorithm = True
    # Socket timeout for each read until the first request arrives; every request
    # then sets the one for its phase (header, idle, write).
    timeout = HEADER_TIMEOUT
    _served = 0

    def setup(self) -> None:
        super().setup()
        self._srv = cast(_Server, self.server)
        self.server_version = self._srv.name
        self._head = _HeadReader(self.rfile)
        self.rfile = cast(Any, self._head)

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with a deadline on the head and its size bound."""
        srv = self._srv
        self.close_connection = True
        conn = srv.conn_wait(self.connection, idle=self._served > 0)
        if conn is None:
            return
        self._head.left = MAX_HEAD_BYTES
        try:
            self.connection.settimeout(max(0.001, conn.deadline - time.monotonic()))
            self.raw_requestline = self.rfile.readline(65537)
            if conn.killed or not self.raw_requestline:
                return
            if len(self.raw_requestline) > 65536:
                self._refuse(414, "Request-URI too long")
                return
            if not self.parse_request():
                return
        except TimeoutError:
            srv.conn_timed_out(conn)
            return
        except _HeadTooLarge:
            self._refuse(431, "Request header fields too large")
            return
        if conn.killed or not srv.conn_busy(conn):
            self.close_connection = True
            return
        self.connection.settimeout(srv.write_timeout)
        if (self.headers.get("Content-Length", "0").strip() not in ("", "0")
                or "Transfer-Encoding" in self.headers):
            self.close_connection = True  # a body we do not read: no next request
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            if self.command in KNOWN_METHODS:  # a method this resource does not allow
                self._not_allowed()
            else:
                self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        method()
        self.wfile.flush()
        self._served += 1

    def _refuse(self, code: int, message: str) -> None:
        """Answer an unreadable request and close. The rest of what the client sends
        is read and dropped (until the head deadline) so that closing with unread
        input does not reset the connection before the client reads the answer."""
        self.requestline = self.request_version = self.command = ""
        self.close_connection = True
        self.send_error(code, message)
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while self.connection.recv(65536):
                pass

    def _not_allowed(self) -> None:
        self.close_connection = True  # the body (if any) is not read
        self.send_response(405)
        self.send_header("Allow", ALLOW)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(NOT_ALLOWED)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(NOT_ALLOWED)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def _route(self, *, head: bool) -> None:
        web = self._srv.web
        if web is not None and not web.authorized(self.headers.get("Authorization")):
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Basic realm="{self._srv.realm}"')
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(UNAUTHORIZED)))
            self.end_headers()
            if not head:
                self.wfile.write(UNAUTHORIZED)
            return
        route = self._srv.routes.get(self.path.split("?", 1)[0])
        self._send(route(self.headers) if route is not None else NOT_FOUND, head)

    def _send(self, r: Response, head: bool) -> None:
        self.send_response(r.status)
        self.send_header("Content-Type", r.content_type)
        self.send_header("Content-Length", str(len(r.body)))
        if r.encoding:
            self.send_header("Content-Encoding", r.encoding)
        self.send_header("Vary", "Accept, Accept-Encoding")
        self.end_headers()
        if not head:
            self.wfile.write(r.body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("http request",
                     extra={"client": self.client_address[0], "line": format % args})
