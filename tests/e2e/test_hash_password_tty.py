"""hash-password on a terminal asks twice without echoing; a script still pipes it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import bcrypt

from tests.support.processes import ROOT, exporter_cmd

PASSWORD = "correct horse battery"


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while marker not in seen:
        left = end - time.monotonic()
        assert left > 0, f"no {marker!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk


def test_on_a_terminal_it_prompts_twice_and_never_echoes() -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child, on the terminal's slave side
        os.chdir(ROOT)
        cmd = exporter_cmd("hash-password", "--cost", "4")
        os.execv(cmd[0], cmd)
    seen = bytearray()
    try:
        _read_until(fd, b"Password: ", seen)
        os.write(fd, PASSWORD.encode() + b"\n")
        _read_until(fd, b"Password again: ", seen)
        os.write(fd, PASSWORD.encode() + b"\n")
        _read_until(fd, b"$2b$", seen)
        _read_until(fd, b"\n", tail := bytearray(seen[seen.index(b"$2b$"):]))
        seen += tail
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert PASSWORD.encode() not in seen  # the terminal echoed nothing typed
    hashed = bytes(tail).split()[0]
    assert bcrypt.checkpw(PASSWORD.encode(), hashed)


def test_a_script_pipes_the_password_on_standard_input() -> None:
    out = subprocess.run(exporter_cmd("hash-password", "--cost", "4"), input=PASSWORD + "\n",
                         capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    assert PASSWORD not in out.stdout + out.stderr
    assert bcrypt.checkpw(PASSWORD.encode(), out.stdout.strip().encode())
