"""The exporter's version, and the labels of aicode_exporter_build_info."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import cache
from pathlib import Path

__version__ = "0.1.0"


@cache
def revision() -> str:
    """The source revision: SOURCE_REVISION (set by an image build), else the git commit
    of a checkout, else `unknown`. Asked once, at the first render, never at import."""
    env = os.environ.get("SOURCE_REVISION", "").strip()
    if env:
        return env
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"],
                             cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else "unknown"


def build_labels() -> tuple[str, str, str]:
    """(version, revision, python_version)"""
    return (__version__, revision(), platform.python_version())
