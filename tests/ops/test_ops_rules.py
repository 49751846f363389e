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
    github_anchors,
    load_script,
    markdown_section,
    read_yaml,
    recording_rule_names,
    rule_test_files,
    rules_files,
    run,
    tool,
)

render_rules = load_script(PROMETHEUS_DIR / "render_rules.py")
CONFIG = render_rules.load_config()
# The runbooks, the override example and the rule tables live in prometheus/README.md.
RUNBOOKS = (PROMETHEUS_DIR / "README.md").read_text(encoding="utf-8")


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


def _by_labels(expr: str) -> list[list[str]]:
    return [[x.strip() for x in by.split(",")] for by in re.findall(r"\bby \(([^)]*)\)", expr)]


@pytest.mark.parametrize("record", sorted(recording_rule_names()))
def test_recording_rule_names_follow_the_convention(record: str) -> None:
    """level:metric:operations, where level lists the labels the rule is about (after the
    aggregation labels every rule keeps)."""
    assert re.fullmatch(r"[a-z_]+:aicode_[a-z0-9_]+:[a-z0-9_]+", record), record
    expr = next(r["expr"] for r in all_rules() if r.get("record") == record)
    level = record.split(":")[0]
    aggregation = CONFIG["aggregation_labels"]
    for labels in _by_labels(expr):
        assert labels[: len(aggregation)] == aggregation, (record, labels)
        assert "_".join(labels[len(aggregation) :]) == level, (record, labels)


def test_shipped_aggregation_labels_are_cluster_namespace_job() -> None:
    assert CONFIG["aggregation_labels"] == ["cluster", "namespace", "job"]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.get("alert") or r["record"])
def test_every_aggregation_keeps_the_aggregation_labels(rule: dict[str, Any]) -> None:
    """Every sum/max by (...) keeps cluster, namespace and job, so alerts from two clusters
    stay apart and carry those labels; no `without`, which would keep `instance`."""
    expr = rule["expr"]
    assert "without" not in expr, expr
    # an aggregation without a by (...) clause would drop every label
    assert not re.search(r"\b(sum|max|min|avg|count|topk|bottomk)\s*\(", expr), expr
    for labels in _by_labels(expr):
        assert labels[:3] == ["cluster", "namespace", "job"], (labels, expr)


def test_alerts_carry_severity_summary_description_and_runbook_url() -> None:
    base = CONFIG["runbook_base_url"]
    for rule in all_rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert annotations["summary"].strip(), name
        description = annotations["description"]
        assert 40 < len(description) <= 240 and "\n" not in description, (
            f"{name}: the description is one or two sentences; the runbook says the rest"
        )
        assert annotations["runbook_url"] == f"{base}#{name.lower()}", name


def test_runbook_urls_point_at_runbooks_in_prometheus_readme() -> None:
    """Each alert's runbook_url is prometheus/README.md#<anchor>, a heading under its
    "Alerts" section naming the alert, with what it means and what to do."""
    assert CONFIG["runbook_base_url"].endswith("/prometheus/README.md")
    alerts_section = markdown_section(RUNBOOKS, "## Alerts")
    anchors = github_anchors(RUNBOOKS)
    in_section = github_anchors(alerts_section)
    for rule in all_rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        fragment = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchors.get(fragment) == name, (
            f"prometheus/README.md has no heading {name} (#{fragment})"
        )
        assert in_section.get(fragment) == name, f"the runbook of {name} is not under Alerts"
        runbook = markdown_section(alerts_section, f"### {name}")
        assert len(runbook) > 300, f"{name}: the runbook says too little"
        assert "What to do" in runbook, f"{name}: the runbook lacks what to do"


def test_counters_only_through_rate_or_increase_in_rules() -> None:
    for rule in all_rules():
        expr = rule["expr"]
        for match in re.finditer(r"\baicode_[a-z0-9_]+_total\b", expr):
            before = expr[: match.start()].rstrip()
            assert re.search(r"\b(rate|increase)\($", before), (rule, match.group())
        for fn, name in re.findall(r"\b(rate|irate|increase|delta)\(\s*(aicode_[a-z0-9_]+)", expr):
            assert name.endswith("_total"), f"{fn}() over gauge {name}"


