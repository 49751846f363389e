"""The handler-level response type, the two vendors' error bodies, and validators
(ETag, If-None-Match, 304)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
# Cursor's documented caching of Analytics and AI Code Tracking responses.
CURSOR_CACHE_CONTROL = "public, max-age=900"

# Qoder's documented codes (Conventions), plus names for statuses it leaves out.
_QODER_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]  # last value of each parameter
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Iterable[bytes]


class AbortConnection(Exception):
    """Raised by a response body (or by ``Simulator.app`` for a hang) to make the server drop
    the connection without finishing the response."""


@dataclass
class ApiError(Exception):
    """Raised by handlers; the vendor module renders it in its own error shape."""

    status: int
    message: str
    details: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_bytes(payload: object) -> bytes:
    """Compact UTF-8 JSON, as the vendors send it."""
    return _encode(payload).encode()


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    return encoded_json_response(status, json_bytes(payload), headers)


def encoded_json_response(status: int, data: bytes,
                          headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        {"Content-Type": JSON_TYPE, "Content-Length": str(len(data)), **(headers or {})},
        [data],
    )


def strong_etag(data: bytes) -> str:
    """A strong entity tag: the quoted hash of what the body is made from."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): "*" or any listed tag with the
    same opaque value, W/ or not."""
    value = if_none_match.strip()
    if value == "*":
        return True
    own = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == own for tag in value.split(","))


def not_modified(response: Response) -> Response:
    """The 304 for a cached 200: its validators and caching headers, no body."""
    keep = ("ETag", "Cache-Control")
    return Response(304, {k: v for k, v in response.headers.items() if k in keep}, [])


def qoder_code(status: int) -> str:
    return _QODER_CODES.get(status, "InternalError" if status >= 500 else "BadRequest")


def qoder_error_body(status: int, message: str, details: list[str], request_id: str) -> bytes:
    """Conventions' shape, no top-level status field; details always present (maybe [])."""
    return json_bytes(
        {
            "requestId": request_id,
            "code": qoder_code(status),
            "message": message,
            "details": details,
        }
    )


def cursor_error_body(status: int, message: str) -> bytes:
    """Cursor documents no error shape; the simulator answers {"error": <reason>, "message"}."""
    return json_bytes({"error": reason_phrase(status), "message": message})


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
