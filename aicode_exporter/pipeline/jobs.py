"""What the poller runs: a configured provider as a list of endpoints, each a poll job
that returns an Outcome. Vendors build these (vendors/<name>/); the pipeline runs them
without knowing which vendor they belong to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.http.client import ApiClient


def _ignore(*_: object) -> None:
    return None


@dataclass(frozen=True)
class PollContext:
    now: datetime  # aware, UTC: the reference time for windows and "today"
    deadline: float  # monotonic time by which the endpoint should be done
    # A long job (a stream catching up) publishes each committed slice as it goes...
    publish: Callable[[str, tuple[Family, ...]], None] = _ignore
    # ...and says how far it is: (slices done, slices planned, committed watermark).
    progress: Callable[[int, int, float | None], None] = _ignore
    # True once shutdown began: a job commits nothing after that.
    stopping: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class Failure:
    """One part of an endpoint that failed, with the typed error the client raised."""

    where: str  # e.g. "window 7d", or the stream's time range
    error: Exception

    def __str__(self) -> str:
        return f"{self.where}: {self.error}" if self.where else str(self.error)


@dataclass
class Outcome:
    """Per part (e.g. a window): families to publish. Parts that failed are absent (their
    old values stay published) and their failures listed."""

    parts: dict[str, tuple[Family, ...]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # Said on the landing page about a run that succeeded (e.g. the vendor lags).
    note: str = ""


@dataclass(frozen=True)
class Endpoint:
    name: str
    run: Callable[[PollContext], Outcome]
    # Values to serve before the first poll (persisted counters), if any.
    restore: Callable[[], Outcome] | None = None
    # A record stream: its catch-up is progress, not a readiness gate.
    stream: bool = False
    # Poll this endpoint every `interval` instead of the provider's poll_interval, when
    # longer (a vendor that asks to be polled at most hourly).
    interval: timedelta | None = None
    # run() answers for a past ctx.now what a poll at that time would have published (a
    # window aggregate the vendor computes for any date range): the backfill runs it at
    # the last second of each past day. Not for current state (seats, spend).
    history: bool = False


@dataclass
class ProviderRuntime:
    """One configured provider entry, ready to poll: `vendor` is its `type` (the
    `provider` label), `org` its `name`."""

    vendor: str
    org: str
    interval: timedelta
    endpoints: list[Endpoint]
    clients: list[ApiClient] = field(default_factory=list)

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def interval_of(self, ep: Endpoint) -> timedelta:
        return max(self.interval, ep.interval) if ep.interval else self.interval
