"""What the poller runs: a configured provider as a list of endpoints, each a poll job
that returns an Outcome. Vendors build these (vendors/<name>/); the pipeline runs them
without knowing which vendor they belong to."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from aicode_exporter.config.base import UsersConfig
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.state import StateStore
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.toolkit.families import Family, Spec
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


@dataclass(frozen=True)
class Endpoint:
    name: str
    run: Callable[[PollContext], Outcome]
    # Values to serve before the first poll (persisted counters), if any.
    restore: Callable[[], Outcome] | None = None
    # A record stream: its catch-up is progress, not a readiness gate.
    stream: bool = False


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


@dataclass(frozen=True)
class Wiring:
    """Collaborators every provider gets; tests swap in fakes."""

    telemetry: Telemetry
    users: UsersConfig
    store: StateStore | None = None
    # stream -> the counter specs its records feed (HELP names every vendor's endpoint)
    stream_specs: Mapping[str, Sequence[Spec]] = field(default_factory=dict)
    teams: TeamMapSource | None = None  # the user-to-team map, when teams: is configured
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
