"""The exporter as shipped, tried as a new user would: a wrong vendor address fails in
seconds and says where; the shipped example configuration in a read-only folder, run as
an unprivileged user, either starts with its state in the writable state folder (what the
image sets) or is refused by --config.check naming the folder, never a valid check
followed by a crash."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT, exporter_cmd, free_port, get, wait_for

NOBODY = 65534
KEY = "k-test-key-0123456789"


def test_once_against_a_refused_port_fails_within_15s_naming_provider_and_endpoint(
        tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"state_path: state.db\nproviders:\n"
                   f"  - {{type: qoder, name: acme, organization_id: org_x, api_key: {KEY},"
                   f" base_url: 'http://127.0.0.1:1'}}\n"
                   f"  - {{type: cursor, name: acme, api_key: {KEY},"
                   f" base_url: 'http://127.0.0.1:1'}}\n")
    t0 = time.monotonic()
    run = subprocess.run(exporter_cmd("--config.file", str(cfg), "--once"),
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    took = time.monotonic() - t0
    assert run.returncode == 1, run.stderr
    assert took < 15, f"--once took {took:.1f}s"
    first = next(line for line in run.stderr.splitlines() if "cannot reach" in line)
    assert "level=warning" in first
    assert "provider=qoder" in first and "endpoint=overview" in first
    assert "address=http://127.0.0.1:1" in first and 'error="connection refused"' in first
    assert "failed: cursor/acme commits: " in run.stderr
    assert KEY not in run.stderr + run.stdout


def test_ftp_base_url_fails_config_check(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"providers:\n  - {{type: cursor, name: acme, api_key: {KEY},"
                   " base_url: 'ftp://x'}\n")
    run = subprocess.run(exporter_cmd("--config.file", str(cfg), "--config.check"),
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 2
    assert "providers[0].base_url: unsupported scheme (ftp://)" in run.stderr


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """config.example.yaml in a root-owned folder that others may read but not write
    (as a ConfigMap or a :ro bind mount is), its key file beside it, and an empty state
    folder owned by the unprivileged user (as the image's volume is)."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to run as an unprivileged user")
    top = Path(tempfile.mkdtemp(prefix="aicode-ship-"))
    try:
        top.chmod(0o755)
        conf, state = top / "etc", top / "state"
        conf.mkdir(mode=0o755)
        state.mkdir(mode=0o755)
        os.chown(state, NOBODY, NOBODY)
        text = (ROOT / "config.example.yaml").read_text()
        text = text.replace("/run/secrets/qoder", "qoder.key")
        text = text.replace("https://api.qoder.com", "http://127.0.0.1:1")
        text = text.replace("https://api.cursor.com", "http://127.0.0.1:1")
        (conf / "config.yaml").write_text(text)
        (conf / "qoder.key").write_text(KEY + "\n")
        for f in conf.iterdir():
            f.chmod(0o644)
        yield conf / "config.yaml", state
    finally:
        shutil.rmtree(top, ignore_errors=True)


def as_nobody(*args: str) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            *exporter_cmd(*args)]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICODE_")}
    return {**env, "CURSOR_API_KEY": KEY, "HOME": "/nonexistent", **extra}


def test_read_only_config_folder_without_a_state_folder_is_refused_by_the_check(
        shipped: tuple[Path, Path]) -> None:
    cfg, _ = shipped
    for flag in ("--config.check", "--once"):
        run = subprocess.run(as_nobody("--config.file", str(cfg), flag), capture_output=True,
                             text=True, timeout=60, cwd="/", env=_env())
        assert run.returncode == 2, (flag, run.stderr)
        assert (f"state_path: the folder '{cfg.parent}' is not writable (running as uid "
                f"{NOBODY})") in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


def test_read_only_config_folder_with_the_image_state_folder_starts(
        shipped: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, state = shipped
    env = _env(AICODE_STATE_DIR=str(state))
    check = subprocess.run(as_nobody("--config.file", str(cfg), "--config.check"),
                           capture_output=True, text=True, timeout=60, cwd="/", env=env)
    assert check.returncode == 0, check.stderr
    port = free_port()
    log = tmp_path / "exp.log"
    cmd = as_nobody("--config.file", str(cfg), "--web.listen-address", f"127.0.0.1:{port}")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd="/", env=env)
    try:
        wait_for(lambda: (r := get(f"http://127.0.0.1:{port}/-/healthy"))
                 and r.status_code == 200, 30, "/-/healthy",
                 abort=lambda: f"exited {proc.returncode}" if proc.poll() is not None
                 else None, details=log.read_text)
        assert (state / "aicode-state.db").is_file()
        assert (state / "aicode-state.db").stat().st_uid == NOBODY
        assert not (cfg.parent / "aicode-state.db").exists()
    finally:
        proc.terminate()
        proc.wait(15)
    assert proc.returncode == 0, log.read_text()
