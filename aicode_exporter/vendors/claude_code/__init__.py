"""Claude Code Analytics Admin API (Anthropic): per actor per UTC day, one request series
per day, an Admin API key in `x-api-key`. A daily report only: the newest complete day as
`aicode_daily_*` gauges (shared names where other vendors answer the same question), and
every past day for the backfill."""

from __future__ import annotations

from aicode_exporter.vendors.base import DailyReport, Vendor
from aicode_exporter.vendors.claude_code import metrics
from aicode_exporter.vendors.claude_code.client import ENDPOINT, AdminKeyAuth
from aicode_exporter.vendors.claude_code.config import ClaudeCodeProvider
from aicode_exporter.vendors.claude_code.report import usage_report

VENDOR = Vendor(
    name="claude_code",
    title="Claude Code",
    config_model=ClaudeCodeProvider,
    auth=AdminKeyAuth,
    specs=metrics.SPECS,
    sources=metrics.SOURCES,
    # The API answers one day per request series (max_days=1). Three days back: the
    # newest complete one is there even in the first hour of a UTC day (yesterday still
    # inside the data lag) and when the vendor is a day late.
    daily=(DailyReport(ENDPOINT, usage_report, max_days=1, lookback_days=3, dates=True),),
)
