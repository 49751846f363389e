#!/usr/bin/env python3
"""Write the aicode-exporter Grafana dashboards to grafana/dashboards/*.json.

    python grafana/build_dashboards.py           # rewrite the JSON files
    python grafana/build_dashboards.py --check   # exit 1 if a JSON file is out of date
    python grafana/build_dashboards.py --alerts-config my-alerts.yaml --out-dir /tmp/d
                                                 # thresholds of your alert overrides

Thresholds (data age, AI share) come from prometheus/alerts.config.yaml (merged with
--alerts-config, as prometheus/render_rules.py does), so a panel turns red where the
alert fires.

The committed JSON is what Grafana loads; this script is how it is written, so panels
share one layout, one variable set and descriptions that always name their source.
tests/ops/test_ops_dashboards.py fails when the JSON and this script disagree.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aicode_exporter.expose import catalog
from aicode_exporter.vendors.registry import all_specs
from scripts.generated import write_or_check

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "grafana" / "dashboards"
RENDER_RULES = ROOT / "prometheus" / "render_rules.py"

DS = {"type": "prometheus", "uid": "${datasource}"}
F = 'provider=~"$provider", org=~"$org"'
FW = F + ', window="$window"'
RATIO_1H = "provider_org:aicode_commit_ai_lines_added_per_lines_added:ratio_rate1h"
RATIO_1D = "provider_org:aicode_commit_ai_lines_added_per_lines_added:ratio_rate1d"
REPO_RATIO_1D = "provider_org_repo:aicode_commit_ai_lines_added_per_lines_added:ratio_rate1d"
TEAM_RATIO_1D = "provider_org_team:aicode_team_commit_ai_lines_added_per_lines_added:ratio_rate1d"
ERROR_RATIO_1H = "provider_org_endpoint:aicode_api_request_errors_per_requests:ratio_rate1h"
SEAT_RATIO = "provider_org:aicode_daily_active_users_per_seats:ratio"
BUDGET = "provider_org:aicode_billing_cycle_budget_usd:configured"

# --- where every number comes from (used in panel descriptions) -------------------------
# Metrics: the catalogue's `source` (or HELP, for the exporter's own); recording rules: here.
# A shared metric no registered vendor feeds yet (its name is fixed in the catalogue, the
# vendors that will feed it are being added) is described by what it counts. A panel query
# reading a metric that is in neither is left out until a vendor declares the metric (the
# panel too, when none of its queries is left); `--markdown` lists what is waiting.

_RECORDING = "recording rule in prometheus/rules/aicode-recording.rules.yml"
_UNFED = "(shared metric; no vendor of this build reports it yet)"

SOURCES: dict[str, str] = {
    **{t.name: f"{t.what} {_UNFED}" for t in catalog.SHARED},
    **{c.name: f"{c.what} {_UNFED}" for c in catalog.USAGE_COUNTERS},
    **{s.name: s.source or f"the exporter: {s.help}" for s in all_specs()},
    RATIO_1H: f"{_RECORDING}: AI / all commit lines added over 1h, from "
    "aicode_commit_lines_added_total",
    RATIO_1D: f"{_RECORDING}: AI / all commit lines added over 1d, from "
    "aicode_commit_lines_added_total",
    REPO_RATIO_1D: f"{_RECORDING}: AI / all commit lines added per repo over 1d, from "
    "aicode_commit_lines_added_total",
    TEAM_RATIO_1D: f"{_RECORDING}: AI / all commit lines added per team over 1d, from "
    "aicode_team_commit_lines_added_total",
    ERROR_RATIO_1H: f"{_RECORDING}: non-2xx / all vendor requests over 1h, from "
    "aicode_api_requests_total",
    SEAT_RATIO: f"{_RECORDING}: daily active users (surface all) of the newest complete day "
    "per assigned seat, from aicode_daily_active_users and aicode_seats",
    BUDGET: f"{_RECORDING}: the budget per billing cycle set in "
    "prometheus/alerts.config.yaml (AicodeSpendOverBudget.budgets_usd), in USD",
}

_NAME = re.compile(r"\b[a-z_]+:aicode_[a-z0-9_]+:[a-z0-9_]+\b|\baicode_[a-z0-9_]+\b")


def metrics_in(expr: str) -> list[str]:
    """aicode_* metric and recording-rule names used by a PromQL expression, in order."""
    seen: list[str] = []
    for name in _NAME.findall(expr):
        if name not in seen:
            seen.append(name)
    return seen


# --- thresholds shared with the alerts ---------------------------------------------------


def _render_rules() -> ModuleType:
    """prometheus/render_rules.py, the one reader of the alerts config."""
    name = "aicode_render_rules"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RENDER_RULES)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass(frozen=True)
class Limits:
    """The alert thresholds the panels colour by (prometheus/alerts.config.yaml)."""

    data_stale: str  # AicodeDataStale.max_age, a Prometheus duration
    data_stale_s: int
    record_stale: str  # AicodeRecordStreamStale.max_age
    record_stale_s: int
    ai_share: float  # AicodeAIShareLow.threshold
    endpoint_down_for: str  # AicodeEndpointDown.for
    teams_map_broken_for: str  # AicodeTeamsMapBroken.for
    daily_stale: str  # AicodeDailyFiguresStale.max_age
    daily_stale_by_provider: dict[str, str]  # AicodeDailyFiguresStale.max_age_by_provider
    seats: float  # AicodeSeatUtilisationLow.threshold
    seats_window: str  # AicodeSeatUtilisationLow.window

    @classmethod
    def load(cls, alerts_config: Path | None = None) -> Limits:
        rules = _render_rules()
        alerts = rules.load_config(alerts_config or rules.DEFAULT_CONFIG)["alerts"]
        data, record = alerts["AicodeDataStale"], alerts["AicodeRecordStreamStale"]
        daily, seats = alerts["AicodeDailyFiguresStale"], alerts["AicodeSeatUtilisationLow"]
        return cls(
            data_stale=data["max_age"],
            data_stale_s=rules.seconds(data["max_age"]),
            record_stale=record["max_age"],
            record_stale_s=rules.seconds(record["max_age"]),
            ai_share=alerts["AicodeAIShareLow"]["threshold"],
            endpoint_down_for=alerts["AicodeEndpointDown"]["for"],
            teams_map_broken_for=alerts["AicodeTeamsMapBroken"]["for"],
            daily_stale=daily["max_age"],
            daily_stale_by_provider=dict(daily["max_age_by_provider"]),
            seats=seats["threshold"],
            seats_window=seats["window"],
        )

    def daily_age_overrides(self) -> list[Json]:
        """Field overrides: each provider with its own AicodeDailyFiguresStale limit turns
        red beyond that limit (series named `<provider>/<org>`)."""
        seconds = _render_rules().seconds
        return [
            {
                "matcher": {"id": "byRegexp", "options": f"^{provider}/.*"},
                "properties": [{"id": "thresholds", "value": _age(seconds(max_age))}],
            }
            for provider, max_age in sorted(self.daily_stale_by_provider.items())
        ]

    def daily_stale_text(self) -> str:
        """The limits in words, for descriptions."""
        own = ", ".join(f"{p} {a}" for p, a in sorted(self.daily_stale_by_provider.items()))
        return self.daily_stale + (f" ({own})" if own else "")

    def utilisation(self) -> Json:
        """Seat utilisation: red below AicodeSeatUtilisationLow.threshold."""
        return _thresholds(("red", None), ("green", self.seats))

    def share(self) -> Json:
        """AI share: red below AicodeAIShareLow.threshold, green from it on."""
        return _thresholds(("red", None), ("green", self.ai_share))

    def share_column(self, name: str) -> Json:
        """A table column override: the AI share in percent, coloured like share()."""
        return {
            "matcher": {"id": "byName", "options": name},
            "properties": [
                {"id": "unit", "value": "percentunit"},
                {"id": "decimals", "value": 1},
                {"id": "thresholds", "value": self.share()},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ],
        }


def _age(limit_s: int) -> Json:
    """An age in seconds: green, red beyond the alert's limit."""
    return _thresholds(("green", None), ("red", limit_s))


def _over(limit: float) -> Json:
    """For graphs: nothing below the alert's limit, red from it on (line and area)."""
    return _thresholds(("transparent", None), ("red", limit))


# --- panel builders ---------------------------------------------------------------------

Json = dict[str, Any]


def t(expr: str, legend: str = "__auto") -> Json:
    return {"expr": expr, "legendFormat": legend}


def unknown_metrics(expr: str) -> list[str]:
    """The metrics of `expr` no registered vendor declares yet (and that are no shared
    template or recording rule)."""
    return [n for n in metrics_in(expr) if n not in SOURCES]


def _describe(meaning: str, targets: list[Json]) -> str:
    names: list[str] = []
    for target in targets:
        names += [n for n in metrics_in(target["expr"]) if n not in names]
    lines = [f"- `{n}`: {SOURCES[n]}" for n in names]
    return meaning + ("\n\nSource:\n" + "\n".join(lines) if lines else "")


def _targets(targets: list[Json], instant: bool, table: bool) -> list[Json]:
    out = []
    for i, target in enumerate(targets):
        out.append(
            {
                "datasource": DS,
                "refId": chr(ord("A") + i),
                "expr": target["expr"],
                "legendFormat": target["legendFormat"],
                "instant": instant,
                "range": not instant,
                "format": "table" if table else "time_series",
            }
        )
    return out


