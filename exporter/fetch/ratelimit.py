"""Per (provider, endpoint) request pacing.

A token bucket with a capacity of one token: requests are spaced evenly at the configured
rate instead of bursting, so a vendor limit of "N per minute" holds over any 60-second
window, sliding or fixed. A small margin absorbs clock and latency differences between us
and the vendor's counter.
"""

from __future__ import annotations

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
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute * SAFETY
        self._clock = clock
        self._sleep = sleep
        self._next = clock()  # when the next token becomes available
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

    def pause_until(self, when: float) -> None:
        """Vendor told us to wait (Retry-After, X-RateLimit-Remaining: 0)."""
        with self._lock:
            self._next = max(self._next, when)
