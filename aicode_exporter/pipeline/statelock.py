"""One process per state file: an exclusive lock held for the process lifetime.

flock(2) on `<state_path>.lock`, which also holds the holder's pid for the message. The
kernel drops the lock when the process dies, kill -9 included, so there is never a stale
lock to clean up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from aicode_exporter.errors import ConfigError


class StateLock:
    def __init__(self, state_path: str | Path) -> None:
        self.path = Path(f"{state_path}.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        except OSError as e:
            raise ConfigError(f"state_path: cannot open lock file {str(self.path)!r}: "
                              f"{e.strerror}") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            state = str(self.path)[: -len(".lock")]
            raise ConfigError(
                f"state_path: {state!r} is in use by another aicode-exporter process "
                f"(pid {holder}); two exporters must never share a state file") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None