def _thresholds(*steps: tuple[str, float | None]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


_GREEN = _thresholds(("green", None))
_UPDOWN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]


def panel(
    kind: str,
    title: str,
    meaning: str,
    targets: list[Json],
    *,
    w: int = 12,
    h: int = 8,
    unit: str = "short",
    instant: bool = False,
    table: bool = False,
    options: Json | None = None,
    defaults: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
) -> Json:
    field_defaults: Json = {"unit": unit, "thresholds": _GREEN, "mappings": []}
    if unit == "percentunit":
        field_defaults.update({"min": 0, "max": 1})
    field_defaults.update(defaults or {})
    kept = [x for x in targets if not unknown_metrics(x["expr"])]
    out: Json = {
        "type": kind,
        "title": title,
        "description": _describe(meaning, kept),
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "targets": _targets(kept, instant, table),
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        out["transformations"] = transformations
    waiting = sorted({n for x in targets for n in unknown_metrics(x["expr"])})
    if waiting:  # dashboard() takes it out again
        out[WAITING] = waiting
    return out


WAITING = "_waiting"  # a panel's metrics no vendor declares yet (not in the JSON)


_REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def stat(title: str, meaning: str, targets: list[Json], **kw: Any) -> Json:
    kw.setdefault("w", 6)
    kw.setdefault("h", 5)
    options = {
        "reduceOptions": _REDUCE,
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "textMode": kw.pop("text_mode", "value_and_name"),
        "orientation": "auto",
    }
    return panel("stat", title, meaning, targets, instant=True, options=options, **kw)


def timeseries(
    title: str,
    meaning: str,
    targets: list[Json],
    *,
    stack: bool = False,
    thresholds_style: str | None = None,
    **kw: Any,
) -> Json:
    custom: Json = {
        "drawStyle": "line",
        "lineInterpolation": "stepAfter",
        "fillOpacity": 20 if stack else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    if thresholds_style:  # draw the thresholds: "dashed" lines, "line+area" shading
        custom["thresholdsStyle"] = {"mode": thresholds_style}
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    defaults = {"custom": custom, **kw.pop("defaults", {})}
    return panel("timeseries", title, meaning, targets, options=options, defaults=defaults, **kw)


def bargauge(title: str, meaning: str, targets: list[Json], **kw: Any) -> Json:
    options = {
        "reduceOptions": _REDUCE,
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": True,
        "valueMode": "color",
        "namePlacement": "auto",
        "minVizHeight": 10,
        "minVizWidth": 0,
        "sizing": "auto",
    }
    return panel("bargauge", title, meaning, targets, instant=True, options=options, **kw)


def table(title: str, meaning: str, columns: dict[str, str], keys: list[str], **kw: Any) -> Json:
    """One instant query per column, merged into rows keyed by `keys` labels (a column whose
    metric no vendor declares yet is left out)."""
    waiting = {name: expr for name, expr in columns.items() if unknown_metrics(expr)}
    columns = {name: expr for name, expr in columns.items() if name not in waiting}
    targets = [t(expr, name) for name, expr in columns.items()]
    rename = {f"Value #{chr(ord('A') + i)}": name for i, name in enumerate(columns)}
    exclude = {"Time": True}
    order = {k: i for i, k in enumerate([*keys, *columns])}
    transformations = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {"excludeByName": exclude, "renameByName": rename, "indexByName": order},
        },
        {"id": "sortBy", "options": {"sort": [{"field": next(iter(columns), ""), "desc": True}]}},
    ]
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    out = panel(
        "table",
        title,
        meaning,
        targets,
        instant=True,
        table=True,
        options=options,
        transformations=transformations,
        **kw,
    )
    names = sorted({n for expr in waiting.values() for n in unknown_metrics(expr)})
    if names:
        out[WAITING] = names
    return out


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"h": 1}}


def layout(panels: list[Json]) -> list[Json]:
    """Give panels ids and grid positions, left to right, rows on their own line."""
    x = y = line_h = 0
    for pid, p in enumerate(panels, start=1):
        w = p["gridPos"].get("w", 24)
        h = p["gridPos"]["h"]
        if p["type"] == "row" or x + w > 24:
            x, y, line_h = 0, y + line_h, 0
        p["id"] = pid
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        line_h = max(line_h, h)
        if p["type"] == "row":
            x, y, line_h = 0, y + h, 0
    return panels


# --- variables and the dashboard shell --------------------------------------------------


def _query_var(name: str, label: str, query: str, *, multi: bool = True) -> Json:
    var: Json = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "multi": multi,
        "includeAll": multi,
        # multi-value variables start on All: every provider and organisation side by side
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "options": [],
        "hide": 0,
    }
    if multi:
        var["allValue"] = ".*"
    return var


# The metrics whose `repo` / `user` values fill the variables: the vendor's ranking
# (Qoder aggregates) and the tracking counters (every provider); `team`: the per-team
# counters (exporter config `teams:`) and the vendors' daily team figures (their own teams,
# such as GitHub teams, or the same map).
REPO_METRICS = ("aicode_commits_total", "aicode_repo_commits")
USER_METRICS = ("aicode_user_ai_lines_added", "aicode_user_commit_lines_added_total")
TEAM_METRICS = ("aicode_team_commits_total", "aicode_daily_team_active_users")
REPO = 'repo=~"$repo"'
USER = 'user=~"$user"'
TEAM = 'team=~"$team"'


def _label_values(metrics: tuple[str, ...], label: str) -> str:
    return f'label_values({{__name__=~"{"|".join(metrics)}", {F}}}, {label})'


def variables(
    *,
    window: bool = False,
    top: bool = False,
    job: bool = False,
    repo: bool = False,
    user: bool = False,
    team: bool = False,
) -> list[Json]:
    out: list[Json] = [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Data source",
            "query": "prometheus",
            "regex": "",
            "current": {},
            "options": [],
            "hide": 0,
            "refresh": 1,
        }
    ]
    if job:
        out.append(_query_var("job", "Job", "label_values(aicode_exporter_build_info, job)"))
    out.append(_query_var("provider", "Provider", "label_values(aicode_up, provider)"))
    out.append(
        _query_var("org", "Organisation", 'label_values(aicode_up{provider=~"$provider"}, org)')
    )
    if repo:
        out.append(_query_var("repo", "Repository", _label_values(REPO_METRICS, "repo")))
    if user:
        out.append(_query_var("user", "User", _label_values(USER_METRICS, "user")))
    if team:
        out.append(_query_var("team", "Team", _label_values(TEAM_METRICS, "team")))
    if window:
        out.append(
            _query_var(
                "window",
                "Window",
                f"label_values({sel('aicode_ai_share_ratio')}, window)",
                multi=False,
            )
        )
    if top:
        out.append(
            {
                "type": "custom",
                "name": "top",
                "label": "Top N",
                "query": "5,10,20,50",
                "current": {"text": "10", "value": "10"},
                "options": [
                    {"text": v, "value": v, "selected": v == "10"} for v in ("5", "10", "20", "50")
                ],
                "multi": False,
                "includeAll": False,
                "hide": 0,
            }
        )
    return out


def _present(panels: list[Json]) -> tuple[list[Json], list[Json]]:
    """(the panels with at least one query, rows with at least one panel; what waits for
    metrics: {title, metrics, whole panel or not})."""
    waiting = [
        {"panel": p["title"], "metrics": p.pop(WAITING), "whole": not p["targets"]}
        for p in panels
        if WAITING in p
    ]
    shown = [p for p in panels if p["type"] == "row" or p["targets"]]
    kept = [
        p
        for i, p in enumerate(shown)
        if p["type"] != "row" or (i + 1 < len(shown) and shown[i + 1]["type"] != "row")
    ]
    return kept, waiting


def dashboard(
    uid: str, title: str, description: str, panels: list[Json], templating: list[Json], **kw: Any
) -> Json:
    panels, waiting = _present(panels)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["aicode-exporter"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": kw.get("refresh", "5m"),
        "time": {"from": kw.get("time_from", "now-7d"), "to": "now"},
        "timezone": "utc",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        # No annotations list: Grafana adds its built-in one, which names its own uid.
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["aicode-exporter"],
                "asDropdown": True,
                "title": "AI code dashboards",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": templating},
        "panels": layout(panels),
        WAITING: waiting,
    }


_WINDOW_NOTE = (
    " The figure covers the trailing window chosen in `$window` (the provider's `windows` "
    "setting); the exporter refreshes it every poll_interval, so it moves in steps."
)
_DAILY_NOTE = (
    " Daily figures are for the newest complete UTC day the vendor reports (not today's); the "
    "exporter publishes a day during the days after it, so a graph shows each day's value "
    "from the next day on (from up to three days later for a vendor that publishes late, "
    "like Copilot). Where the live value is missing (days "
    "written by `aicode-exporter backfill`, one sample per day) the newest sample of the "
    "preceding 24h stands in."
)
_COUNTER_NOTE = (
    " Tracking records are counted when the exporter ingests them (each record once), "
    "not at commit time; rates show lines per hour."
)


def _per_hour(expr: str) -> str:
    return f"{expr} * 3600"


