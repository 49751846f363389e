"""A process-wide memory budget for JSON answers, shared by every ApiClient of a process.

Each endpoint polls on its own thread, so a per-request bound alone would let a vendor
answering every endpoint at once with its worst page multiply it. A JSON answer reserves
its estimated parse cost (jsonbody.JsonCost) as its bytes arrive; once parsed, the thread
that asked keeps the part its objects take reserved until it makes its next request (the
page before is gone by then, or is the one still being read) or its job ends
(`ApiClient.release_held`). A reservation that does not fit fails that request
(Unavailable: retried with backoff), never the process.
"""

from __future__ import annotations

import threading

DEFAULT_BUDGET = 64 << 20  # see docs/deployment.md, "Memory"


class MemoryBudget:
    def __init__(self, total: int = DEFAULT_BUDGET) -> None:
        if total <= 0:
            raise ValueError("a memory budget must be positive")
        self.total = total
        self._used = 0
        self._peak = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    @property
    def peak(self) -> int:
        """The most ever reserved at once."""
        with self._lock:
            return self._peak

    def reserve(self, n: int) -> bool:
        """Take `n` bytes if they fit (True), else take nothing (False)."""
        if n <= 0:
            return True
        with self._lock:
            if self._used + n > self.total:
                return False
            self._used += n
            self._peak = max(self._peak, self._used)
            return True

    def release(self, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self._used = max(0, self._used - n)
