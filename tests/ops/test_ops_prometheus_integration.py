"""Every dashboard query against a real Prometheus scraping the exporter fed by the simulator.

simulator (every simulated vendor, as `make demo` runs them) -> exporter (one provider per
simulated vendor, with a teams map of the simulated people, aicode_sim.teams_csv) ->
Debian's prometheus (1s scrape and rule evaluation, the repo's recording and alerting rules
with a budget for every simulated organisation) -> every panel query of every dashboard,
Grafana variables substituted. All on loopback.

A query that reads a metric no registered vendor declares yet (a shared metric the vendors
being added will feed) cannot return data: it is left out of the check and listed by
test_no_panel_query_waits_for_a_vendor. A metric a registered vendor declares must be
served by the simulator, and every query reading it must return data.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from aicode_sim import TEAMS, Simulator, teams_csv
from tests.ops.helpers import (
    PROMETHEUS_DIR,
    contract_metrics,
    dashboards,
    load_script,
    metric_names,
    queries,
    read_yaml,
    tool,
)
from tests.support.processes import free_port, wait_for

EXPORTER = Path(sys.executable).parent / "aicode-exporter"
# Grafana's built-in variables, replaced by values the test's data covers.
BUILTINS = {"__rate_interval": "15s", "__range": "1m", "__interval": "5s", "top": "10"}
# The simulated organisation (aicode-exporter simulate --seed --users --repos) and its teams.
SIM = {"seed": 1, "users": 50, "repos": 20}
# Poll intervals: Cursor's simulated limit is 5 requests per minute per endpoint.
POLL_INTERVAL = {"cursor": "15s"}
# A budget every simulated organisation is over as soon as it spends anything.
BUDGET_USD = 0.01
T = TypeVar("T")
render_rules = load_script(PROMETHEUS_DIR / "render_rules.py")


@dataclass
class Stack:
    prometheus: str
    logs: dict[str, Path]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    providers: list[str] = field(default_factory=list)  # the simulated vendors' types
    rules: list[dict[str, Any]] = field(default_factory=list)  # the rules Prometheus loads
    # aicode_* name Prometheus scraped -> the providers it has series of ("" for none)
    served: dict[str, set[str]] = field(default_factory=dict)

    def inputs(self, name: str) -> set[str]:
        """The scraped metrics a metric or recording rule is computed from."""
        for rule in self.rules:
            if rule.get("record") == name:
                return set().union(*(self.inputs(n) for n in metric_names(rule["expr"])))
        return {name}

    def together(self, expr: str) -> bool:
        """Whether one simulated provider serves every metric `expr` reads (a quotient of
        two metrics has data only then)."""
        providers: set[str] | None = None
        for name in set().union(*(self.inputs(n) for n in metric_names(expr))):
            by = self.served.get(name, set())
            if by == {""}:  # no provider label: the exporter's own
                continue
            providers = by if providers is None else providers & by
        return providers is None or bool(providers)

    def dead(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"{name} exited {proc.returncode}"
        return None

    def tails(self) -> str:
        out = []
        for name, path in self.logs.items():
            lines = path.read_text(errors="replace").splitlines()[-15:] if path.exists() else []
            out.append(f"--- {name} log ({path}) ---\n" + "\n".join(lines))
        return "\n".join(out)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def wait_until(stack: Stack, what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """Poll `probe` until it returns something; fail early if a process died."""
    return wait_for(probe, timeout, what, interval=0.25, abort=stack.dead, details=stack.tails)


def query(stack: Stack, expr: str) -> dict[str, Any]:
    url = f"{stack.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = http_get(url)
    try:
        return dict(json.loads(body))
    except ValueError:
        return {"status": "error", "error": f"HTTP {status}: {body[:200]!r}"}


def start(stack: Stack, name: str, cmd: list[str], log: Path) -> None:
    stack.logs[name] = log
    with log.open("wb") as out:
        stack.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not EXPORTER.is_file():
        pytest.fail(f"{EXPORTER} is missing: pip install -e '.[test]'", pytrace=False)
    prometheus_bin = tool("prometheus")
    tmp = tmp_path_factory.mktemp("ops-integration")
    exporter_port, prom_port = free_port(), free_port()
    exporter_url = f"http://127.0.0.1:{exporter_port}"
    stack = Stack(prometheus=f"http://127.0.0.1:{prom_port}", logs={})
    # Every simulated vendor, as `make demo` runs them (in this process: its provider
    # entries come from the running simulator).
    sim = Simulator(**SIM)
    sim.start("127.0.0.1", 0)
    try:
        # the same people as the simulator serves, in five teams (and some in none)
        (tmp / "teams.csv").write_text(teams_csv(sim), encoding="utf-8")
        providers = []
        for entry in sim.demo_providers():
            interval = POLL_INTERVAL.get(entry["type"], "10s")
            providers.append(
                {
                    **entry,
                    "name": "demo",
                    "poll_interval": interval,
                    # The first poll reads 2 days (never empty, even over a simulated
                    # weekend); the deep re-read, due one interval later, reads back 7
                    # (lookback), which always holds weekdays: series that exist at the
                    # first scrape rise while Prometheus scrapes, so rate()-based panels
                    # get real values.
                    "initial_backfill": "2d",
                    "lookback": "7d",
                    "lookback_interval": interval,
                }
            )
        stack.providers = [p["type"] for p in providers]
        config = {
            "state_path": str(tmp / "state.db"),
            # per-user counters feed the "People in range (tracking)" panel
            "users": {"per_user_counters": True},
            # the per-team counters feed the teams dashboard
            "teams": {"file": str(tmp / "teams.csv")},
            "providers": providers,
        }
        # The shipped rules with a budget for every simulated organisation, so the budget
        # panels have data and AicodeSpendOverBudget can be seen pending.
        budgets = {"alerts": {"AicodeSpendOverBudget": {
            "budgets_usd": {f"{p}/demo": BUDGET_USD for p in stack.providers}}}}
        (tmp / "alerts.yaml").write_text(yaml.safe_dump(budgets), encoding="utf-8")
        rules_dir = tmp / "rules"
        rules_dir.mkdir()
        code = render_rules.main(
            [
                "--config", str(tmp / "alerts.yaml"),
                "--alerts-out", str(rules_dir / "aicode-alerts.rules.yml"),
                "--prometheusrule-out", str(tmp / "prometheusrule.yaml"),
            ]
        )
        assert code == 0
        rule_files = sorted(rules_dir.glob("*.rules.yml"))
        stack.rules = [
            rule for f in rule_files for g in read_yaml(f)["groups"] for rule in g["rules"]
        ]
        # Prometheus first, so it scrapes from the exporter's first poll on.
        prom_config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {
                    "job_name": "aicode-exporter",
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                }
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_config), encoding="utf-8")
        start(
            stack,
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
            tmp / "prometheus.log",
        )
        wait_until(
            stack,
            "prometheus /-/ready",
            lambda: http_get(f"{stack.prometheus}/-/ready")[0] == 200 or None,
            30,
        )

        (tmp / "exporter.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        start(
            stack,
            "exporter",
            [
                str(EXPORTER),
                "--config.file",
                str(tmp / "exporter.yml"),
                "--web.listen-address",
                f"127.0.0.1:{exporter_port}",
            ],
            tmp / "exporter.log",
        )
        wait_until(
            stack,
            "the exporter's /-/ready",
            lambda: http_get(f"{exporter_url}/-/ready")[0] == 200 or None,
            60,
        )

        def enough_samples() -> bool | None:
            # rate() over the 15s used for $__rate_interval needs >= 2 samples: ask for 5.
            result = query(stack, 'count_over_time(up{job="aicode-exporter"}[15s]) >= 5')
            return bool(result.get("data", {}).get("result")) or None

        wait_until(stack, "5 scrapes of the exporter", enough_samples, 30)

        def counters_moved() -> bool | None:
            # both providers' second polls counted commit lines while being scraped
            expr = ("count(sum by (provider) "
                    "(increase(aicode_commit_lines_added_total[1m])) > 0) == 2")
            return bool(query(stack, expr).get("data", {}).get("result")) or None

        wait_until(stack, "the counters to rise between scrapes", counters_moved, 60)

        result = query(stack, 'group by (__name__, provider) ({__name__=~"aicode_.+"})')
        for r in result["data"]["result"]:
            name, provider = r["metric"]["__name__"], r["metric"].get("provider", "")
            stack.served.setdefault(name, set()).add(provider)

        def rules_evaluated() -> bool | None:
            # A finite value, not just a series: the rules' last evaluation may predate the
            # counters' rise by up to one evaluation interval, and 0/0 is NaN. Only for the
            # rules whose inputs are served.
            for record in _recording(stack):
                if waiting_for(stack, record) or not stack.together(record):
                    continue  # the panels reading it say why
                result = query(stack, record).get("data", {}).get("result", [])
                if not any(_finite(r) for r in result):
                    return None
            status, body = http_get(f"{stack.prometheus}/api/v1/rules")
            groups = json.loads(body)["data"]["groups"] if status == 200 else []
            health = [rule["health"] for group in groups for rule in group["rules"]]
            return (bool(health) and "unknown" not in health) or None

        wait_until(
            stack,
            "every rule to evaluate and every recording rule to have a finite value",
            rules_evaluated,
            30,
        )
        yield stack
    finally:
        for proc in reversed(list(stack.procs.values())):
            stop(proc)
        sim.stop()


def _recording(stack: Stack) -> set[str]:
    return {r["record"] for r in stack.rules if "record" in r}


def waiting_for(stack: Stack, expr: str) -> set[str]:
    """The metrics `expr` reads (through recording rules too) that the simulator does not
    serve and no registered vendor declares: a vendor being added will."""
    needed = set().union(*(stack.inputs(n) for n in metric_names(expr)))
    return {n for n in needed if n not in stack.served and n not in contract_metrics()}


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace $var / ${var} / ${var:fmt} as Grafana would, unknown variables by `.*`."""

    def repl(match: re.Match[str]) -> str:
        return values.get(match.group(1) or match.group(2), ".*")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def label_values(stack: Stack, definition: str, values: dict[str, str]) -> list[str]:
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition.strip())
    assert match, f"unsupported variable query {definition}"
    selector, label = substitute(match.group(1), values), match.group(2)
    result = query(stack, f"group by ({label}) ({selector})")
    assert result.get("status") == "success", (definition, result)
    return sorted(r["metric"][label] for r in result["data"]["result"] if label in r["metric"])


