"""The simulator: both vendors' APIs behind one pure handler and a threaded HTTP server.

``Simulator.app`` is the whole request path (faults, routing, auth, rate limits,
handlers) without sockets; the HTTP server only moves bytes: JSON bodies with a
Content-Length, CSV streams with chunked transfer encoding.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qsl, urlsplit

from aicode_sim import gen
from aicode_sim.cursor.api import CursorApi
from aicode_sim.cursor.data import CursorChanges, CursorCommits
from aicode_sim.faults import Fault, FaultInjector
from aicode_sim.hostile import Drip, Hostility
from aicode_sim.index import RecordIndex
from aicode_sim.population import build_population
from aicode_sim.qoder.api import QoderApi
from aicode_sim.qoder.data import QoderChanges, QoderCommits
from aicode_sim.ratelimit import SlidingWindowLimiter
from aicode_sim.responses import (
    AbortConnection,
    Request,
    Response,
    cursor_error_body,
    qoder_error_body,
)
from aicode_sim.rollup import Rollups
from aicode_sim.timeutil import to_ms

logger = logging.getLogger(__name__)

MAX_DAYS = 3650


class RequestLog(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    status: int


class Simulator:
    """Fake Qoder and Cursor APIs over deterministic data; see the package docstring.

    seed, users, repos: the organisation; days: how many UTC days before today hold data;
    commits_per_user_day / changes_per_user_day: mean record rates per person (weekends a
    quarter); now: aware-UTC current time deciding which records are visible (default: the
    real clock); clock: monotonic seconds for rate limits; cursor_rate_limit_per_minute:
    requests per endpoint per key in any 60 s (0 = unlimited);
    qoder_rate_limit_per_minute: off by default (Qoder publishes no limit); when set, Qoder
    answers 429 with Retry-After and X-RateLimit-Limit/-Remaining headers;
    fault_modes: hostile modes switched on for good on their default paths, each a name from
    ``FAULT_MODES`` with optional numbers, e.g. ``["surrogate", "drip:rate=20"]`` (for other
    paths or a number of requests use ``faults.mode``).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        users: int = 50,
        repos: int = 20,
        days: int = 120,
        api_key: str = "sim-key",
        qoder_org: str = "org_sim",
        cursor_rate_limit_per_minute: int = 5,
        commits_per_user_day: float = 2.0,
        changes_per_user_day: float = 8.0,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] | None = None,
        qoder_rate_limit_per_minute: int | None = None,
        fault_modes: Iterable[str] = (),
    ) -> None:
        if not 1 <= users < gen.MAX_USERS:
            raise ValueError(f"users must be between 1 and {gen.MAX_USERS - 1}")
        if repos < 1:
            raise ValueError("repos must be >= 1")
        if not 0 <= days <= MAX_DAYS:
            raise ValueError(f"days must be between 0 and {MAX_DAYS}")
        if commits_per_user_day < 0 or changes_per_user_day < 0:
            raise ValueError("record rates must be >= 0")
        self.seed = seed
        self.api_key = api_key
        self.qoder_org = qoder_org
        self._seed_bits = gen.seed64(seed)
        self._now = now or (lambda: datetime.now(UTC))
        self._clock = clock or time.monotonic
        self.faults = FaultInjector()
        for spec in fault_modes:
            self.faults.mode(spec)
        # Set while stopping: wakes requests held by the hang and drip modes.
        self._stopping = threading.Event()
        self.requests: list[RequestLog] = []
        self._log_lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self.population = build_population(self._seed_bits, users, repos)

        pop, bits = self.population, self._seed_bits
        qoder_commits = RecordIndex(QoderCommits(bits, pop, commits_per_user_day), days=days)
        qoder_changes = RecordIndex(QoderChanges(bits, pop, changes_per_user_day), days=days)
        self.qoder = QoderApi(
            population=pop,
            commits=qoder_commits,
            changes=qoder_changes,
            rollups=Rollups(qoder_commits, qoder_changes),
            api_key=api_key,
            organization_id=qoder_org,
            new_request_id=self._new_request_id,
            limiter=(
                SlidingWindowLimiter(qoder_rate_limit_per_minute, self._clock)
                if qoder_rate_limit_per_minute
                else None
            ),
        )
        self.cursor = CursorApi(
            population=pop,
            commits=RecordIndex(CursorCommits(bits, pop, commits_per_user_day), days=days),
            changes=RecordIndex(CursorChanges(bits, pop, changes_per_user_day), days=days),
            api_key=api_key,
            limiter=(
                SlidingWindowLimiter(cursor_rate_limit_per_minute, self._clock)
                if cursor_rate_limit_per_minute > 0
                else None
            ),
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # ---- the pure handler ---------------------------------------------------------------

    def app(
        self,
        method: str,
        path_with_query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        client_gone: Callable[[], bool] | None = None,
    ) -> tuple[int, dict[str, str], Iterable[bytes]]:
        """Answer one request: (status, headers, body chunks).

        A body may raise AbortConnection while being iterated (a truncation fault, or the
        simulator stopping under the drip mode): the server then closes the connection
        without finishing the response. Under the hang mode app itself blocks, then raises
        AbortConnection (logged with status 0); `client_gone`, when given, ends that wait
        early once it returns True.
        """
        split = urlsplit(path_with_query)
        path = split.path or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        request = Request(
            method=method.upper(),
            path=path,
            query=query,
            headers={name.lower(): value for name, value in headers.items()},
            body=body,
        )
        fault = self.faults.take(path)
        modes = self.faults.take_modes(path)
        hostility = None
        if modes:
            hostility = Hostility(
                modes,
                now_ms=to_ms(self._now()),
                new_request_id=self._new_request_id,
                stopping=self._stopping,
                client_gone=client_gone,
            )
        if fault is not None and fault.delay > 0:
            time.sleep(fault.delay)
        replacement = None
        if hostility is not None:
            if hostility.hang():
                self._log(RequestLog(request.method, path, query, 0))
                raise AbortConnection("hang fault mode: no response")
            request = hostility.rewrite(request)
            replacement = hostility.replacement(request)
        if fault is not None and fault.replaces_response:
            response = self._fault_response(fault, path)
        elif replacement is not None:
            response = replacement
        else:
            response = self._route(request)
        if hostility is not None:
            response = hostility.transform(request, response)
        if fault is not None and fault.truncate_after is not None:
            response.body = _truncated(response.body, fault.truncate_after)
        if hostility is not None:
            response.body = hostility.pace(response.body)
        self._log(RequestLog(request.method, path, query, response.status))
        return response.status, response.headers, response.body

    def _log(self, entry: RequestLog) -> None:
        with self._log_lock:
            self.requests.append(entry)

    def _route(self, request: Request) -> Response:
        now_ms = to_ms(self._now())
        qoder = request.path.startswith("/v1/")
        try:
            if qoder:
                return self.qoder.handle(request, now_ms)
            return self.cursor.handle(request, now_ms)
        except Exception:
            logger.exception("simulator handler failed path=%s", request.path)
            if qoder:
                return self.qoder.error_response(500, "internal error")
            return self.cursor.error_response(500, "internal error")

    def _fault_response(self, fault: Fault, path: str) -> Response:
        body = fault.body
        if body is None:
            message = "injected fault"
            if path.startswith("/v1/"):
                body = qoder_error_body(fault.status, message, [], self._new_request_id())
            else:
                body = cursor_error_body(fault.status, message)
        headers = {"Content-Type": fault.content_type, "Content-Length": str(len(body))}
        headers.update(fault.headers)
        return Response(fault.status, headers, [body])

    def _new_request_id(self) -> str:
        # Deterministic per (seed, request number) so replays produce identical bytes.
        number = next(self._request_ids)
        return (
            "req_"
            + hashlib.blake2b(f"{self._seed_bits}:{number}".encode(), digest_size=8).hexdigest()
        )

    # ---- serving ------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port (0 = any free port) from a daemon thread."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("simulator already started")
            server = _Server((host, port), self)
            self._stopping.clear()
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="aicode-simulator",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. http://127.0.0.1:43123 (a wildcard bind shows loopback)."""
        server = self._server
        if server is None:
            raise RuntimeError("simulator not started")
        host, port = server.server_address[:2]
        host = str(host)
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            self._stopping.set()  # ends hung and dripping responses
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _truncated(body: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The first `limit` bytes of body, then AbortConnection (if body was longer)."""
    sent = 0
    for chunk in body:
        room = limit - sent
        if len(chunk) > room:
            if room:
                yield chunk[:room]
            raise AbortConnection(f"truncated after {limit} bytes")
        sent += len(chunk)
        yield chunk


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.simulator = simulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked transfer encoding
    server_version = "aicode-simulator"
    _paced_head: Drip | None = None

    def _serve(self) -> None:
        simulator = cast(_Server, self.server).simulator
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length > 0 else b""
        try:
            status, headers, body = simulator.app(
                self.command,
                self.path,
                dict(self.headers.items()),
                payload,
                client_gone=self._client_gone,
            )
        except AbortConnection:
            self.close_connection = True  # the hang mode: no response at all
            return
        # 1xx, 204 and 304 have no body, so no framing either (RFC 9112 6.3).
        bodiless = status < 200 or status in (204, 304)
        chunked = not bodiless and not any(name.lower() == "content-length" for name in headers)
        # The drip mode's head=1: the status line and headers go out at its pace too.
        self._paced_head = body if isinstance(body, Drip) and body.head else None
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD" and not bodiless:
                self._write_body(body, chunked)
        except AbortConnection:
            self.close_connection = True  # a truncation fault: leave the body unfinished
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away
        except Exception:
            logger.exception("simulator response body failed path=%s", self.path)
            self.close_connection = True
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def flush_headers(self) -> None:
        paced, self._paced_head = self._paced_head, None
        if paced is None:
            super().flush_headers()
            return
        buffered: list[bytes] = getattr(self, "_headers_buffer", [])  # BaseHTTPRequestHandler's
        head = b"".join(buffered)
        buffered.clear()
        for piece in paced.pace_head(head):
            self.wfile.write(piece)

    def _client_gone(self) -> bool:
        """True once the client has closed its end (EOF or reset on the socket)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except (OSError, ValueError):
            return True

    def _write_body(self, body: Iterable[bytes], chunked: bool) -> None:
        for chunk in body:
            if not chunk:
                continue  # an empty chunk would end a chunked body early
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator request " + format, *args)


def parse_listen(listen: str) -> tuple[str, int]:
    """ "HOST:PORT", ":PORT" (all interfaces) or "[v6]:PORT" -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address must be HOST:PORT or :PORT, got {listen!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def serve(
    listen: str,
    *,
    users: int,
    repos: int,
    seed: int,
    api_key: str = "sim-key",
    fault_modes: Iterable[str] = (),
) -> None:
    """Run the simulator until SIGINT/SIGTERM (handlers only installed on the main thread).

    fault_modes: as for Simulator, e.g. ["drip:rate=5", "surrogate"].
    """
    host, port = parse_listen(listen)
    fault_modes = list(fault_modes)
    simulator = Simulator(
        seed=seed, users=users, repos=repos, api_key=api_key, fault_modes=fault_modes
    )
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        simulator.start(host, port)
        logger.info(
            "simulator listening url=%s (use api_key %s, qoder organization_id %s)",
            simulator.url,
            api_key,
            simulator.qoder_org,
        )
        if fault_modes:
            logger.warning("simulator fault modes on: %s", ", ".join(fault_modes))
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