def sel(metric: str, *matchers: str, window: bool = False) -> str:
    """`metric{provider=~"$provider", org=~"$org"[, window="$window"][, matchers]}`."""
    return f"{metric}{{{', '.join([FW if window else F, *matchers])}}}"


def daily(metric: str, *matchers: str) -> str:
    """An aicode_daily_* gauge: its live value (republished every poll while that day is the
    newest), or, for an organisation with no live sample (history from the backfill, one
    sample per day), the newest sample of the last day.

    last_over_time, not max_over_time: the newest day replaces the one before, whichever is
    larger. The live value wins for the whole organisation, so a label value absent from
    the newest day (a model nobody used) and the series of a replaced pod (another
    `instance`) disappear at once instead of lingering for a day."""
    s = sel(metric, *matchers)
    return f"({s} or on (provider, org) last_over_time({s}[1d]))"


def dsum(labels: str, metric: str, *matchers: str) -> str:
    """`sum by (labels)` of a daily gauge (see daily())."""
    return by("sum", labels, daily(metric, *matchers))


def daily_totals(*pairs: tuple[str, str]) -> list[Json]:
    """One target per (daily gauge, legend): its sum over every selected organisation."""
    return [t(f"sum({daily(metric)})", legend) for metric, legend in pairs]


def rate(metric: str, *matchers: str) -> str:
    return f"rate({sel(metric, *matchers)}[$__rate_interval])"


def inc(metric: str, *matchers: str) -> str:
    return f"increase({sel(metric, *matchers)}[$__range])"


def by(op: str, labels: str, inner: str) -> str:
    return f"{op} by ({labels}) ({inner})"


PO = "provider, org"
AI = 'source!="non_ai"'
NON_AI = 'source="non_ai"'
PRIMARY = 'primary_branch="true"'
ORG = "{{provider}}/{{org}}"

# --- the dashboards ---------------------------------------------------------------------


def _ratio(labels: str, part: str, whole: str, *matchers: str) -> str:
    """sum by (labels) of daily `part` / the same of daily `whole` (NaN for 0/0: no value)."""
    return f"{dsum(labels, part, *matchers)} / {dsum(labels, whole, *matchers)}"


ALL_SURFACES = 'surface="all"'
DAU = "aicode_daily_active_users"
SUGGESTED, ACCEPTED = "aicode_daily_suggestions", "aicode_daily_suggestions_accepted"
_FEATURE_NOTE = (
    " `feature` is the same for every vendor (tab: inline completions; agent: edits an agent "
    "wrote; chat: chat answers applied; cli; other); each vendor's own name for it is in "
    "`vendor_feature`."
)
_DAILY_TEAMS_NOTE = (
    " Teams are the vendor's own (Copilot: GitHub teams) or the exporter's user-to-team map "
    "(`teams.file`): a user in several teams counts in each."
)
PF = "{{provider}} {{feature}}"


