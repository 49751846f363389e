"""Rate limits: sliding windows (at most `limit` requests per key in any `window` seconds)
and fixed windows (at most `limit` in each clock-aligned window)."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import NamedTuple


class Decision(NamedTuple):
    allowed: bool
    limit: int
    remaining: int  # slots left in the window after this request
    retry_after: int  # whole seconds until a slot frees (0 when allowed)


class SlidingWindowLimiter:
    def __init__(self, limit: int, clock: Callable[[], float], window: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> Decision:
        """Take a slot for key, or refuse; a refused request does not take a slot."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = hits[0] + self.window - now
                return Decision(False, self.limit, 0, max(1, math.ceil(wait)))
            hits.append(now)
            return Decision(True, self.limit, self.limit - len(hits), 0)


class FixedWindowLimiter:
    """At most `limit` requests per key in each fixed window of `window` seconds, the
    windows aligned on the clock (a limit that "resets every minute"); a refused request
    does not take a slot."""

    def __init__(self, limit: int, clock: Callable[[], float], window: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._counts: dict[Hashable, tuple[int, int]] = {}  # key -> (window number, used)
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> Decision:
        now = self._clock()
        number = math.floor(now / self.window)
        with self._lock:
            current, used = self._counts.get(key, (number, 0))
            if current != number:
                used = 0
            if used >= self.limit:
                wait = (number + 1) * self.window - now
                return Decision(False, self.limit, 0, max(1, math.ceil(wait)))
            self._counts[key] = (number, used + 1)
            return Decision(True, self.limit, self.limit - used - 1, 0)
