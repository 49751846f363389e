"""The README stays true: every metric the exporter can serve is in its table, every
config key in its reference, and its two commands exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

from aicode_exporter.config.base import UsersConfig
from aicode_exporter.vendors.registry import all_specs, vendors
from tests.ops.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_metric_table_is_the_catalogue() -> None:
    names = {s.name for s in all_specs()}
    listed = set(re.findall(r"^\| `(aicode_[a-z_]+)` \|", README, re.M))
    assert names == listed
    table = load_script(ROOT / "scripts" / "metrics_table.py")
    assert table.markdown() in README, "run python scripts/metrics_table.py"


def test_every_config_key_is_documented() -> None:
    keys = {k for v in vendors().values() for k in v.config_model.model_fields}
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
