"""Cursor AI Code Tracking API (alpha): commits and changes as JSON pages or CSV exports,
Basic auth with the key as user name, 5 requests per minute per endpoint."""

from __future__ import annotations

from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.vendors.base import Vendor
from aicode_exporter.vendors.changes import change_record
from aicode_exporter.vendors.cursor import mapping
from aicode_exporter.vendors.cursor.client import CursorTrackingClient
from aicode_exporter.vendors.cursor.config import CursorProvider

VENDOR = Vendor(
    name="cursor",
    config_model=CursorProvider,
    auth=basic_auth,
    tracking_client=lambda _cfg, api: CursorTrackingClient(api),
    to_record={"commits": mapping.cursor_commit, "changes": change_record},
    csv_complete={"commits": True, "changes": True},
    stream_sources={"commits": "Cursor GET /analytics/ai-code/commits",
                    "changes": "Cursor GET /analytics/ai-code/changes (or .csv)"},
    detail_rows=mapping.detail_rows,
)