def test_generated_rules_are_up_to_date() -> None:
    rendered = render_rules.render()
    for path, text in [
        (PROMETHEUS_DIR / "rules" / "aicode-recording.rules.yml", rendered.recording),
        (PROMETHEUS_DIR / "rules" / "aicode-alerts.rules.yml", rendered.alerts),
        (REPO / "deploy" / "kubernetes" / "prometheusrule.yaml", rendered.prometheusrule),
    ]:
        assert path.read_text() == text, f"{path}: run python prometheus/render_rules.py"
    assert render_rules.main(["--check"]) == 0


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


def _render(tmp_path: Path, config: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Render `config` into tmp_path; (alert rules by name, recording rules), promtool-checked."""
    out = tmp_path / "out"
    code = render_rules.main(
        [
            "--config",
            str(config),
            "--alerts-out",
            str(out / "aicode-alerts.rules.yml"),
            "--prometheusrule-out",
            str(out / "pr.yaml"),
        ]
    )
    assert code == 0
    alerts = out / "aicode-alerts.rules.yml"
    recording = out / "aicode-recording.rules.yml"  # next to --alerts-out
    assert_ok(run([tool("promtool"), "check", "rules", str(recording), str(alerts)]))
    rules = {r["alert"]: r for r in read_yaml(alerts)["groups"][0]["rules"]}
    return rules, read_yaml(recording)["groups"][0]["rules"]


def _render_override(
    tmp_path: Path, text: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """_render of an override file holding `text`."""
    config = tmp_path / "my-alerts.yaml"
    config.write_text(text, encoding="utf-8")
    return _render(tmp_path, config)


def test_a_partial_override_merges_over_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "my-alerts.yaml"
    config.write_text("alerts:\n  AicodeAIShareLow:\n    threshold: 0.35\n", encoding="utf-8")
    rules, recording = _render(tmp_path, config)
    default = {r["alert"]: r for r in render_rules.alert_groups(CONFIG)[0]["rules"]}
    assert set(rules) == set(default) == alert_names()
    assert rules["AicodeAIShareLow"]["expr"].endswith("< 0.35")
    assert rules["AicodeAIShareLow"]["for"] == "6h"
    assert rules["AicodeAIShareLow"]["labels"] == {"severity": "info"}
    for name, rule in rules.items():
        if name != "AicodeAIShareLow":
            assert rule == default[name], name
    assert {r["record"] for r in recording} == recording_rule_names()


def test_the_documented_override_example_renders_as_written(tmp_path: Path) -> None:
    """The my-alerts.yaml of prometheus/README.md > Changing thresholds and selectors: only
    what differs."""
    section = markdown_section(RUNBOOKS, "## Changing thresholds and selectors")
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert blocks, "no yaml example under Changing thresholds and selectors"
    example = yaml.safe_load(blocks[0])
    assert set(example["alerts"]) == {"AicodeAIShareLow"}, "the example is a partial override"
    config = tmp_path / "my-alerts.yaml"
    config.write_text(blocks[0], encoding="utf-8")
    rules, recording = _render(tmp_path, config)
    assert set(rules) == alert_names()
    assert rules["AicodeAIShareLow"]["expr"].endswith(
        f"< {render_rules.num(example['alerts']['AicodeAIShareLow']['threshold'])}"
    )
    for rule in rules.values():
        assert rule["labels"].items() >= example.get("extra_labels", {}).items()
        base = example.get("runbook_base_url", CONFIG["runbook_base_url"])
        assert rule["annotations"]["runbook_url"].startswith(base + "#")
    assert recording
    # and the repository's own files are still what the shipped config renders
    assert render_rules.main(["--check"]) == 0


def test_the_documented_budget_example_adds_to_the_shipped_limits(tmp_path: Path) -> None:
    section = markdown_section(RUNBOOKS, "## Changing thresholds and selectors")
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    block = next(b for b in blocks if "budgets_usd" in b)
    rules, recording = _render_override(tmp_path, block)
    budgets = {
        (r["labels"]["provider"], r["labels"]["org"]): r["expr"]
        for r in recording
        if r["record"] == render_rules.BUDGET
    }
    assert budgets == {
        ("cursor", "acme"): "vector(5000)",
        ("cursor", "acme-contractors"): "vector(800)",
    }
    stale = rules["AicodeDailyFiguresStale"]["expr"]
    assert 'provider="claude_code"' in stale and 'provider="copilot"' in stale


@pytest.mark.parametrize(
    ("labels", "by"),
    [
        ([], "provider, org, endpoint, code"),
        (["cluster"], "cluster, provider, org, endpoint, code"),
        (["tenant", "job"], "tenant, job, provider, org, endpoint, code"),
    ],
)
def test_aggregation_labels_are_configurable(tmp_path: Path, labels: list[str], by: str) -> None:
    config = tmp_path / "my-alerts.yaml"
    config.write_text(yaml.safe_dump({"aggregation_labels": labels}), encoding="utf-8")
    rules, recording = _render(tmp_path, config)
    assert f"sum by ({by}) (" in rules["AicodeAuthFailing"]["expr"]
    level_by = ", ".join([*labels, "provider", "org"])
    for rule in recording:
        assert re.search(rf"\b(sum|max) by \({re.escape(level_by)}\b", rule["expr"]), rule


def test_runbook_base_url_is_configurable(tmp_path: Path) -> None:
    config = tmp_path / "my-alerts.yaml"
    base = "https://git.example.com/devex/aicode-exporter/-/blob/main/README.md"
    config.write_text(f"runbook_base_url: {base}\n", encoding="utf-8")
    rules, _ = _render(tmp_path, config)
    for name, rule in rules.items():
        assert rule["annotations"]["runbook_url"] == f"{base}#{name.lower()}"


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
        ({"aggregation_labels": "cluster"}, "aggregation_labels"),
        ({"aggregation_labels": ["cluster", "clu-ster"]}, "aggregation_labels"),
        ({"runbook_base_url": "README.md#alerts"}, "runbook_base_url"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(render_rules.ConfigError, match=re.escape(message)):
        render_rules.render(_override(tmp_path, change))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("alerts:\n  AicodeDataStale: {max_age: an hour}\n", "alerts.AicodeDataStale.max_age"),
        ("alerts:\n  AicodeDataStal: {max_age: 2h}\n", "AicodeDataStal"),
        ("alerts:\n  AicodeAuthFailing: {colour: red}\n", "alerts.AicodeAuthFailing.colour"),
        ("- a list\n", "mapping"),
    ],
)
def test_a_bad_partial_override_names_the_key(tmp_path: Path, override: str, message: str) -> None:
    config = tmp_path / "my-alerts.yaml"
    config.write_text(override, encoding="utf-8")
    with pytest.raises(render_rules.ConfigError, match=re.escape(message)) as err:
        render_rules.render(config)
    assert str(config) in str(err.value)
    assert render_rules.main(["--config", str(config), "--check"]) == 2


# --- budgets and per-provider limits ----------------------------------------------------


def test_budgets_render_as_recorded_constants_the_alert_divides_by(tmp_path: Path) -> None:
    """Each budgets_usd entry becomes one constant series labelled with its provider and org;
    with them, AicodeSpendOverBudget fires for the organisation over its own budget only."""
    rules, recording = _render_override(
        tmp_path,
        "alerts:\n  AicodeSpendOverBudget:\n    budgets_usd:\n"
        "      cursor/acme: 1000\n      cursor/big team: 2500.5\n",
    )
    budgets = [r for r in recording if r["record"] == render_rules.BUDGET]
    assert budgets == [
        {"record": render_rules.BUDGET, "expr": "vector(1000)",
         "labels": {"provider": "cursor", "org": "acme"}},
        {"record": render_rules.BUDGET, "expr": "vector(2500.5)",
         "labels": {"provider": "cursor", "org": "big team"}},
    ]
    assert render_rules.BUDGET in rules["AicodeSpendOverBudget"]["expr"]
    out = tmp_path / "out"
    test = {
        "rule_files": ["aicode-recording.rules.yml", "aicode-alerts.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'aicode_billing_cycle_spend_usd{provider="cursor", org="acme"}',
                     "values": "1200x30"},
                    {"series": 'aicode_billing_cycle_spend_usd{provider="cursor", org="big team"}',
                     "values": "1200x30"},
                ],
                "alert_rule_test": [
                    {"alertname": "AicodeSpendOverBudget", "eval_time": "20m",
                     "exp_alerts": [{
                         "exp_labels": {"severity": "warning", "provider": "cursor",
                                        "org": "acme"},
                         "exp_annotations": {
                             **{k: v.replace("{{ $labels.provider }}/{{ $labels.org }}",
                                             "cursor/acme")
                                for k, v in rules["AicodeSpendOverBudget"]["annotations"].items()
                                if k != "summary"},
                             "summary": "cursor/acme has spent 120% of its billing-cycle budget",
                         },
                     }]},
                ],
            }
        ],
    }
    (out / "budget_test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    assert_ok(run([tool("promtool"), "test", "rules", str(out / "budget_test.yml")]))


def test_no_budget_no_budget_rule(tmp_path: Path) -> None:
    """The shipped config has no budgets (the alert cannot fire); `budgets_usd:` written
    empty is the same."""
    assert CONFIG["alerts"]["AicodeSpendOverBudget"]["budgets_usd"] == {}
    assert render_rules.BUDGET not in recording_rule_names()
    rules, recording = _render_override(
        tmp_path, "alerts:\n  AicodeSpendOverBudget:\n    budgets_usd:\n"
    )
    assert {r["record"] for r in recording} == recording_rule_names()
    assert "AicodeSpendOverBudget" in rules


def test_daily_figures_limit_per_provider(tmp_path: Path) -> None:
    """A provider in max_age_by_provider gets its own limit; every other provider max_age.
    An override adds to the shipped copilot entry."""
    shipped = CONFIG["alerts"]["AicodeDailyFiguresStale"]
    assert shipped["max_age_by_provider"] == {"copilot": "5d"}
    rules, _ = _render_override(
        tmp_path,
        "alerts:\n  AicodeDailyFiguresStale:\n    max_age: 2d\n"
        "    max_age_by_provider: {claude_code: 36h}\n",
    )
    rule = rules["AicodeDailyFiguresStale"]
    parts = rule["expr"].split("\nor\n")
    assert len(parts) == 3, rule["expr"]
    assert 'provider="claude_code"}) > 129600' in parts[0]
    assert 'provider="copilot"}) > 432000' in parts[1]
    assert 'provider!~"claude_code|copilot"}) > 172800' in parts[2]
    assert (
        '{{ if eq $labels.provider "claude_code" }}36h{{ else }}'
        '{{ if eq $labels.provider "copilot" }}5d{{ else }}2d{{ end }}{{ end }}'
    ) in rule["annotations"]["description"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("AicodeSpendOverBudget: {budgets_usd: {cursor: 100}}",
         "alerts.AicodeSpendOverBudget.budgets_usd: key 'cursor' is not provider/org"),
        ("AicodeSpendOverBudget: {budgets_usd: {cursor/acme: -5}}",
         "alerts.AicodeSpendOverBudget.budgets_usd.cursor/acme: -5 is not an amount"),
        ("AicodeSpendOverBudget: {budgets_usd: [cursor/acme]}",
         "alerts.AicodeSpendOverBudget.budgets_usd: ['cursor/acme'] is not a mapping"),
        ("AicodeDailyFiguresStale: {max_age_by_provider: {Copilot: 5d}}",
         "alerts.AicodeDailyFiguresStale.max_age_by_provider: key 'Copilot' is not a provider"),
        ("AicodeDailyFiguresStale: {max_age_by_provider: {copilot: 5 days}}",
         "alerts.AicodeDailyFiguresStale.max_age_by_provider.copilot: '5 days' is not a "
         "Prometheus duration"),
        ("AicodeSeatUtilisationLow: {threshold: 50}", "alerts.AicodeSeatUtilisationLow.threshold"),
    ],
)
def test_bad_budgets_and_limits_name_the_key(tmp_path: Path, override: str, message: str) -> None:
    config = tmp_path / "my-alerts.yaml"
    config.write_text(f"alerts:\n  {override}\n", encoding="utf-8")
    with pytest.raises(render_rules.ConfigError, match=re.escape(message)):
        render_rules.render(config)
