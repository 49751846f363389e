"""aicode-exporter backfill as a process: exit codes, the progress line and summary, the
output promtool reads, and a run killed with SIGKILL mid-way that resumes and ends where
an uninterrupted run ends."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from aicode_exporter.pipeline.statelock import StateLock
from aicode_sim import Simulator
from tests.ops.helpers import tool
from tests.support.processes import ROOT, exporter_cmd, wait_for, write_config

DAY = 86_400


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """Data for 12 days, ending 4 hours ago: nothing new arrives while the tests run."""
    frozen = datetime.now(UTC) - timedelta(hours=4)
    s = Simulator(users=10, repos=4, days=12, now=lambda: frozen,
                  cursor_rate_limit_per_minute=0)
    s.start()
    yield s
    s.stop()


def config(tmp: Path, sim: Simulator, name: str, rate: int = 6000, **extra: Any) -> Path:
    common = {"name": "acme", "api_key": "sim-key", "base_url": sim.url,
              "rate_limit_per_minute": rate, "backfill_slice": "1d", **extra}
    return write_config(tmp / f"{name}.yaml", tmp / f"{name}.db", [
        {"type": "qoder", "organization_id": "org_sim", "windows": ["7d"], **common,
         "endpoints": {e: {"enabled": False} for e in
                       ("overview", "member_ranking", "repos", "file_extensions")}},
        {"type": "cursor", **common}])


def backfill(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(exporter_cmd("backfill", *args), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def since() -> str:
    return (datetime.now(UTC) - timedelta(days=14)).strftime("%Y-%m-%d")


def midnight_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...], float], float]:
    """Every counter sample at a UTC midnight (the sample at the run's end moves with it)."""
    return {(s.name, tuple(sorted(s.labels.items())), float(s.timestamp)): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name.endswith("_total") and s.timestamp is not None
            and float(s.timestamp) % DAY == 0}


def counters(db: Path) -> dict[tuple[str, str, str, str], float]:
    con = sqlite3.connect(db)
    try:
        return {(p, o, m, lbl): v for p, o, m, lbl, v in con.execute(
            "SELECT provider, org, metric, labels, value FROM counters "
            "WHERE metric NOT LIKE 'aicode_records_%'")}
    finally:
        con.close()


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, sim: Simulator) -> None:
    cfg = str(config(tmp_path, sim, "c"))
    cases = [
        (["--config.file", cfg, "--since", "yesterday"], "--since 'yesterday'"),
        (["--config.file", cfg, "--since", "7d", "--label", "org=x"], "already a label"),
        (["--config.file", cfg, "--since", "7d", "--until", "soon"], "--until 'soon'"),
        (["--config.file", cfg, "--since", "7d", "--output", str(tmp_path / "no" / "x.om")],
         "does not exist"),
        (["--config.file", str(tmp_path / "absent.yaml"), "--since", "7d"], "absent.yaml"),
        (["--config.file", cfg, "--since", "1d", "--until", "2d"], "is not before"),
    ]
    for args, message in cases:
        r = backfill(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    lock = StateLock(tmp_path / "c.db")  # a daemon running on the same state file
    lock.acquire()
    try:
        r = backfill("--config.file", cfg, "--since", "7d", "--output", "-")
    finally:
        lock.release()
    assert r.returncode == 2 and "in use by another aicode-exporter" in r.stderr


def test_output_to_stdout_is_what_promtool_takes(tmp_path: Path, sim: Simulator) -> None:
    cfg = str(config(tmp_path, sim, "c"))
    r = backfill("--config.file", cfg, "--since", since(), "--output", "-",
                 "--label", "job=aicode", "--label", "instance=exporter:19877")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("# EOF\n")
    lines = r.stderr.splitlines()
    assert lines[0].startswith("backfill: ") and " requests" in lines[0]
    assert any(ln.startswith("backfill: done in") for ln in lines), r.stderr
    assert any("wrote standard output:" in ln and " series, " in ln and " samples, " in ln
               for ln in lines), r.stderr
    assert any("promtool tsdb create-blocks-from openmetrics" in ln for ln in lines)
    (tmp_path / "h.om").write_text(r.stdout)
    out = tmp_path / "blocks"
    p = subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                        "--max-block-duration=24h", str(tmp_path / "h.om"), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert len(list(out.iterdir())) >= 10


def test_a_run_killed_mid_way_resumes_and_ends_where_an_uninterrupted_one_ends(
        tmp_path: Path, sim: Simulator) -> None:
    whole = tmp_path / "whole.om"
    ref = backfill("--config.file", str(config(tmp_path, sim, "ref")), "--since", since(),
                   "--output", str(whole))
    assert ref.returncode == 0, ref.stderr
    # One request a second: about a minute of reads, killed once some slices are in.
    cfg = config(tmp_path, sim, "killed", rate=60)
    out = tmp_path / "resumed.om"
    args = ["--config.file", str(cfg), "--since", since(), "--output", str(out)]
    proc = subprocess.Popen(exporter_cmd("backfill", *args), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "killed.db"

    def some_slices_committed() -> bool | None:
        if proc.poll() is not None:
            pytest.fail(f"the backfill ended before it was killed: {proc.stderr.read()}")
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            try:
                n = con.execute("SELECT count(*) FROM history_streams").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error:
            return None
        return n >= 2 or None

    try:
        wait_for(some_slices_committed, 60, "the first committed slices")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert not out.exists()  # nothing half-written
    partial = counters(db)
    r = backfill(*args[:-1], str(out), "--log.level", "info")
    assert r.returncode == 0, r.stderr
    assert counters(db) == counters(tmp_path / "ref.db") != partial
    assert midnight_values(out.read_text()) == midnight_values(whole.read_text())
    # The second run asked for fewer requests than the whole read took.
    first = int(ref.stderr.split(" requests;")[0].rsplit(" ", 1)[-1].replace(",", ""))
    resumed = int(r.stderr.split(" requests;")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert resumed < first


def test_the_daemon_after_the_backfill_continues_its_counters(tmp_path: Path,
                                                              sim: Simulator) -> None:
    cfg = config(tmp_path, sim, "c")
    r = backfill("--config.file", str(cfg), "--since", since(), "--output", "-")
    assert r.returncode == 0, r.stderr
    after_backfill = counters(tmp_path / "c.db")
    once = subprocess.run([sys.executable, "-m", "aicode_exporter", "--config.file",
                           str(cfg), "--once"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert once.returncode == 0, once.stderr
    assert counters(tmp_path / "c.db") == after_backfill  # nothing counted twice
    again = backfill("--config.file", str(cfg), "--since", since(), "--output", "-")
    assert again.returncode == 0, again.stderr
    assert "counted by the daemon since" in again.stderr
    assert counters(tmp_path / "c.db") == after_backfill
    assert midnight_values(again.stdout) == midnight_values(r.stdout)
