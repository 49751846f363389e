"""The `teams:` block: where the user-to-team map is and what to call users in no team.
The map itself is read by pipeline/teams.py."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from pydantic import field_validator

from aicode_exporter.config.base import Strict

DEFAULT_UNASSIGNED = "unassigned"


def control_char(value: str) -> str | None:
    """The first control character (or line/paragraph separator) in value, if any."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return None


class TeamsConfig(Strict):
    """The `teams:` block. config.file.load_config resolves a relative `file` against the
    config file's folder before this model sees it."""

    file: Path
    unassigned: str = DEFAULT_UNASSIGNED

    @field_validator("unassigned")
    @classmethod
    def _label_safe(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        ch = control_char(v)
        if ch:
            raise ValueError(f"must not contain a control character ({ch})")
        return v
