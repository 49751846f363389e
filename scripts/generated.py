"""The one write-or-check loop of every generated file (dashboards, rules, README tables).

    write_or_check({path: text, ...}, check=args.check, how="python grafana/build_dashboards.py")

Writes files whose text changed, or with `check` lists them and returns 1, so a test or CI
can say which file is stale and which command rewrites it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_or_check(outputs: Mapping[Path, str], *, check: bool, how: str) -> int:
    stale = []
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run {how}): " + ", ".join(stale))
        return 1
    return 0


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """`text` with what stands between the marker lines `begin` and `end` replaced."""
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise ValueError(f"markers {begin!r} ... {end!r} not found")
    return f"{head}{begin}\n{body}{end}{tail}"
