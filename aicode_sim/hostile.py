"""Named hostile fault modes: lasting misbehaviour of the vendor APIs, switched on by name.

Where ``FaultInjector.add`` breaks the next N requests in one way (a status, a stall, a
truncation), a *mode* makes the answers themselves hostile: lone surrogates in names,
negative or non-finite counts, date filters ignored, pages that never end, bodies that
drip or never start. Each mode has a default set of paths and options::

    Simulator(fault_modes=["surrogate", "drip:rate=20"])          # every matching request
    sim.faults.mode("hang", r"/changes$", times=1, seconds=5)    # the next one only

``FAULT_MODES`` maps each name to a one-line description (for ``--help``);
``parse_fault_mode("drip:rate=20,max_seconds=60")`` turns the CLI form into
``("drip", {"rate": 20.0, "max_seconds": 60.0})``.

A request to a path no mode matches takes none of this code: the default answers stay
byte-identical.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aicode_sim.responses import (
    CSV_TYPE,
    JSON_TYPE,
    AbortConnection,
    Request,
    Response,
    json_bytes,
    qoder_error_body,
    reason_phrase,
    strong_etag,
)
from aicode_sim.timeutil import day_of, iso_date, parse_cursor_time, parse_qoder_time

# ---- which paths a mode applies to by default -----------------------------------------------

_ORG = r"^/v1/organizations/[^/]+"
#: Every data endpoint of both vendors (metrics, tracking lists, exports, detail/blame).
DATA_PATHS = rf"{_ORG}/ai-code|^/analytics/"
#: The tracking record lists and their CSV exports (the endpoints with startDate/endDate).
TRACKING_PATHS = (
    rf"{_ORG}/ai-code-tracking/(?:commits|changes)(?:/export)?$"
    r"|^/analytics/ai-code/(?:commits|changes)(?:\.csv)?$"
)
#: The paged JSON lists.
LIST_PATHS = (
    rf"{_ORG}/(?:ai-code-tracking/(?:commits|changes)|ai-code/repos)$"
    r"|^/analytics/ai-code/(?:commits|changes)$"
)
#: Everything that reports commits with a branch (lists, exports, blame).
COMMIT_PATHS = rf"{_ORG}/ai-code-tracking/commits|^/analytics/ai-code/commits"

BIG_BODY_BYTES = 50 * 1024 * 1024
HUGE_TOTAL = 1_000_000_000


@dataclass(frozen=True)
class ModeSpec:
    description: str
    paths: str
    options: Mapping[str, float]  # name -> default


_SPECS: dict[str, ModeSpec] = {
    "surrogate": ModeSpec(
        "vendor strings (model, repoName, userEmail, fileExtension, source, branchName...) "
        "end in a lone UTF-16 surrogate: a \\udc80 escape in JSON, the bytes ED B2 80 in CSV",
        DATA_PATHS, {}),
    "drip": ModeSpec(
        "the body (with `head=1` the status line and headers too) is sent one byte at a "
        "time, `rate` bytes per second (default 1), the rest at once after `max_seconds` "
        "(default 600)",
        DATA_PATHS, {"rate": 1.0, "max_seconds": 600.0, "head": 0.0}),
    "negative": ModeSpec(
        "line counts and aggregate counts are negative; rates (aiShareRate...) are -1e30",
        DATA_PATHS, {}),
    "huge": ModeSpec(
        "line counts and aggregate counts are 1.8e308 (beyond a double); rates are 1e30",
        DATA_PATHS, {}),
    "nan": ModeSpec(
        "line counts and aggregate counts are NaN or Infinity (bare JSON tokens; the strings "
        "NaN/Infinity in CSV); rates are NaN",
        DATA_PATHS, {}),
    "ignore_dates": ModeSpec(
        "tracking lists and exports ignore startDate/endDate and return the last 90 days",
        TRACKING_PATHS, {}),
    "date_only": ModeSpec(
        "tracking lists and exports honour only the date part of startDate/endDate "
        "(whole UTC days)",
        TRACKING_PATHS, {}),
    "branch_flip": ModeSpec(
        "from the second request on, a commit hash comes back on another branch, then with a "
        "null branchName, alternately",
        COMMIT_PATHS, {}),
    "ratelimit_headers": ModeSpec(
        "answers carry X-RateLimit-Remaining: 0 and X-RateLimit-Reset in epoch milliseconds "
        "(`reset_seconds` ahead, default 60)",
        DATA_PATHS, {"reset_seconds": 60.0}),
    "retry_after_inf": ModeSpec(
        "429 with Retry-After: inf, then 1e999, alternately",
        DATA_PATHS, {}),
    "retry_after_day": ModeSpec(
        "429 with Retry-After: 86400",
        DATA_PATHS, {}),
    "echo_key": ModeSpec(
        "error answers echo the Authorization header and the API key in message and details; "
        "successful answers become such an error with status `status` (default 500)",
        DATA_PATHS, {"status": 500.0}),
    "endless_pages": ModeSpec(
        "JSON lists answer page 1's items for every page and claim `total` records "
        "(default 1e9)",
        LIST_PATHS, {"total": float(HUGE_TOTAL)}),
    "lying_total": ModeSpec(
        "JSON lists claim `factor` times (default 10) more records than exist; the pages "
        "past the real end are empty",
        LIST_PATHS, {"factor": 10.0}),
    "hang": ModeSpec(
        "the answer never starts: the connection is held until the client goes away, the "
        "simulator stops or `seconds` pass (default 300), then dropped",
        DATA_PATHS, {"seconds": 300.0}),
    "big_body": ModeSpec(
        "JSON answers are padded to `size` bytes (default 50 MiB) of valid JSON",
        DATA_PATHS, {"size": float(BIG_BODY_BYTES)}),
}

#: Mode name -> one-line description, for a CLI's --help.
FAULT_MODES: dict[str, str] = {name: spec.description for name, spec in _SPECS.items()}


def mode_spec(name: str) -> ModeSpec:
    try:
        return _SPECS[name]
    except KeyError:
        known = ", ".join(_SPECS)
        raise ValueError(f"unknown fault mode {name!r}; known: {known}") from None


def check_options(name: str, options: Mapping[str, float]) -> dict[str, float]:
    """The mode's options: its defaults updated with `options`, validated."""
    spec = mode_spec(name)
    unknown = set(options) - set(spec.options)
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ValueError(
            f"fault mode {name!r} has no option {', '.join(sorted(unknown))}; options: {allowed}"
        )
    merged = dict(spec.options)
    for key, value in options.items():
        value = float(value)
        if not math.isfinite(value) or value < 0 or (key == "rate" and value == 0):
            raise ValueError(f"fault mode {name!r}: {key} must be a finite number > 0")
        merged[key] = value
    return merged