@pytest.fixture(scope="module")
def variable_values(stack: Stack) -> dict[str, str]:
    """Values for every dashboard variable: `.*` for multi-value ones, data for $window."""
    values = dict(BUILTINS)
    empty = []
    for dash in dashboards().values():
        for var in dash["templating"]["list"]:
            if var["type"] != "query":
                continue
            found = label_values(stack, var["definition"], values)
            if not found:
                empty.append(f"{dash['title']}: ${var['name']} = {var['definition']}")
            elif not var.get("multi"):
                values[var["name"]] = found[0]
    assert not empty, "variable queries returned no values:\n" + "\n".join(empty)
    return values


def test_variable_queries_return_values(variable_values: dict[str, str]) -> None:
    assert variable_values.get("window"), variable_values


def test_every_panel_query_returns_data(stack: Stack, variable_values: dict[str, str]) -> None:
    """Every query returns finite data, but those that wait for a vendor being added (see
    test_no_panel_query_waits_for_a_vendor); a metric a registered vendor declares but the
    simulator does not serve fails here."""
    failures = []
    count = 0
    for dash in dashboards().values():
        for panel, target in queries(dash):
            if waiting_for(stack, target["expr"]):
                continue
            count += 1
            expr = substitute(target["expr"], variable_values)
            result = query(stack, expr)
            unserved = set().union(*(stack.inputs(n) for n in metric_names(expr))) - set(
                stack.served
            )
            if result.get("status") != "success":
                reason = f"error: {result.get('error')}"
            elif unserved:
                reason = f"declared but not served by the simulator: {', '.join(sorted(unserved))}"
            elif not stack.together(target["expr"]):
                reason = "no simulated provider serves all of its metrics"
            elif not result["data"]["result"]:
                reason = "empty result"
            elif not any(_finite(r) for r in result["data"]["result"]):
                reason = "only NaN/Inf values"
            else:
                continue
            failures.append(
                f"{dash['title']} / {panel['title']} [{target['refId']}]: {reason}\n    {expr}"
            )
    assert count > 50, f"only {count} queries found"
    assert not failures, f"{len(failures)} of {count} panel queries failed:\n" + "\n".join(failures)


