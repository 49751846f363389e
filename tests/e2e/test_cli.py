"""The CLI as a process: exit codes and messages for bad configs and state paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.fakes import FIXTURES
from tests.support.processes import ROOT

BAD = FIXTURES / "config" / "bad"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    bad = run_cli("--config.file", str(BAD / "two-secrets.yaml"), "--config.check")
    assert bad.returncode == 2
    assert "two-secrets.yaml" in bad.stderr and "api_key_env" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = tmp_path / "ok.yaml"
    good.write_text("providers:\n  - {type: cursor, name: a, api_key: k}\n")
    ok = run_cli("--config.file", str(good), "--config.check")
    assert ok.returncode == 0 and "valid" in ok.stdout
    missing = run_cli("--config.file", str(tmp_path / "absent.yaml"), "--once")
    assert missing.returncode == 2 and "absent.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_unopenable_state_path_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg.write_text(f"state_path: {blocker}/sub/state.db\n"
                   "providers:\n  - {type: cursor, name: a, api_key: k}\n")
    r = run_cli("--config.file", str(cfg), "--once")
    assert r.returncode == 2 and "state_path: cannot open" in r.stderr
    assert "Traceback" not in r.stderr
