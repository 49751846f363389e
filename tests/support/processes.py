"""The exporter and the simulator as processes over loopback: free ports, config files,
subprocesses that are always stopped, and waiting for what they do."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, state: Path, providers: list[dict[str, Any]],
                 **top: Any) -> Path:
    path.write_text(yaml.safe_dump({"state_path": str(state), "providers": providers, **top}))
    return path


def exporter_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "aicode_exporter", *args]


@contextmanager
def running(cmd: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(pred: Callable[[], T | None], timeout: float, what: str, *,
             interval: float = 0.1, abort: Callable[[], str | None] | None = None,
             details: Callable[[], str] | None = None) -> T:
    """Call `pred` until it returns something truthy, and return that.

    Fails after `timeout` seconds, or at once when `abort` gives a reason (a process
    that should be running has exited, ...); `details` adds context (log tails) to the
    failure message.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        reason = abort() if abort else None
        if reason:
            pytest.fail(f"{reason} while waiting for {what}\n{details() if details else ''}")
        got = pred()
        if got:
            return got
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n"
                f"{details() if details else ''}")


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def sigkill_once_after(config: Path, requests: Callable[[], int], count: int,
                       timeout: float, what: str) -> int:
    """Run `--once` on `config`, SIGKILL it once `requests()` has grown by `count`, and
    return by how much it grew. Fails if the run ended before it could be killed."""
    before = requests()
    proc = subprocess.Popen(exporter_cmd("--config.file", str(config), "--once"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: requests() - before >= count or proc.poll() is not None, timeout, what)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill ({what})"
    return requests() - before
