"""The AI Code Metrics endpoints as poll jobs: four aggregates per window, and the daily
trend as a daily report.

A window is published only when everything for it arrived (all pages of the repo list);
a failed window keeps its previous values and marks the endpoint down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from aicode_exporter.durations import parse_duration
from aicode_exporter.errors import AuthError, VendorError
from aicode_exporter.pipeline.daily import DayFamilies, DayFetch
from aicode_exporter.pipeline.jobs import Endpoint, Failure, Outcome, PollContext
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.qoder import mapping
from aicode_exporter.vendors.qoder.client import QoderMetricsClient
from aicode_exporter.vendors.qoder.config import QoderProvider

logger = logging.getLogger(__name__)

# (window label, start, end, deadline) -> families for that window
WindowFetch = Callable[[str, datetime, datetime, float], Sequence[Family]]


def _per_window(windows: Sequence[str], fetch: WindowFetch) -> Callable[[PollContext], Outcome]:
    def run(ctx: PollContext) -> Outcome:
        out = Outcome()
        for w in windows:
            try:
                start = ctx.now - parse_duration(w)
                out.parts[w] = tuple(fetch(w, start, ctx.now, ctx.deadline))
            except AuthError as e:
                out.failures.append(Failure(f"window {w}", e))
                break  # the same key fails every window; don't hammer the vendor
            except VendorError as e:
                out.failures.append(Failure(f"window {w}", e))
        return out

    return run


def aggregate_endpoints(cfg: QoderProvider, api: ApiClient, w: Wiring) -> list[Endpoint]:
    client = QoderMetricsClient(api, cfg.organization_id)
    labeler = UserLabeler(w.users)
    base = (cfg.type, cfg.name)

    def overview(w: str, start: datetime, end: datetime, deadline: float) -> list[Family]:
        return mapping.overview_families(client.overview(start, end, deadline=deadline), base,
                                         w)

    def ranking(w: str, start: datetime, end: datetime, deadline: float) -> list[Family]:
        members = client.member_ranking(start, end, cfg.ranking_limit, deadline=deadline)
        return mapping.ranking_families(members, base, w, labeler)

    def repos(w: str, start: datetime, end: datetime, deadline: float) -> list[Family]:
        return mapping.repo_families(client.repos(start, end, deadline=deadline), base,
                                     w)

    def extensions(w: str, start: datetime, end: datetime, deadline: float) -> list[Family]:
        exts = client.file_extensions(start, end, deadline=deadline)
        return mapping.extension_families(exts, base, w)

    # Each window is a date range the vendor answers for any past time (up to 90 days
    # long): the backfill asks it as a poll at the end of each past day would have.
    jobs = [
        Endpoint("overview", _per_window(cfg.windows, overview), history=True),
        Endpoint("member_ranking", _per_window(cfg.windows, ranking), history=True),
        Endpoint("repos", _per_window(cfg.windows, repos), history=True),
        Endpoint("file_extensions", _per_window(cfg.windows, extensions), history=True),
    ]
    return [j for j in jobs if cfg.enabled(j.name)]



def daily_trend(cfg: QoderProvider, api: ApiClient, _w: Wiring) -> DayFetch:
    """The daily trend for whole UTC days [first, last]."""
    client = QoderMetricsClient(api, cfg.organization_id)
    base = (cfg.type, cfg.name)

    def fetch(first: date, last: date, deadline: float | None) -> DayFamilies:
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        return mapping.daily_families(client.daily_trend(start, end, deadline=deadline), base)

    return fetch
