"""Per (provider, endpoint) request pacing.

A token bucket with a capacity of one token: requests are spaced evenly at the configured
rate instead of bursting, so a vendor limit of "N per minute" holds over any 60-second
window, sliding or fixed. A small margin absorbs clock and latency differences between us
and the vendor's counter.

Pauses the vendor asked for (Retry-After, X-RateLimit-Reset) are remembered with the header
that asked, so a request that would have to wait for one can say why instead of sleeping.

A vendor's limit outlives our process: `resume_after` starts a new bucket where the last
process left it (its last request's wall time, kept by the caller), so `--once` followed
by the daemon, or a restart, still spaces requests an interval apart.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

SAFETY = 1.02  # space requests 2% wider than the nominal rate


class TokenBucket:
    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not per_minute > 0 or not math.isfinite(per_minute):
            raise ValueError("per_minute must be positive")
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute * SAFETY
        self._clock = clock
        self._sleep = sleep
        self._next = clock()  # when the next token becomes available
        self._vendor_pause = (float("-inf"), "")  # (until, header) the vendor asked for
        self._lock = threading.Lock()

    def acquire(self, deadline: float | None = None) -> bool:
        """Wait for a token. Returns False, without waiting or taking it, when the token
        would come after `deadline` (a monotonic time)."""
        return self.acquire_slot(deadline) is not None

    def acquire_slot(self, deadline: float | None = None) -> float | None:
        """acquire(), returning the slot taken (its monotonic time, for refund()) or None."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            if deadline is not None and start > deadline:
                return None
            self._next = start + self.interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return start

    def resume_after(self, last_wall: float, wall_now: float) -> None:
        """The previous process took its last slot at `last_wall` (Unix time): no token
        before an interval after it. A time in the future (a clock set back) waits one
        interval at most."""
        if not math.isfinite(last_wall):
            return
        wait = min(max(0.0, last_wall + self.interval - wall_now), self.interval)
        with self._lock:
            self._next = max(self._next, self._clock() + wait)

    def refund(self, slot: float) -> bool:
        """Give back the token of `slot` (the vendor did not count that request, e.g. a
        304). Only while it is still the latest one taken and no pause came since: a
        later request already holds the following slot, and moving the schedule back
        under it could crowd more than the limit into a minute. True if refunded."""
        with self._lock:
            if self._next != slot + self.interval:
                return False
            self._next = slot
            return True

    def pause_until(self, when: float, header: str = "") -> None:
        """No token before `when` (monotonic): a backoff, or, with `header`, a wait the
        vendor asked for (Retry-After, X-RateLimit-Remaining: 0). Non-finite times are
        ignored: callers clamp what vendors send."""
        if not math.isfinite(when):
            return
        with self._lock:
            self._next = max(self._next, when)
            if header and when > self._vendor_pause[0]:
                self._vendor_pause = (when, header)

    def vendor_pause(self) -> tuple[float, str] | None:
        """(until, header) of a vendor-requested pause still running, else None."""
        with self._lock:
            until, header = self._vendor_pause
            return (until, header) if until > self._clock() else None
