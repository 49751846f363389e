"""A value parsed from files, re-parsed when one of them changes.

On every `refresh()` the files' fingerprints are taken: the stat stamp (mtime, size,
inode) and the sha256 of the content, so an edit that keeps size and mtime is seen too.
Only a change re-parses. A parse that fails, or a new value that `check` refuses, keeps
the last good value in force, is logged once per distinct error and shows in `status()`
until a good version arrives; files put back as they were when the value in force was
loaded make it good again without a re-parse. A file that changes while it is being
parsed is left for the next refresh. At construction a failing parse raises (a broken
file is fatal at start).

Files are read whole to fingerprint them: meant for configuration-sized files (a
configuration, certificates, a CSV of people), at most `max_bytes` each."""

from __future__ import annotations

import hashlib
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
MAX_BYTES = 64 << 20  # a file larger than this is fingerprinted by its stat stamp only
Fingerprint = tuple[tuple[int, int, int, str] | None, ...]


@dataclass(frozen=True)
class ReloadStatus:
    ok: bool  # False while the files on disk are a version that did not load
    loaded_at: float  # wall time the value in force was parsed
    last_error: str = ""  # why the newest version did not load; "" when ok


def _contents(fp: Fingerprint) -> tuple[str | None, ...]:
    return tuple(f[3] if f is not None else None for f in fp)


def fingerprint(path: Path, max_bytes: int = MAX_BYTES) -> tuple[int, int, int, str] | None:
    """(mtime ns, size, inode, sha256 of the content), None when it cannot be read."""
    try:
        st = os.stat(path)
        if st.st_size > max_bytes:
            return st.st_mtime_ns, st.st_size, st.st_ino, ""
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino, digest


class Reloading(Generic[T]):
    """`parse()` now, and again on refresh() when a file of `files(value)` changed.

    `check(old, new)` may refuse a new value with a reason (a change that needs a
    restart); `describe(value)` gives the log fields of the value (logged on load, and
    with the error when a new version does not load). `errors` are the exceptions that
    mean "this version is broken". Thread-safe."""

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
        self._in_force = self._fingerprints(self._value)
        self._seen: Fingerprint | None = self._in_force
        self._status = ReloadStatus(ok=True, loaded_at=wall())
        logger.info("file loaded", extra={"what": what, **describe(self._value)})

    @property
    def value(self) -> T:
        with self._lock:
            return self._value

    def status(self) -> ReloadStatus:
        with self._lock:
            return self._status

    def _fingerprints(self, value: T) -> Fingerprint:
        return tuple(fingerprint(p) for p in self._files(value))

    def refresh(self) -> bool:
        """Re-parse if a file changed; True when a new value took over."""
        with self._lock:
            now = self._fingerprints(self._value)
            if now == self._seen:
                return False
            if _contents(now) == _contents(self._in_force):
                # The content is the version in force (put back, or only touched):
                # good again, nothing new to load.
                self._seen = now
                back = not self._status.ok
                self._status = ReloadStatus(True, self._status.loaded_at)
                fields = self._describe(self._value)
                refused = ""
                new = None
            else:
                back = False
                try:
                    new = self._parse()
                    refused = self._check(self._value, new) if self._check else ""
                except self._errors as e:
                    new, refused = None, str(e)
                if self._fingerprints(self._value) != now:
                    return False  # changed while being read: next time, once settled
                self._seen = now
                if refused:
                    first = refused != self._status.last_error
                    self._status = ReloadStatus(False, self._status.loaded_at, refused)
                    fields = self._describe(self._value)
                else:
                    assert new is not None
                    if list(self._files(new)) != list(self._files(self._value)):
                        now = self._seen = self._fingerprints(new)  # other files now
                    self._value, self._in_force = new, now
                    self._status = ReloadStatus(ok=True, loaded_at=self._wall())
                    fields = self._describe(new)
        if back:
            logger.info("file back to the version in force", extra={"what": self.what,
                                                                   **fields})
            return False
        if new is None and not refused:
            return False
        if refused:
            if first:
                logger.error("file not reloaded, the previous version stays in force",
                             extra={"what": self.what, **fields, "error": refused})
            return False
        logger.info("file loaded", extra={"what": self.what, **fields})
        return True
