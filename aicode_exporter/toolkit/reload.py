"""A value parsed from files, re-parsed when one of them changes.

The files' stat stamps (mtime, size, inode) are compared on every `refresh()`; only a
change re-parses. A parse that fails, or a new value that `check` refuses, keeps the last
good value in force, is logged once per distinct error, and shows in `status()` until a
good version arrives. At construction a failing parse raises (a broken file is fatal at
start)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from aicode_exporter.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Stamp = tuple[tuple[int, int, int] | None, ...]


@dataclass(frozen=True)
class ReloadStatus:
    ok: bool  # False while the files on disk are a version that did not load
    loaded_at: float  # wall time the value in force was parsed
    last_error: str = ""  # why the newest version did not load; "" when ok


def stamp(path: Path) -> tuple[int, int, int] | None:
    """(mtime ns, size, inode), None when the file cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class Reloading(Generic[T]):
    """`parse()` now, and again on refresh() when a file of `files(value)` changed.

    `check(old, new)` may refuse a new value with a reason (a change that needs a
    restart); `describe(value)` gives the log fields of a load. `errors` are the
    exceptions that mean "this version is broken". Thread-safe."""

    def __init__(self, what: str, parse: Callable[[], T],
                 files: Callable[[T], Iterable[Path]], *,
                 check: Callable[[T, T], str] | None = None,
                 describe: Callable[[T], Mapping[str, object]] = lambda v: {},
                 errors: tuple[type[Exception], ...] = (ConfigError, OSError, ValueError),
                 wall: Callable[[], float] = time.time) -> None:
        self.what = what
        self._parse, self._files, self._check = parse, files, check
        self._describe, self._errors, self._wall = describe, errors, wall
        self._lock = threading.Lock()
        self._value = parse()
        self._stamp = self._stamps(self._value)
        self._status = ReloadStatus(ok=True, loaded_at=wall())

    @property
    def value(self) -> T:
        with self._lock:
            return self._value

    def status(self) -> ReloadStatus:
        with self._lock:
            return self._status

    def _stamps(self, value: T) -> Stamp:
        return tuple(stamp(p) for p in self._files(value))

    def refresh(self) -> bool:
        """Re-parse if a file changed; True when a new value took over."""
        with self._lock:
            if self._stamps(self._value) == self._stamp:
                return False
            try:
                new = self._parse()
                refused = self._check(self._value, new) if self._check is not None else ""
            except self._errors as e:
                refused = str(e)
            if refused:
                self._stamp = self._stamps(self._value)
                first = refused != self._status.last_error
                self._status = ReloadStatus(False, self._status.loaded_at, refused)
            else:
                self._value, self._stamp = new, self._stamps(new)
                self._status = ReloadStatus(ok=True, loaded_at=self._wall())
        if refused:
            if first:
                logger.error("file not reloaded, the previous version stays in force",
                             extra={"what": self.what, "error": refused})
            return False
        logger.info("file reloaded", extra={"what": self.what, **self._describe(new)})
        return True
