"""`aicode-exporter commit-detail`: per commit and file, the AI line ranges by source and
session (or model), as a table or JSON. A look-up tool, not a metric."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

from aicode_exporter.config.base import ProviderBase
from aicode_exporter.config.file import Config
from aicode_exporter.errors import ConfigError
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.vendors.base import CommitDetailRow, Wiring
from aicode_exporter.vendors.registry import make_api, vendors


def pick_provider(cfg: Config, name: str) -> ProviderBase:
    """`name` or `type/name`; ambiguous names must be qualified."""
    vendor, _, bare = name.rpartition("/")
    found = [p for p in cfg.providers if p.name == bare and (not vendor or p.type == vendor)]
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(f"{p.type}/{p.name}" for p in cfg.providers)
        raise ConfigError(f"--provider {name!r}: no such provider (configured: {names})")
    qualified = " or ".join(f"{p.type}/{bare}" for p in found)
    raise ConfigError(f"--provider {name!r} is ambiguous: write {qualified}")


def lookup(cfg: Config, provider: str, hashes: Sequence[str],
           branch: str | None) -> list[CommitDetailRow]:
    p = pick_provider(cfg, provider)
    detail = vendors()[p.type].commit_detail
    if detail is None:
        raise ConfigError(f"--provider {provider!r}: {p.type} has no commit detail "
                          f"(providers with commit detail: {_with_detail(cfg)})")
    api = make_api(p, Wiring(telemetry=Telemetry(), users=cfg.users))
    try:
        return detail(p, api, list(hashes), branch)
    finally:
        api.close()


def _with_detail(cfg: Config) -> str:
    names = [f"{p.type}/{p.name}" for p in cfg.providers
             if vendors()[p.type].commit_detail is not None]
    return ", ".join(names) or "none configured"


def render(rows: list[CommitDetailRow], hashes: Sequence[str], out: TextIO,
           as_json: bool) -> None:
    if as_json:
        json.dump([{**asdict(r), "lines": r.lines} for r in rows], out, indent=2)
        out.write("\n")
        return
    header = ("COMMIT", "FILE", "SOURCE", "SESSION/MODEL", "TYPE", "LINES", "RANGES")
    table = [header] + [
        (r.commit[:12], r.file, r.source, r.session or "-", r.type, str(r.lines),
         ",".join(f"{s}-{e}" for s, e in r.ranges)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
                  + "  " + row[-1] + "\n")
    missing = [h for h in hashes if h not in {r.commit for r in rows}]
    for h in missing:
        out.write(f"{h[:12]}  (no AI attribution recorded)\n")
