"""The documentation stays true: every metric the exporter can serve is in docs/metrics.md
(generated, never stale), every config key in the configuration reference, and the README's
two commands exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

from aicode_exporter.configmodels import UsersConfig
from aicode_exporter.vendors.registry import VENDORS, all_specs
from tests.ops.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_metric_table_is_the_catalogue() -> None:
    metrics = (ROOT / "docs" / "metrics.md").read_text()
    names = {s.name for s in all_specs()}
    listed = set(re.findall(r"^\| `(aicode_[a-z_]+)` \|", metrics, re.M))
    assert names == listed


def test_docs_metrics_md_is_not_stale() -> None:
    script = load_script(ROOT / "scripts" / "metrics_table.py")
    current = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert script.document() == current, "run python scripts/metrics_table.py"


def test_the_readme_names_only_metrics_of_the_catalogue() -> None:
    names = {s.name for s in all_specs()}
    named = set(re.findall(r"`(aicode_[a-z_]+)`", README))
    assert named and named <= names, named - names


def test_every_config_key_is_documented() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    keys = {k for v in VENDORS.values() for k in v.config_model.model_fields}
    for key in keys:
        assert f"`providers[].{key}" in reference or f"`{key}`" in reference, key
    for key in UsersConfig.model_fields:
        assert f"`users.{key}`" in reference, key
    example = (ROOT / "config.example.yaml").read_text()
    for key in keys | set(UsersConfig.model_fields) | {"listen_address", "state_path"}:
        assert re.search(rf"^\s*#?\s*(- )?{key}:", example, re.M), key


def test_two_commands() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
