"""Qoder Teams OpenAPI: AI Code Metrics aggregates (four endpoints per window, the daily
trend per day) and AI Code Tracking records (commits, changes) with commit detail, Bearer
auth, organisation in the path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import CommitDetailRow, DailyReport, Vendor
from aicode_exporter.vendors.changes import change_record
from aicode_exporter.vendors.qoder import mapping, metrics
from aicode_exporter.vendors.qoder.client import QoderTrackingClient
from aicode_exporter.vendors.qoder.config import QoderProvider
from aicode_exporter.vendors.qoder.jobs import aggregate_endpoints, daily_trend
from aicode_exporter.vendors.tracking import tracking_streams


def _tracking(cfg: Any, api: ApiClient) -> QoderTrackingClient:
    return QoderTrackingClient(api, cfg.organization_id)


def _commit_detail(cfg: Any, api: ApiClient, hashes: Sequence[str],
                   branch: str | None) -> list[CommitDetailRow]:
    return mapping.detail_rows(_tracking(cfg, api).commit_detail(hashes, branch))


VENDOR = Vendor(
    name="qoder",
    config_model=QoderProvider,
    auth=BearerAuth,
    specs=metrics.SPECS,
    sources=metrics.SOURCES,
    jobs=aggregate_endpoints,
    # Ranges of up to 90 days; seven are enough that the newest complete day is present
    # even when the vendor lags a day.
    daily=(DailyReport("daily_trend", daily_trend, max_days=90, dates=True),),
    streams=tracking_streams(
        _tracking, {"commits": mapping.qoder_commit, "changes": change_record},
        # The changes CSV has no file metadata (no extension counters): JSON pages instead.
        csv_complete={"commits": True, "changes": False},
        sources={"commits": "Qoder GET /ai-code-tracking/commits (or /export)",
                 "changes": "Qoder GET /ai-code-tracking/changes"}),
    commit_detail=_commit_detail,
)
