"""commit-detail against the simulator: real hashes in, ranges per file and source out."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from aicode_exporter.__main__ import main
from aicode_sim import Simulator
from tests.support.processes import write_config


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(users=15, repos=4, cursor_rate_limit_per_minute=1000)
    s.start()
    yield s  # type: ignore[misc]
    s.stop()


def hashes(sim: Simulator, vendor: str, n: int) -> list[str]:
    if vendor == "qoder":
        r = httpx.get(f"{sim.url}/v1/organizations/org_sim/ai-code-tracking/commits",
                      params={"pageSize": 200}, headers={"Authorization": "Bearer sim-key"})
        items = r.json()["data"]["items"]
    else:
        r = httpx.get(f"{sim.url}/analytics/ai-code/commits", params={"pageSize": 200},
                      auth=("sim-key", ""))
        items = r.json()["items"]
    return [i["commitHash"] for i in items[:n]]


def config(tmp_path: Path, sim: Simulator) -> Path:
    # The exporter paces too: commit_detail takes the provider's rate_limit_per_minute
    # (Cursor's default 5/min would wait 12 s between the two batches), so raise it
    # like the simulator's.
    common = {"name": "sim", "base_url": sim.url, "api_key": "sim-key",
              "rate_limit_per_minute": 1000}
    return write_config(tmp_path / "c.yaml", tmp_path / "s.db", [
        {"type": "qoder", "organization_id": "org_sim", **common},
        {"type": "cursor", **common}])


@pytest.mark.parametrize("vendor", ["qoder", "cursor"])
def test_json_output_has_ranges_per_file_and_source(vendor: str, sim: Simulator,
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    wanted = hashes(sim, vendor, 60)
    before = len(sim.requests)
    rc = main(["commit-detail", "--config.file", str(config(tmp_path, sim)),
               "--provider", f"{vendor}/sim", "--json", *wanted])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["commit"] for r in rows} <= set(wanted)
    assert all(r["lines"] == sum(e - s + 1 for s, e in r["ranges"]) > 0 for r in rows)
    sources = {r["source"] for r in rows}
    assert sources <= ({"agent", "next", "quest", "inlinechat"} if vendor == "qoder"
                       else {"tab", "composer"})
    detail_calls = [r for r in sim.requests[before:] if "commits/" in r.path]
    assert len(detail_calls) == 2  # 60 hashes in batches of 50


def test_table_and_errors(sim: Simulator, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(config(tmp_path, sim))
    wanted = [*hashes(sim, "qoder", 2), "feedface0000"]
    assert main(["commit-detail", "--config.file", cfg, "--provider", "qoder/sim",
                 *wanted]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["COMMIT", "FILE", "SOURCE"]
    assert "feedface0000  (no AI attribution recorded)" in out
    assert main(["commit-detail", "--config.file", cfg, "--provider", "sim", "abc"]) == 2
    assert "ambiguous" in capsys.readouterr().err
    assert main(["commit-detail", "--config.file", cfg, "--provider", "nope", "abc"]) == 2
