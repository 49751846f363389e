"""Fault injection for tests: make the next N requests to a path fail, stall or break."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    remaining: int
    body: bytes | None
    headers: dict[str, str]
    content_type: str
    delay: float
    truncate_after: int | None

    @property
    def replaces_response(self) -> bool:
        """A 200 without a body only delays or truncates the real response."""
        return self.status != 200 or self.body is not None


class FaultInjector:
    """Faults are consumed in the order they were added; each answers `times` requests."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        path_regex: str,
        *,
        status: int = 500,
        times: int = 1,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        delay: float = 0.0,
        truncate_after: int | None = None,
    ) -> None:
        """The next `times` requests whose path matches `path_regex` (re.search) get:

        * status != 200: that status with `body` (default: the vendor's error JSON);
        * status == 200 and no body: the real response (rate limits and all);
        * `body=b"<html>..."` with `content_type="text/html"`: a gateway page;
        * `delay`: sleep that many seconds first; `truncate_after=N`: close the connection
          after N bytes of body (chunk framing not counted) if the body is longer.

        The path is matched without the query string.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if truncate_after is not None and truncate_after < 0:
            raise ValueError("truncate_after must be >= 0")
        fault = Fault(
            pattern=re.compile(path_regex),
            status=status,
            remaining=times,
            body=body,
            headers=dict(headers or {}),
            content_type=content_type,
            delay=delay,
            truncate_after=truncate_after,
        )
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        """The fault answering this request, if any (consumes one of its uses)."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
