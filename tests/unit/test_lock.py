"""requirements.lock (what the image and `make` install, hash-pinned) matches
pyproject.toml: every runtime dependency is pinned within its range, with hashes, and was
compiled from pyproject.toml. Refresh it with `make lock`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes)"""
    text = LOCK.read_text(encoding="utf-8")
    pins: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9._-]+)==([^\s\\]+)", block)
        if m:
            pins[canonicalize_name(m.group(1))] = (
                m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def test_every_runtime_dependency_is_pinned_within_its_range_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run make lock"
        version, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{req.name}=={version} in requirements.lock is outside {req.specifier}: "
            "run make lock")
    for name, (version, hashes) in pins.items():
        assert hashes, f"{name}=={version} has no --hash"
    text = LOCK.read_text()
    assert "pip-compile" in text and "--generate-hashes" in text and "pyproject.toml" in text
    assert not re.search(r"^(-e |--index-url|--extra-index-url|--find-links)|file://", text, re.M)
