"""ApiClient: the request loop over httpx for one API instance: timeouts, User-Agent,
auth, pacing, retries, and the classification of every failure into the typed errors of
errors.py.

Retry policy (the caller's scheduler is the outer loop): 401/403 and other 4xx are final,
except a 403 saying the rate limit is spent; 429 and 503 wait for Retry-After; other 5xx,
timeouts and resets back off with full jitter; all of it within the deadline the caller
gives (a stream read may have none, and is paced by its bucket). A request that never
reached the vendor (unknown host, refused, TLS handshake, connect timeout) is logged at
warning naming the address, gives its token back and is retried once, briefly: a wrong
base_url fails in seconds, not minutes.

Every request has a total time budget covering connect, headers and the whole body: the
client's `timeout`, never beyond the caller's deadline. Each socket operation is cut to
what is left of it (deadline.py) and the body is read by body.py within the same budget.

Pacing: one TokenBucket per bucket name (`rate_per_minute`); an endpoint uses the bucket
`bucket_of` names for it, else the bucket of its own name, so several endpoints can share
one limit. Waits the server asks for (Retry-After, X-RateLimit-Reset with
X-RateLimit-Remaining: 0) are read by waits.py; an unusable one is clamped to `max_wait`
and logged once. A wait that does not fit the caller's deadline (or, without one,
`max_wait`) is not slept: the request raises RateLimited carrying the wall time it ends.

Text from the server (error messages, details, codes, request ids, body snippets) has
the secrets replaced by <redacted> (redact.py) before it is logged or put into an error.

Conditional GETs: the last 2xx body of each GET URL that came with an ETag is kept
(etag.py) and revalidated with If-None-Match; a 304 replays it as if it were a fresh 200
and gives the request's token back, since APIs do not count a 304 against their limits.

Downloads (`stream_lines`): an absolute URL handed out by the API (a pre-signed link to a
file, whose query string is its credential) is fetched by a second httpx client that has
no auth and none of the API's headers, follows redirects without adding any, and is never
paced by a bucket. Its body is read line by line as it streams, under its own size and
line-length bounds. Errors and logs name the link as scheme://host/path, never its query.

Memory: bodies are decoded in bounded pieces (decode.py: gzip and deflate, stacked too),
so `max_body_bytes` counts decompressed bytes as they inflate. A JSON answer is also
refused, as its bytes arrive, once parsing it would cost more than `max_json_cost`
(jsonbody.py estimates it), and it reserves that cost from the process-wide `budget`
(budget.py) shared by every client; once parsed, the thread that asked holds the part its
objects take until its next request or `release_held()`. JSON nested deeper than
jsonbody.MAX_DEPTH is a SchemaError.

API redirects are never followed (the key would go with them): a 3xx is a BadRequest
naming its status and target.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

import httpx

from aicode_exporter.errors import (
    AuthError,
    BadRequest,
    RateLimited,
    SchemaError,
    Unavailable,
    VendorError,
)
from aicode_exporter.toolkit.http.body import (
    BodyReader,
    overrun,
    read_body,
    response_chunks,
    size_text,
)
from aicode_exporter.toolkit.http.budget import MemoryBudget
from aicode_exporter.toolkit.http.deadline import DeadlineTransport, within
from aicode_exporter.toolkit.http.decode import ACCEPT_ENCODING
from aicode_exporter.toolkit.http.etag import EtagCache
from aicode_exporter.toolkit.http.jsonbody import JsonCost, JsonTooCostly, loads
from aicode_exporter.toolkit.http.ratelimit import TokenBucket
from aicode_exporter.toolkit.http.redact import Redactor
from aicode_exporter.toolkit.http.waits import parse_wait

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
CONNECT_TIMEOUT = 10.0  # at most, within the request's budget
MAX_BODY_BYTES = 64 << 20  # per response, after content decoding
MAX_JSON_COST = 48 << 20  # estimated memory to parse one JSON answer (jsonbody.py)
ERROR_BODY_BYTES = 64 << 10  # of an error response, read for its message; the rest dropped
MAX_WAIT = 300.0  # default cap on an unusable server wait (one default poll interval)
MAX_DOWNLOAD_REDIRECTS = 5
# A request that never reached the vendor (no such host, connection refused, TLS handshake
# failed, no connection within the connect timeout) is a wrong or unreachable address far
# more often than a blip: it is retried once, after CONNECT_BACKOFF, and only when the
# previous request of this client did reach the vendor; a certificate error not at all.
CONNECT_BACKOFF = 0.5
_OWN_BUCKETS: Mapping[str, str] = MappingProxyType({})  # every endpoint paced on its own
_UNASKED_304 = "304 Not Modified to a request without If-None-Match"


EndpointKey = tuple[str, str, str]  # vendor, org, endpoint


class PacingMemory(Protocol):
    """Where the wall time of each bucket's last request is kept across processes."""

    def last_requests(self) -> Mapping[str, float]: ...

    def note_request(self, bucket: str, at: float) -> None: ...