def parse_fault_mode(spec: str) -> tuple[str, dict[str, float]]:
    """ "NAME" or "NAME:key=value,key=value" -> (name, options); ValueError when invalid."""
    name, _, rest = spec.strip().partition(":")
    mode_spec(name)
    options: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, raw = item.partition("=")
        try:
            if not sep:
                raise ValueError
            options[key.strip()] = float(raw)
        except ValueError:
            raise ValueError(f"fault mode option must be key=number, got {item!r}") from None
    return name, check_options(name, options)


@dataclass(frozen=True)
class ModeHit:
    """One active mode answering one request."""

    name: str
    options: Mapping[str, float]
    n: int  # 1 for the first request the mode answered, 2 for the next...


# ---- applying the modes to one request ------------------------------------------------------

LONE_SURROGATE = "\udc80"
SURROGATE_KEYS = frozenset({
    # JSON records and metrics
    "model", "repoName", "userEmail", "email", "displayName", "fileExtension", "extension",
    "source", "branchName", "commitSource", "fileName",
    # CSV columns of both vendors
    "userName", "repo_name", "user_email", "branch_name", "commit_source",
})
_COUNT_KEY = re.compile(r"(?:[Ll]ines(?:Added|Deleted|Edit)|Count)$")
_CSV_COUNT_COLUMN = re.compile(r"(?i)lines_?(?:added|deleted)$")
_PAGINATION_KEYS = frozenset({"totalCount"})
_BRANCH_COLUMNS = frozenset({"branchName", "branch_name"})
_HASH_COLUMNS = frozenset({"commitHash", "commit_hash"})
# A JSON value written verbatim (1.8e308 is no Python float): a string marker replaced after
# encoding. \u0000 never appears unescaped in JSON, so the marker cannot occur by accident.
_RAW = "\u0000raw:"
_RAW_TOKEN = re.compile(rb'"\\u0000raw:([^"\\]*)\\u0000"')
_CSV_CHUNK_CHARS = 64 * 1024
_PAD_BLOCK = 64 * 1024


