"""One process per state file: an exclusive lock held for the process lifetime.

flock(2) on `<state_path>.lock`, which also holds the holder's pid for the message. The
kernel drops the lock when the process dies, kill -9 included, so there is never a stale
lock to clean up.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import IO

from aicode_exporter.errors import ConfigError


class StateLock:
    def __init__(self, state_path: str | Path) -> None:
        self.path = Path(f"{state_path}.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        check_writable(Path(str(self.path)[: -len(".lock")]))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        except OSError as e:
            raise ConfigError(f"state_path: cannot open lock file {str(self.path)!r} in the "
                              f"folder {str(self.path.parent)!r}: {e.strerror}"
                              f"{_as_whom()}") from None
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


def _as_whom() -> str:
    return f" (running as uid {os.getuid()})" if sys.platform != "win32" else ""


def check_writable(state: Path) -> None:
    """What the state file needs, checked before anything is opened (and by
    --config.check): its folder exists or can be made, and this user may create files in
    it (SQLite adds its journal beside the file); the file and its lock, where they
    exist, are writable. A ConfigError names the folder or file and the user."""
    if str(state) == ":memory:":
        return
    folder = state.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"state_path: {str(existing)!r} is not a folder, so the state "
                          f"file {str(state)!r} cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        made = "" if existing == folder else f" (to create {str(folder)!r})"
        raise ConfigError(
            f"state_path: the folder {str(existing)!r} is not writable{_as_whom()}{made}; "
            "the state file and its lock and journal are created there. Point state_path "
            "(or state_dir / AICODE_STATE_DIR) at a writable folder, e.g. a volume")
    for f in (state, Path(f"{state}.lock"), Path(f"{state}-wal"), Path(f"{state}-journal")):
        if f.exists() and not os.access(f, os.R_OK | os.W_OK):
            raise ConfigError(f"state_path: {str(f)!r} in the folder {str(folder)!r} is not "
                              f"readable and writable{_as_whom()}")