class RequestObserver(Protocol):
    """Where request outcomes are counted (the exporter's telemetry); kept abstract so
    this layer knows nothing about exposition."""

    def request(self, key: EndpointKey, code: str) -> None: ...

    def rate_limited(self, key: EndpointKey) -> None: ...


def _same(text: str) -> str:
    return text


def vendor_error_fields(body: bytes, content_type: str = "",
                        redact: Callable[[str], str] = _same) -> dict[str, str]:
    """Pull requestId/code/message from a vendor error body, whatever its shape."""
    try:
        data = json.loads(body[:ERROR_BODY_BYTES])
    except (ValueError, UnicodeDecodeError):
        return {"message": _snippet(body, content_type, redact)}
    if not isinstance(data, dict):
        return {"message": _snippet(body, content_type, redact)}
    err = data.get("error")
    if isinstance(err, dict):
        data = {**data, **err}
    out = {
        "request_id": str(data.get("requestId") or data.get("request_id") or ""),
        "code": str(data.get("code") or (err if isinstance(err, str) else "") or ""),
        "message": str(data.get("message") or ""),
    }
    details = data.get("details")
    if isinstance(details, list) and details:
        out["message"] += " (" + "; ".join(str(d) for d in details[:5]) + ")"
    return {k: redact(v)[:1000] for k, v in out.items()}


def _snippet(body: bytes, content_type: str = "",
             redact: Callable[[str], str] = _same) -> str:
    # Redacted before truncating, so a key cut at the edge is not left half visible.
    text = redact(body[:600].decode("utf-8", "replace")).replace("\n", " ").strip()[:120]
    return f"non-JSON body ({content_type or 'no content-type'}): {text!r}"


class _JsonShare:
    """One JSON answer's share of the memory budget: its estimated parse cost, checked
    against the per-request cap and reserved as its bytes arrive."""

    def __init__(self, budget: MemoryBudget, limit: int, endpoint: str) -> None:
        self.budget, self.limit, self.endpoint = budget, limit, endpoint
        self.cost = JsonCost()
        self.reserved = 0

    def add(self, chunk: bytes) -> None:
        grow = self.cost.add(chunk)
        if self.cost.estimate > self.limit:
            raise SchemaError(
                f"the JSON answer from endpoint {self.endpoint} would take about "
                f"{self.cost.estimate / 2**20:.0f} MiB of memory to parse "
                f"({self.cost.size / 2**20:.1f} MiB read so far), more than the "
                f"{size_text(self.limit)} allowed per request (max_json_cost); "
                "was the page size ignored?", endpoint=self.endpoint)
        if not self.budget.reserve(grow):
            raise Unavailable(
                f"JSON answers being read or held by the exporter need more than its "
                f"{size_text(self.budget.total)} memory budget; this one "
                f"({self.cost.size / 2**20:.1f} MiB so far) is tried again later",
                endpoint=self.endpoint)
        self.reserved += grow

    def release(self, keep: int = 0) -> int:
        """Give back all but `keep` bytes of the reservation; returns what is kept."""
        keep = min(keep, self.reserved)
        self.budget.release(self.reserved - keep)
        self.reserved = 0
        return keep


class _Reply(NamedTuple):
    """A response whose status and headers are in; `body` holds the whole body unless it
    is streamed to the caller (stream_text), where `started` and `end` bound its reading."""

    resp: httpx.Response
    body: bytes
    started: float  # monotonic time the request went out
    end: float  # monotonic time by which the whole body must have arrived
    share: _JsonShare | None = None  # the body's reservation, when read as JSON