def test_no_panel_query_waits_for_a_vendor(stack: Stack) -> None:
    """Lists (as the reason of a skip) the panel queries left out of the check above because
    they read shared metrics no registered vendor feeds yet. Once the vendors that feed them
    are merged (and in the simulator), nothing is skipped and this passes."""
    waiting = []
    for dash in dashboards().values():
        for panel, target in queries(dash):
            names = waiting_for(stack, target["expr"])
            if names:
                waiting.append(
                    f"{dash['title']} / {panel['title']} [{target['refId']}]: "
                    + ", ".join(sorted(names))
                )
    if waiting:
        pytest.skip(
            f"{len(waiting)} panel queries read metrics no registered vendor feeds yet "
            f"(simulated vendors: {', '.join(stack.providers)}):\n" + "\n".join(waiting)
        )


@pytest.mark.parametrize("label", ["repo", "user", "team"])
def test_panels_filtered_by_one_repo_user_or_team(
    stack: Stack, variable_values: dict[str, str], label: str
) -> None:
    """With one value picked in $repo / $user / $team (as Grafana sends it: an escaped regex), every
    panel query that uses the variable answers, shows only that value, and some show it."""
    checked = 0
    for dash in dashboards().values():
        var = next((v for v in dash["templating"]["list"] if v["name"] == label), None)
        if var is None:
            continue
        found = label_values(stack, var["definition"], variable_values)
        assert found, var["definition"]
        value = found[0]
        values = {**variable_values, label: re.escape(value).replace("\\", "\\\\")}
        shown = False
        for panel, target in queries(dash):
            if f"${label}" not in target["expr"]:
                continue
            checked += 1
            expr = substitute(target["expr"], values)
            result = query(stack, expr)
            assert result.get("status") == "success", (panel["title"], expr, result)
            labels = {r["metric"].get(label) for r in result["data"]["result"]}
            assert labels <= {value, None}, (panel["title"], expr, labels)
            shown = shown or value in labels
        assert shown, f"{dash['title']}: no panel shows {label}={value!r}"
    assert checked >= 3, f"only {checked} queries use ${label}"