def adoption(lim: Limits) -> Json:
    share = sel("aicode_ai_share_ratio", window=True)
    tab_ratio = daily("aicode_daily_tab_accept_ratio")
    panels = [
        row("AI share of committed code"),
        stat(
            "AI share of committed lines ($window)",
            "Share of committed lines (added + deleted) the vendor attributes to AI."
            + _WINDOW_NOTE,
            [t(by("max", PO, share), ORG)],
            unit="percentunit",
            defaults={"thresholds": lim.share()},
        ),
        stat(
            "AI share of commit lines, last 24h (tracking)",
            "AI lines / all lines added in the commit records ingested over the last day, "
            "for every provider with tracking records." + _COUNTER_NOTE,
            [t(sel(RATIO_1D), ORG)],
            unit="percentunit",
            defaults={"thresholds": lim.share()},
        ),
        bargauge(
            "AI share by window",
            "The vendor's AI share of committed lines for each configured trailing window.",
            [
                t(
                    by("max", "provider, org, window", sel("aicode_ai_share_ratio")),
                    "{{org}} {{window}}",
                )
            ],
            w=12,
            h=5,
            unit="percentunit",
            defaults={"thresholds": lim.share()},
        ),
        timeseries(
            "AI share trend",
            "The vendor's daily AI share (Qoder) next to the share computed from the tracking "
            "counters over the trailing day and hour (all providers). The dashed red line is "
            f"AicodeAIShareLow's threshold ({lim.ai_share:.0%})." + _DAILY_NOTE,
            [
                t(by("max", PO, daily("aicode_daily_ai_share_ratio")), "{{org}} daily (vendor)"),
                t(sel(RATIO_1D), f"{ORG} trailing 1d (tracking)"),
                t(sel(RATIO_1H), f"{ORG} trailing 1h (tracking)"),
            ],
            w=24,
            unit="percentunit",
            defaults={"thresholds": _over(lim.ai_share)},
            thresholds_style="dashed",
        ),
        row("Active users"),
        stat(
            "Daily active users, newest day",
            "People who used any AI feature on the newest complete day, per organisation."
            + _DAILY_NOTE,
            [t(dsum(PO, DAU, ALL_SURFACES), ORG)],
            w=6,
            h=8,
            defaults={"decimals": 0},
        ),
        stat(
            "Newest complete day",
            "The UTC day the daily figures of each organisation belong to (vendors publish "
            "with different delays)." + _DAILY_NOTE,
            [
                t(
                    f"{by('max', PO, daily('aicode_daily_date_timestamp_seconds'))} * 1000",
                    ORG,
                )
            ],
            w=6,
            h=8,
            unit="dateTimeAsIsoNoDateIfToday",
        ),
        timeseries(
            "Daily active users by provider",
            "People who used any AI feature that day (`surface=\"all\"`), every vendor side "
            "by side." + _DAILY_NOTE,
            [t(dsum("provider", DAU, ALL_SURFACES), "{{provider}}")],
            defaults={"decimals": 0},
        ),
        timeseries(
            "Daily active users by surface",
            "People active on each surface: chat, agent, cli, cloud_agent (agents working "
            "in the cloud), code_review, and the vendor's own extras. One person can be "
            "active on several surfaces." + _DAILY_NOTE,
            [
                t(
                    dsum("provider, surface", DAU, 'surface!="all"'),
                    "{{provider}} {{surface}}",
                )
            ],
            defaults={"decimals": 0},
        ),
        timeseries(
            "Daily active users per team",
            "People of each team who used any AI feature that day." + _DAILY_TEAMS_NOTE
            + _DAILY_NOTE,
            [
                t(
                    dsum("provider, team", "aicode_daily_team_active_users"),
                    "{{team}} ({{provider}})",
                )
            ],
            defaults={"decimals": 0},
        ),
        row("Suggestions and acceptance by feature"),
        timeseries(
            "Suggestions shown per day by feature",
            "Suggestions the tools showed (completions, proposed edits or diffs, tool-use "
            "proposals), every vendor on the same features." + _FEATURE_NOTE + _DAILY_NOTE,
            [t(dsum("provider, feature", SUGGESTED), PF)],
        ),
        timeseries(
            "Suggestions accepted per day by feature",
            "Of those, the suggestions people accepted." + _FEATURE_NOTE + _DAILY_NOTE,
            [t(dsum("provider, feature", ACCEPTED), PF)],
        ),
        timeseries(
            "Acceptance ratio by feature",
            "Suggestions accepted / suggestions shown that day, per provider and feature "
            "(no value on a day without suggestions)." + _FEATURE_NOTE + _DAILY_NOTE,
            [t(_ratio("provider, feature", ACCEPTED, SUGGESTED), PF)],
            unit="percentunit",
        ),
        bargauge(
            "Acceptance by the vendor's own feature name, newest day",
            "The acceptance ratio by each vendor's own name for the feature (Copilot's "
            "code_completion, agent_edit, chat_panel_agent_mode...; Claude Code's edit "
            "tools; Qoder's next) and the shared feature it counts as." + _DAILY_NOTE,
            [
                t(
                    _ratio("provider, feature, vendor_feature", ACCEPTED, SUGGESTED),
                    "{{provider}} {{vendor_feature}} ({{feature}})",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "Lines suggested and accepted per day by feature",
            "Lines the tools suggested, and lines accepted (written into files)."
            + _FEATURE_NOTE + _DAILY_NOTE,
            [
                t(
                    dsum("provider, feature", "aicode_daily_lines_suggested"),
                    f"{PF} suggested",
                ),
                t(
                    dsum("provider, feature", "aicode_daily_lines_accepted"),
                    f"{PF} accepted",
                ),
            ],
        ),
        timeseries(
            "Lines removed per day by feature",
            "Lines the agents removed from files (Copilot agent edits, Claude Code's edit "
            "tools)." + _FEATURE_NOTE + _DAILY_NOTE,
            [
                t(dsum("provider, feature", "aicode_daily_lines_deleted"), PF),
                t(dsum("provider, feature", "aicode_daily_lines_removed"), PF),
            ],
        ),
        timeseries(
            "Lines accepted per day by team and feature",
            "Lines the team's people accepted (written into files)." + _DAILY_TEAMS_NOTE
            + _FEATURE_NOTE + _DAILY_NOTE,
            [
                t(
                    dsum("provider, team, feature", "aicode_daily_team_lines_accepted"),
                    "{{team}} {{feature}} ({{provider}})",
                )
            ],
            stack=True,
        ),
        row("Lines and commits"),
        stat(
            "Committed lines edited ($window)",
            "Lines edited (added + deleted) in committed code: all of them, those written by "
            "AI, and the AI edits developers accepted in the IDE (accepted can exceed "
            "committed: not everything accepted gets committed, and vice versa)." + _WINDOW_NOTE,
            [
                t(f"sum({sel('aicode_committed_lines_edited', window=True)})", "all"),
                t(f"sum({sel('aicode_committed_ai_lines_edited', window=True)})", "AI"),
                t(f"sum({sel('aicode_accepted_ai_lines_edited', window=True)})", "accepted AI"),
            ],
            w=12,
        ),
        stat(
            "Commits",
            "Commits on the newest complete day (vendor) and commit records ingested in the "
            "dashboard's time range (tracking, all branches and primary branch only).",
            [
                t(f"sum({daily('aicode_daily_commits')})", "newest day (vendor)"),
                t(f"sum({inc('aicode_commits_total')})", "in range"),
                t(f"sum({inc('aicode_commits_total', PRIMARY)})", "in range, primary branch"),
            ],
            w=12,
            defaults={"decimals": 0},
        ),
        timeseries(
            "AI vs other lines added per day (vendor)",
            "Lines added that day, split into AI-written and other lines as the vendor "
            "attributes them." + _DAILY_NOTE,
            daily_totals(
                ("aicode_daily_ai_lines_added", "AI"),
                ("aicode_daily_other_lines_added", "other"),
            ),
            stack=True,
        ),
        timeseries(
            "Commit lines added per hour, AI vs non-AI (tracking)",
            "Lines added in ingested commit records, AI sources together against `non_ai`."
            + _COUNTER_NOTE,
            [
                t(_per_hour(f"sum({rate('aicode_commit_lines_added_total', AI)})"), "AI"),
                t(_per_hour(f"sum({rate('aicode_commit_lines_added_total', NON_AI)})"), "non-AI"),
            ],
            stack=True,
        ),
        row("Agents, tab completion and chat"),
        stat(
            "Agent edits, tab completions, chat messages ($window)",
            "How often developers used each AI feature: agent edits, accepted tab "
            "completions and chat messages sent." + _WINDOW_NOTE,
            [
                t(f"sum({sel('aicode_agent_edits', window=True)})", "agent edits"),
                t(f"sum({sel('aicode_tab_completions', window=True)})", "tab completions"),
                t(f"sum({sel('aicode_chat_messages', window=True)})", "chat messages"),
            ],
            w=24,
            h=4,
        ),
        timeseries(
            "Tab suggestions and accepts per day",
            "Tab (inline, next-edit) completions the IDE suggested and those developers "
            "accepted, per provider." + _DAILY_NOTE,
            [
                t(
                    dsum("provider", "aicode_daily_tab_suggestions"),
                    "{{provider}} suggested",
                ),
                t(
                    dsum("provider", "aicode_daily_tab_accepts"),
                    "{{provider}} accepted",
                ),
            ],
        ),
        timeseries(
            "Tab acceptance ratio per day",
            "Accepted / suggested tab completions per organisation. A sharp week-over-week "
            "drop raises AicodeTabAcceptanceDrop." + _DAILY_NOTE,
            [t(by("max", PO, tab_ratio), ORG)],
            unit="percentunit",
        ),
        row("GitHub Copilot"),
        timeseries(
            "Copilot: lines accepted per day by IDE",
            "Lines Copilot wrote into files that day, per IDE." + _DAILY_NOTE,
            [t(dsum("ide", "aicode_daily_ide_lines_accepted"), "{{ide}}")],
            stack=True,
        ),
        bargauge(
            "Copilot: acceptance by IDE, newest day",
            "Suggestions accepted / suggestions shown per IDE." + _DAILY_NOTE,
            [
                t(
                    _ratio("ide", "aicode_daily_ide_suggestions_accepted",
                           "aicode_daily_ide_suggestions"),
                    "{{ide}}",
                )
            ],
            unit="percentunit",
        ),
        bargauge(
            "Copilot: top 10 languages by lines accepted, newest day",
            "Lines Copilot wrote into files per language (all features)." + _DAILY_NOTE,
            [
                t(
                    "topk(10, "
                    + dsum("language", "aicode_daily_language_lines_accepted")
                    + ")",
                    "{{language}}",
                )
            ],
        ),
        timeseries(
            "Copilot: suggestions accepted per day by model",
            "Suggestions accepted per model (the model picked, or `auto`) and feature."
            + _DAILY_NOTE,
            [
                t(
                    dsum("model, feature", "aicode_daily_model_suggestions_accepted"),
                    "{{model}} {{feature}}",
                )
            ],
            stack=True,
        ),
        timeseries(
            "Copilot: pull requests per day",
            "Pull requests created, merged and reviewed that day, and how many of them "
            "Copilot's cloud agent created or its code review reviewed." + _DAILY_NOTE,
            daily_totals(
                *(
                    (f"aicode_daily_pull_requests_{what}", what.replace("_", " "))
                    for what in (
                        "created",
                        "created_by_copilot",
                        "merged",
                        "merged_created_by_copilot",
                        "reviewed",
                        "reviewed_by_copilot",
                    )
                )
            ),
        ),
        timeseries(
            "Copilot: median time to merge",
            "Median time from creation to merge of the pull requests merged that day: all, "
            "those Copilot created, those Copilot reviewed." + _DAILY_NOTE,
            [
                t(
                    by("max", "provider, org, subset",
                       daily("aicode_daily_pull_request_merge_median_seconds")),
                    "{{org}} {{subset}}",
                )
            ],
            unit="s",
        ),
        timeseries(
            "Copilot code review: suggestions per day",
            "Review suggestions on pull requests (any reviewer) and those by Copilot code "
            "review, and how many of each were applied. People using code review count under "
            "the `code_review` surface of the active-user panels." + _DAILY_NOTE,
            daily_totals(
                ("aicode_daily_review_suggestions", "all suggestions"),
                ("aicode_daily_review_suggestions_applied", "all applied"),
                ("aicode_daily_copilot_review_suggestions", "Copilot's"),
                ("aicode_daily_copilot_review_suggestions_applied", "Copilot's applied"),
            ),
        ),
        timeseries(
            "Copilot CLI per day",
            "Copilot CLI sessions started, prompts people sent and requests made (agentic "
            "follow-ups included)." + _DAILY_NOTE,
            daily_totals(
                ("aicode_daily_cli_sessions", "sessions"),
                ("aicode_daily_cli_prompts", "prompts"),
                ("aicode_daily_cli_requests", "requests"),
            ),
        ),
        row("Claude Code"),
        timeseries(
            "Claude Code: sessions, commits and pull requests per day",
            "Sessions the coding agent started, and the git commits and pull requests it "
            "created." + _DAILY_NOTE,
            [
                t(dsum("provider", "aicode_daily_agent_sessions"),
                  "{{provider}} sessions"),
                t(dsum("provider", "aicode_daily_agent_commits"),
                  "{{provider}} commits"),
                t(dsum("provider", "aicode_daily_agent_pull_requests"),
                  "{{provider}} pull requests"),
            ],
        ),
        timeseries(
            "Claude Code: active API keys by surface",
            "Distinct API keys with usage that day: automation and shared keys, which are "
            "not people and do not count as active users." + _DAILY_NOTE,
            [
                t(
                    dsum("provider, surface", "aicode_daily_active_api_keys"),
                    "{{provider}} {{surface}}",
                )
            ],
            defaults={"decimals": 0},
        ),
        row("Cursor"),
        timeseries(
            "Cursor: requests per day by mode",
            "AI requests by Cursor mode (chat, composer, agent, cmdk, bugbot), summed over "
            "members." + _DAILY_NOTE,
            [t(dsum("mode", "aicode_daily_requests"), "{{mode}}")],
            stack=True,
        ),
        timeseries(
            "Cursor: messages per day by model",
            "Messages sent to each model." + _DAILY_NOTE,
            [t(dsum("model", "aicode_daily_model_messages"), "{{model}}")],
            stack=True,
        ),
        bargauge(
            "Cursor: users per client version, newest day",
            "Users whose newest Cursor version that day was this one." + _DAILY_NOTE,
            [
                t(
                    "sort_desc("
                    + dsum("client_version", "aicode_daily_client_version_users")
                    + ")",
                    "{{client_version}}",
                )
            ],
            defaults={"decimals": 0},
        ),
    ]
    return dashboard(
        "aicode-adoption",
        "AI code adoption",
        "How much of the committed code AI writes, and how every vendor's AI features are "
        "used: active users, suggestions and acceptance by feature, teams, and each "
        "vendor's own figures. Opens on the last 90 days (a backfill fills them).",
        panels,
        variables(window=True),
        time_from="now-90d",
    )


def repositories(lim: Limits) -> Json:
    por, poe = "provider, org, repo", "provider, org, extension"
    lines = "aicode_commit_lines_added_total"
    deleted = "aicode_commit_lines_deleted_total"
    files = "aicode_change_file_lines_added_total"
    repo_commits = sel("aicode_repo_commits", REPO, window=True)
    repo_lines = sel("aicode_repo_lines_added", REPO, window=True)
    ext_share = sel("aicode_extension_ai_share_ratio", window=True)
    panels = [
        row("Repositories"),
        bargauge(
            "Top repositories by commits ($window)",
            "Commits per repository as the vendor counts them, largest first." + _WINDOW_NOTE,
            [
                t(
                    f"topk($top, {by('max', por, repo_commits)})",
                    "{{repo}}",
                )
            ],
        ),
        bargauge(
            "Top repositories by lines added ($window)",
            "Lines added per repository (all authors, AI or not)." + _WINDOW_NOTE,
            [
                t(
                    f"topk($top, {by('max', por, repo_lines)})",
                    "{{repo}}",
                )
            ],
        ),
        table(
            "Repositories in range (tracking)",
            "Commit records, lines added and AI lines added per repository in the dashboard's "
            "time range, with the AI share of the lines added over the last day. A missing "
            "repository name shows as `unknown`." + _COUNTER_NOTE,
            {
                "commits": by("sum", por, inc("aicode_commits_total", REPO)),
                "lines added": by("sum", por, inc(lines, REPO)),
                "AI lines added": by("sum", por, inc(lines, REPO, AI)),
                "AI share (1d)": by("max", por, sel(REPO_RATIO_1D, REPO)),
            },
            ["provider", "org", "repo"],
            w=16,
            defaults={"decimals": 0},
            overrides=[lim.share_column("AI share (1d)")],
        ),
        bargauge(
            "AI share per repository, last 24h (tracking)",
            "AI lines / all lines added per repository in the commit records ingested over "
            "the last day." + _COUNTER_NOTE,
            [t(f"sort_desc({by('max', por, sel(REPO_RATIO_1D, REPO))})", "{{repo}}")],
            w=8,
            unit="percentunit",
            defaults={"thresholds": lim.share()},
        ),
        timeseries(
            "AI commit lines added per hour by source (tracking)",
            "Lines added in ingested commits by the AI feature that wrote them "
            "(Qoder product x scenario, Cursor tab / composer)." + _COUNTER_NOTE,
            [
                t(
                    _per_hour(by("sum", "provider, source", rate(lines, REPO, AI))),
                    "{{provider}} {{source}}",
                )
            ],
            stack=True,
        ),
        timeseries(
            "Commit lines deleted per hour by source (tracking)",
            "Lines deleted in ingested commits, by the source that deleted them." + _COUNTER_NOTE,
            [
                t(
                    _per_hour(by("sum", "provider, source", rate(deleted, REPO))),
                    "{{provider}} {{source}}",
                )
            ],
            stack=True,
        ),
        row("Languages (file extensions)"),
        bargauge(
            "AI share by file extension ($window)",
            "Share of the lines changed in files of each extension that AI wrote." + _WINDOW_NOTE,
            [t(f"sort_desc({by('max', poe, ext_share)})", "{{extension}} ({{org}})")],
            unit="percentunit",
            defaults={"thresholds": lim.share()},
        ),
        table(
            "File extensions ($window)",
            "Changes, lines added and AI share per file extension." + _WINDOW_NOTE,
            {
                "lines added": by("max", poe, sel("aicode_extension_lines_added", window=True)),
                "changes": by("max", poe, sel("aicode_extension_changes", window=True)),
                "AI share": by("max", poe, ext_share),
            },
            ["provider", "org", "extension"],
            overrides=[lim.share_column("AI share")],
        ),
        table(
            "Agent code by language, newest complete day (vendor)",
            "Lines added per file extension on the newest complete day, and how many of them "
            "AI wrote." + _DAILY_NOTE,
            {
                "lines added": by("sum", poe, daily("aicode_daily_extension_lines_added")),
                "AI lines added": by("sum", poe, daily("aicode_daily_extension_ai_lines_added")),
            },
            ["provider", "org", "extension"],
        ),
        table(
            "AI-changed lines by file extension in range (tracking)",
            "Lines that AI changes (IDE edit events, not yet commits) added and deleted per "
            "file extension in the dashboard's time range." + _COUNTER_NOTE,
            {
                "lines added": by("sum", poe, inc(files)),
                "lines deleted": by("sum", poe, inc("aicode_change_file_lines_deleted_total")),
            },
            ["provider", "org", "extension"],
            defaults={"decimals": 0},
        ),
        timeseries(
            "AI-changed lines per hour by file extension (tracking)",
            "Lines added by AI changes per file extension, the top $top at each point."
            + _COUNTER_NOTE,
            [t(_per_hour(f"topk($top, {by('sum', 'extension', rate(files))})"), "{{extension}}")],
            w=24,
        ),
    ]
    return dashboard(
        "aicode-repositories",
        "AI code: repositories and languages",
        "Where the AI-written code lands: per repository and per file extension.",
        panels,
        variables(window=True, top=True, repo=True),
        time_from="now-30d",
    )


def people(lim: Limits) -> Json:
    ps, posm, pou = "provider, source", "provider, org, source, model", "provider, org, user"
    ai_lines = sel("aicode_user_ai_lines_added", USER, window=True)
    top_users = f"topk($top, {by('max', pou, ai_lines)})"

    def of_top_users(metric: str) -> str:
        return f"{by('max', pou, sel(metric, USER, window=True))} and on ({pou}) {top_users}"

    user_lines = "aicode_user_commit_lines_added_total"
    panels = [
        row("Sources and models (tracking)"),
        timeseries(
            "AI changes per hour by source",
            "AI edit events in the IDE (agent, next/tab, quest, inline chat, composer)."
            + _COUNTER_NOTE,
            [t(_per_hour(by("sum", ps, rate("aicode_changes_total"))), "{{provider}} {{source}}")],
            stack=True,
        ),
        timeseries(
            "Lines added per hour by AI changes, by model",
            "Lines that AI edit events added, by the model (Qoder model tier: lite, efficient, "
            "auto; Cursor model name). No model reported shows as `unknown`." + _COUNTER_NOTE,
            [
                t(
                    _per_hour(
                        by("sum", "provider, model", rate("aicode_change_lines_added_total"))
                    ),
                    "{{provider}} {{model}}",
                )
            ],
            stack=True,
        ),
        table(
            "Changes by source and model in range",
            "AI edit events and the lines they added and deleted in the dashboard's time "
            "range, per source and model." + _COUNTER_NOTE,
            {
                "changes": by("sum", posm, inc("aicode_changes_total")),
                "lines added": by("sum", posm, inc("aicode_change_lines_added_total")),
                "lines deleted": by("sum", posm, inc("aicode_change_lines_deleted_total")),
            },
            ["provider", "org", "source", "model"],
            w=16,
            defaults={"decimals": 0},
        ),
        panel(
            "piechart",
            "Commit lines added by source in range",
            "Where the committed lines came from, `non_ai` included." + _COUNTER_NOTE,
            [t(by("sum", "source", inc("aicode_commit_lines_added_total")), "{{source}}")],
            w=8,
            instant=True,
            options={
                "reduceOptions": _REDUCE,
                "pieType": "donut",
                "legend": {"displayMode": "table", "placement": "right", "values": ["percent"]},
            },
        ),
        row("People"),
        table(
            "Member leaderboard ($window, top $top by AI lines)",
            "The vendor's member ranking: lines added, AI lines added, AI share and commits "
            "per member. The `user` label follows `users.label` (email, id, name, hmac); "
            "the vendor returns at most `ranking_limit` members." + _WINDOW_NOTE,
            {
                "AI lines added": top_users,
                "lines added": of_top_users("aicode_user_lines_added"),
                "AI share": of_top_users("aicode_user_ai_share_ratio"),
                "commits": of_top_users("aicode_user_commits"),
            },
            ["provider", "org", "user"],
            overrides=[lim.share_column("AI share")],
        ),
        table(
            "People in range (tracking, needs users.per_user_counters)",
            "AI lines and all lines added in ingested commits, and AI edit events, per user "
            "in the dashboard's time range; works for every provider. Empty unless the "
            "exporter runs with `users.per_user_counters: true`; beyond `users.max_users` "
            "people fold into `__other__`." + _COUNTER_NOTE,
            {
                "AI lines added": f"topk($top, {by('sum', pou, inc(user_lines, USER, AI))})",
                "lines added": by("sum", pou, inc(user_lines, USER)),
                "changes": by("sum", pou, inc("aicode_user_changes_total", USER)),
            },
            ["provider", "org", "user"],
            defaults={"decimals": 0},
        ),
    ]
    return dashboard(
        "aicode-people",
        "AI code: sources, models and people",
        "Which AI features and models produce the code, and who uses them.",
        panels,
        variables(window=True, top=True, user=True),
        time_from="now-30d",
    )


_SEATS_NOTE = (
    " Seats: members or seats currently assigned (not removed). Providers that report no "
    "seats show no utilisation."
)
_USAGE_NOTE = (
    " Usage events (each billed request, counted once when the exporter reads it, so a "
    "rate follows the exporter's reads, not the requests' own times)."
)
_SPEND_NOTE = (
    " The vendor's spend in its current billing cycle: it starts again from 0 when a new "
    "cycle begins."
)


def _usd(**kw: Any) -> Json:
    return {"decimals": 2, **kw}


def cost(lim: Limits) -> Json:
    seats = sel("aicode_seats")
    users = daily(DAU, ALL_SURFACES)
    spend = sel("aicode_billing_cycle_spend_usd")
    pom, pomt = "provider, org, model", "provider, org, model, type"
    credits = "aicode_credits_used_total"
    busiest = (
        f"{by('max', PO, f'max_over_time({sel(DAU, ALL_SURFACES)}[{lim.seats_window}])')}"
        f" / {by('max', PO, f'{seats} > 0')}"
    )
    budget_used = (
        f"{by('max', PO, spend)} / on (provider, org) group_left {by('max', PO, sel(BUDGET))}"
    )
    tokens = "aicode_usage_tokens_total"
    panels = [
        row("Seats and utilisation"),
        stat(
            "Seats",
            "Seats or members assigned per organisation." + _SEATS_NOTE,
            [t(by("max", PO, seats), ORG)],
            defaults={"decimals": 0},
        ),
        stat(
            "Daily active users, newest day",
            "People who used any AI feature on the newest complete day." + _DAILY_NOTE,
            [t(by("sum", PO, users), ORG)],
            defaults={"decimals": 0},
        ),
        bargauge(
            "Seat utilisation, newest day",
            "Daily active users / seats on the newest complete day. Red below "
            f"{lim.seats:.0%} (AicodeSeatUtilisationLow.threshold in "
            "prometheus/alerts.config.yaml); weekends are low by nature, the alert looks "
            "at the week's busiest day." + _SEATS_NOTE,
            [t(by("max", PO, sel(SEAT_RATIO)), ORG)],
            w=6,
            h=5,
            unit="percentunit",
            defaults={"thresholds": lim.utilisation()},
        ),
        bargauge(
            f"Seat utilisation, busiest day of the last {lim.seats_window}",
            "Daily active users / seats on the busiest day of the trailing "
            f"{lim.seats_window}: what AicodeSeatUtilisationLow compares with "
            f"{lim.seats:.0%}; red below it." + _SEATS_NOTE + _DAILY_NOTE,
            [t(busiest, ORG)],
            w=6,
            h=5,
            unit="percentunit",
            defaults={"thresholds": lim.utilisation()},
        ),
        timeseries(
            "Seats and daily active users",
            "Assigned seats next to the people active each day, per organisation."
            + _SEATS_NOTE + _DAILY_NOTE,
            [
                t(by("max", PO, seats), f"{ORG} seats"),
                t(by("sum", PO, users), f"{ORG} active"),
            ],
            defaults={"decimals": 0},
        ),
        timeseries(
            "Seat utilisation trend",
            "Daily active users / seats of the newest complete day, as it was published. "
            f"The dashed red line is AicodeSeatUtilisationLow's threshold ({lim.seats:.0%})."
            + _SEATS_NOTE,
            [t(by("max", PO, sel(SEAT_RATIO)), ORG)],
            unit="percentunit",
            defaults={"thresholds": _over(lim.seats)},
            thresholds_style="dashed",
        ),
        bargauge(
            "Members by role and status (Qoder)",
            "Organisation members by role (org_admin, org_member) and status (ENABLED, "
            "DELETED); enabled members are the seats.",
            [t(by("max", "provider, org, role, status", sel("aicode_members")),
               "{{org}} {{role}} {{status}}")],
            defaults={"decimals": 0},
        ),
        bargauge(
            "Members per billing group (Cursor)",
            "Members of each billing group (Unassigned: members in none).",
            [t(by("max", "provider, org, group", sel("aicode_billing_group_members")),
               "{{group}} ({{org}})")],
            defaults={"decimals": 0},
        ),
        row("Spend"),
        stat(
            "Spend this billing cycle",
            "Spend of each organisation in its current billing cycle, in USD (Cursor: the "
            "on-demand part, and the whole including usage the plan includes)." + _SPEND_NOTE,
            [
                t(by("max", PO, spend), ORG),
                t(by("max", PO, sel("aicode_billing_cycle_overall_spend_usd")),
                  f"{ORG} incl. plan usage"),
            ],
            w=8,
            unit="currencyUSD",
            defaults=_usd(),
        ),
        stat(
            "Billing cycle started",
            "When each organisation's current billing cycle began.",
            [t(f"{by('max', PO, sel('aicode_billing_cycle_start_timestamp_seconds'))} * 1000",
               ORG)],
            w=8,
            unit="dateTimeAsIso",
        ),
        bargauge(
            "Budget used this billing cycle",
            "Spend this cycle / the budget set for the organisation in "
            "prometheus/alerts.config.yaml (AicodeSpendOverBudget.budgets_usd); empty for "
            "organisations without a budget. Orange from 80%; red from 100%, where "
            "AicodeSpendOverBudget fires." + _SPEND_NOTE,
            [t(budget_used, ORG)],
            w=8,
            h=5,
            unit="percentunit",
            defaults={
                "max": None,
                "thresholds": _thresholds(("green", None), ("orange", 0.8), ("red", 1)),
            },
        ),
        timeseries(
            "Billing-cycle spend and budget",
            "Spend in the current billing cycle as the exporter read it, with the budget "
            "where one is set. The spend drops to 0 at each new cycle." + _SPEND_NOTE,
            [
                t(by("max", PO, spend), f"{ORG} spend"),
                t(by("max", PO, sel(BUDGET)), f"{ORG} budget"),
            ],
            w=16,
            unit="currencyUSD",
            defaults=_usd(),
        ),
        bargauge(
            "Spend by billing group this cycle",
            "Spend of each billing group in the current cycle, in USD." + _SPEND_NOTE,
            [
                t(
                    "sort_desc("
                    + by("max", "provider, org, group", sel("aicode_billing_group_spend_usd"))
                    + ")",
                    "{{group}} ({{org}})",
                )
            ],
            w=8,
            unit="currencyUSD",
            defaults=_usd(),
        ),
        bargauge(
            "Top 10 members by on-demand spend this cycle (Cursor)",
            "On-demand spend of each member in the current billing cycle; needs "
            "`users.per_user_counters` (beyond `users.max_users` people fold into "
            "`__other__`)." + _SPEND_NOTE,
            [
                t(
                    "topk(10, "
                    + by("max", "provider, org, user",
                         sel("aicode_user_billing_cycle_spend_usd"))
                    + ")",
                    "{{user}} ({{org}})",
                )
            ],
            w=24,
            unit="currencyUSD",
            defaults=_usd(),
        ),
        row("Cost and tokens by model"),
        stat(
            "Cost of the newest day",
            "Cost each vendor reports for the newest complete day, in USD (Claude Code: an "
            "estimate)." + _DAILY_NOTE,
            [t(dsum(PO, "aicode_daily_cost_usd"), ORG)],
            unit="currencyUSD",
            defaults=_usd(),
        ),
        stat(
            "Usage-event cost in range",
            "Charged cost of the usage events counted in the dashboard's time range, in USD."
            + _USAGE_NOTE,
            [t(by("sum", PO, inc("aicode_usage_cost_usd_total")), ORG)],
            unit="currencyUSD",
            defaults=_usd(),
        ),
        stat(
            "Usage events in range",
            "Billed requests counted in the dashboard's time range." + _USAGE_NOTE,
            [t(by("sum", PO, inc("aicode_usage_requests_total")), ORG)],
            defaults={"decimals": 0},
        ),
        stat(
            "Usage-event tokens in range",
            "Tokens of those requests (input, output, cache reads and writes)." + _USAGE_NOTE,
            [t(by("sum", PO, inc(tokens)), ORG)],
            defaults={"decimals": 0},
        ),
        timeseries(
            "Cost per day by model",
            "Cost the vendors report per day and model, in USD." + _DAILY_NOTE,
            [t(dsum("provider, model", "aicode_daily_cost_usd"),
               "{{provider}} {{model}}")],
            stack=True,
            unit="currencyUSD",
            defaults=_usd(),
        ),
        timeseries(
            "Tokens per day by model and type",
            "Tokens per day, model and type (input, output, cache_read, cache_write)."
            + _DAILY_NOTE,
            [t(dsum("provider, model, type", "aicode_daily_tokens"),
               "{{provider}} {{model}} {{type}}")],
            stack=True,
        ),
        timeseries(
            "Usage-event cost per hour by model",
            "Charged cost of usage events per hour and model, in USD." + _USAGE_NOTE,
            [t(_per_hour(by("sum", "provider, model", rate("aicode_usage_cost_usd_total"))),
               "{{provider}} {{model}}")],
            w=8,
            stack=True,
            unit="currencyUSD",
            defaults=_usd(),
        ),
        timeseries(
            "Usage events per hour by model and kind",
            "Billed requests per hour, by model and kind (the vendor's pricing kind)."
            + _USAGE_NOTE,
            [t(_per_hour(by("sum", "provider, model, kind",
                            rate("aicode_usage_requests_total"))),
               "{{provider}} {{model}} {{kind}}")],
            w=8,
            stack=True,
        ),
        timeseries(
            "Usage-event tokens per hour by type",
            "Tokens of usage events per hour, by type." + _USAGE_NOTE,
            [t(_per_hour(by("sum", "provider, type", rate(tokens))), "{{provider}} {{type}}")],
            w=8,
            stack=True,
        ),
        table(
            "Usage by model in range",
            "Per model in the dashboard's time range: charged cost, requests and tokens by "
            "type. Most expensive first." + _USAGE_NOTE,
            {
                "cost (USD)": by("sum", pom, inc("aicode_usage_cost_usd_total")),
                "requests": by("sum", pom, inc("aicode_usage_requests_total")),
                **{
                    f"{kind} tokens": by("sum", pom, inc(tokens, f'type="{kind}"'))
                    for kind in ("input", "output", "cache_read", "cache_write")
                },
            },
            ["provider", "org", "model"],
            w=24,
            defaults={"decimals": 0},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "cost (USD)"},
                    "properties": [
                        {"id": "unit", "value": "currencyUSD"},
                        {"id": "decimals", "value": 2},
                    ],
                }
            ],
        ),
        table(
            "Tokens by model and type, newest day",
            "Tokens of the newest complete day per model and type, as the vendors report "
            "them." + _DAILY_NOTE,
            {"tokens": by("sum", pomt, daily("aicode_daily_tokens"))},
            ["provider", "org", "model", "type"],
            w=24,
            defaults={"decimals": 0},
        ),
        row("Credits"),
        timeseries(
            "Qoder credits used per hour by operation",
            "Credits consumed per hour, by operation (Agent, Ask, Inline Chat, Quest, Code "
            "Review...), each usage record counted once.",
            [t(_per_hour(by("sum", "provider, org, operation", rate(credits))),
               "{{org}} {{operation}}")],
            stack=True,
        ),
        table(
            "Qoder credits in range by source, operation and model tier",
            "Credits consumed in the dashboard's time range, by source (IDE, CLI, JetBrains "
            "plugin...), operation and model tier. Largest first.",
            {"credits": by("sum", "provider, org, source, operation, model_tier", inc(credits))},
            ["provider", "org", "source", "operation", "model_tier"],
        ),
        bargauge(
            "Qoder credits per team in range",
            "Credits consumed in the dashboard's time range by each team's people (teams "
            "from the exporter's `teams.file`: a user in several teams counts in each).",
            [t("sort_desc(" + by("sum", "provider, org, team",
                                 inc("aicode_team_credits_used_total")) + ")",
               "{{team}} ({{org}})")],
        ),
        bargauge(
            "Qoder resource packages: credits left",
            "Credits left in the organisation's add-on resource packages, by package.",
            [t(by("sum", "provider, org, package",
                  sel("aicode_resource_package_remaining_credits")), "{{package}} ({{org}})")],
        ),
        timeseries(
            "Copilot AI credits used per day",
            "AI credits Copilot users used that day: a usage signal, not a billed amount."
            + _DAILY_NOTE,
            [t(dsum(PO, "aicode_daily_ai_credits_used"), ORG)],
        ),
    ]
    return dashboard(
        "aicode-cost",
        "AI code: cost and seats",
        "What the AI coding tools cost and how well the seats are used: seats against daily "
        "active users, spend this billing cycle against the budget, cost and tokens by "
        "model, credits.",
        panels,
        variables(),
        time_from="now-30d",
    )


