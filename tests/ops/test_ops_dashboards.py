"""Grafana dashboards: structure, data source handling, metric names, generator in sync."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops.helpers import (
    DASHBOARD_DIR,
    PROMETHEUS_DIR,
    REPO,
    contract_aggregates,
    contract_metrics,
    dashboards,
    load_script,
    metric_labels,
    metric_names,
    panels,
    queries,
    read_yaml,
    recording_rule_names,
)

build_dashboards = load_script(REPO / "grafana" / "build_dashboards.py")
render_rules = load_script(PROMETHEUS_DIR / "render_rules.py")

EXPECTED_UIDS = {
    "aicode-adoption",
    "aicode-repositories",
    "aicode-people",
    "aicode-exporter-health",
    "aicode-teams",
}
DS_VARIABLE = {"${datasource}", "$datasource"}
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval", "__interval_ms", "__range_s"}

DASHBOARDS = dashboards()


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_the_dashboards_exist_with_stable_unique_uids() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids)), uids
    assert set(uids) == EXPECTED_UIDS
    for name, dash in DASHBOARDS.items():
        assert name == f"{dash['uid']}.json"
        assert dash["title"] and dash.get("id") is None, name


def test_committed_json_is_what_the_generator_writes() -> None:
    rendered = build_dashboards.render()
    assert set(rendered) == {p.name for p in DASHBOARD_DIR.glob("*.json")}
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} is out of date: run python grafana/build_dashboards.py"
        )


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_unique_and_grid_positions_valid(name: str) -> None:
    ids = [p["id"] for p in panels(DASHBOARDS[name])]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    for panel in panels(DASHBOARDS[name]):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, (name, panel["title"])


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_template_variables(name: str) -> None:
    variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for var in ("provider", "org"):
        assert variables[var]["type"] == "query", var
        assert variables[var]["multi"] and variables[var]["includeAll"], var
        assert "label_values(" in variables[var]["definition"], var
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"]["uid"] in DS_VARIABLE, var["name"]
    used: set[str] = set()
    for _, target in queries(DASHBOARDS[name]):
        used |= set(re.findall(r"\$\{?(\w+)", target["expr"]))
    for var in variables.values():
        used |= set(re.findall(r"\$\{?(\w+)", json.dumps(var.get("query", ""))))
    undefined = used - set(variables) - BUILTIN_VARIABLES
    assert not undefined, f"{name}: queries use undefined variables {undefined}"
    if "window" in used:
        window = variables["window"]
        assert "label_values(aicode_ai_share_ratio" in window["definition"]
        assert window["definition"].endswith(", window)")


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_no_hard_coded_data_source(name: str) -> None:
    for path, node in _walk(DASHBOARDS[name]):
        if path.endswith(".datasource") and node is not None:
            uid = node.get("uid") if isinstance(node, dict) else node
            assert uid in DS_VARIABLE, f"{name}{path}: data source {node!r} is hard-coded"
    for panel, target in queries(DASHBOARDS[name]):
        assert target["datasource"]["uid"] in DS_VARIABLE, panel["title"]
        assert panel["datasource"]["uid"] in DS_VARIABLE, panel["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_describe_what_they_show_and_where_it_comes_from(name: str) -> None:
    for panel in panels(DASHBOARDS[name]):
        if panel["type"] == "row":
            continue
        description = panel.get("description", "")
        assert len(description) > 40, f"{name}: {panel['title']} lacks a description"
        assert panel.get("targets"), f"{name}: {panel['title']} has no query"
        for target in panel["targets"]:
            for metric in metric_names(target["expr"]):
                assert f"`{metric}`" in description, (panel["title"], metric)
        if any(n in description for n in ("overview", "daily-trend", "member-ranking")):
            assert "GET /v1/organizations/" in description, panel["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_metric_exists_in_contract_or_recording_rules(name: str) -> None:
    known = set(contract_metrics()) | recording_rule_names()
    for panel, target in queries(DASHBOARDS[name]):
        unknown = metric_names(target["expr"]) - known
        assert not unknown, f"{name}: {panel['title']} uses {unknown} ({target['expr']})"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_counters_through_rate_or_increase_and_gauges_never(name: str) -> None:
    for panel, target in queries(DASHBOARDS[name]):
        expr = target["expr"]
        for match in re.finditer(r"\baicode_[a-z0-9_]+_total\b", expr):
            before = expr[: match.start()].rstrip()
            assert re.search(r"\b(rate|increase)\($", before), (panel["title"], expr)
            after = expr[match.end() :]
            window = re.match(r"\{[^}]*\}\[(\$__rate_interval|\$__range)\]", after)
            assert window, f"{panel['title']}: counter window must be $__rate_interval/$__range"
        for fn, metric in re.findall(r"\b(rate|irate|increase|delta|deriv)\(\s*(\w+)", expr):
            assert metric.endswith("_total"), f"{panel['title']}: {fn}() over gauge {metric}"


def test_aggregate_panels_select_one_window() -> None:
    """Aggregates carry `window`: a query picks $window or keeps window apart with by()."""
    windowed = contract_aggregates()
    assert "aicode_ai_share_ratio" in windowed and "aicode_daily_commits" not in windowed
    for dash in DASHBOARDS.values():
        for panel, target in queries(dash):
            expr = target["expr"]
            for metric in metric_names(expr) & windowed:
                keeps_windows = re.search(r"by \([^)]*\bwindow\b", expr)
                for selector in re.findall(rf"\b{metric}\{{([^}}]*)\}}", expr):
                    assert 'window="$window"' in selector or keeps_windows, (
                        f"{panel['title']}: {metric} mixes windows in {expr}"
                    )


def test_every_dashboard_is_provisioned() -> None:
    provider = read_yaml(REPO / "grafana" / "provisioning" / "dashboards" / "aicode.yml")
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    compose = read_yaml(REPO / "docker-compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{entry['options']['path']}:ro" in mounts
    datasources = read_yaml(REPO / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"


# --- repo, user and team variables ------------------------------------------------------

# dashboard uid -> the label variables it filters by
LABEL_VARIABLES = {
    "aicode-repositories": {"repo"},
    "aicode-people": {"user"},
    "aicode-teams": {"team"},
}


@pytest.mark.parametrize(("uid", "names"), sorted(LABEL_VARIABLES.items()))
def test_repo_user_and_team_variables(uid: str, names: set[str]) -> None:
    (dash,) = (d for d in DASHBOARDS.values() if d["uid"] == uid)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    for name in names:
        var = variables[name]
        assert var["type"] == "query" and var["multi"] and var["includeAll"], name
        assert var["allValue"] == ".*", name
        match = re.fullmatch(
            r"label_values\(\{__name__=~\"([^\"]+)\", (.*)\}, (\w+)\)", var["query"]
        )
        assert match and match.group(3) == name, var["query"]
        assert match.group(2) == 'provider=~"$provider", org=~"$org"', var["query"]
        for metric in match.group(1).split("|"):
            assert name in metric_labels(metric), (name, metric)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_filter_by_the_label_variables_where_the_label_exists(name: str) -> None:
    dash = DASHBOARDS[name]
    variables = {v["name"] for v in dash["templating"]["list"]}
    for label in {"repo", "user", "team"}:
        assert (label in variables) == (label in LABEL_VARIABLES.get(dash["uid"], set())), label
        if label not in variables:
            continue
        for panel, target in queries(dash):
            for metric, matchers in re.findall(r"\b([a-z_:0-9]+)\{([^}]*)\}", target["expr"]):
                if label in metric_labels(metric):
                    assert f'{label}=~"${label}"' in matchers, (panel["title"], metric)


# --- thresholds shared with the alerts --------------------------------------------------


def _panel(dash_uid: str, title: str, dashes: dict[str, Any] | None = None) -> dict[str, Any]:
    dashes = dashes or {d["uid"]: d for d in DASHBOARDS.values()}
    (found,) = (p for p in panels(dashes[dash_uid]) if p["title"] == title)
    return found


def _red_from(panel: dict[str, Any]) -> float:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    (red,) = (s["value"] for s in steps if s["color"] == "red" and s["value"] is not None)
    return float(red)


def _share_panels(dashes: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(title, thresholds) of every panel or table column showing an AI share."""
    for dash in dashes.values():
        for panel in panels(dash):
            if panel["type"] == "row":
                continue
            defaults = panel["fieldConfig"]["defaults"]
            if "share" in panel["title"].lower() and defaults["unit"] == "percentunit":
                yield panel["title"], defaults["thresholds"]
            for override in panel["fieldConfig"]["overrides"]:
                if "share" in override["matcher"]["options"].lower():
                    props = {p["id"]: p["value"] for p in override["properties"]}
                    yield (
                        f"{panel['title']} / {override['matcher']['options']}",
                        props["thresholds"],
                    )