def _finite(series: dict[str, Any]) -> bool:
    value = float(series["value"][1])
    return math.isfinite(value)


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    status, body = http_get(f"{stack.prometheus}/api/v1/rules")
    assert status == 200
    rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
    names = {r["name"] for r in rules}
    assert _recording(stack) <= names
    assert len(rules) >= 12, names
    bad = [
        f"{r['name']}: {r['health']} {r.get('lastError', '')}" for r in rules if r["health"] != "ok"
    ]
    assert not bad, "\n".join(bad)


def test_no_exporter_alert_fires_against_a_healthy_simulator(stack: Stack) -> None:
    """Exporter-health alerts stay quiet when the vendor APIs answer (not firing, live)."""
    quiet = "AicodeExporterDown|AicodeEndpointDown|AicodeDataStale|AicodeAuthFailing"
    # the simulator's vendors publish yesterday, or a few days back: nothing stale
    quiet += "|AicodeDailyFiguresStale"
    result = query(stack, f'ALERTS{{alertname=~"{quiet}"}}')
    assert result["status"] == "success"
    assert result["data"]["result"] == [], result["data"]["result"]


def test_spend_over_a_budget_is_seen_live(stack: Stack) -> None:
    """Every simulated organisation that reports billing-cycle spend above the test's
    budget has AicodeSpendOverBudget pending (its `for` has not passed yet)."""
    if "aicode_billing_cycle_spend_usd" not in stack.served:  # until a vendor reports it
        pytest.skip("no simulated vendor reports aicode_billing_cycle_spend_usd yet")
    spending = query(stack, f"aicode_billing_cycle_spend_usd > {BUDGET_USD}")["data"]["result"]
    assert spending, "no simulated organisation spends anything"
    want = {(r["metric"]["provider"], r["metric"]["org"]) for r in spending}

    def pending() -> bool | None:
        result = query(stack, 'ALERTS{alertname="AicodeSpendOverBudget"}')["data"]["result"]
        got = {(r["metric"]["provider"], r["metric"]["org"]) for r in result}
        return got == want or None

    wait_until(stack, f"AicodeSpendOverBudget pending for {sorted(want)}", pending, 10)


def test_the_teams_map_is_loaded_and_every_team_counts(stack: Stack) -> None:
    """The exporter uses the map the test wrote: every team of it and `unassigned` have
    counters, and since some people are in two teams the teams add up to more commits than
    the organisation has (in one scrape, so both sides are the same instant)."""
    csv_rows = len(teams_csv(Simulator(**SIM)).splitlines()) - 1
    for expr, want in [
        ("aicode_teams_map_load_ok", 1),
        ("aicode_teams_map_rows", csv_rows),
    ]:
        result = query(stack, expr)["data"]["result"]
        assert [float(r["value"][1]) for r in result] == [want], (expr, result)
    result = query(stack, "group by (team) (aicode_team_commits_total)")["data"]["result"]
    assert {r["metric"]["team"] for r in result} == {*TEAMS, "unassigned"}, result
    expr = (
        "sum by (provider, org) (aicode_team_commits_total)"
        " > sum by (provider, org) (aicode_commits_total)"
    )
    result = query(stack, expr)["data"]["result"]
    assert {r["metric"]["provider"] for r in result} == {"qoder", "cursor"}, result