def health(lim: Limits) -> Json:
    job = 'job=~"$job"'
    poe, pos = "provider, org, endpoint", "provider, org, stream"
    endpoint, stream = "{{provider}}/{{org}} {{endpoint}}", "{{provider}}/{{org}} {{stream}}"
    panels = [
        row("Exporter"),
        stat(
            "Scrape target up",
            "Whether Prometheus can scrape the exporter (`up`). DOWN raises AicodeExporterDown.",
            [t(f"up{{{job}}}", "{{instance}}")],
            w=4,
            defaults={"mappings": _UPDOWN},
        ),
        stat(
            "Exporter version",
            "Version of the running exporter.",
            [t(f"aicode_exporter_build_info{{{job}}}", "{{version}}")],
            w=5,
            text_mode="name",
        ),
        stat(
            "Vendor endpoints up",
            "Endpoints whose last poll succeeded, out of all polled endpoints.",
            [t(f"sum({sel('aicode_up')})", "up"), t(f"count({sel('aicode_up')})", "polled")],
            w=5,
        ),
        stat(
            "Scrape",
            "Time Prometheus needs to scrape the exporter and the number of samples it "
            "serves (watch it when per-user counters are on).",
            [
                t(f"max(scrape_duration_seconds{{{job}}})", "scrape duration (s)"),
                t(f"sum(scrape_samples_scraped{{{job}}})", "samples"),
            ],
            w=5,
        ),
        stat(
            "Last successful poll, oldest endpoint",
            "Age of the stalest data the exporter serves: the time since the last successful "
            f"poll of the endpoint that has waited longest. Red beyond {lim.data_stale} "
            "(AicodeDataStale.max_age in prometheus/alerts.config.yaml), where AicodeDataStale "
            "fires.",
            [t(f"time() - min({sel('aicode_last_success_timestamp_seconds')})", "age")],
            w=5,
            unit="s",
            text_mode="value",
            defaults={"thresholds": _age(lim.data_stale_s)},
        ),
        row("Vendor endpoints"),
        panel(
            "state-timeline",
            "Endpoint status",
            "Did the last poll of each vendor endpoint succeed (`aicode_up`)? A failing "
            "endpoint keeps its last good values on the other dashboards; "
            f"{lim.endpoint_down_for} of DOWN raises AicodeEndpointDown.",
            [t(by("max", poe, sel("aicode_up")), endpoint)],
            w=24,
            h=7,
            defaults={"mappings": _UPDOWN, "thresholds": _thresholds(("red", None), ("green", 1))},
            options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
        ),
        timeseries(
            "Time since last successful poll",
            "Age of the data each endpoint serves. In the red area, beyond "
            f"{lim.data_stale} (AicodeDataStale.max_age in prometheus/alerts.config.yaml), "
            "AicodeDataStale fires.",
            [
                t(
                    f"time() - {by('max', poe, sel('aicode_last_success_timestamp_seconds'))}",
                    endpoint,
                )
            ],
            unit="s",
            defaults={"thresholds": _over(lim.data_stale_s)},
            thresholds_style="line+area",
        ),
        timeseries(
            "Newest record age",
            "Time since the newest tracking record the exporter has seen per stream. It grows "
            f"over weekends; in the red area, beyond {lim.record_stale} "
            "(AicodeRecordStreamStale.max_age), AicodeRecordStreamStale fires.",
            [
                t(
                    f"time() - {by('max', pos, sel('aicode_newest_record_timestamp_seconds'))}",
                    stream,
                )
            ],
            unit="s",
            defaults={"thresholds": _over(lim.record_stale_s)},
            thresholds_style="line+area",
        ),
        bargauge(
            "Daily figures: age of the newest day",
            "How long ago the newest day of each organisation's daily figures began "
            "(`aicode_daily_*`: the newest complete UTC day the vendor has; normally "
            "yesterday, 1 to 2 days). Red beyond AicodeDailyFiguresStale's limit for the "
            f"provider ({lim.daily_stale_text()}, in prometheus/alerts.config.yaml), where "
            "the alert fires: the vendor has published no newer day." + _DAILY_NOTE,
            [
                t(
                    "time() - "
                    + by("max", "provider, org", daily("aicode_daily_date_timestamp_seconds")),
                    ORG,
                )
            ],
            w=24,
            h=6,
            unit="s",
            defaults={"thresholds": _age(_render_rules().seconds(lim.daily_stale))},
            overrides=lim.daily_age_overrides(),
        ),
        timeseries(
            "Poll duration",
            "How long the last poll of each endpoint took, pages and waits for the rate "
            "limit included. Close to poll_interval means polls are falling behind.",
            [t(by("max", poe, sel("aicode_poll_duration_seconds")), endpoint)],
            unit="s",
        ),
        timeseries(
            "Vendor API requests per minute by status",
            "Requests to the vendor by HTTP status; `error` is a request without an HTTP "
            "answer (timeout, DNS, TLS). 401/403 raise AicodeAuthFailing.",
            [
                t(
                    f"{by('sum', poe + ', code', rate('aicode_api_requests_total'))} * 60",
                    f"{endpoint} {{{{code}}}}",
                )
            ],
        ),
        timeseries(
            "Vendor API error ratio (1h)",
            "Share of vendor requests over the last hour that did not get a 2xx answer.",
            [t(sel(ERROR_RATIO_1H), endpoint)],
            unit="percentunit",
        ),
        timeseries(
            "Rate-limited requests per minute",
            "Requests the vendor throttled (HTTP 429, or 503 with Retry-After); the exporter "
            "waits as told. Throttling in every 15 minutes for an hour raises "
            "AicodeRateLimited. Cursor allows 5 requests per minute per endpoint and team.",
            [t(f"{by('sum', poe, rate('aicode_api_rate_limited_total'))} * 60", endpoint)],
        ),
        timeseries(
            "Tracking records per hour",
            "New tracking records counted, and records read again (the look-back overlap) "
            "and skipped by de-duplication.",
            [
                t(
                    _per_hour(by("sum", pos, rate("aicode_records_ingested_total"))),
                    f"{stream} new",
                ),
                t(
                    _per_hour(by("sum", pos, rate("aicode_records_duplicate_total"))),
                    f"{stream} duplicate",
                ),
            ],
        ),
    ]
    return dashboard(
        "aicode-exporter-health",
        "AI code: exporter health",
        "Is the exporter scraped, are the vendor endpoints answering, how fresh is the data.",
        panels,
        variables(job=True),
        time_from="now-24h",
        refresh="1m",
    )