def _check_thresholds(dashes: dict[str, Any], config: dict[str, Any]) -> None:
    alerts = config["alerts"]
    stale = render_rules.seconds(alerts["AicodeDataStale"]["max_age"])
    record = render_rules.seconds(alerts["AicodeRecordStreamStale"]["max_age"])
    share = alerts["AicodeAIShareLow"]["threshold"]
    health = "aicode-exporter-health"
    for title in ("Time since last successful poll", "Last successful poll, oldest endpoint"):
        assert _red_from(_panel(health, title, dashes)) == stale, title
    assert _red_from(_panel(health, "Newest record age", dashes)) == record
    assert _red_from(_panel("aicode-adoption", "AI share trend", dashes)) == share
    team_trend = _panel("aicode-teams", "AI share trend per team, trailing 1d (tracking)", dashes)
    assert _red_from(team_trend) == share
    shares = list(_share_panels(dashes))
    assert len(shares) >= 6, shares
    for title, thresholds in shares:
        steps = [(s["color"], s["value"]) for s in thresholds["steps"]]
        assert steps in (
            [("red", None), ("green", share)],
            [("transparent", None), ("red", share)],
        ), (
            title,
            steps,
        )


def test_thresholds_match_the_alerts() -> None:
    """Data older than the staleness alerts' max_age and AI shares below AicodeAIShareLow's
    threshold show red, read from prometheus/alerts.config.yaml."""
    _check_thresholds({d["uid"]: d for d in DASHBOARDS.values()}, render_rules.load_config())


