"""Fault injection for tests and demos: make the next N requests to a path fail, stall or
break (``add``), or switch on a named hostile mode (``mode``, see hostile.py)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from aicode_sim.hostile import ModeHit, check_options, mode_spec, parse_fault_mode


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    remaining: int
    body: bytes | None
    headers: dict[str, str]
    content_type: str
    delay: float
    truncate_after: int | None

    @property
    def replaces_response(self) -> bool:
        """A 200 without a body only delays or truncates the real response."""
        return self.status != 200 or self.body is not None


@dataclass
class ActiveMode:
    name: str
    pattern: re.Pattern[str]
    remaining: int | None  # None: for ever
    options: dict[str, float]
    uses: int = 0


class FaultInjector:
    """Faults are consumed in the order they were added; each answers `times` requests.

    Modes are independent of faults and of each other: every active mode whose path
    matches applies to a request (one fault at most does).
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._modes: list[ActiveMode] = []
        self._lock = threading.Lock()

    def add(
        self,
        path_regex: str,
        *,
        status: int = 500,
        times: int = 1,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        delay: float = 0.0,
        truncate_after: int | None = None,
    ) -> None:
        """The next `times` requests whose path matches `path_regex` (re.search) get:

        * status != 200: that status with `body` (default: the vendor's error JSON);
        * status == 200 and no body: the real response (rate limits and all);
        * `body=b"<html>..."` with `content_type="text/html"`: a gateway page;
        * `delay`: sleep that many seconds first; `truncate_after=N`: close the connection
          after N bytes of body (chunk framing not counted) if the body is longer.

        The path is matched without the query string.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if truncate_after is not None and truncate_after < 0:
            raise ValueError("truncate_after must be >= 0")
        fault = Fault(
            pattern=re.compile(path_regex),
            status=status,
            remaining=times,
            body=body,
            headers=dict(headers or {}),
            content_type=content_type,
            delay=delay,
            truncate_after=truncate_after,
        )
        with self._lock:
            self._faults.append(fault)

    def mode(
        self,
        name: str,
        path_regex: str | None = None,
        *,
        times: int | None = None,
        **options: float,
    ) -> None:
        """Switch on the hostile mode `name` (a key of ``FAULT_MODES``) for requests whose
        path matches `path_regex` (re.search, without the query string; default: the mode's
        own paths, see hostile.py), the next `times` of them or (None) until ``clear()``.

        `options` are the mode's numbers, e.g. ``mode("drip", rate=50)``,
        ``mode("hang", seconds=5)``, ``mode("big_body", size=1e6)``; `name` may also carry
        them in the CLI form ``"drip:rate=50"`` (keyword options win).
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1")
        name, parsed = parse_fault_mode(name)
        merged = check_options(name, {**parsed, **options})
        pattern = re.compile(mode_spec(name).paths if path_regex is None else path_regex)
        with self._lock:
            self._modes.append(ActiveMode(name, pattern, times, merged))

    def clear(self) -> None:
        """Forget every fault and mode."""
        with self._lock:
            self._faults.clear()
            self._modes.clear()

    def take_modes(self, path: str) -> list[ModeHit]:
        """The modes answering this request, in the order they were switched on (each
        consumes one of its uses)."""
        if not self._modes:
            return []
        hits: list[ModeHit] = []
        with self._lock:
            for active in list(self._modes):
                if not active.pattern.search(path):
                    continue
                active.uses += 1
                hits.append(ModeHit(active.name, active.options, active.uses))
                if active.remaining is not None:
                    active.remaining -= 1
                    if active.remaining <= 0:
                        self._modes.remove(active)
        return hits

    def take(self, path: str) -> Fault | None:
        """The fault answering this request, if any (consumes one of its uses)."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
