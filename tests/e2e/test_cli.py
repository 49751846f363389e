"""The CLI as a process: exit codes and messages for bad configs, state paths, failed
endpoints under --once, hash-password and the demo's flags and clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from aicode_exporter.vendors.cursor.config import ENDPOINTS as CURSOR_ENDPOINTS
from aicode_sim import Simulator
from tests.support.fakes import FIXTURES
from tests.support.processes import ROOT, exporter_cmd, free_port, wait_for, write_config

BAD = FIXTURES / "config" / "bad"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aicode_exporter", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    bad = run_cli("--config.file", str(BAD / "two-secrets.yaml"), "--config.check")
    assert bad.returncode == 2
    assert "two-secrets.yaml" in bad.stderr and "api_key_env" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = tmp_path / "ok.yaml"
    good.write_text("providers:\n  - {type: cursor, name: a, api_key: k-test-key}\n")
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
                   "providers:\n  - {type: cursor, name: a, api_key: k-test-key}\n")
    r = run_cli("--config.file", str(cfg), "--once")
    assert r.returncode == 2 and f"state_path: '{blocker}' is not a folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_once_exit_codes_make_a_credentials_smoke_test(tmp_path: Path) -> None:
    sim = Simulator(users=5, repos=2, cursor_rate_limit_per_minute=1000)
    sim.start()
    try:
        def once(key: str, name: str) -> subprocess.CompletedProcess[str]:
            cfg = write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", [{
                "type": "cursor", "name": "sim", "base_url": sim.url, "api_key": key,
                "rate_limit_per_minute": 1000}])
            return run_cli("--config.file", str(cfg), "--once")

        good = once("sim-key", "good")
        bad = once("wrong-key-123", "bad")
    finally:
        sim.stop()
    assert good.returncode == 0 and "failed:" not in good.stderr
    assert bad.returncode == 1
    lines = [ln for ln in bad.stderr.splitlines() if ln.startswith("failed:")]
    # every endpoint the provider polls (Cursor's per-user reports need per-user data)
    per_user = {"leaderboard", "by_user_models", "by_user_client_versions"}
    assert sorted(ln.split(":")[1].strip() for ln in lines) == sorted(
        f"cursor/sim {ep}" for ep in CURSOR_ENDPOINTS if ep not in per_user)
    assert all("authentication failed" in ln for ln in lines)
    assert "wrong-key-123" not in bad.stderr + bad.stdout


def test_hash_password_reads_stdin_and_refuses_empty(tmp_path: Path) -> None:
    ok = subprocess.run(exporter_cmd("hash-password", "--cost", "4"), input="pw\n",
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("$2b$04$")
    empty = subprocess.run(exporter_cmd("hash-password"), input="\n", capture_output=True,
                           text=True, timeout=60)
    assert empty.returncode == 2 and "no password" in empty.stderr


def test_bad_demo_flags_are_one_line_without_a_traceback() -> None:
    for flags in (["--poll-interval", "5x"], ["--users", "0"], ["--fault", "nonsense"],
                  ["--web.listen-address", "nowhere"]):
        out = subprocess.run(exporter_cmd("demo", *flags), capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (flags, out.stderr)
        assert len([ln for ln in out.stderr.splitlines() if "error" in ln]) == 1, out.stderr


def test_demo_removes_its_temporary_state_on_exit(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    port = free_port()
    proc = subprocess.Popen(exporter_cmd("demo", "--web.listen-address", f"127.0.0.1:{port}"),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        wait_for(lambda: "Press Ctrl-C" in proc.stdout.readline() or None, 60, "the demo")
        assert any(p.name.startswith("aicode-demo-") for p in tmp_path.iterdir())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
    assert not any(p.name.startswith("aicode-demo-") for p in tmp_path.iterdir())
