"""`aicode-exporter commit-detail`: per commit and file, the AI line ranges by source and
session (Qoder) or model (Cursor), as a table or JSON. A look-up tool, not a metric."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from exporter.config import Config, CursorProvider, QoderProvider
from exporter.errors import ConfigError
from exporter.telemetry import Telemetry
from exporter.vendors import Wiring, make_api, tracking_client
from exporter.vendors.qoder.models import CommitDetail


@dataclass(frozen=True)
class Row:
    commit: str
    file: str
    source: str
    session: str  # Qoder conversationId, or Cursor model
    type: str  # added | deleted
    ranges: list[tuple[int, int]]

    @property
    def lines(self) -> int:
        return sum(end - start + 1 for start, end in self.ranges)


def pick_provider(cfg: Config, name: str) -> QoderProvider | CursorProvider:
    """`name` or `type/name`; ambiguous names must be qualified."""
    kind, _, bare = name.rpartition("/")
    found = [p for p in cfg.providers if p.name == bare and (not kind or p.type == kind)]
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(f"{p.type}/{p.name}" for p in cfg.providers)
        raise ConfigError(f"--provider {name!r}: no such provider (configured: {names})")
    raise ConfigError(f"--provider {name!r} is ambiguous: write qoder/{bare} or cursor/{bare}")


def qoder_rows(details: Sequence[CommitDetail]) -> list[Row]:
    return [Row(c.commitHash, a.filePath, g.source.lower(), g.conversationId or g.productType,
                g.type or "added", [(r.start, r.end) for r in g.ranges])
            for c in details for a in c.rangeAnnotations for g in a.groups]


def cursor_rows(details: Sequence[dict[str, Any]]) -> list[Row]:
    rows = []
    for c in details:
        for f in c.get("files") or []:
            name = f.get("fileName") or f"(private).{f.get('fileExtension') or '?'}"
            groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
            for r in f.get("ranges") or []:
                key = (str(r.get("source") or "").lower(), str(r.get("model") or ""))
                groups.setdefault(key, []).append((int(r.get("start", 0)), int(r.get("end", 0))))
            rows += [Row(str(c.get("commitHash", "")), name, src, model, "added", rng)
                     for (src, model), rng in groups.items()]
    return rows


def lookup(cfg: Config, provider: str, hashes: Sequence[str], branch: str | None) -> list[Row]:
    p = pick_provider(cfg, provider)
    api = make_api(p, Wiring(telemetry=Telemetry(), users=cfg.users))
    try:
        details = tracking_client(p, api).commit_detail(list(hashes), branch)
    finally:
        api.close()
    return qoder_rows(details) if isinstance(p, QoderProvider) else cursor_rows(details)


def render(rows: list[Row], hashes: Sequence[str], out: TextIO, as_json: bool) -> None:
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