def test_thresholds_follow_an_alerts_override(tmp_path: Path) -> None:
    config = tmp_path / "my-alerts.yaml"
    config.write_text(
        "alerts:\n  AicodeAIShareLow: {threshold: 0.35}\n  AicodeDataStale: {max_age: 2h}\n"
        "  AicodeRecordStreamStale: {max_age: 5d}\n",
        encoding="utf-8",
    )
    out = tmp_path / "dashboards"
    assert build_dashboards.main(["--alerts-config", str(config), "--out-dir", str(out)]) == 0
    dashes = {d["uid"]: d for d in (json.loads(p.read_text()) for p in out.glob("*.json"))}
    assert len(dashes) == len(DASHBOARDS)
    _check_thresholds(dashes, render_rules.load_config(config))
    assert _red_from(_panel("aicode-exporter-health", "Newest record age", dashes)) == 5 * 86400


# --- the teams dashboard ----------------------------------------------------------------


def test_teams_dashboard() -> None:
    """Filled from the per-team counters; says that a user in several teams counts in each;
    shows the AI share per team, changes per team by source, a league table and the map."""
    (dash,) = (d for d in DASHBOARDS.values() if d["uid"] == "aicode-teams")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert set(variables) == {"datasource", "provider", "org", "team"}
    assert "aicode_team_commits_total" in variables["team"]["definition"]
    assert "counts in each" in dash["description"]
    shown = [p for p in panels(dash) if p["type"] != "row"]
    for panel in shown:
        exprs = " ".join(t["expr"] for t in panel["targets"])
        if "aicode_team_" in exprs:
            assert "counts in each" in panel["description"], panel["title"]
            assert "team" in exprs.split("by (", 1)[1].split(")")[0], panel["title"]
    used = set().union(*(metric_names(t["expr"]) for _, t in queries(dash)))
    assert {
        "aicode_team_commits_total",
        "aicode_team_commit_lines_added_total",
        "aicode_team_changes_total",
        "aicode_team_change_lines_added_total",
        "provider_org_team:aicode_team_commit_ai_lines_added_per_lines_added:ratio_rate1d",
        "aicode_teams_map_rows",
        "aicode_teams_map_load_ok",
        "aicode_teams_map_last_load_timestamp_seconds",
    } <= used, used
    league = _panel("aicode-teams", "Team league table in range (tracking)")
    columns = league["transformations"][1]["options"]["renameByName"].values()
    assert {"commits", "lines added", "AI share", "AI changes"} <= set(columns)
    status = _panel("aicode-teams", "Teams map file status")
    assert "AicodeTeamsMapBroken" in status["description"]
    (mapping,) = status["fieldConfig"]["defaults"]["mappings"]
    assert mapping["options"]["0"] == {"text": "BROKEN", "color": "red", "index": 0}
