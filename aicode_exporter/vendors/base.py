"""What a vendor folder declares about itself: its config model, how requests carry its
key, and the capabilities it has. Every capability is optional; the registry builds
config validation, rate buckets, poll jobs, the metric catalogue and `commit-detail`
from these declarations, never from the vendor's name.

Capabilities:
- `jobs`: poll jobs of its own (aggregates over windows, seats, spend...);
- `streams`: record streams, each record counted once, ever, into counters;
- `daily`: daily reports, whose newest complete UTC day becomes `aicode_daily_*` gauges
  (and whose past days the backfill reads);
- `commit_detail`: per-commit AI attribution for the `commit-detail` command.

`specs` are the metrics only this vendor feeds; `sources` say where this vendor's values
of shared metrics (catalogue templates several vendors feed) come from, for their HELP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from aicode_exporter.config.base import LabelsConfig, ProviderBase, UsersConfig
from aicode_exporter.expose.catalog import StreamCounter
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.daily import DayFetch
from aicode_exporter.pipeline.jobs import Endpoint
from aicode_exporter.pipeline.records import StreamRecord
from aicode_exporter.pipeline.state import StateStore
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.toolkit.families import Spec
from aicode_exporter.toolkit.http.budget import MemoryBudget
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped


@dataclass(frozen=True)
class Wiring:
    """Collaborators every provider gets to build its jobs; tests swap in fakes."""

    telemetry: Telemetry
    users: UsersConfig
    store: StateStore | None = None  # None: nothing that counts records is built
    labels: LabelsConfig = field(default_factory=LabelsConfig)  # bounds on label values
    # JSON answers in flight and held, all clients together (None: one per client)
    budget: MemoryBudget | None = None
    teams: TeamMapSource | None = None  # the user-to-team map, when teams: is configured
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


# (provider entry, HTTP client, wiring) -> something the pipeline runs
Build = Callable[[Any, ApiClient, Wiring], Any]
# (start, end) -> the stream's records in that time range, as they are read
Fetch = Callable[[datetime, datetime], Iterator[StreamRecord | Skipped]]


@dataclass(frozen=True)
class RecordStream:
    """A stream of records the vendor can list by time range. Streams of the same `name`
    (e.g. Qoder's and Cursor's `commits`) feed the same counters."""

    name: str  # the `stream` label value, and the endpoint name
    source: str  # the vendor endpoint, as HELP texts name it
    counters: Sequence[StreamCounter]  # what its records feed
    open: Callable[[Any, ApiClient, Wiring], Fetch]
    # The shortest time between two polls the vendor asks for (None: poll_interval).
    min_interval: timedelta | None = None


@dataclass(frozen=True)
class DailyReport:
    """A vendor endpoint that answers per UTC day for a range of days."""

    name: str  # the endpoint name
    open: Callable[[Any, ApiClient, Wiring], DayFetch]
    max_days: int = 30  # the longest range one request may ask for
    lookback_days: int = 7  # how far back the live poll looks for the newest complete day
    dates: bool = False  # this report's day is the provider's aicode_daily_date_timestamp_seconds
    # Live polls ask one day at a time, newest first, and stop at the first day found.
    newest_first: bool = False
    min_interval: timedelta | None = None
    # Per-user data: built only when users.per_user (per_user_counters, label not none).
    per_user: bool = False


@dataclass(frozen=True)
class CommitDetailRow:
    """One file's AI line ranges of one source in one commit (`commit-detail`)."""

    commit: str
    file: str
    source: str
    session: str  # the vendor's session (conversation) or model
    type: str  # added | deleted
    ranges: list[tuple[int, int]]

    @property
    def lines(self) -> int:
        return sum(end - start + 1 for start, end in self.ranges)


# (provider entry, HTTP client, hashes, branch) -> rows
CommitDetail = Callable[[Any, ApiClient, Sequence[str], str | None], list[CommitDetailRow]]


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per vendor folder
class Vendor:
    name: str  # the `type:` of a provider entry and the value of the `provider` label
    title: str  # the product's name for people, as --help lists it
    config_model: type[ProviderBase]  # with `type: Literal[name]`
    auth: Callable[[str], httpx.Auth]  # API key -> how requests carry it
    specs: Sequence[Spec] = ()  # metrics only this vendor feeds
    # shared metric -> where this vendor's values come from: "Vendor GET /path field", or
    # (that for HELP, the full path for the docs) when the full path is long
    sources: Mapping[str, str | tuple[str, str]] = field(default_factory=dict)
    jobs: Callable[[Any, ApiClient, Wiring], list[Endpoint]] | None = None
    streams: Sequence[RecordStream] = ()
    daily: Sequence[DailyReport] = ()
    commit_detail: CommitDetail | None = None

    def endpoints(self) -> tuple[str, ...]:
        """Endpoint names of the declared streams, daily reports and commit detail (the
        names a `jobs` builder uses are the config model's `known_endpoints`)."""
        names = [s.name for s in self.streams] + [d.name for d in self.daily]
        return (*names, *(("commit_detail",) if self.commit_detail else ()))
