"""The exporter's view of itself: per-endpoint health and request counts.

Thread-safe because the HTTP server reads it (landing page) while poll jobs write it.
Rendered into the snapshot with the vendor data at the end of every poll.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from exporter.expose import catalog
from exporter.expose.families import Family

EndpointKey = tuple[str, str, str]  # vendor, org, endpoint


@dataclass
class EndpointStatus:
    up: bool | None = None  # None until the first poll finished
    last_success: float | None = None
    last_error: str = ""
    last_error_time: float | None = None
    duration: float | None = None
    next_poll: float | None = None


class Telemetry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[EndpointKey, EndpointStatus] = {}
        self._requests: Counter[tuple[str, str, str, str]] = Counter()
        self._rate_limited: Counter[EndpointKey] = Counter()

    def register(self, key: EndpointKey) -> None:
        with self._lock:
            self._status.setdefault(key, EndpointStatus())
            self._rate_limited.setdefault(key, 0)

    def request(self, key: EndpointKey, code: str) -> None:
        with self._lock:
            self._requests[(*key, code)] += 1

    def rate_limited(self, key: EndpointKey) -> None:
        with self._lock:
            self._rate_limited[key] += 1

    def finished(self, key: EndpointKey, *, ok: bool, at: float, duration: float,
                 error: str = "") -> None:
        with self._lock:
            st = self._status.setdefault(key, EndpointStatus())
            st.up = ok
            st.duration = duration
            if ok:
                st.last_success = at
            else:
                st.last_error = error
                st.last_error_time = at

    def set_next_poll(self, vendor: str, org: str, at: float | None) -> None:
        with self._lock:
            for key, st in self._status.items():
                if key[:2] == (vendor, org):
                    st.next_poll = at

    def statuses(self) -> dict[EndpointKey, EndpointStatus]:
        with self._lock:
            return {k: EndpointStatus(**vars(v)) for k, v in sorted(self._status.items())}

    def families(self) -> list[Family]:
        """aicode_up, last success, duration and request counters, for the snapshot."""
        with self._lock:
            polled = [(k, s) for k, s in sorted(self._status.items()) if s.up is not None]
            return [
                catalog.UP.family((k, 1.0 if s.up else 0.0) for k, s in polled),
                catalog.LAST_SUCCESS.family(
                    (k, s.last_success) for k, s in polled if s.last_success is not None),
                catalog.POLL_DURATION.family(
                    (k, s.duration) for k, s in polled if s.duration is not None),
                catalog.API_REQUESTS.family(sorted(
                    (k, float(v)) for k, v in self._requests.items())),
                catalog.API_RATE_LIMITED.family(sorted(
                    (k, float(v)) for k, v in self._rate_limited.items())),
            ]
