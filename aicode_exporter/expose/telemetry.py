"""The exporter's view of itself: per-endpoint health and request counts.

Thread-safe because the HTTP server reads it (landing page) while poll jobs write it.
Rendered into the snapshot with the vendor data at the end of every poll.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from aicode_exporter.expose import catalog
from aicode_exporter.toolkit.families import Family

EndpointKey = tuple[str, str, str]  # vendor, org, endpoint


@dataclass(frozen=True)
class StreamProgress:
    """Where a stream's catch-up stands: slices of its window committed so far."""

    watermark: float | None = None  # committed: everything before it has been read
    slices_done: int = 0
    slices_total: int = 0
    pages_done: int = 0  # requests of this catch-up so far (live, not only per slice)
    started: float = 0.0  # wall time the catch-up began
    eta: float | None = None  # seconds to finish, from the pace so far
    pages_at_start: int = 0  # the endpoint's request count when the catch-up began
    pages_committed: int = 0  # requests of the slices committed so far

    @property
    def pages_left(self) -> int | None:
        """Estimated from the pages the committed slices took, less what the slice in
        flight has already read."""
        if not self.slices_done:
            return None
        per_slice = self.pages_committed / self.slices_done
        in_flight = self.pages_done - self.pages_committed
        return max(0, round(per_slice * (self.slices_total - self.slices_done) - in_flight))


@dataclass
class EndpointStatus:
    up: bool | None = None  # None until the first poll finished
    last_success: float | None = None
    last_error: str = ""
    last_error_time: float | None = None
    duration: float | None = None
    next_poll: float | None = None
    progress: StreamProgress | None = None  # streams only
    # What a successful run wants said about its data (e.g. "the vendor has no report
    # after 2026-03-08 yet: showing that day"); cleared by a run without one.
    note: str = ""


class Telemetry:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._status: dict[EndpointKey, EndpointStatus] = {}
        self._requests: Counter[tuple[str, str, str, str]] = Counter()
        self._rate_limited: Counter[EndpointKey] = Counter()
        self._coalesced: Counter[EndpointKey] = Counter()
        self._doing: dict[EndpointKey, str] = {}

    def register(self, key: EndpointKey) -> None:
        with self._lock:
            self._status.setdefault(key, EndpointStatus())
            self._rate_limited.setdefault(key, 0)
            self._coalesced.setdefault(key, 0)

    def request(self, key: EndpointKey, code: str) -> None:
        with self._lock:
            self._requests[(*key, code)] += 1

    def doing(self, key: EndpointKey, what: str) -> None:
        """What the endpoint's current request waits for (the HTTP client says)."""
        with self._lock:
            self._doing[key] = what

    def doing_now(self, key: EndpointKey) -> str:
        with self._lock:
            return self._doing.get(key, "")

    def rate_limited(self, key: EndpointKey) -> None:
        with self._lock:
            self._rate_limited[key] += 1

    def finished(self, key: EndpointKey, *, ok: bool, at: float, duration: float,
                 error: str = "", note: str = "") -> None:
        with self._lock:
            st = self._status.setdefault(key, EndpointStatus())
            st.up = ok
            st.duration = duration
            if ok:
                st.last_success = at
                st.note = note
            else:
                st.last_error = error
                st.last_error_time = at

    def coalesced(self, key: EndpointKey) -> None:
        with self._lock:
            self._coalesced[key] += 1

    def progress(self, key: EndpointKey, *, done: int, total: int,
                 watermark: float | None) -> None:
        """A stream committed `done` of `total` slices of its catch-up."""
        now = self._wall()
        with self._lock:
            pages = sum(v for k, v in self._requests.items() if k[:3] == key)
            st = self._status.setdefault(key, EndpointStatus())
            if done == 0 or st.progress is None:
                st.progress = StreamProgress(watermark, 0, total, 0, now, pages_at_start=pages)
                return
            p = st.progress
            elapsed = now - p.started
            eta = elapsed / done * (total - done) if done else None
            st.progress = replace(p, watermark=watermark, slices_done=done,
                                  slices_total=total, eta=eta,
                                  pages_committed=pages - p.pages_at_start)

    def set_next_poll(self, key: EndpointKey, at: float | None) -> None:
        with self._lock:
            self._status.setdefault(key, EndpointStatus()).next_poll = at

    def statuses(self) -> dict[EndpointKey, EndpointStatus]:
        with self._lock:
            out = {k: EndpointStatus(**vars(v)) for k, v in sorted(self._status.items())}
            for k, st in out.items():
                if st.progress is not None:
                    pages = sum(v for r, v in self._requests.items() if r[:3] == k)
                    st.progress = replace(st.progress,
                                          pages_done=pages - st.progress.pages_at_start)
        return out

    def families(self) -> list[Family]:
        """aicode_up, last success, duration, request counters and stream lag, for the
        snapshot (lag is now minus the committed watermark, so it moves every render)."""
        now = self._wall()
        with self._lock:
            polled = [(k, s) for k, s in sorted(self._status.items()) if s.up is not None]
            lag = [(k, max(0.0, now - s.progress.watermark))
                   for k, s in sorted(self._status.items())
                   if s.progress is not None and s.progress.watermark is not None]
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
                catalog.STREAM_LAG.family(lag),
                catalog.POLLS_COALESCED.family(sorted(
                    (k, float(v)) for k, v in self._coalesced.items())),
            ]
