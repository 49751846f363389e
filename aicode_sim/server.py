"""The simulator: every simulated vendor's API behind one pure handler and a threaded HTTP
server.

``Simulator.app`` is the whole request path (faults, routing, auth, rate limits,
handlers) without sockets; the HTTP server only moves bytes: JSON bodies with a
Content-Length, CSV streams with chunked transfer encoding. Routing is by the table the
vendor folders contribute (vendor.py): the longest matching path prefix picks the vendor.
"""

from __future__ import annotations

import functools
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
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from urllib.parse import parse_qsl, urlsplit

from aicode_sim import gen
from aicode_sim.faults import Fault, FaultInjector
from aicode_sim.hostile import Drip, Hostility
from aicode_sim.population import build_population
from aicode_sim.responses import (
    AbortConnection,
    Request,
    Response,
    encoded_json_response,
    reason_phrase,
)
from aicode_sim.timeutil import to_ms
from aicode_sim.vendor import SimApi, SimContext, SimVendor, discover

logger = logging.getLogger(__name__)

MAX_DAYS = 3650


class RequestLog(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    status: int


def _vendor_table(vendors: Iterable[SimVendor[Any]]) -> dict[str, SimVendor[Any]]:
    """name -> vendor, in the given order; a name or a prefix taken twice is refused."""
    table: dict[str, SimVendor[Any]] = {}
    owners: dict[str, str] = {}
    for vendor in vendors:
        if vendor.name in table:
            raise ValueError(f"two simulated vendors are named {vendor.name!r}")
        table[vendor.name] = vendor
        for prefix in vendor.prefixes:
            if owners.setdefault(prefix, vendor.name) != vendor.name:
                raise ValueError(f"prefix {prefix!r} is served by both "
                                 f"{owners[prefix]!r} and {vendor.name!r}")
    return table


def _vendor_options(
    vendors: Mapping[str, SimVendor[Any]],
    given: Mapping[str, Mapping[str, Any]],
    shorthands: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Each vendor's options: `given`, then the shorthand arguments that were set (not None).
    Options for a vendor that is not simulated are refused; unset shorthands are not."""
    unknown = sorted(set(given) - set(vendors))
    if unknown:
        raise ValueError(f"options for vendors that are not simulated: {', '.join(unknown)}")
    options: dict[str, dict[str, Any]] = {name: dict(given.get(name, {})) for name in vendors}
    for name, values in shorthands.items():
        for key, value in values.items():
            if value is not None:
                if name not in options:
                    raise ValueError(f"{name} options given but {name} is not simulated")
                options[name][key] = value
    return options


class Simulator:
    """Fake vendor APIs over deterministic data; see the package docstring.

    One simulated vendor per folder of aicode_sim (``vendor.discover``), or the given
    `vendors`; a request goes to the vendor with the longest matching path prefix.
    seed, users, repos: the organisation; days: how many UTC days before today hold data;
    commits_per_user_day / changes_per_user_day: mean record rates per person (weekends a
    quarter); now: aware-UTC current time deciding which records are visible (default: the
    real clock); clock: monotonic seconds for rate limits; vendor_options: each vendor's
    own settings by name (see its folder's docstring), e.g. ``{"qoder": {"organization_id":
    "org_x"}}``; the ``qoder_*`` and ``cursor_*`` arguments are shorthands for theirs:
    cursor_rate_limit_per_minute: requests per endpoint per key in any 60 s (default 5;
    0 = unlimited); qoder_rate_limit_per_minute: off by default (Qoder publishes no limit);
    when set, Qoder answers 429 with Retry-After and X-RateLimit-Limit/-Remaining headers;
    fault_modes: hostile modes switched on for good on their default paths, each a name from
    ``FAULT_MODES`` with optional numbers, e.g. ``["surrogate", "drip:rate=20"]`` (for other
    paths or a number of requests use ``faults.mode``).

    Each vendor's API object is ``sim.api(name)``, also ``sim.<name>`` (``sim.qoder``).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        users: int = 50,
        repos: int = 20,
        days: int = 120,
        api_key: str = "sim-key",
        qoder_org: str | None = None,
        cursor_rate_limit_per_minute: int | None = None,
        commits_per_user_day: float = 2.0,
        changes_per_user_day: float = 8.0,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] | None = None,
        qoder_rate_limit_per_minute: int | None = None,
        fault_modes: Iterable[str] = (),
        vendor_options: Mapping[str, Mapping[str, Any]] | None = None,
        vendors: Iterable[SimVendor[Any]] | None = None,
    ) -> None:
        if not 1 <= users < gen.MAX_USERS:
            raise ValueError(f"users must be between 1 and {gen.MAX_USERS - 1}")
        if repos < 1:
            raise ValueError("repos must be >= 1")
        if not 0 <= days <= MAX_DAYS:
            raise ValueError(f"days must be between 0 and {MAX_DAYS}")
        if commits_per_user_day < 0 or changes_per_user_day < 0:
            raise ValueError("record rates must be >= 0")
        self._vendors = _vendor_table(discover() if vendors is None else vendors)
        options = _vendor_options(
            self._vendors,
            vendor_options or {},
            {
                "qoder": {"organization_id": qoder_org,
                          "rate_limit_per_minute": qoder_rate_limit_per_minute},
                "cursor": {"rate_limit_per_minute": cursor_rate_limit_per_minute},
            },
        )
        self.seed = seed
        self.api_key = api_key
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
        self._apis: dict[str, SimApi] = {}
        for vendor in self._vendors.values():
            context = SimContext(
                population=self.population,
                seed_bits=self._seed_bits,
                days=days,
                commits_per_user_day=commits_per_user_day,
                changes_per_user_day=changes_per_user_day,
                api_key=api_key,
                new_request_id=self._new_request_id,
                clock=self._clock,
                options=options[vendor.name],
                extra_url=functools.partial(self.extra_url, vendor.name),
            )
            self._apis[vendor.name] = vendor.build(context)
        # Longest prefix first: the first that matches a path is the longest.
        self._prefixes = sorted(
            ((prefix, vendor) for vendor in self._vendors.values() for prefix in vendor.prefixes),
            key=lambda item: -len(item[0]),
        )
        self._servers: list[_Listener] = []
        self._lifecycle = threading.Lock()

    # ---- the vendor table ---------------------------------------------------------------

    @property
    def vendors(self) -> list[str]:
        """The simulated vendors' names, in table order (sorted)."""
        return list(self._vendors)

    def api(self, name: str) -> Any:
        """Vendor `name`'s API object (a QoderApi for "qoder"...); KeyError if not simulated."""
        return self._apis[name]

    if not TYPE_CHECKING:  # mypy keeps checking attribute names; typed code uses api(name)

        def __getattr__(self, name: str) -> Any:
            # Only reached for names that are no attribute: sim.qoder, sim.cursor...
            apis: dict[str, SimApi] = self.__dict__.get("_apis", {})
            if name in apis:
                return apis[name]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def demo_providers(self) -> list[dict[str, Any]]:
        """One exporter ``providers:`` entry per vendor, in table order, for this running
        simulator: the vendor's own keys plus ``base_url`` and ``api_key`` (unless it gives
        them); the caller adds ``name``, ``poll_interval``..."""
        url = self.url
        return [
            {"base_url": url, "api_key": self.api_key,
             **vendor.demo_provider(self._apis[vendor.name], url)}
            for vendor in self._vendors.values()
        ]

    def _vendor_for(self, path: str) -> SimVendor[Any] | None:
        for prefix, vendor in self._prefixes:
            if path.startswith(prefix):
                return vendor
        return None

    # ---- the pure handler ---------------------------------------------------------------

    def app(
        self,
        method: str,
        path_with_query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        client_gone: Callable[[], bool] | None = None,
        vendor: str | None = None,
    ) -> tuple[int, dict[str, str], Iterable[bytes]]:
        """Answer one request: (status, headers, body chunks).

        The request goes to `vendor` when given (a vendor's extra listener), else to the
        vendor with the longest prefix of its path; a path no vendor serves gets a plain 404.

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
        routed = self._vendors[vendor] if vendor is not None else self._vendor_for(path)
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
            response = self._fault_response(fault, routed)
        elif replacement is not None:
            response = replacement
        else:
            response = self._route(request, routed)
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

    def _route(self, request: Request, vendor: SimVendor[Any] | None) -> Response:
        if vendor is None:
            return _plain(404, f"no simulated vendor serves {request.path}")
        try:
            return self._apis[vendor.name].handle(request, to_ms(self._now()))
        except Exception:
            logger.exception("simulator handler failed path=%s", request.path)
            body = vendor.error_body(500, "internal error", self._new_request_id)
            return encoded_json_response(500, body)

    def _fault_response(self, fault: Fault, vendor: SimVendor[Any] | None) -> Response:
        body = fault.body
        if body is None:
            if vendor is None:
                return _plain(fault.status, "injected fault", fault.headers)
            body = vendor.error_body(fault.status, "injected fault", self._new_request_id)
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
        """Serve on host:port (0 = any free port) from a daemon thread, and each vendor that
        asks for an extra listener on a free port of the same host."""
        with self._lifecycle:
            if self._servers:
                raise RuntimeError("simulator already started")
            self._stopping.clear()
            extra = [v.name for v in self._vendors.values() if v.extra_listener]
            listeners: list[_Listener] = []
            try:
                for vendor in [None, *extra]:
                    server = _Server((host, port if vendor is None else 0), self, vendor)
                    thread = threading.Thread(
                        target=server.serve_forever,
                        kwargs={"poll_interval": 0.1},
                        name="aicode-simulator" + (f"-{vendor}" if vendor else ""),
                        daemon=True,
                    )
                    listeners.append(_Listener(vendor, server, thread))
                    thread.start()
            except BaseException:
                _close(listeners)
                raise
            self._servers = listeners

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. http://127.0.0.1:43123 (a wildcard bind shows loopback)."""
        return self._listener(None)

    def extra_url(self, name: str) -> str:
        """Base URL of vendor `name`'s extra listener (every path there goes to `name`)."""
        if name not in self._vendors or not self._vendors[name].extra_listener:
            raise KeyError(f"simulated vendor {name!r} has no extra listener")
        return self._listener(name)

    def _listener(self, vendor: str | None) -> str:
        servers = self._servers
        if not servers:
            raise RuntimeError("simulator not started")
        server = next(s.server for s in servers if s.vendor == vendor)
        host, port = server.server_address[:2]
        host = str(host)
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the sockets; safe to call more than once."""
        with self._lifecycle:
            listeners, self._servers = self._servers, []
        if listeners:
            self._stopping.set()  # ends hung and dripping responses
        _close(listeners)

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


class _Listener(NamedTuple):
    vendor: str | None  # None: the main origin, routed by path prefix
    server: _Server
    thread: threading.Thread


def _close(listeners: list[_Listener]) -> None:
    for listener in listeners:
        if listener.thread.is_alive():
            listener.server.shutdown()
        listener.server.server_close()
    for listener in listeners:
        if listener.thread.is_alive():
            listener.thread.join(timeout=5)


def _plain(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A plain-text answer from no vendor, e.g. the 404 for a path none serves."""
    body = f"{status} {reason_phrase(status)}: {message}\n".encode()
    return Response(
        status,
        {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)),
         **(headers or {})},
        [body],
    )


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

    def __init__(
        self, address: tuple[str, int], simulator: Simulator, vendor: str | None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.simulator = simulator
        self.vendor = vendor
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked transfer encoding
    server_version = "aicode-simulator"
    _paced_head: Drip | None = None

    def _serve(self) -> None:
        server = cast(_Server, self.server)
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length > 0 else b""
        try:
            status, headers, body = server.simulator.app(
                self.command,
                self.path,
                dict(self.headers.items()),
                payload,
                client_gone=self._client_gone,
                vendor=server.vendor,
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
        # What a client must set besides the URL and key, e.g. "qoder organization_id org_sim".
        settings = [
            f"{entry['type']} {key} {value}"
            for entry in simulator.demo_providers()
            for key, value in entry.items()
            if key not in ("type", "base_url", "api_key")
        ]
        logger.info(
            "simulator listening url=%s (use api_key %s%s)",
            simulator.url,
            api_key,
            "".join(f", {setting}" for setting in settings),
        )
        if fault_modes:
            logger.warning("simulator fault modes on: %s", ", ".join(fault_modes))
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
