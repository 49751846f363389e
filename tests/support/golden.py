"""Golden expositions in tests/golden/.

Regenerate after an intended change with: UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

import os
import re
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


# The process's own metrics (memory, CPU, GC) differ on every run.
VOLATILE = ("process_", "python_")


def _stable(text: bytes) -> bytes:
    keep = [line for line in text.decode().splitlines(keepends=True)
            if not line.removeprefix("# HELP ").removeprefix("# TYPE ").startswith(VOLATILE)]
    # The version, source revision and Python version of build_info change with every
    # commit.
    out = re.sub(r'python_version="[^"]*",revision="[^"]*"',
                 'python_version="(any)",revision="(any)"', "".join(keep))
    out = re.sub(r'revision="\(any\)",version="[^"]*"', 'revision="(any)",version="(any)"', out)
    return out.encode()


def check_golden(name: str, text: bytes) -> None:
    text = _stable(text)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text)
    assert text.decode() == path.read_text(), f"exposition differs from {path}"
