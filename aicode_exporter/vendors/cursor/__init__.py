"""Cursor AI Code Tracking API (alpha): commits and changes as JSON pages or CSV exports,
and commit blame; Basic auth with the key as user name, 5 requests per minute per
endpoint by default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import CommitDetailRow, Vendor
from aicode_exporter.vendors.changes import change_record
from aicode_exporter.vendors.cursor import mapping
from aicode_exporter.vendors.cursor.client import CursorTrackingClient
from aicode_exporter.vendors.cursor.config import CursorProvider
from aicode_exporter.vendors.tracking import tracking_streams


def _tracking(_cfg: Any, api: ApiClient) -> CursorTrackingClient:
    return CursorTrackingClient(api)


def _commit_detail(cfg: Any, api: ApiClient, hashes: Sequence[str],
                   branch: str | None) -> list[CommitDetailRow]:
    return mapping.detail_rows(_tracking(cfg, api).commit_detail(hashes, branch))


VENDOR = Vendor(
    name="cursor",
    config_model=CursorProvider,
    auth=basic_auth,
    streams=tracking_streams(
        _tracking, {"commits": mapping.cursor_commit, "changes": change_record},
        csv_complete={"commits": True, "changes": True},
        sources={"commits": "Cursor GET /analytics/ai-code/commits",
                 "changes": "Cursor GET /analytics/ai-code/changes (or .csv)"}),
    commit_detail=_commit_detail,
)