_TEAMS_NOTE = (
    " Teams come from the exporter's user-to-team map (`teams.file`): a user in several "
    "teams counts in each, so team totals can exceed the organisation's total; people in "
    "no team count under `unassigned` (`teams.unassigned`)."
)
_OK_BROKEN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "BROKEN", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        },
    }
]


def _share_in_range(counter: str, labels: str, *matchers: str) -> str:
    """AI / all lines of `counter` in the dashboard's time range, by `labels`; 0 (not
    missing) for only non-AI lines, NaN for none (as the recording rules)."""
    everything = by("sum", labels, inc(counter, *matchers))
    ai = by("sum", labels, inc(counter, *matchers, AI))
    return f"({ai} or 0 * {everything}) / {everything}"


def teams(lim: Limits) -> Json:
    pot, pots = "provider, org, team", "provider, org, team, source"
    lines = "aicode_team_commit_lines_added_total"
    changes, change_lines = "aicode_team_changes_total", "aicode_team_change_lines_added_total"
    share = _share_in_range(lines, pot, TEAM)
    ji = "job, instance"
    panels = [
        row("AI share per team"),
        bargauge(
            "AI share of commit lines per team in range (tracking)",
            "AI lines / all lines added in the commit records ingested in the dashboard's "
            "time range, per team." + _TEAMS_NOTE + _COUNTER_NOTE,
            [t(f"sort_desc({share})", "{{team}} ({{provider}}/{{org}})")],
            w=8,
            h=9,
            unit="percentunit",
            defaults={"thresholds": lim.share()},
        ),
        timeseries(
            "AI share trend per team, trailing 1d (tracking)",
            "AI lines / all lines added per team in the commit records ingested over the "
            "trailing day, at each point. The dashed red line is AicodeAIShareLow's "
            f"threshold ({lim.ai_share:.0%})." + _TEAMS_NOTE + _COUNTER_NOTE,
            [t(by("max", pot, sel(TEAM_RATIO_1D, TEAM)), "{{team}} ({{provider}}/{{org}})")],
            w=16,
            h=9,
            unit="percentunit",
            defaults={"thresholds": _over(lim.ai_share)},
            thresholds_style="dashed",
        ),
        table(
            "Team league table in range (tracking)",
            "Per team in the dashboard's time range: the AI share of the commit lines added, "
            "commit records, lines and AI lines added in them, AI changes (IDE edit events) "
            "and the lines those added. Best AI share first." + _TEAMS_NOTE + _COUNTER_NOTE,
            {
                "AI share": share,
                "commits": by("sum", pot, inc("aicode_team_commits_total", TEAM)),
                "lines added": by("sum", pot, inc(lines, TEAM)),
                "AI lines added": by("sum", pot, inc(lines, TEAM, AI)),
                "AI changes": by("sum", pot, inc(changes, TEAM)),
                "AI-changed lines added": by("sum", pot, inc(change_lines, TEAM)),
            },
            ["provider", "org", "team"],
            w=24,
            h=10,
            defaults={"decimals": 0},
            overrides=[lim.share_column("AI share")],
        ),
        row("Commits and changes per team"),
        timeseries(
            "AI commit lines added per hour by team (tracking)",
            "Lines added in ingested commit records by any AI source, per team."
            + _TEAMS_NOTE
            + _COUNTER_NOTE,
            [t(_per_hour(by("sum", "team", rate(lines, TEAM, AI))), "{{team}}")],
            stack=True,
        ),
        timeseries(
            "AI changes per hour by team and source (tracking)",
            "AI edit events in the IDE (agent, next/tab, quest, inline chat, composer) per "
            "team and source." + _TEAMS_NOTE + _COUNTER_NOTE,
            [
                t(
                    _per_hour(by("sum", "team, source", rate(changes, TEAM))),
                    "{{team}} {{source}}",
                )
            ],
            stack=True,
        ),
        table(
            "Changes per team by source in range (tracking)",
            "AI edit events and the lines they added in the dashboard's time range, per team "
            "and source." + _TEAMS_NOTE + _COUNTER_NOTE,
            {
                "changes": by("sum", pots, inc(changes, TEAM)),
                "lines added": by("sum", pots, inc(change_lines, TEAM)),
            },
            ["provider", "org", "team", "source"],
            w=24,
            defaults={"decimals": 0},
        ),
        row("Daily figures per team (vendor)"),
        timeseries(
            "Daily active users per team (vendor)",
            "People of each team who used any AI feature that day, from the vendors' daily "
            "reports." + _DAILY_TEAMS_NOTE + _DAILY_NOTE,
            [
                t(
                    dsum("provider, team", "aicode_daily_team_active_users", TEAM),
                    "{{team}} ({{provider}})",
                )
            ],
            defaults={"decimals": 0},
        ),
        timeseries(
            "Lines accepted per day per team and feature (vendor)",
            "Lines the team's people accepted (written into files), by feature."
            + _DAILY_TEAMS_NOTE + _FEATURE_NOTE + _DAILY_NOTE,
            [
                t(
                    dsum("provider, team, feature", "aicode_daily_team_lines_accepted", TEAM),
                    "{{team}} {{feature}} ({{provider}})",
                )
            ],
            stack=True,
        ),
        row("Teams map"),
        stat(
            "Teams map rows",
            "Rows (distinct user-to-team entries) of the teams map the exporter uses, per "
            "exporter. Not filtered by provider or org: one map serves them all.",
            [t(by("max", ji, "aicode_teams_map_rows"), "{{instance}}")],
            w=8,
            defaults={"decimals": 0},
        ),
        stat(
            "Teams map file status",
            "OK while `teams.file` as it is on disk is the map in use; BROKEN while the file "
            "cannot be read or parsed and the previous map stays in use (the exporter log "
            f"names the line and column). {lim.teams_map_broken_for} of BROKEN raises "
            "AicodeTeamsMapBroken.",
            [t(by("min", ji, "aicode_teams_map_load_ok"), "{{instance}}")],
            w=8,
            defaults={
                "mappings": _OK_BROKEN,
                "thresholds": _thresholds(("red", None), ("green", 1)),
            },
        ),
        stat(
            "Teams map loaded",
            "When the exporter last loaded a new version of `teams.file` (at start, and "
            "whenever its content changes and parses).",
            [
                t(
                    f"{by('max', ji, 'aicode_teams_map_last_load_timestamp_seconds')} * 1000",
                    "{{instance}}",
                )
            ],
            w=8,
            unit="dateTimeFromNow",
        ),
    ]
    return dashboard(
        "aicode-teams",
        "AI code: teams",
        "AI adoption per team, from the exporter's user-to-team map: a user in several "
        "teams counts in each, so team totals can exceed the organisation's total.",
        panels,
        variables(team=True),
        time_from="now-30d",
    )


