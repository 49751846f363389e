"""Qoder's credit usage records (GET /usage-events, the whole organisation) as the
`credits` record stream: each record counted once, ever, into
aicode_credits_used_total{source,operation,model_tier} (and the per-user and per-team
credit counters). The records carry no id: mapping.credit_usage builds the identity
they are de-duplicated by, and says why it holds across overlapping reads and restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aicode_exporter.pipeline.records import StreamRecord
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped, validate_items
from aicode_exporter.vendors.base import Fetch, RecordStream, Wiring
from aicode_exporter.vendors.qoder import metrics
from aicode_exporter.vendors.qoder.mapping import credit_usage
from aicode_exporter.vendors.qoder.teamsapi import QoderTeamsClient, UsageItem

STREAM = "credits"


def open_credits(cfg: Any, api: ApiClient, _w: Wiring) -> Fetch:
    """The reads of the `credits` stream: every page of GET /usage-events of a range."""
    client = QoderTeamsClient(api, cfg.organization_id)

    def fetch(start: datetime, end: datetime) -> Iterator[StreamRecord | Skipped]:
        occurrences: Counter[str] = Counter()  # one read, one numbering
        for item in validate_items(UsageItem, client.usage_events(start, end,
                                                                  endpoint=STREAM)):
            yield item if isinstance(item, Skipped) else credit_usage(item, occurrences)

    return fetch


CREDITS_STREAM = RecordStream(STREAM, f"Qoder {metrics.USAGE}", metrics.CREDIT_COUNTERS,
                              open_credits)
