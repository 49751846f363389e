"""The Cursor fixtures (tests/fixtures/cursor/), polled end to end through the CSV exports
and through the JSON lists, give exactly the golden exposition.

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test

What the fixture records produce (checked by hand against the golden files):
- commits a1b2c3d4 (company/repo, primary branch, 120 added / 30 deleted: tab 50/10,
  composer 40/5, nonAi 30/15) and e5f6a7b8 (old shape: repo null -> "unknown", no
  isPrimaryBranch -> "unknown", 10/4: tab 3/1, composer 2/0, nonAi null -> derived
  10-3-2 = 5 and 4-1-0 = 3): aicode_commits_total 1 per (primary_branch, repo), and
  aicode_commit_lines_{added,deleted}_total per repo and source with exactly those numbers.
- changes 749356201 (COMPOSER, model null -> "unknown", 18/4 over report.ts 12/3 and
  ui.tsx 6/1) and 749356202 (TAB, gpt-5, 2/0 over a privacy-mode .ts file):
  aicode_changes_total and aicode_change_lines_* per model and source, and
  aicode_change_file_lines_* per extension (Cursor's "ts" gets its dot).
- aicode_records_ingested_total 2 per stream, one request per stream (a one-day backfill
  is one slice); newest record timestamps 2025-07-30T15:00:00Z (e5f6a7b8's createdAt,
  1753887600) and 15:11:00Z (749356202, 1753888260); last success at NOW (1753891200).
CSV and JSON give byte-identical expositions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.fakes import CursorFake, FakeClock, cursor_config, make_app
from tests.support.golden import check_golden

# The fixtures' records are from 2025-07-30 14:12-15:11Z; read them an hour later, one day back.
NOW = datetime(2025, 7, 30, 16, tzinfo=UTC)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_fixture_payloads_golden(tmp_path: Path, fmt: str) -> None:
    fake = CursorFake()
    clock = FakeClock(wall_time=NOW.timestamp())
    cfg = cursor_config(tmp_path, initial_backfill="1d",
                        endpoints={"commits": {"format": fmt}, "changes": {"format": fmt}})
    app = make_app(cfg, fake, clock)
    check_golden(f"cursor-fixtures-{fmt}.prom", app.run_once())
