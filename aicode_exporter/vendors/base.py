"""What a vendor folder describes about itself. Each `vendors/<name>/__init__.py`
exports one `VENDOR`; the registry finds it, and config validation, the poller wiring
and `commit-detail` are built from these descriptions, never from the vendor's name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from aicode_exporter.config.base import ProviderBase
from aicode_exporter.pipeline.jobs import Endpoint, Wiring
from aicode_exporter.toolkit.families import Spec
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.tracking import CommitDetailRow, ToRecord, TrackingClient


@dataclass(frozen=True)
class Vendor:
    name: str  # the `type:` of a provider entry and the value of the `provider` label
    config_model: type[ProviderBase]  # with `type: Literal[name]`
    auth: Callable[[str], httpx.Auth]  # API key -> how requests carry it
    # (provider entry, HTTP client) -> the AI Code Tracking client
    tracking_client: Callable[[Any, ApiClient], TrackingClient]
    to_record: Mapping[str, ToRecord]  # stream -> vendor record model -> neutral record
    csv_complete: Mapping[str, bool]  # stream -> does its CSV export carry every field
    stream_sources: Mapping[str, str]  # stream -> endpoint, as HELP texts name it
    detail_rows: Callable[[Sequence[Any]], list[CommitDetailRow]]  # commit detail -> rows
    specs: Sequence[Spec] = ()  # the vendor's own metrics (aggregates)
    # (provider entry, HTTP client, wiring) -> aggregate poll jobs, if the vendor has any
    aggregates: Callable[[Any, ApiClient, Wiring], list[Endpoint]] | None = None
