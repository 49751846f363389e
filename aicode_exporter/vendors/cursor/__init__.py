"""Cursor: the AI Code Tracking API (alpha: commits and changes as JSON pages or CSV
exports, commit blame), the Analytics API (team-level daily reports, the leaderboard and
by-user reports) and the Admin API's read endpoints (seats, spend, billing groups, daily
usage, usage events). Basic auth with the key as user name; Cursor's documented limits per
endpoint or shared bucket (config.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import CommitDetailRow, DailyReport, Vendor
from aicode_exporter.vendors.changes import change_record
from aicode_exporter.vendors.cursor import admin, analytics, mapping, metrics
from aicode_exporter.vendors.cursor.client import CursorTrackingClient
from aicode_exporter.vendors.cursor.config import CursorProvider
from aicode_exporter.vendors.cursor.usage import USAGE_STREAM
from aicode_exporter.vendors.tracking import tracking_streams


def _tracking(_cfg: Any, api: ApiClient) -> CursorTrackingClient:
    return CursorTrackingClient(api)


def _commit_detail(cfg: Any, api: ApiClient, hashes: Sequence[str],
                   branch: str | None) -> list[CommitDetailRow]:
    return mapping.detail_rows(_tracking(cfg, api).commit_detail(hashes, branch))


_TEAM = [DailyReport(name, analytics.team_report(name), max_days=analytics.MAX_DAYS,
                     dates=name == "dau")
         for name in analytics.TEAM_REPORTS]
# Per-user data. The leaderboard ranks over its whole range: one day per request.
_PER_USER = [
    DailyReport("leaderboard", analytics.leaderboard, max_days=1, lookback_days=1,
                per_user=True),
    DailyReport("by_user_models", analytics.by_user_models, max_days=analytics.MAX_DAYS,
                lookback_days=2, per_user=True),
    DailyReport("by_user_client_versions", analytics.by_user_client_versions,
                max_days=analytics.MAX_DAYS, lookback_days=2, per_user=True),
]
# Aggregated hourly by Cursor, which asks for at most one poll an hour.
_DAILY_USAGE = DailyReport("daily_usage", admin.daily_usage, max_days=analytics.MAX_DAYS,
                           lookback_days=2, min_interval=timedelta(hours=1))

VENDOR = Vendor(
    name="cursor",
    title="Cursor",
    config_model=CursorProvider,
    auth=basic_auth,
    specs=metrics.SPECS,
    sources=metrics.SOURCES,
    jobs=admin.admin_jobs,
    daily=(*_TEAM, *_PER_USER, _DAILY_USAGE),
    streams=(*tracking_streams(
        _tracking, {"commits": mapping.cursor_commit, "changes": change_record},
        csv_complete={"commits": True, "changes": True},
        sources={"commits": "Cursor GET /analytics/ai-code/commits",
                 "changes": "Cursor GET /analytics/ai-code/changes (or .csv)"}),
             USAGE_STREAM),
    commit_detail=_commit_detail,
)
