"""Label value normalisation shared by every vendor's mapping."""

from __future__ import annotations

UNKNOWN = "unknown"


def normalize_extension(ext: str | None) -> str:
    """`go`, `.go`, ` .go ` -> `.go`; nothing -> `.unknown`: always one leading dot, so
    Cursor's `ts` and Qoder's `.ts` are the same series."""
    e = (ext or "").strip().lstrip(".").strip()
    return "." + (e or UNKNOWN)


def or_unknown(value: str | None) -> str:
    v = (value or "").strip()
    return v or UNKNOWN
