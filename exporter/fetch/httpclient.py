"""The one place that talks HTTP: timeouts, User-Agent, auth, pacing, retries, and the
classification of every failure into the typed errors of errors.py.

Retry policy (the scheduler is the outer loop): 401/403 and other 4xx are final; 429 and
503 wait for Retry-After; other 5xx, timeouts and connection errors back off with full
jitter; all of it within the deadline the caller gives (an aggregate run passes its own;
stream reads have none and are paced by the bucket).

Conditional GETs: the last 2xx body of each GET URL that came with an ETag is kept (a
bounded LRU of raw bytes) and revalidated with If-None-Match; a 304 replays it as if it
were a fresh 200 and gives the request's token back, since vendors do not count a 304
against their rate limits.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

import httpx

from exporter.errors import (
    AuthError,
    BadRequest,
    RateLimited,
    SchemaError,
    Unavailable,
    VendorError,
)
from exporter.fetch.ratelimit import TokenBucket
from exporter.version import __version__

logger = logging.getLogger(__name__)

USER_AGENT = f"aicode-exporter/{__version__}"
MAX_ATTEMPTS = 5
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
CACHE_ENTRIES = 256  # conditional-GET cache: URLs kept per client (LRU)
CACHE_BODY_LIMIT = 8 << 20  # bodies larger than this are not kept
CACHE_TOTAL_LIMIT = 16 << 20  # all kept bodies of one client together (pods get 256Mi)
_UNASKED_304 = "304 Not Modified to a request without If-None-Match"


EndpointKey = tuple[str, str, str]  # vendor, org, endpoint


class RequestObserver(Protocol):
    """Where request outcomes are counted (the exporter's telemetry); kept abstract so
    this layer knows nothing about exposition."""

    def request(self, key: EndpointKey, code: str) -> None: ...

    def rate_limited(self, key: EndpointKey) -> None: ...


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


def basic_auth(user: str) -> httpx.Auth:
    return httpx.BasicAuth(user, "")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def parse_ratelimit_reset(value: str | None, now: float) -> float | None:
    """X-RateLimit-Reset as seconds from now. Vendors send either seconds-until-reset or
    a Unix timestamp; anything past 10^9 can only be the latter."""
    if not value:
        return None
    try:
        v = float(value.strip())
    except ValueError:
        return parse_retry_after(value, now)
    return max(0.0, v - now) if v > 1e9 else max(0.0, v)


def vendor_error_fields(resp: httpx.Response) -> dict[str, str]:
    """Pull requestId/code/message from a vendor error body, whatever its shape."""
    try:
        body = json.loads(resp.content[:65536])
    except (ValueError, UnicodeDecodeError):
        return {"message": _snippet(resp)}
    if not isinstance(body, dict):
        return {"message": _snippet(resp)}
    err = body.get("error")
    if isinstance(err, dict):
        body = {**body, **err}
    out = {
        "request_id": str(body.get("requestId") or body.get("request_id") or ""),
        "code": str(body.get("code") or (err if isinstance(err, str) else "") or ""),
        "message": str(body.get("message") or ""),
    }
    details = body.get("details")
    if isinstance(details, list) and details:
        out["message"] += " (" + "; ".join(str(d) for d in details[:5]) + ")"
    return out


def _snippet(resp: httpx.Response) -> str:
    ctype = resp.headers.get("content-type", "")
    text = resp.content[:120].decode("utf-8", "replace").replace("\n", " ").strip()
    return f"non-JSON body ({ctype or 'no content-type'}): {text!r}"


class CachedBody(NamedTuple):
    etag: str
    body: bytes  # as received, after content decoding
    content_type: str


class EtagCache:
    """The last validated body per GET URL: LRU, bounded in entries and bytes."""

    def __init__(self, entries: int = CACHE_ENTRIES, body_limit: int = CACHE_BODY_LIMIT,
                 total_limit: int = CACHE_TOTAL_LIMIT) -> None:
        self.entries = entries
        self.body_limit = body_limit
        self.total_limit = total_limit
        self._items: OrderedDict[str, CachedBody] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        return self._bytes

    def get(self, url: str) -> CachedBody | None:
        with self._lock:
            found = self._items.get(url)
            if found is not None:
                self._items.move_to_end(url)
            return found

    def put(self, url: str, etag: str, body: bytes, content_type: str) -> bool:
        """Keep body for url (replacing what was there); False, and forget url, when the
        body is over the limit."""
        with self._lock:
            self._drop(url)
            if len(body) > self.body_limit or len(body) > self.total_limit or self.entries < 1:
                return False
            self._items[url] = CachedBody(etag, body, content_type)
            self._bytes += len(body)
            while len(self._items) > self.entries or self._bytes > self.total_limit:
                self._drop(next(iter(self._items)))
            return True

    def discard(self, url: str) -> None:
        with self._lock:
            self._drop(url)

    def _drop(self, url: str) -> None:
        old = self._items.pop(url, None)
        if old is not None:
            self._bytes -= len(old.body)


class ApiClient:
    """HTTP for one provider instance: one httpx.Client, one bucket per endpoint, one
    conditional-GET cache."""

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
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        cache: EtagCache | None = None,
    ) -> None:
        self.vendor = vendor
        self.org = org
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )
        self._buckets = {ep: TokenBucket(r, clock=clock, sleep=sleep)
                         for ep, r in rate_per_minute.items()}
        self._observer = observer
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()
        self.cache = cache if cache is not None else EtagCache()

    def close(self) -> None:
        self._client.close()

    def bucket(self, endpoint: str) -> TokenBucket:
        return self._buckets[endpoint]

    # -- public calls --------------------------------------------------------------------

    def get_json(self, endpoint: str, path: str, params: Mapping[str, Any],
                 *, deadline: float | None) -> Any:
        req = self._client.build_request("GET", path, params=_clean(params))
        resp, fresh = self._send_get(endpoint, req, deadline, stream=False)
        data = self._decode(endpoint, resp)
        if fresh:
            self._remember(req, resp, resp.content)
        return data

    def post_json(self, endpoint: str, path: str, body: Any, *, deadline: float | None) -> Any:
        req = self._client.build_request("POST", path, json=body)
        return self._decode(endpoint, self._send(endpoint, req, deadline, stream=False))

    @contextlib.contextmanager
    def stream_text(self, endpoint: str, path: str, params: Mapping[str, Any],
                    *, deadline: float | None) -> Iterator[io.TextIOWrapper]:
        """A streamed body as a text file opened with newline='' (what the csv module
        wants), read as it arrives; a body cut off mid-way raises Unavailable.

        A body with an ETag is kept for revalidation only once it was read to the end
        and only up to the cache's body limit (collected as it streams past)."""
        req = self._client.build_request("GET", path, params=_clean(params),
                                         headers={"Accept": "text/csv"})
        resp, fresh = self._send_get(endpoint, req, deadline, stream=True)
        keep: Callable[[bytes], None] | None = None
        if fresh:
            self.cache.discard(str(req.url))
            if resp.headers.get("etag"):
                def keep(body: bytes) -> None:
                    self._remember(req, resp, body)
        try:
            raw = _ResponseReader(resp.iter_bytes(), endpoint, keep=keep,
                                  keep_limit=self.cache.body_limit)
            yield io.TextIOWrapper(io.BufferedReader(raw, 65536), encoding="utf-8",
                                   errors="replace", newline="")
        finally:
            resp.close()

    # -- internals -----------------------------------------------------------------------

    def _key(self, endpoint: str) -> EndpointKey:
        return (self.vendor, self.org, endpoint)

    def _decode(self, endpoint: str, resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except (ValueError, UnicodeDecodeError):
            raise SchemaError(f"expected JSON, got {_snippet(resp)}", endpoint=endpoint,
                              status=resp.status_code) from None

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))

    def _send_get(self, endpoint: str, req: httpx.Request, deadline: float | None,
                  *, stream: bool) -> tuple[httpx.Response, bool]:
        """Send a GET, conditionally when its URL has a kept body: (the response, whether
        it is fresh from the vendor). A 304 comes back as the kept body with status 200.
        """
        cached = self.cache.get(str(req.url))
        if cached is not None:
            req.headers["If-None-Match"] = cached.etag
        resp = self._send(endpoint, req, deadline, stream=stream)
        if resp.status_code != 304:
            return resp, True
        if cached is None:  # _send already refuses this
            raise SchemaError(_UNASKED_304, endpoint=endpoint, status=304)
        headers = {"ETag": cached.etag}
        if cached.content_type:
            headers["Content-Type"] = cached.content_type
        return httpx.Response(200, headers=headers, content=cached.body, request=req), False

    def _remember(self, req: httpx.Request, resp: httpx.Response, body: bytes) -> None:
        """Keep a fresh 2xx body for revalidation (or forget the URL's old one)."""
        url, etag = str(req.url), resp.headers.get("etag", "").strip()
        if not etag or not self.cache.put(url, etag, body, resp.headers.get("content-type", "")):
            self.cache.discard(url)

    def _send(self, endpoint: str, req: httpx.Request, deadline: float | None,
              *, stream: bool) -> httpx.Response:
        key = self._key(endpoint)
        bucket = self._buckets[endpoint]
        last: VendorError | None = None
        for attempt in range(MAX_ATTEMPTS):
            slot = bucket.acquire_slot(deadline)
            if slot is None:
                raise last or RateLimited(
                    f"next request slot is past the poll deadline "
                    f"(limit {bucket.per_minute:g}/min)", endpoint=endpoint)
            wait: float | None = 0.0
            try:
                resp = self._client.send(req, stream=stream)
            except httpx.TimeoutException as e:
                self._observer.request(key, "error")
                last = Unavailable(f"timeout: {type(e).__name__}", endpoint=endpoint)
            except httpx.HTTPError as e:
                self._observer.request(key, "error")
                last = Unavailable(f"connection failed: {type(e).__name__}: {e}",
                                   endpoint=endpoint)
            else:
                self._observer.request(key, str(resp.status_code))
                if resp.status_code == 304:
                    # Not counted by the vendor: the token goes back before any pause the
                    # headers ask for.
                    bucket.refund(slot)
                self._note_ratelimit_headers(bucket, resp)
                if resp.is_success:
                    return resp
                if resp.status_code == 304:
                    resp.close()
                    if "if-none-match" in req.headers:
                        return resp
                    raise SchemaError(_UNASKED_304, endpoint=endpoint, status=304)
                if stream:
                    resp.read()
                resp.close()
                last, wait = self._classify(endpoint, resp)
                if wait is None:
                    raise last
            # Retry after Retry-After when given, else exponential backoff with jitter.
            # The wait goes into the bucket, so no other request to this endpoint jumps it.
            wait = wait or max(self._backoff(attempt), 0.001)
            if deadline is not None and self._clock() + wait > deadline:
                raise last
            logger.debug("retrying provider=%s org=%s endpoint=%s in=%.2fs after=%s",
                          self.vendor, self.org, endpoint, wait, last)
            bucket.pause_until(self._clock() + wait)
        assert last is not None
        raise last

    def _note_ratelimit_headers(self, bucket: TokenBucket, resp: httpx.Response) -> None:
        remaining = resp.headers.get("x-ratelimit-remaining", "").strip()
        if remaining not in ("0", "0.0"):
            return
        reset = parse_ratelimit_reset(resp.headers.get("x-ratelimit-reset"), self._wall())
        if reset is not None:
            bucket.pause_until(self._clock() + reset)

    def _classify(self, endpoint: str, resp: httpx.Response) -> tuple[VendorError, float | None]:
        """The typed error, and how long to wait before retrying (None: don't retry;
        0: back off with jitter)."""
        status = resp.status_code
        f = vendor_error_fields(resp)
        common: dict[str, Any] = {"endpoint": endpoint, "status": status,
                                  "code": f.get("code", ""), "request_id": f.get("request_id", "")}
        msg = f.get("message") or resp.reason_phrase
        logger.warning("vendor error provider=%s org=%s endpoint=%s status=%d code=%s "
                       "request_id=%s message=%s", self.vendor, self.org, endpoint, status,
                       common["code"] or "-", common["request_id"] or "-", msg)
        retry_after = parse_retry_after(resp.headers.get("retry-after"), self._wall())
        if status == 429 or (status == 503 and retry_after is not None):
            self._observer.rate_limited(self._key(endpoint))
            # Without Retry-After, wait at least one pacing interval.
            wait = retry_after if retry_after is not None else self._buckets[endpoint].interval
            return RateLimited(f"rate limited: {msg}", retry_after=retry_after, **common), wait
        if status in (401, 403):
            return AuthError(f"authentication failed: {msg}", **common), None
        if status >= 500:
            return Unavailable(f"server error: {msg}", **common), 0.0
        return BadRequest(f"request rejected: {msg}", **common), None


class _ResponseReader(io.RawIOBase):
    """A streamed httpx body as a raw file, so TextIOWrapper and csv can read it lazily."""

    def __init__(self, chunks: Iterator[bytes], endpoint: str, *,
                 keep: Callable[[bytes], None] | None = None, keep_limit: int = 0) -> None:
        self._chunks = chunks
        self._buf = b""
        self._endpoint = endpoint
        # keep(body) gets the whole body once it has been read to the end, unless it
        # grew past keep_limit.
        self._keep = keep
        self._keep_limit = keep_limit
        self._kept: list[bytes] = []
        self._kept_size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                self._finish()
                return 0
            except httpx.HTTPError as e:
                self._keep = None
                raise Unavailable(f"response body cut off: {type(e).__name__}",
                                  endpoint=self._endpoint) from None
            if self._keep is not None:
                self._kept_size += len(self._buf)
                if self._kept_size > self._keep_limit:
                    self._keep, self._kept = None, []
                else:
                    self._kept.append(self._buf)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def _finish(self) -> None:
        keep, self._keep = self._keep, None
        if keep is not None:
            keep(b"".join(self._kept))
        self._kept = []


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
