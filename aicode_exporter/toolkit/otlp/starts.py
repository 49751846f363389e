"""When a counter series began: its first-seen wall time, from a store that may keep it
across restarts, so an OTLP receiver does not see a restart as a counter reset."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

Labels = tuple[tuple[str, str], ...]  # (label name, value) in the spec's label order


class StartTimes(Protocol):
    """When a counter series began: its first-seen wall time, kept across restarts."""

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        """The stored start of this series (the /metrics name, with `_total`); if unknown,
        store `now` and return it."""
        ...


class BatchStartTimes(StartTimes, Protocol):
    """A store that can answer many new series at once (one transaction for SQLite): the
    pusher uses starts_of() when the store has it, for all new series of an export."""

    def starts_of(self, series: Sequence[tuple[str, Labels]], now: float) -> list[float]:
        """start_of() for each (metric name, labels), in order."""
        ...


def starts_of(store: StartTimes, series: Sequence[tuple[str, Labels]],
              now: float) -> list[float]:
    """The starts of `series` from `store`, in one call if it is a BatchStartTimes."""
    if not series:
        return []
    batch = getattr(store, "starts_of", None)
    if callable(batch):
        out: list[float] = batch(series, now)
        return out
    return [store.start_of(name, labels, now) for name, labels in series]


class InMemoryStartTimes:
    """First-seen times for the life of this object (tests, and counters that restart
    at zero with the process when no better store is given)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starts: dict[tuple[str, Labels], float] = {}

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        with self._lock:
            return self._starts.setdefault((metric_name, labels), now)

    def starts_of(self, series: Sequence[tuple[str, Labels]], now: float) -> list[float]:
        with self._lock:
            return [self._starts.setdefault(key, now) for key in series]

    def __len__(self) -> int:
        with self._lock:
            return len(self._starts)


class FixedStartTimes:
    """One start for every series: the process start, for the counters that live in
    memory only (request counters, process_*), which restart at zero with the process."""

    def __init__(self, start: float) -> None:
        self._start = start

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        return self._start


class SplitStartTimes:
    """Persisted counters' starts from `persistent` (the state file), the rest from
    `other` (usually FixedStartTimes(process start))."""

    def __init__(self, persistent: StartTimes, is_persistent: Callable[[str], bool],
                 other: StartTimes) -> None:
        self._persistent, self._is_persistent, self._other = persistent, is_persistent, other

    def start_of(self, metric_name: str, labels: Labels, now: float) -> float:
        store = self._persistent if self._is_persistent(metric_name) else self._other
        return store.start_of(metric_name, labels, now)

    def starts_of(self, series: Sequence[tuple[str, Labels]], now: float) -> list[float]:
        routed = [self._is_persistent(name) for name, _ in series]
        kept = iter(starts_of(self._persistent, [k for k, r in zip(series, routed, strict=True)
                                                 if r], now))
        other = iter(starts_of(self._other, [k for k, r in zip(series, routed, strict=True)
                                             if not r], now))
        return [next(kept) if r else next(other) for r in routed]
