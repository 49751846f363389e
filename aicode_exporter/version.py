"""The exporter's version and build: for --version, the User-Agent and the labels of
aicode_exporter_build_info.

The version comes from git tags through setuptools-scm, which writes `_version.py` when
the package is built or installed (a wheel, an editable install, the image) with the
revision, branch and build time. In a git checkout the revision and branch are asked of
git (once, at first use, never at import), so they follow the checkout; the image's
build may also pass SOURCE_REVISION / SOURCE_BRANCH / BUILD_DATE where the build had no
git. Whatever is not known is `unknown`.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _built() -> dict[str, str | None]:
    try:
        _version = importlib.import_module("aicode_exporter._version")
    except ImportError:  # a source tree that was never built or installed
        return {}
    return {k: getattr(_version, f"__{k}__", None)
            for k in ("version", "revision", "branch", "build_date")}


def _installed_version() -> str:
    built = _built().get("version")
    if built:
        return built
    try:
        return metadata.version("aicode-exporter")
    except metadata.PackageNotFoundError:
        return "0.0.0"


__version__ = _installed_version()


def _git(*args: str) -> str | None:
    """Ask git about the checkout this package is in, only when the package folder is
    the top of a work tree's `aicode_exporter/` (not a venv inside some other checkout)."""
    if not (_PACKAGE_DIR.parent / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", *args], cwd=_PACKAGE_DIR.parent, capture_output=True,
                             text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


@cache
def revision() -> str:
    """The source revision (12 hex digits of the commit where git says so)."""
    from_git = _git("rev-parse", "--short=12", "HEAD")
    if from_git:
        return from_git
    built = _built().get("revision")
    if built:
        return built.removeprefix("g")
    return os.environ.get("SOURCE_REVISION", "").strip() or "unknown"


@cache
def branch() -> str:
    from_git = _git("rev-parse", "--abbrev-ref", "HEAD")
    if from_git:
        return from_git
    return (_built().get("branch") or os.environ.get("SOURCE_BRANCH", "").strip()
            or "unknown")


@cache
def build_date() -> str:
    return (os.environ.get("BUILD_DATE", "").strip() or _built().get("build_date")
            or "unknown")


def build_labels() -> tuple[str, str, str]:
    """(version, revision, python_version)"""
    return (__version__, revision(), platform.python_version())


def version_text(program: str = "aicode-exporter") -> str:
    """What --version prints, in the shape of every Prometheus exporter's."""
    return (f"{program}, version {__version__} (branch: {branch()}, revision: {revision()})\n"
            f"  build date:       {build_date()}\n"
            f"  python version:   {platform.python_implementation()} "
            f"{platform.python_version()}\n"
            f"  platform:         {sys.platform}/{platform.machine().lower()}")