def _raw(token: str) -> str:
    return f"{_RAW}{token}\u0000"


class Hostility:
    """The modes answering one request: rewrites the request, replaces or transforms the
    response, paces the body."""

    def __init__(
        self,
        hits: Iterable[ModeHit],
        *,
        now_ms: int,
        new_request_id: Callable[[], str],
        stopping: threading.Event,
        client_gone: Callable[[], bool] | None = None,
    ) -> None:
        self.modes: dict[str, ModeHit] = {}
        for hit in hits:
            self.modes.setdefault(hit.name, hit)  # the same mode twice: the first wins
        self._now_ms = now_ms
        self._new_request_id = new_request_id
        self._stopping = stopping
        self._client_gone = client_gone
        self._page: int | None = None  # the page asked for, under endless_pages
        self._non_finite = 0

    def _opt(self, name: str, option: str) -> float:
        return self.modes[name].options[option]

    # ---- before routing -----------------------------------------------------------------

    def rewrite(self, request: Request) -> Request:
        """The request as the vendor (mis)reads it."""
        query = dict(request.query)
        qoder = request.path.startswith("/v1/")
        if "ignore_dates" in self.modes:
            query.pop("startDate", None)
            query.pop("endDate", None)
            if not qoder:
                query.update(startDate="90d", endDate="now")
        elif "date_only" in self.modes:
            for name in ("startDate", "endDate"):
                if query.get(name, "").strip():
                    query[name] = self._date_part(query[name], qoder, end=name == "endDate")
        if "endless_pages" in self.modes:
            try:
                page = int(query.get("page", "").strip() or "1")
            except ValueError:
                page = 0  # left alone: the vendor answers its 400
            if page >= 1:
                self._page = page
                query["page"] = "1"
        return request if query == request.query else replace(request, query=query)

    def _date_part(self, raw: str, qoder: bool, *, end: bool) -> str:
        if qoder:
            parsed = parse_qoder_time(raw)
        else:
            parsed = parse_cursor_time(raw, self._now_ms, end_of_day=end)
        if parsed is None:
            return raw  # invalid: let the vendor refuse it
        day = iso_date(day_of(parsed))
        if not qoder:
            return day  # a bare date is a whole UTC day at Cursor
        return f"{day}T23:59:59.999Z" if end else f"{day}T00:00:00Z"

    def hang(self) -> bool:
        """Under `hang`, wait until the client goes away, the simulator stops or the time
        runs out; True when the request hung (the caller then drops the connection)."""
        if "hang" not in self.modes:
            return False
        deadline = time.monotonic() + self._opt("hang", "seconds")
        while (remaining := deadline - time.monotonic()) > 0:
            if self._stopping.wait(min(0.1, remaining)):
                break
            if self._client_gone is not None and self._client_gone():
                break
        return True

    def replacement(self, request: Request) -> Response | None:
        """A 429 answering instead of the vendor, under the retry_after_* modes."""
        if "retry_after_inf" in self.modes:
            value = "inf" if self.modes["retry_after_inf"].n % 2 else "1e999"
        elif "retry_after_day" in self.modes:
            value = "86400"
        else:
            return None
        message = "rate limit exceeded"
        return self._error(request, 429, message, [f"retry after {value} seconds"],
                           {"Retry-After": value})

    # ---- after routing ------------------------------------------------------------------

    def transform(self, request: Request, response: Response) -> Response:
        if "echo_key" in self.modes:
            response = self._echo_key(request, response)
        content_type = response.headers.get("Content-Type", "")
        if response.status == 200 and content_type == JSON_TYPE:
            response = self._transform_json(response)
        elif response.status == 200 and content_type == CSV_TYPE:
            response.body = self._transform_csv(response.body)
        if "ratelimit_headers" in self.modes:
            reset = self._now_ms + int(self._opt("ratelimit_headers", "reset_seconds") * 1000)
            response.headers.update(
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
            )
        return response

    def pace(self, body: Iterable[bytes]) -> Iterable[bytes]:
        if "drip" not in self.modes:
            return body
        return Drip(body, self._opt("drip", "rate"), self._opt("drip", "max_seconds"),
                    self._stopping, head=self._opt("drip", "head") > 0)

    # ---- echo_key and error bodies ------------------------------------------------------

    def _error(
        self,
        request: Request,
        status: int,
        message: str,
        details: list[str],
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if request.path.startswith("/v1/"):
            body = qoder_error_body(status, message, details, self._new_request_id())
        else:
            body = json_bytes(
                {"error": reason_phrase(status), "message": message, "details": details}
            )
        return Response(
            status,
            {"Content-Type": JSON_TYPE, "Content-Length": str(len(body)), **(headers or {})},
            [body],
        )

    def _echo_key(self, request: Request, response: Response) -> Response:
        if response.status < 400:
            if response.status >= 300:
                return response  # 304 and redirects are not errors
            status, headers = int(self._opt("echo_key", "status")), {}
        elif response.headers.get("Content-Type") == JSON_TYPE:
            status = response.status
            headers = {
                k: v for k, v in response.headers.items()
                if k not in ("Content-Type", "Content-Length")
            }
        else:
            return response  # an injected gateway page stays what it is
        authorization = request.headers.get("authorization", "")
        key = _key_of(authorization)
        message = f"request refused for Authorization: {authorization} (api key {key})"
        details = [f"Authorization: {authorization}", f"api_key={key}"]
        return self._error(request, status, message, details, headers)

    # ---- JSON bodies --------------------------------------------------------------------

    def _transform_json(self, response: Response) -> Response:
        data = b"".join(response.body)
        names = self.modes.keys()
        if names & {"surrogate", "negative", "huge", "nan", "branch_flip",
                    "endless_pages", "lying_total"}:
            try:
                payload = json.loads(data)
            except ValueError:
                payload = None  # an injected non-JSON body: left as it is
            if payload is not None:
                self._visit(payload)
                self._paging(payload)
                encoder = json.JSONEncoder(
                    ensure_ascii="surrogate" in names,  # a lone surrogate only exists escaped
                    separators=(",", ":"),
                    allow_nan=True,
                )
                data = _RAW_TOKEN.sub(rb"\1", encoder.encode(payload).encode())
        headers = response.headers
        if "ETag" in headers:
            headers["ETag"] = strong_etag(data)
        if "big_body" in names and data.startswith(b"{") and data.endswith(b"}"):
            size = int(self._opt("big_body", "size"))
            body, length = _padded(data, size)
            if "ETag" in headers:
                headers["ETag"] = strong_etag(data + b"padded:%d" % size)
            headers["Content-Length"] = str(length)
            return Response(response.status, headers, body)
        headers["Content-Length"] = str(len(data))
        return Response(response.status, headers, [data])

    def _visit(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self._visit(item)
            return
        if not isinstance(node, dict):
            return
        if "commitHash" in node and "branchName" in node:
            node["branchName"] = self._flipped(node["branchName"])
        for key, value in node.items():
            if isinstance(value, dict | list):
                self._visit(value)
            elif isinstance(value, str):
                if key in SURROGATE_KEYS and "surrogate" in self.modes:
                    node[key] = value + LONE_SURROGATE
            elif isinstance(value, bool) or value is None:
                continue
            elif isinstance(value, int) and _COUNT_KEY.search(key):
                if key not in _PAGINATION_KEYS:
                    node[key] = self._bad_count(value, in_json=True)
            elif isinstance(value, int | float) and key.endswith("Rate"):
                node[key] = self._bad_rate(value)

    def _bad_count(self, value: int, *, in_json: bool) -> Any:
        if "negative" in self.modes:
            return -value - 1
        if "huge" in self.modes:
            return _raw("1.8e308") if in_json else "1.8e308"
        if "nan" in self.modes:
            self._non_finite += 1
            if self._non_finite % 2:
                return math.nan if in_json else "NaN"
            return math.inf if in_json else "Infinity"
        return value

    def _bad_rate(self, value: float) -> float:
        if "negative" in self.modes:
            return -1e30
        if "huge" in self.modes:
            return 1e30
        if "nan" in self.modes:
            return math.nan
        return value

    def _flipped(self, branch: object) -> object:
        hit = self.modes.get("branch_flip")
        if hit is None or hit.n == 1:
            return branch
        if hit.n % 2:
            return None
        return "main" if branch not in ("main", "master") else "release/flipped"

    def _paging(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        endless = self._page if "endless_pages" in self.modes else None
        factor = self._opt("lying_total", "factor") if "lying_total" in self.modes else None
        if endless is None and factor is None:
            return
        data = payload.get("data")
        pagination = data.get("pagination") if isinstance(data, dict) else None
        if isinstance(pagination, dict) and isinstance(pagination.get("totalItems"), int):
            total = self._claimed_total(pagination["totalItems"], endless, factor)
            size = pagination.get("pageSize")
            pagination["totalItems"] = total
            if isinstance(size, int) and size > 0:
                pagination["totalPages"] = math.ceil(total / size)
            if endless is not None:
                pagination["currentPage"] = endless
        elif isinstance(payload.get("totalCount"), int):
            payload["totalCount"] = self._claimed_total(payload["totalCount"], endless, factor)
            if endless is not None and "page" in payload:
                payload["page"] = endless

    def _claimed_total(self, real: int, endless: int | None, factor: float | None) -> int:
        if endless is not None:
            return int(self._opt("endless_pages", "total"))
        assert factor is not None
        return max(int(real * factor), int(factor))

    # ---- CSV bodies ---------------------------------------------------------------------

    def _transform_csv(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        if not self.modes.keys() & {"surrogate", "negative", "huge", "nan", "branch_flip"}:
            return chunks
        return self._csv_rows(chunks)

    def _csv_rows(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        reader = csv.reader(_lines(chunks))
        header = next(reader, None)
        if header is None:
            return
        surrogate = [i for i, name in enumerate(header) if name in SURROGATE_KEYS]
        counts = [i for i, name in enumerate(header) if _CSV_COUNT_COLUMN.search(name)]
        branch = next((i for i, name in enumerate(header) if name in _BRANCH_COLUMNS), None)
        hashes = any(name in _HASH_COLUMNS for name in header)
        numbers = bool(self.modes.keys() & {"negative", "huge", "nan"})
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(header)
        for row in reader:
            if "surrogate" in self.modes:
                for i in surrogate:
                    if i < len(row):
                        row[i] += LONE_SURROGATE
            if numbers:
                for i in counts:
                    if i < len(row) and row[i].lstrip("-").isdigit():
                        row[i] = str(self._bad_count(int(row[i]), in_json=False))
            if branch is not None and hashes and branch < len(row):
                flipped = self._flipped(row[branch] or None)
                row[branch] = "" if flipped is None else str(flipped)
            writer.writerow(row)
            if buffer.tell() >= _CSV_CHUNK_CHARS:
                yield buffer.getvalue().encode("utf-8", "surrogatepass")
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode("utf-8", "surrogatepass")


# ---- pacing -----------------------------------------------------------------------------


class Drip:
    """A body sent one byte, then 1/rate seconds, then the next...; after max_seconds the
    rest at once. With `head`, the server sends the status line and headers through
    `pace_head` first, on the same clock. Stopping the simulator drops the connection."""

    def __init__(self, body: Iterable[bytes], rate: float, max_seconds: float,
                 stopping: threading.Event, *, head: bool) -> None:
        self._body, self._interval, self._stopping = body, 1.0 / rate, stopping
        self._until = time.monotonic() + max_seconds
        self._first = True
        self.head = head

    def pace_head(self, head: bytes) -> Iterator[bytes]:
        return self._paced((head,))

    def __iter__(self) -> Iterator[bytes]:
        return self._paced(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()

    def _paced(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            for i in range(len(chunk)):
                if time.monotonic() >= self._until:
                    yield chunk[i:]
                    break
                if not self._first and self._stopping.wait(self._interval):
                    raise AbortConnection("simulator stopped while dripping")
                self._first = False
                yield chunk[i : i + 1]


def _key_of(authorization: str) -> str:
    """The API key inside a Bearer or Basic Authorization header (else the header)."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return credentials.strip()
    return credentials.strip() if scheme.lower() == "bearer" else authorization


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines (ends kept) of a chunked UTF-8 body, whatever the chunk boundaries."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _padded(data: bytes, size: int) -> tuple[Iterator[bytes], int]:
    """A JSON object grown to about `size` bytes by a "padding" string member, streamed."""
    head = b'{"padding":"' if data == b"{}" else data[:-1] + b',"padding":"'
    tail = b'"}'
    pad = max(0, size - len(head) - len(tail))

    def chunks() -> Iterator[bytes]:
        yield head
        block = b"x" * _PAD_BLOCK
        left = pad
        while left > 0:
            piece = block if left >= _PAD_BLOCK else block[:left]
            left -= len(piece)
            yield piece
        yield tail

    return chunks(), len(head) + pad + len(tail)

