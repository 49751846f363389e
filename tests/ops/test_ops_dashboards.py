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
    dashboards,
    load_script,
    metric_labels,
    metric_names,
    panels,
    queries,
    read_yaml,
    readable_metrics,
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
    "aicode-cost",
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
    """Catalogue metrics, shared templates and recording rules (those a budget in the alerts
    config renders included)."""
    known = set(readable_metrics()) | render_rules.record_names()
    assert recording_rule_names() <= render_rules.record_names()
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


def _build_with(tmp_path: Path, overrides: str) -> tuple[dict[str, Any], Path]:
    """The dashboards built with an alerts override file holding `overrides` (by uid), and
    that file."""
    config = tmp_path / "my-alerts.yaml"
    config.write_text(overrides, encoding="utf-8")
    out = tmp_path / "dashboards"
    assert build_dashboards.main(["--alerts-config", str(config), "--out-dir", str(out)]) == 0
    return {d["uid"]: d for d in (json.loads(p.read_text()) for p in out.glob("*.json"))}, config


def test_thresholds_follow_an_alerts_override(tmp_path: Path) -> None:
    dashes, config = _build_with(
        tmp_path,
        "alerts:\n  AicodeAIShareLow: {threshold: 0.35}\n  AicodeDataStale: {max_age: 2h}\n"
        "  AicodeRecordStreamStale: {max_age: 5d}\n",
    )
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


# --- daily figures, the vendors being added, cost and seats -----------------------------

_RECORDED = re.compile(r"\b[a-z_]+:aicode_[a-z0-9_]+:[a-z0-9_]+\b")
_DAILY_FORM = re.compile(
    r"\((aicode_daily_[a-z0-9_]+\{[^}]*\}) or on \(provider, org\) last_over_time\(\1\[1d\]\)\)"
)
_WEEK_FORM = re.compile(r"max_over_time\(aicode_daily_[a-z0-9_]+\{[^}]*\}\[\d+[dw]\]\)")


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_daily_gauges_render_from_one_sample_per_day(name: str) -> None:
    """Every aicode_daily_* gauge is read live or, for an organisation without a live sample
    (backfilled history: one sample per day), as the newest sample of the last day; the
    seat panel that shows what the alert sees reads the maximum of a week."""
    for panel, target in queries(DASHBOARDS[name]):
        rest = _RECORDED.sub("", target["expr"])
        rest = _WEEK_FORM.sub("", _DAILY_FORM.sub("", rest))
        assert "aicode_daily_" not in rest, (panel["title"], target["expr"])


def _dash(uid: str, dashes: dict[str, Any] | None = None) -> dict[str, Any]:
    dashes = dashes or {d["uid"]: d for d in DASHBOARDS.values()}
    return dashes[uid]


def test_adoption_shows_every_vendor_side_by_side_over_90_days() -> None:
    dash = _dash("aicode-adoption")
    assert dash["time"] == {"from": "now-90d", "to": "now"}
    provider = next(v for v in dash["templating"]["list"] if v["name"] == "provider")
    assert provider["multi"] and provider["includeAll"]
    assert provider["current"]["value"] == ["$__all"]
    exprs = {p["title"]: [t["expr"] for t in p["targets"]] for p in panels(dash) if "targets" in p}
    ratio = exprs["Acceptance ratio by feature"][0]
    part, whole = ratio.split(" / ")
    assert part.startswith("sum by (provider, feature) ((aicode_daily_suggestions_accepted{")
    assert whole.startswith("sum by (provider, feature) ((aicode_daily_suggestions{")
    surfaces = exprs["Daily active users by surface"][0]
    assert "sum by (provider, surface)" in surfaces and 'surface!="all"' in surfaces
    for title in ("Tab suggestions and accepts per day", "Tab acceptance ratio per day"):
        assert all("by (provider" in e for e in exprs[title]), title
    used = set().union(*(metric_names(t["expr"]) for _, t in queries(dash)))
    assert {
        "aicode_daily_active_users",
        "aicode_daily_suggestions",
        "aicode_daily_suggestions_accepted",
        "aicode_daily_lines_suggested",
        "aicode_daily_lines_accepted",
        "aicode_daily_team_active_users",
        "aicode_daily_team_lines_accepted",
        "aicode_daily_tab_suggestions",
        "aicode_daily_tab_accepts",
        "aicode_daily_tab_accept_ratio",
    } <= used


