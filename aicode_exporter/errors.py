"""Typed errors, classified once at the client boundary.

Everything above the HTTP client sees one of these, never an httpx exception, so the
poller can decide what to log and which `aicode_up` to flip without knowing HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime


class ConfigError(Exception):
    """Invalid configuration; the message names the file and the key."""


class VendorError(Exception):
    """A vendor endpoint did not give a usable answer."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        code: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class AuthError(VendorError):
    """401/403: the key is wrong, revoked or lacks access. Never retried."""


class BadRequest(VendorError):
    """Other 4xx: our request is wrong for this vendor. Never retried."""


class RateLimited(VendorError):
    """429 (or 503 with Retry-After) that did not clear within the poll deadline, or a
    vendor-requested wait longer than the caller may sleep.

    `retry_after` is the wait in seconds the vendor asked for (after clamping), `until`
    the wall time (Unix seconds) it ends, and `header` the header that said so; the poller
    skips the endpoint's runs until then."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 until: float | None = None, header: str = "", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.until = until
        self.header = header

    def wait_note(self) -> str:
        """The wait as people read it, e.g. `vendor asked to wait until
        2025-06-04T02:20:00Z (Retry-After)`; empty when there is none."""
        if self.until is None:
            return ""
        when = datetime.fromtimestamp(self.until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"vendor asked to wait until {when} ({self.header or 'Retry-After'})"

    def __str__(self) -> str:
        note = self.wait_note()
        return f"{super().__str__()}; {note}" if note else super().__str__()


class Unavailable(VendorError):
    """5xx, timeouts, resets: transient, retried with backoff inside the deadline."""


class SchemaError(VendorError):
    """A 2xx whose body is not what the vendor documents (HTML, truncated JSON or CSV...)."""


class Cancelled(Exception):
    """The exporter is shutting down; abandon the poll without publishing or committing."""
