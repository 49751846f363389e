"""One process per state file: the second is refused with the holder's pid, and the
lock dies with its holder, kill -9 included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aicode_exporter.app import App
from aicode_exporter.errors import ConfigError
from aicode_exporter.pipeline.statelock import StateLock
from tests.support.fakes import cursor_config


def test_second_app_on_the_same_state_file_is_refused(tmp_path: Path) -> None:
    cfg = cursor_config(tmp_path)
    first = App(cfg)
    with pytest.raises(ConfigError) as e:
        App(cfg)
    assert str(cfg.state_path) in str(e.value) and f"pid {os.getpid()}" in str(e.value)
    first.close()
    App(cfg).close()  # released on close


@pytest.mark.slow  # a subprocess killed, real time
def test_the_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from aicode_exporter.pipeline.statelock import StateLock; "
        f"lock = StateLock({str(state)!r}); lock.acquire(); print('held', flush=True); "
        "time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"pid {holder.pid}"):
            StateLock(state).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 5
        while True:
            try:
                lock = StateLock(state)
                lock.acquire()
                break
            except ConfigError:
                assert time.monotonic() < deadline, "lock still held after kill -9"
                time.sleep(0.05)
        lock.release()
    finally:
        holder.kill()
        holder.wait()
