"""The documentation stays true and reachable: the README is a short front door with a
contents list, a minimal configuration that validates and two commands that exist in the
Makefile; every relative link of the docs reaches a file and heading; every metric the
exporter can serve is in docs/metrics.md (generated, never stale) and every config key in
the configuration reference."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aicode_exporter.config.base import LabelsConfig, UsersConfig
from aicode_exporter.vendors.registry import all_specs, vendors
from tests.ops.helpers import github_anchors, load_script, markdown_section

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
README_MAX_LINES = 400
# Every page a newcomer can reach from the README; their relative links must resolve.
LINKED_DOCS = sorted(
    {
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "CHANGELOG.md",
        ROOT / "grafana" / "README.md",
        ROOT / "prometheus" / "README.md",
        ROOT / "bench" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    }
)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")


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
    keys = {k for v in vendors().values() for k in v.config_model.model_fields}
    for key in keys:
        assert f"`providers[].{key}" in reference or f"`{key}`" in reference, key
    for key in UsersConfig.model_fields:
        assert f"`users.{key}`" in reference, key
    for key in LabelsConfig.model_fields:
        assert f"`labels.{key}`" in reference, key
    example = (ROOT / "config.example.yaml").read_text()
    for key in (keys | set(UsersConfig.model_fields) | set(LabelsConfig.model_fields)
                | {"listen_address", "state_path"}):
        assert re.search(rf"^\s*#?\s*(- )?{key}:", example, re.M), key


def test_two_commands() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_the_readme_is_short_and_has_a_contents_list() -> None:
    assert len(README.splitlines()) <= README_MAX_LINES, "move reference material to docs/"
    contents = markdown_section(README, "## Contents")
    listed = set(re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)", contents, re.M))
    sections = {
        slug
        for slug, heading in github_anchors(README).items()
        if f"\n## {heading}\n" in f"\n{README}\n" and heading != "Contents"
    }
    assert sections and listed == sections, (sections - listed, listed - sections)


def test_the_readme_links_every_page_moved_out_of_it() -> None:
    pages = {"CONTRIBUTING.md", "CHANGELOG.md", "grafana/README.md", "prometheus/README.md",
             "bench/README.md"}
    pages |= {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    linked = {link.split("#")[0] for link in _links(README)}
    assert pages <= linked, pages - linked


def _links(markdown: str) -> list[str]:
    """Link targets outside fenced code blocks and code spans."""
    out, in_code = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            out += _LINK.findall(_CODE_SPAN.sub("", line))
    return out


@pytest.mark.parametrize("doc", LINKED_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(doc: Path) -> None:
    broken = []
    for link in _links(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):
            continue  # http(s):, mailto:
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists() or ROOT not in (target, *target.parents):
            broken.append(f"{link}: no file {path}")
        elif (anchor and target.suffix == ".md"
              and anchor not in github_anchors(target.read_text(encoding="utf-8"))):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, broken


def test_the_readme_minimal_configuration_is_valid(tmp_path: Path) -> None:
    section = markdown_section(README, "## Minimal configuration")
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    for provider in yaml.safe_load(block)["providers"]:
        (tmp_path / provider["api_key_file"]).write_text("not-a-real-key\n")
    config = tmp_path / "config.yaml"
    config.write_text(block)
    proc = subprocess.run(
        [sys.executable, "-m", "aicode_exporter", "--config.file", str(config), "--config.check"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