DASHBOARDS = {
    "aicode-adoption.json": adoption,
    "aicode-repositories.json": repositories,
    "aicode-people.json": people,
    "aicode-teams.json": teams,
    "aicode-cost.json": cost,
    "aicode-exporter-health.json": health,
}


def render(alerts_config: Path | None = None) -> dict[str, str]:
    """File name -> JSON text, exactly as committed (with the repo's alerts config)."""
    lim = Limits.load(alerts_config)
    out = {}
    for name, build in DASHBOARDS.items():
        dash = build(lim)
        del dash[WAITING]
        out[name] = json.dumps(dash, indent=2, ensure_ascii=False) + "\n"
    return out


def markdown(alerts_config: Path | None = None) -> str:
    """Each dashboard's panels and the PromQL behind them (grafana/README.md)."""
    lim = Limits.load(alerts_config)
    out = []
    for build in DASHBOARDS.values():
        dash = build(lim)
        out += [f"### {dash['title']} (`{dash['uid']}`)", "", dash["description"], ""]
        out += ["| Panel | PromQL |", "|---|---|"]
        for p in dash["panels"]:
            if p["type"] == "row":
                out.append(f"| **{p['title']}** | |")
                continue
            exprs = "<br>".join("`" + t["expr"].replace("|", "\\|") + "`" for t in p["targets"])
            out.append(f"| {p['title']} | {exprs} |")
        out.append("")
        if dash[WAITING]:
            out += ["Waiting for a vendor to declare their metrics:", ""]
            for w in dash[WAITING]:
                what = "the panel" if w["whole"] else "some of its queries"
                names = ", ".join(f"`{n}`" for n in w["metrics"])
                out.append(f"- {w['panel']} ({what}): {names}")
            out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write grafana/dashboards/*.json")
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    parser.add_argument("--markdown", action="store_true", help="print the panel tables")
    parser.add_argument(
        "--alerts-config",
        type=Path,
        default=None,
        help="alert overrides (as for prometheus/render_rules.py --config) to take the "
        "thresholds from",
    )
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    rules = _render_rules()
    try:
        if args.markdown:
            print(markdown(args.alerts_config), end="")
            return 0
        texts = render(args.alerts_config)
    except rules.ConfigError as exc:
        print(f"build_dashboards: {exc}", file=sys.stderr)
        return 2
    return write_or_check(
        {args.out_dir / name: text for name, text in texts.items()},
        check=args.check,
        how="python grafana/build_dashboards.py",
    )


if __name__ == "__main__":
    sys.exit(main())
