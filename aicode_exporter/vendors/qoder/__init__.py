"""Qoder Teams OpenAPI: AI Code Metrics aggregates (four endpoints per window, the daily
trend per day), AI Code Tracking records (commits, changes) with commit detail, and the
Members and Usage APIs (members and seats, member quota, resource packages, credit usage
records); Bearer auth, organisation in the path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aicode_exporter.pipeline.jobs import Endpoint
from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import CommitDetailRow, DailyReport, Vendor, Wiring
from aicode_exporter.vendors.changes import change_record
from aicode_exporter.vendors.qoder import mapping, metrics
from aicode_exporter.vendors.qoder.accounts import account_endpoints
from aicode_exporter.vendors.qoder.client import QoderTrackingClient
from aicode_exporter.vendors.qoder.config import QoderProvider
from aicode_exporter.vendors.qoder.jobs import aggregate_endpoints, daily_trend
from aicode_exporter.vendors.qoder.usage import CREDITS_STREAM
from aicode_exporter.vendors.tracking import tracking_streams


def _tracking(cfg: Any, api: ApiClient) -> QoderTrackingClient:
    return QoderTrackingClient(api, cfg.organization_id)


def _commit_detail(cfg: Any, api: ApiClient, hashes: Sequence[str],
                   branch: str | None) -> list[CommitDetailRow]:
    return mapping.detail_rows(_tracking(cfg, api).commit_detail(hashes, branch))


def _jobs(cfg: QoderProvider, api: ApiClient, w: Wiring) -> list[Endpoint]:
    return [*aggregate_endpoints(cfg, api, w), *account_endpoints(cfg, api, w)]


VENDOR = Vendor(
    name="qoder",
    title="Qoder",
    config_model=QoderProvider,
    auth=BearerAuth,
    specs=metrics.SPECS,
    sources=metrics.SOURCES,
    jobs=_jobs,
    # Ranges of up to 90 days; seven are enough that the newest complete day is present
    # even when the vendor lags a day.
    daily=(DailyReport("daily_trend", daily_trend, max_days=90, dates=True),),
    streams=(*tracking_streams(
        _tracking, {"commits": mapping.qoder_commit, "changes": change_record},
        # The changes CSV has no file metadata (no extension counters): JSON pages instead.
        csv_complete={"commits": True, "changes": False},
        sources={"commits": "Qoder GET /ai-code-tracking/commits (or /export)",
                 "changes": "Qoder GET /ai-code-tracking/changes"}), CREDITS_STREAM),
    commit_detail=_commit_detail,
)
