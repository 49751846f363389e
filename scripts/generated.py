"""The one write-or-check loop of every generated file (dashboards, rules, docs/metrics.md).

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

