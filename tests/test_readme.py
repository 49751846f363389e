"""The README stays true: every metric the exporter can serve is in its table, every
config key in its reference, and its two commands exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

from exporter import catalog
from exporter.config import CursorProvider, QoderProvider, UsersConfig
from exporter.families import Spec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_metric_is_in_the_readme_table() -> None:
    names = {v.name for v in vars(catalog).values() if isinstance(v, Spec)}
    listed = set(re.findall(r"^\| `(aicode_[a-z_]+)` \|", README, re.M))
    assert names == listed


def test_every_config_key_is_documented() -> None:
    keys = set(QoderProvider.model_fields) | set(CursorProvider.model_fields)
    for key in keys:
        assert f"`providers[].{key}" in README or f"`{key}`" in README, key
    for key in UsersConfig.model_fields:
        assert f"`users.{key}`" in README, key
    example = (ROOT / "config.example.yaml").read_text()
    for key in keys | set(UsersConfig.model_fields) | {"listen_address", "state_path"}:
        assert re.search(rf"^\s*#?\s*(- )?{key}:", example, re.M), key


def test_two_commands() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
