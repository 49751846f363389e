"""Qoder Teams OpenAPI: AI Code Metrics aggregates (five endpoints, per window) and AI Code
Tracking records (commits, changes), Bearer auth, organisation in the path."""

from __future__ import annotations

from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.vendors.base import Vendor
from aicode_exporter.vendors.changes import change_record
from aicode_exporter.vendors.qoder import mapping, metrics
from aicode_exporter.vendors.qoder.client import QoderTrackingClient
from aicode_exporter.vendors.qoder.config import QoderProvider
from aicode_exporter.vendors.qoder.jobs import aggregate_endpoints

VENDOR = Vendor(
    name="qoder",
    config_model=QoderProvider,
    auth=BearerAuth,
    tracking_client=lambda cfg, api: QoderTrackingClient(api, cfg.organization_id),
    to_record={"commits": mapping.qoder_commit, "changes": change_record},
    # The changes CSV has no file metadata (no extension counters): JSON pages instead.
    csv_complete={"commits": True, "changes": False},
    stream_sources={"commits": "Qoder GET /ai-code-tracking/commits (or /export)",
                    "changes": "Qoder GET /ai-code-tracking/changes"},
    detail_rows=mapping.detail_rows,
    specs=metrics.SPECS,
    aggregates=aggregate_endpoints,
)
