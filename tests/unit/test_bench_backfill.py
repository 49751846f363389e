"""bench/backfill.py on a tiny organisation: every endpoint done within its rate-limit
bound, no 429, and the JSON output complete."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "backfill.py"


@pytest.mark.slow  # a bench run: seconds
def test_tiny_backfill_meets_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_backfill", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    code = bench.main(["--users", "40", "--repos", "5", "--days", "4", "--procs", "1",
                       "--json"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["passed"] is True
    parts = {p["job_id"]: p for p in res["parts"]}
    assert len(parts) == 9
    assert all(p["state"] == "done" and p["rate_limited"] == 0 for p in parts.values())
    cursor = parts["cursor/acme/changes"]
    assert cursor["requests"] == 4  # one CSV export per 1-day slice
    assert cursor["seconds"] <= 1.1 * cursor["bound"]
    assert res["whole"]["samples"] == sum(p["samples"] for p in parts.values()) > 0
