"""Prometheus recording and alerting rules: promtool checks, unit tests, generator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.helpers import (
    PROMETHEUS_DIR,
    REPO,
    alert_names,
    all_rules,
    assert_ok,
    load_script,
    read_yaml,
    recording_rule_names,
    rule_test_files,
    rules_files,
    run,
    tool,
)

render_rules = load_script(PROMETHEUS_DIR / "render_rules.py")


def test_rules_files_exist() -> None:
    names = {p.name for p in rules_files()}
    assert names == {"aicode-recording.rules.yml", "aicode-alerts.rules.yml"}


def test_promtool_check_rules() -> None:
    proc = run([tool("promtool"), "check", "rules", *map(str, rules_files())])
    assert_ok(proc)


def test_promtool_unit_tests_pass() -> None:
    files = rule_test_files()
    assert files, "no prometheus/tests/*_test.yml"
    proc = run([tool("promtool"), "test", "rules", *map(str, files)], timeout=120)
    assert_ok(proc)


def _unit_tests() -> list[dict[str, Any]]:
    return [test for path in rule_test_files() for test in read_yaml(path)["tests"]]


def test_unit_tests_load_every_rules_file_they_need() -> None:
    for path in rule_test_files():
        loaded = {(path.parent / f).resolve() for f in read_yaml(path)["rule_files"]}
        assert loaded <= {p.resolve() for p in rules_files()}, path
        assert (PROMETHEUS_DIR / "rules" / "aicode-recording.rules.yml").resolve() in loaded


@pytest.mark.parametrize("alert", sorted(alert_names()))
def test_every_alert_has_a_firing_and_a_quiet_case(alert: str) -> None:
    cases = [
        case
        for test in _unit_tests()
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(case.get("exp_alerts") for case in cases), f"{alert}: no firing case"
    assert any(not case.get("exp_alerts") for case in cases), f"{alert}: no not-firing case"


@pytest.mark.parametrize("record", sorted(recording_rule_names()))
def test_every_recording_rule_has_expected_samples(record: str) -> None:
    cases = [
        case
        for test in _unit_tests()
        for case in test.get("promql_expr_test", [])
        if case["expr"].strip() == record
    ]
    assert any(case.get("exp_samples") for case in cases), f"{record}: no expected samples"


@pytest.mark.parametrize("record", sorted(recording_rule_names()))
def test_recording_rule_names_follow_the_convention(record: str) -> None:
    """level:metric:operations, where level lists the labels the rule keeps."""
    assert re.fullmatch(r"[a-z_]+:aicode_[a-z0-9_]+:[a-z0-9_]+", record), record
    expr = next(r["expr"] for r in all_rules() if r.get("record") == record)
    level = record.split(":")[0]
    for by in re.findall(r"\bby \(([^)]*)\)", expr):
        assert "_".join(label.strip() for label in by.split(",")) == level, (record, by)


def test_alerts_carry_severity_summary_and_runbook() -> None:
    for rule in all_rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"].strip(), name
        description = rule["annotations"]["description"]
        assert len(description) > 200, f"{name}: description is not a runbook"


def test_counters_only_through_rate_or_increase_in_rules() -> None:
    for rule in all_rules():
        expr = rule["expr"]
        for match in re.finditer(r"\baicode_[a-z0-9_]+_total\b", expr):
            before = expr[: match.start()].rstrip()
            assert re.search(r"\b(rate|increase)\($", before), (rule, match.group())
        for fn, name in re.findall(r"\b(rate|irate|increase|delta)\(\s*(aicode_[a-z0-9_]+)", expr):
            assert name.endswith("_total"), f"{fn}() over gauge {name}"


def test_generated_rules_are_up_to_date() -> None:
    alerts, prometheusrule = render_rules.render()
    assert (PROMETHEUS_DIR / "rules" / "aicode-alerts.rules.yml").read_text() == alerts, (
        "run: python prometheus/render_rules.py"
    )
    assert (REPO / "deploy" / "kubernetes" / "prometheusrule.yaml").read_text() == (
        prometheusrule
    ), "run: python prometheus/render_rules.py"


def _override(tmp_path: Path, change: dict[str, Any]) -> Path:
    config = read_yaml(PROMETHEUS_DIR / "alerts.config.yaml")
    for key, value in change.items():
        target = config
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    path = tmp_path / "alerts.config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_overrides_render_into_valid_rules(tmp_path: Path) -> None:
    config = _override(
        tmp_path,
        {
            "job_selector": 'job="ai-exporter"',
            "org_selector": 'org!="sandbox"',
            "extra_labels": {"team": "devex"},
            "alerts.AicodeAIShareLow.threshold": 0.35,
            "alerts.AicodeDataStale.max_age": "2h",
            "alerts.AicodeEndpointDown.for": "30m",
            "alerts.AicodeRateLimited.enabled": False,
        },
    )
    out = tmp_path / "alerts.yml"
    code = render_rules.main(
        [
            "--config",
            str(config),
            "--alerts-out",
            str(out),
            "--prometheusrule-out",
            str(tmp_path / "pr.yaml"),
        ]
    )
    assert code == 0
    rules = {r["alert"]: r for r in read_yaml(out)["groups"][0]["rules"]}
    assert "AicodeRateLimited" not in rules
    assert 'up{job="ai-exporter"}' in rules["AicodeExporterDown"]["expr"]
    assert rules["AicodeAIShareLow"]["expr"].endswith("< 0.35")
    assert 'org!="sandbox"' in rules["AicodeAIShareLow"]["expr"]
    assert "> 7200" in rules["AicodeDataStale"]["expr"]
    assert rules["AicodeEndpointDown"]["for"] == "30m"
    assert all(r["labels"]["team"] == "devex" for r in rules.values())
    assert_ok(run([tool("promtool"), "check", "rules", str(out)]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alerts.AicodeDataStale.max_age": "an hour"}, "alerts.AicodeDataStale.max_age"),
        ({"alerts.AicodeAIShareLow.threshold": 20}, "alerts.AicodeAIShareLow.threshold"),
        ({"alerts.AicodeAuthFailing.colour": "red"}, "alerts.AicodeAuthFailing.colour"),
        ({"alerts.AicodeEndpointDown.severity": "page"}, "alerts.AicodeEndpointDown.severity"),
        ({"job_selectr": "job=x"}, "job_selectr"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(render_rules.ConfigError, match=re.escape(message)):
        render_rules.render(_override(tmp_path, change))