class ApiClient:
    """HTTP for one API instance: one httpx.Client, one conditional-GET cache, one
    TokenBucket per name in `rate_per_minute`.

    An endpoint is paced by the bucket `bucket_of[endpoint]` names, else by the bucket of
    its own name (`bucket()`), so endpoints that share one server limit share one bucket.
    `timeout` is the total budget of one request (connect, headers and body); `max_wait`
    caps a server wait that cannot be believed and is the longest a request without a
    deadline (a stream read) sleeps for one; `secrets` are redacted from server text."""

    def __init__(
        self,
        *,
        vendor: str,
        org: str,
        base_url: str,
        auth: httpx.Auth,
        timeout: float,
        rate_per_minute: Mapping[str, float],
        observer: RequestObserver,
        bucket_of: Mapping[str, str] = _OWN_BUCKETS,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        cache: EtagCache | None = None,
        secrets: Sequence[str] = (),
        max_wait: float = MAX_WAIT,
        max_body_bytes: int = MAX_BODY_BYTES,
        user_agent: str = f"python-httpx/{httpx.__version__}",
        max_json_cost: int = MAX_JSON_COST,
        budget: MemoryBudget | None = None,
        verify: Any = True,
        pacing: PacingMemory | None = None,
    ) -> None:
        self.vendor = vendor
        self.org = org
        self._timeout = float(timeout)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": user_agent, "Accept": "application/json",
                     "Accept-Encoding": ACCEPT_ENCODING},
            transport=transport if transport is not None else DeadlineTransport(verify=verify),
            follow_redirects=False,
        )
        # Downloads of links the vendor hands out: no auth, no vendor headers; redirects
        # followed (httpx adds nothing to them: there is nothing to add).
        self._plain = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            transport=transport if transport is not None else DeadlineTransport(),
            follow_redirects=True, max_redirects=MAX_DOWNLOAD_REDIRECTS)
        self._buckets = {name: TokenBucket(r, clock=clock, sleep=sleep)
                         for name, r in rate_per_minute.items()}
        unknown = sorted(set(bucket_of.values()) - set(self._buckets))
        if unknown:
            raise ValueError(f"bucket_of names bucket(s) without a rate: {', '.join(unknown)}")
        self._bucket_of = dict(bucket_of)
        self._pacing = pacing
        if pacing is not None:  # where the last process left each bucket
            now = wall()
            for name, last in pacing.last_requests().items():
                if name in self._buckets:
                    self._buckets[name].resume_after(last, now)
        self._observer = observer
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()
        self.cache = cache if cache is not None else EtagCache()
        self._secrets = list(secrets)
        self.redact = Redactor(self._secrets)
        self.max_wait = float(max_wait)
        self.max_body_bytes = int(max_body_bytes)
        self.max_json_cost = int(max_json_cost)
        self.budget = budget if budget is not None else MemoryBudget()
        self._held: dict[int, int] = {}  # thread id -> bytes its last JSON answer holds
        self._held_lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()  # (endpoint, header) said once
        self._warned_lock = threading.Lock()
        self._origin = _origin(self._client.base_url)
        self._unreachable = False  # the last request failed before reaching the vendor

    def close(self) -> None:
        self._plain.close()
        self._client.close()
        self.release_held(every_thread=True)

    def set_credentials(self, auth: httpx.Auth, secrets: Sequence[str]) -> None:
        """A rotated key: requests from now on carry `auth`; text from the server keeps
        having the old secrets redacted as well as the new ones."""
        self._secrets = [*self._secrets, *secrets]
        self.redact = Redactor(self._secrets)
        self._client.auth = auth

    def release_held(self, *, every_thread: bool = False) -> None:
        """The calling thread (or every thread) is done with the JSON it was given: its
        share of the memory budget goes back. Poll jobs call this when they end."""
        with self._held_lock:
            if every_thread:
                held, self._held = sum(self._held.values()), {}
            else:
                held = self._held.pop(threading.get_ident(), 0)
        self.budget.release(held)

    def _hold(self, n: int) -> None:
        """The calling thread now holds `n` bytes of parsed JSON instead of what it held."""
        with self._held_lock:
            old = self._held.pop(threading.get_ident(), 0)
            if n:
                self._held[threading.get_ident()] = n
        self.budget.release(old)

    def bucket(self, endpoint: str) -> TokenBucket:
        """The bucket that paces `endpoint`: the one bucket_of names, else its own."""
        return self._buckets[self._bucket_of.get(endpoint, endpoint)]

    # -- public calls --------------------------------------------------------------------

    def get_json(self, endpoint: str, path: str, params: Mapping[str, Any],
                 *, deadline: float | None) -> Any:
        req = self._client.build_request("GET", path, params=_clean(params))
        reply, fresh = self._send_get(endpoint, req, deadline, stream=False)
        if reply.resp.status_code == 204:  # No Content: nothing to decode
            return None
        data = self._decode(endpoint, reply)
        if fresh:
            self._remember(req, reply.resp, reply.body)
        return data

    def post_json(self, endpoint: str, path: str, body: Any, *, deadline: float | None) -> Any:
        req = self._client.build_request("POST", path, json=body)
        return self._decode(endpoint, self._send(endpoint, req, deadline, stream=False))

    @contextlib.contextmanager
    def stream_text(self, endpoint: str, path: str, params: Mapping[str, Any],
                    *, deadline: float | None) -> Iterator[io.TextIOWrapper]:
        """A streamed body as a text file opened with newline='' (what the csv module
        wants), read as it arrives; a body cut off mid-way, or still arriving when the
        request's budget is spent, raises Unavailable; one over max_body_bytes raises
        SchemaError. The budget counts the time spent waiting for the vendor, not the
        time the caller spends between reads.

        A body with an ETag is kept for revalidation only once it was read to the end
        and only up to the cache's body limit (collected as it streams past)."""
        req = self._client.build_request("GET", path, params=_clean(params),
                                         headers={"Accept": "text/csv"})
        reply, fresh = self._send_get(endpoint, req, deadline, stream=True)
        resp = reply.resp
        key = self._key(endpoint)
        counted = not fresh  # a 304 was counted when it came

        def count(code: str) -> None:
            nonlocal counted
            if not counted:
                counted = True
                self._observer.request(key, code)

        keep: Callable[[bytes], None] | None = None
        if fresh:
            self.cache.discard(str(req.url))
            if resp.headers.get("etag"):
                def keep(body: bytes) -> None:
                    self._remember(req, resp, body)
        try:
            raw = BodyReader(response_chunks(resp), endpoint, clock=self._clock,
                             budget=(reply.started, reply.end, deadline),
                             limit=self.max_body_bytes,
                             declared=resp.headers.get("content-length", ""),
                             keep=keep, keep_limit=self.cache.body_limit,
                             on_error=lambda: count("error"),
                             encoded=bool(resp.headers.get("content-encoding", "").strip()))
            yield io.TextIOWrapper(io.BufferedReader(raw, 65536), encoding="utf-8",
                                   errors="replace", newline="")
        finally:
            resp.close()
            count(str(resp.status_code))

    @contextlib.contextmanager
    def stream_lines(self, endpoint: str, url: str, *, max_bytes: int, max_line_bytes: int,
                     deadline: float | None, timeout: float | None = None,
                     limit_name: str = "max_body_bytes") -> Iterator[Iterator[bytes]]:
        """GET an absolute `url` without this client's auth or vendor headers (a
        pre-signed download link) and yield its body line by line as it streams in: each
        line as bytes with its line end, at most `max_line_bytes` long (a longer one is a
        SchemaError), the whole body at most `max_bytes` after content decoding (a
        SchemaError naming `limit_name`, the setting that raises it).

        One attempt, counted as a request of `endpoint` and paced by no bucket (the host is
        not the vendor's API): a 4xx raises BadRequest with its status (a signed link that
        expired answers 403, 404 or 410), a 429 or 5xx, a timeout or a body cut off
        Unavailable. `timeout` (default: the client's) bounds the whole download, never
        past `deadline`. Errors name the link as scheme://host/path: its query string,
        the link's credential, never appears, nor does the error body."""
        where = f"download from {public_url(url)}"
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise SchemaError(f"{where}: not a URL", endpoint=endpoint) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise SchemaError(f"{where}: not an http(s) URL", endpoint=endpoint)
        key = self._key(endpoint)
        started = self._clock()
        end = started + (self._timeout if timeout is None else float(timeout))
        if deadline is not None:
            end = min(end, deadline)
        budget = end - started
        if budget <= 0:
            raise Unavailable(f"{where}: no time left before the poll deadline",
                              endpoint=endpoint)
        req = self._plain.build_request("GET", target)
        req.extensions["timeout"] = httpx.Timeout(
            budget, connect=min(budget, CONNECT_TIMEOUT)).as_dict()
        try:
            with within(budget):
                resp = self._plain.send(req, stream=True)
        except httpx.TooManyRedirects:
            self._observer.request(key, "error")
            raise SchemaError(f"{where}: more than {MAX_DOWNLOAD_REDIRECTS} redirects",
                              endpoint=endpoint) from None
        except httpx.TimeoutException:
            self._observer.request(key, "error")
            raise Unavailable(f"{where}: took longer than {round(budget, 1):g}s",
                              endpoint=endpoint) from None
        except httpx.HTTPError as e:  # its text may carry the URL: only its type is said
            self._observer.request(key, "error")
            raise Unavailable(f"{where} failed: {type(e).__name__}",
                              endpoint=endpoint) from None
        status = resp.status_code
        if not resp.is_success:
            resp.close()
            self._observer.request(key, str(status))
            if status == 429 or status >= 500:
                raise Unavailable(f"{where}: HTTP {status}", endpoint=endpoint, status=status)
            raise BadRequest(f"{where} refused: HTTP {status}", endpoint=endpoint,
                             status=status)
        counted = False

        def count(code: str) -> None:
            nonlocal counted
            if not counted:
                counted = True
                self._observer.request(key, code)

        raw = BodyReader(response_chunks(resp), endpoint, clock=self._clock,
                         budget=(started, end, deadline), limit=max_bytes,
                         limit_name=limit_name, on_error=lambda: count("error"),
                         encoded=bool(resp.headers.get("content-encoding", "").strip()))
        reader = io.BufferedReader(raw, 1 << 16)

        def lines() -> Iterator[bytes]:
            while line := reader.readline(max_line_bytes + 1):
                if len(line) > max_line_bytes and not line.endswith(b"\n"):
                    count("error")
                    raise SchemaError(f"{where}: a line is longer than "
                                      f"{size_text(max_line_bytes)}", endpoint=endpoint)
                yield line

        try:
            yield lines()
        finally:
            resp.close()
            count(str(status))

    # -- internals -----------------------------------------------------------------------

    def _key(self, endpoint: str) -> EndpointKey:
        return (self.vendor, self.org, endpoint)

    def _log_fields(self, endpoint: str) -> dict[str, object]:
        return {"provider": self.vendor, "org": self.org, "endpoint": endpoint}

    def _decode(self, endpoint: str, reply: _Reply) -> Any:
        """The body as JSON, within the memory and nesting bounds; the calling thread
        then holds its objects' share of the budget."""
        share = reply.share
        if share is None:  # a replayed 304: the kept body is parsed again
            share = _JsonShare(self.budget, self.max_json_cost, endpoint)
            share.add(reply.body)
        try:
            data = loads(reply.body)  # bytes: no str copy of the whole body first
        except JsonTooCostly as e:
            share.release()
            raise SchemaError(f"JSON answer {e}", endpoint=endpoint,
                              status=reply.resp.status_code) from None
        except (ValueError, UnicodeDecodeError):
            share.release()
            snippet = _snippet(reply.body, reply.resp.headers.get("content-type", ""),
                               self.redact)
            raise SchemaError(f"expected JSON, got {snippet}", endpoint=endpoint,
                              status=reply.resp.status_code) from None
        self._hold(share.release(keep=share.cost.objects))
        return data

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))

    def _send_get(self, endpoint: str, req: httpx.Request, deadline: float | None,
                  *, stream: bool) -> tuple[_Reply, bool]:
        """Send a GET, conditionally when its URL has a kept body: (the reply, whether
        it is fresh from the vendor). A 304 comes back as the kept body with status 200.
        """
        cached = self.cache.get(str(req.url))
        if cached is not None:
            req.headers["If-None-Match"] = cached.etag
        reply = self._send(endpoint, req, deadline, stream=stream)
        if reply.resp.status_code != 304:
            return reply, True
        if cached is None:  # _send already refuses this
            raise SchemaError(_UNASKED_304, endpoint=endpoint, status=304)
        headers = {"ETag": cached.etag}
        if cached.content_type:
            headers["Content-Type"] = cached.content_type
        resp = httpx.Response(200, headers=headers, content=cached.body, request=req)
        return reply._replace(resp=resp, body=cached.body), False

    def _remember(self, req: httpx.Request, resp: httpx.Response, body: bytes) -> None:
        """Keep a fresh 2xx body for revalidation (or forget the URL's old one)."""
        url, etag = str(req.url), resp.headers.get("etag", "").strip()
        if not etag or not self.cache.put(url, etag, body, resp.headers.get("content-type", "")):
            self.cache.discard(url)

    def _send(self, endpoint: str, req: httpx.Request, deadline: float | None,
              *, stream: bool) -> _Reply:
        """Send with retries. A 2xx comes back with its whole body read as JSON, its
        reservation in the budget taken (unless `stream`: then the caller reads it, and
        counts it), a 304 with none; everything else raises its typed error."""
        key = self._key(endpoint)
        bucket = self.bucket(endpoint)
        last: VendorError | None = None
        not_reached = 0  # attempts of this request that never reached the vendor
        for attempt in range(MAX_ATTEMPTS):
            # Without a deadline (stream reads) a slot may wait for pacing plus max_wait.
            limit = (deadline if deadline is not None
                     else self._clock() + self.max_wait + bucket.interval)
            self._doing(key, f"waiting for a request slot (limit {bucket.per_minute:g}/min)")
            slot = bucket.acquire_slot(limit)
            if slot is not None and self._pacing is not None:
                self._pacing.note_request(self._bucket_of.get(endpoint, endpoint),
                                          self._wall())
            started = self._clock()
            end = started + self._timeout
            if deadline is not None:
                end = min(end, deadline)
            if slot is None or end <= started:
                raise last or self._no_slot(endpoint, bucket, deadline)
            budget = end - started
            req.extensions["timeout"] = httpx.Timeout(
                budget, connect=min(budget, CONNECT_TIMEOUT)).as_dict()
            wait: float | None = 0.0
            self._doing(key, f"waiting for {self._origin}")
            try:
                with within(budget):  # the headers too, however slowly they come
                    resp = self._client.send(req, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as e:
                self._observer.request(key, "error")
                bucket.refund(slot)  # the vendor never saw it
                last = self._not_reached(endpoint, e, budget, retried=not_reached > 0)
                not_reached += 1
                retry = not self._unreachable and _may_be_transient(e)
                self._unreachable = True
                if not retry:
                    raise last from None
                wait = CONNECT_BACKOFF
            except httpx.TimeoutException:
                self._observer.request(key, "error")
                last = overrun(endpoint, budget)
            except httpx.HTTPError as e:
                self._observer.request(key, "error")
                untrusted = _untrusted_certificate(e)
                if untrusted is not None:  # the same on every attempt: not retried
                    raise Unavailable(
                        f"TLS: the server's certificate is not trusted ({untrusted}); a "
                        "vendor behind a private CA needs its CA in ca_file",
                        endpoint=endpoint) from None
                last = Unavailable(
                    f"connection failed: {type(e).__name__}: {self.redact(str(e))}",
                    endpoint=endpoint)
            else:
                self._unreachable = False
                if resp.status_code == 304:
                    # Not counted by the vendor: the token goes back before any pause the
                    # headers ask for.
                    bucket.refund(slot)
                self._note_ratelimit_headers(endpoint, bucket, resp)
                status = resp.status_code
                try:
                    if self._clock() > end:  # the headers alone took the whole budget
                        raise overrun(endpoint, budget)
                    if resp.is_success and stream:
                        return _Reply(resp, b"", started, end)  # counted by the reader
                    limit_bytes = (self.max_body_bytes if resp.is_success
                                   else ERROR_BODY_BYTES)
                    share = (_JsonShare(self.budget, self.max_json_cost, endpoint)
                             if resp.is_success else None)
                    try:
                        body = read_body(resp, endpoint, clock=self._clock, started=started,
                                         end=end, limit=limit_bytes,
                                         truncate=not resp.is_success,
                                         on_chunk=share.add if share else None)
                    except BaseException:
                        if share is not None:
                            share.release()
                        raise
                except VendorError as e:
                    resp.close()
                    self._observer.request(key, "error")
                    if not isinstance(e, Unavailable):
                        raise
                    last = e
                else:
                    self._observer.request(key, str(status))
                    if resp.is_success:
                        return _Reply(resp, body, started, end, share)
                    if status == 304:
                        if "if-none-match" in req.headers:
                            return _Reply(resp, b"", started, end)
                        raise SchemaError(_UNASKED_304, endpoint=endpoint, status=304)
                    last, wait = self._classify(endpoint, resp, body)
                    if wait is None:
                        raise last
            # Retry after Retry-After when given, else exponential backoff with jitter.
            # The wait goes into the bucket, so no other request to this endpoint jumps it;
            # a wait the vendor asked for is remembered there even when we give up now.
            wait = wait or max(self._backoff(attempt), 0.001)
            if isinstance(last, RateLimited) and last.until is not None:
                bucket.pause_until(self._clock() + wait, last.header)
            too_long = (self._clock() + wait > deadline if deadline is not None
                        else wait > self.max_wait)
            if too_long:
                raise last
            logger.debug("retrying", extra={**self._log_fields(endpoint),
                                            "wait_seconds": wait, "after": str(last)})
            self._doing(key, f"retrying in {wait:.1f}s after: {last}")
            bucket.pause_until(self._clock() + wait)
        assert last is not None
        raise last

    def _doing(self, key: EndpointKey, what: str) -> None:
        """Tell an observer that wants to know (`--once`'s progress lines) what a request
        of `key` is waiting for."""
        doing = getattr(self._observer, "doing", None)
        if doing is not None:
            doing(key, what)

    def _not_reached(self, endpoint: str, e: httpx.HTTPError, budget: float, *,
                     retried: bool) -> Unavailable:
        """The error of a request that never reached the vendor, logged with the address
        (at warning on a request's first attempt: a wrong base_url must not fail in
        silence)."""
        if isinstance(e, httpx.ConnectTimeout):
            what = f"no connection within {round(min(budget, CONNECT_TIMEOUT), 1):g}s"
        else:
            what = _connect_failure(e, self.redact)
        logger.log(logging.DEBUG if retried else logging.WARNING, "cannot reach the vendor", extra={
            **self._log_fields(endpoint), "address": self._origin, "error": what})
        return Unavailable(f"cannot reach {self._origin}: {what}", endpoint=endpoint)

    def _no_slot(self, endpoint: str, bucket: TokenBucket,
                 deadline: float | None) -> RateLimited:
        """No request slot before the deadline (or, without one, within max_wait): a wait
        the vendor asked for, or our own pacing."""
        within = "the poll deadline" if deadline is not None else f"{self.max_wait:g}s"
        pause = bucket.vendor_pause()
        if pause is not None:
            until, header = pause
            wait = until - self._clock()
            return RateLimited(f"rate limited: the vendor's wait ({wait:.0f}s, {header}) "
                               f"runs past {within}", endpoint=endpoint, retry_after=wait,
                               until=self._wall() + wait, header=header)
        return RateLimited(f"next request slot is past {within} "
                           f"(limit {bucket.per_minute:g}/min)", endpoint=endpoint)

    def _wait_header(self, endpoint: str, header: str, raw: str | None) -> float | None:
        """A vendor wait header in seconds: None when absent, max_wait when unusable (said
        once per endpoint and header, with the raw value)."""
        try:
            return parse_wait(raw, self._wall())
        except ValueError:
            with self._warned_lock:
                first = (endpoint, header) not in self._warned
                self._warned.add((endpoint, header))
            if first:
                logger.warning("vendor sent an unusable wait", extra={
                    **self._log_fields(endpoint), "header": header,
                    "value": self.redact((raw or "")[:100]), "using_seconds": self.max_wait})
            return self.max_wait

    def _note_ratelimit_headers(self, endpoint: str, bucket: TokenBucket,
                                resp: httpx.Response) -> None:
        if not _exhausted(resp):
            return
        reset = self._wait_header(endpoint, "X-RateLimit-Reset",
                                  resp.headers.get("x-ratelimit-reset"))
        if reset is not None:
            bucket.pause_until(self._clock() + reset, "X-RateLimit-Reset")

    def _classify(self, endpoint: str, resp: httpx.Response,
                  body: bytes) -> tuple[VendorError, float | None]:
        """The typed error, and how long to wait before retrying (None: don't retry;
        0: back off with jitter)."""
        status = resp.status_code
        f = vendor_error_fields(body, resp.headers.get("content-type", ""), self.redact)
        common: dict[str, Any] = {"endpoint": endpoint, "status": status,
                                  "code": f.get("code", ""), "request_id": f.get("request_id", "")}
        msg = f.get("message") or resp.reason_phrase
        if 300 <= status < 400:
            msg = self._redirect(resp)
        # `message` is LogRecord's own: the vendor's message is the field `error`.
        logger.warning("vendor error", extra={
            **self._log_fields(endpoint), "status": status, "code": common["code"] or "-",
            "request_id": common["request_id"] or "-", "error": msg})
        retry_after = self._wait_header(endpoint, "Retry-After",
                                        resp.headers.get("retry-after"))
        header = "Retry-After"
        # A 403 that says the limit is spent (X-RateLimit-Remaining: 0, or a Retry-After)
        # is a rate limit, not a refusal: wait for its Retry-After or X-RateLimit-Reset.
        spent = _exhausted(resp)
        if status == 403 and retry_after is None and spent:
            header = "X-RateLimit-Reset"
            retry_after = self._wait_header(endpoint, header,
                                            resp.headers.get("x-ratelimit-reset"))
        if (status == 429 or (status == 503 and retry_after is not None)
                or (status == 403 and (spent or retry_after is not None))):
            self._observer.rate_limited(self._key(endpoint))
            if retry_after is None:  # wait at least one pacing interval
                return (RateLimited(f"rate limited: {msg}", **common),
                        self.bucket(endpoint).interval)
            return RateLimited(f"rate limited: {msg}", retry_after=retry_after,
                               until=self._wall() + retry_after, header=header,
                               **common), retry_after
        if status in (401, 403):
            return AuthError(f"authentication failed: {msg}", **common), None
        if 300 <= status < 400:
            return BadRequest(msg, **common), None
        if status >= 500:
            return Unavailable(f"server error: {msg}", **common), 0.0
        return BadRequest(f"request rejected: {msg}", **common), None

    def _redirect(self, resp: httpx.Response) -> str:
        """What a redirect says, naming its target without its query (which may carry
        a token); never followed, so the key is never sent to it."""
        location = resp.headers.get("location", "").strip()
        if not location:
            return f"redirected ({resp.status_code}) without a Location; not followed"
        try:
            url = resp.request.url.join(location)
            target = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"
        except (httpx.InvalidURL, ValueError):
            target = repr(location[:200])
        here = resp.request.url.netloc.decode("ascii", "replace")
        moved = ("another host" if target.split("/")[2:3] != [here] else "another path")
        return (f"redirected ({resp.status_code}) to {self.redact(target)} ({moved}); "
                "not followed, so the API key is never sent there: if the vendor moved, "
                "set base_url to the new address")


def _origin(url: httpx.URL) -> str:
    """scheme://host[:port] of a base URL: where requests go, without path or query."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


def _untrusted_certificate(e: BaseException) -> str | None:
    """What a failed certificate verification says, if that is what `e` comes from."""
    for cause in _causes(e):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verify failed"
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(e) else None


def _causes(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _connect_failure(e: httpx.HTTPError, redact: Callable[[str], str]) -> str:
    """What went wrong before the request reached the vendor, in words."""
    if isinstance(e, httpx.UnsupportedProtocol):
        return "unsupported URL scheme (base_url must start with https:// or http://)"
    for cause in _causes(e):
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the host name ({cause.strerror or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (f"TLS: the server's certificate is not trusted "
                    f"({cause.verify_message or cause.reason}); "
                    "a vendor behind a private CA needs its CA in ca_file")
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or cause})"
    return f"connection failed: {type(e).__name__}: {redact(str(e))}"


def _may_be_transient(e: httpx.HTTPError) -> bool:
    """A certificate that is not trusted, or a scheme we do not speak, stays so."""
    if isinstance(e, httpx.UnsupportedProtocol):
        return False
    return not any(isinstance(c, ssl.SSLCertVerificationError) for c in _causes(e))


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _exhausted(resp: httpx.Response) -> bool:
    """The answer says no requests are left in the rate-limit window."""
    return resp.headers.get("x-ratelimit-remaining", "").strip() in ("0", "0.0")


def public_url(url: str) -> str:
    """scheme://host[:port]/path of `url`, without user info, query or fragment: what
    may be logged of a link whose query string is a credential (a pre-signed URL)."""
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<not a URL>"
    port = f":{u.port}" if u.port else ""
    path = u.path if len(u.path) <= 200 else u.path[:200] + "..."
    return f"{u.scheme}://{u.host}{port}{path}"
