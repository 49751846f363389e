"""GitHub Copilot usage metrics reports (the REST API that replaced the legacy Copilot
metrics API in 2026): per organization or enterprise, the aggregated day, the 28-day
window, users (with GitHub's own teams) and repositories, each as signed links to
NDJSON or JSON files. Daily reports only: no record stream."""

from __future__ import annotations

from aicode_exporter.vendors.base import DailyReport, Vendor
from aicode_exporter.vendors.copilot import jobs, metrics
from aicode_exporter.vendors.copilot.client import GitHubAuth
from aicode_exporter.vendors.copilot.config import REPOS, TOTALS, USERS, CopilotProvider

VENDOR = Vendor(
    name="copilot",
    title="GitHub Copilot",
    config_model=CopilotProvider,
    auth=GitHubAuth,
    specs=metrics.SPECS,
    sources=metrics.SOURCES,
    jobs=jobs.window_endpoints,
    daily=(
        # One request per day, asked newest first; days the latest 28-day report covers
        # come from it.
        DailyReport(TOTALS, jobs.totals, max_days=1, newest_first=True,
                    lookback_days=jobs.LOOKBACK_DAYS,
                    dates=True, min_interval=jobs.MIN_INTERVAL),
        DailyReport(USERS, jobs.users, max_days=1, newest_first=True,
                    lookback_days=jobs.LOOKBACK_DAYS,
                    min_interval=jobs.MIN_INTERVAL),
        DailyReport(REPOS, jobs.repos, max_days=1, newest_first=True,
                    lookback_days=jobs.LOOKBACK_DAYS,
                    min_interval=jobs.MIN_INTERVAL),
    ),
)