def test_cost_dashboard() -> None:
    """Seats against daily active users, spend this cycle (by billing group, against the
    budget), cost and tokens by model from the daily figures and the usage counters."""
    dash = _dash("aicode-cost")
    used = set().union(*(metric_names(t["expr"]) for _, t in queries(dash)))
    assert {
        "aicode_seats",
        "aicode_daily_active_users",
        build_dashboards.SEAT_RATIO,
        "aicode_billing_cycle_spend_usd",
        "aicode_billing_cycle_start_timestamp_seconds",
        "aicode_billing_group_spend_usd",
        build_dashboards.BUDGET,
        "aicode_daily_cost_usd",
        "aicode_daily_tokens",
        "aicode_usage_cost_usd_total",
        "aicode_usage_tokens_total",
        "aicode_usage_requests_total",
    } <= used
    # Qoder's credits show once the vendor declares them
    assert ("aicode_credits_used_total" in used) == (
        "aicode_credits_used_total" in build_dashboards.SOURCES
    )
    spend = _panel("aicode-cost", "Spend this billing cycle")
    assert spend["fieldConfig"]["defaults"]["unit"] == "currencyUSD"


def _utilisation_red_below(panel: dict[str, Any]) -> float:
    thresholds = panel["fieldConfig"]["defaults"]["thresholds"]
    steps = [(s["color"], s["value"]) for s in thresholds["steps"]]
    assert steps[0] == ("red", None), steps
    return float(steps[1][1])


def _check_cost_and_daily_thresholds(dashes: dict[str, Any], config: dict[str, Any]) -> None:
    alerts = config["alerts"]
    seats = alerts["AicodeSeatUtilisationLow"]
    for title in ("Seat utilisation, newest day",
                  f"Seat utilisation, busiest day of the last {seats['window']}"):
        assert _utilisation_red_below(_panel("aicode-cost", title, dashes)) == seats["threshold"]
    trend = _panel("aicode-cost", "Seat utilisation trend", dashes)
    assert _red_from(trend) == seats["threshold"]
    stale = alerts["AicodeDailyFiguresStale"]
    age = _panel("aicode-exporter-health", "Daily figures: age of the newest day", dashes)
    assert _red_from(age) == render_rules.seconds(stale["max_age"])
    own = {
        o["matcher"]["options"]: o["properties"][0]["value"]["steps"][1]["value"]
        for o in age["fieldConfig"]["overrides"]
    }
    assert own == {
        f"^{p}/.*": render_rules.seconds(a) for p, a in stale["max_age_by_provider"].items()
    }


def test_seat_and_daily_age_thresholds_match_the_alerts(tmp_path: Path) -> None:
    _check_cost_and_daily_thresholds(
        {d["uid"]: d for d in DASHBOARDS.values()}, render_rules.load_config()
    )
    dashes, config = _build_with(
        tmp_path,
        "alerts:\n  AicodeSeatUtilisationLow: {threshold: 0.7, window: 14d}\n"
        "  AicodeDailyFiguresStale: {max_age: 2d, max_age_by_provider: {claude_code: 36h}}\n",
    )
    _check_cost_and_daily_thresholds(dashes, render_rules.load_config(config))


def test_a_panel_waits_until_a_vendor_declares_its_metrics() -> None:
    """A query reading a metric no vendor declares is left out, a panel without queries
    and a row without panels too; --markdown lists them."""
    b = build_dashboards
    known = b.t("sum(aicode_up)", "up")
    unknown = b.t("sum(aicode_not_declared_yet)", "x")
    dash = b.dashboard(
        "x",
        "X",
        "test",
        [
            b.row("kept"),
            b.stat("Partly there", "a panel with one query of two left", [known, unknown]),
            b.row("dropped"),
            b.stat("Not there", "a panel whose only query waits", [unknown]),
        ],
        [],
    )
    assert [p["title"] for p in dash["panels"]] == ["kept", "Partly there"]
    assert [t["expr"] for t in dash["panels"][1]["targets"]] == ["sum(aicode_up)"]
    assert dash[b.WAITING] == [
        {"panel": "Partly there", "metrics": ["aicode_not_declared_yet"], "whole": False},
        {"panel": "Not there", "metrics": ["aicode_not_declared_yet"], "whole": True},
    ]


def test_vendor_panels_appear_once_their_metrics_are_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every metric the panels wait for declared (as the vendors being added declare
    them), nothing waits and each dashboard keeps a valid layout."""
    lim = build_dashboards.Limits.load()
    waiting = {
        n for build in build_dashboards.DASHBOARDS.values()
        for w in build(lim)[build_dashboards.WAITING] for n in w["metrics"]
    }
    for name in waiting:
        monkeypatch.setitem(build_dashboards.SOURCES, name, "a vendor being added")
    titles = []
    for build in build_dashboards.DASHBOARDS.values():
        dash = build(lim)
        assert dash[build_dashboards.WAITING] == []
        for p in dash["panels"]:
            assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
            titles.append(p["title"])
    for title in ("GitHub Copilot", "Copilot: pull requests per day", "Claude Code",
                  "Cursor", "Qoder credits used per hour by operation"):
        assert title in titles
