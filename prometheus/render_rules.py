#!/usr/bin/env python3
"""Render the aicode-exporter alerting rules and the Kubernetes PrometheusRule.

Inputs:  prometheus/alerts.config.yaml        thresholds, `for`, severities, selectors
         prometheus/rules/aicode-recording.rules.yml   hand-written recording rules
Outputs: prometheus/rules/aicode-alerts.rules.yml      (generated, do not edit)
         deploy/kubernetes/prometheusrule.yaml         (generated: both rule files)

    python prometheus/render_rules.py            # rewrite the outputs
    python prometheus/render_rules.py --check    # exit 1 if an output is out of date
    python prometheus/render_rules.py --config my.yaml --alerts-out /tmp/a.yml \
        --prometheusrule-out /tmp/pr.yaml        # render an override elsewhere
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.generated import write_or_check

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "prometheus" / "alerts.config.yaml"
RECORDING_RULES = ROOT / "prometheus" / "rules" / "aicode-recording.rules.yml"
ALERTS_OUT = ROOT / "prometheus" / "rules" / "aicode-alerts.rules.yml"
PROMETHEUSRULE_OUT = ROOT / "deploy" / "kubernetes" / "prometheusrule.yaml"

AI_SHARE_1D = "provider_org:aicode_commit_ai_lines_added_per_lines_added:ratio_rate1d"

_DURATION = re.compile(r"^[1-9][0-9]*(s|m|h|d|w)$|^0m$|^0s$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SEVERITIES = {"critical", "warning", "info"}
_COMMON = {"enabled": "bool", "for": "duration", "severity": "severity"}


class ConfigError(Exception):
    """The alerts config file is invalid; the message names the key."""


@dataclass(frozen=True)
class Ctx:
    """What every alert builder needs besides its own parameters."""

    job_selector: str
    org_selector: str

    def sel(self, metric: str, *matchers: str) -> str:
        """`metric{matchers..., org_selector}`, leaving out empty parts."""
        parts = [m for m in (*matchers, self.org_selector) if m]
        return f"{metric}{{{', '.join(parts)}}}" if parts else metric


def seconds(duration: str) -> int:
    unit = duration[-1]
    return int(duration[:-1]) * _SECONDS[unit]


def num(value: float) -> str:
    """A PromQL number literal without a trailing `.0`."""
    return f"{value:g}"


# --- the alerts -------------------------------------------------------------------------
# Each builder returns (expr, summary, description). Descriptions are runbooks: what it
# means, what the user sees, where to look, how to fix.

Params = dict[str, Any]
Built = tuple[str, str, str]


def exporter_down(p: Params, c: Ctx) -> Built:
    up = f"up{{{c.job_selector}}}"
    expr = f"{up} == 0\nor\nabsent({up})"
    summary = "aicode-exporter is down or not scraped"
    desc = (
        f"Prometheus has had no successful scrape of the exporter (`up{{{c.job_selector}}}`) "
        f"for {p['for']}: either the target answers with an error or no target matches "
        "the job selector at all. AI-code panels stop at their last values; counters are "
        "safe in the state file and the record streams are re-read from their watermark "
        "when the exporter is back.\n"
        "Check: the container or pod status and its log (a configuration error exits with "
        "status 2 and names the key), http://<exporter>:19877/-/healthy, and the target on "
        "Prometheus's /targets page. If your scrape job has another name, set job_selector "
        "in prometheus/alerts.config.yaml and re-render the rules."
    )
    return expr, summary, desc


def endpoint_down(p: Params, c: Ctx) -> Built:
    expr = f"{c.sel('aicode_up')} == 0"
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }}: endpoint {{ $labels.endpoint }} "
        f"has been failing for {p['for']}"
    )
    desc = (
        "Every poll of the {{ $labels.provider }} endpoint {{ $labels.endpoint }} for org "
        f"{{{{ $labels.org }}}} has failed for {p['for']} (aicode_up == 0). The exporter keeps "
        "serving the last good values of this endpoint, so its panels look flat.\n"
        "Check the exporter log (provider=, endpoint= fields) and "
        "aicode_api_requests_total{code} on the Exporter health dashboard: 401/403 is the "
        "API key (see AicodeAuthFailing), 429/503 throttling or a vendor outage, `error` a "
        "network, DNS or TLS problem, 400 usually a wrong organization_id or a window "
        "longer than 90 days. If the vendor is down, nothing to do: the tracking streams "
        "catch up through their look-back once it answers again."
    )
    return expr, summary, desc


def data_stale(p: Params, c: Ctx) -> Built:
    expr = f"time() - {c.sel('aicode_last_success_timestamp_seconds')} > {seconds(p['max_age'])}"
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }}: {{ $labels.endpoint }} data is "
        "{{ $value | humanizeDuration }} old"
    )
    desc = (
        "The last successful poll of {{ $labels.endpoint }} for {{ $labels.provider }}/"
        "{{ $labels.org }} was {{ $value | humanizeDuration }} ago, more than the "
        f"{p['max_age']} threshold. Either the endpoint keeps failing (see AicodeEndpointDown) "
        "or polls no longer finish while the process is up: look for a hanging request "
        "in the exporter log and at aicode_poll_duration_seconds. A poll_interval longer "
        f"than {p['max_age']} also trips this alert: raise AicodeDataStale.max_age in "
        "prometheus/alerts.config.yaml."
    )
    return expr, summary, desc


def record_stream_stale(p: Params, c: Ctx) -> Built:
    expr = f"time() - {c.sel('aicode_newest_record_timestamp_seconds')} > {seconds(p['max_age'])}"
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }}: no new {{ $labels.stream }} records for "
        "{{ $value | humanizeDuration }}"
    )
    desc = (
        "The newest {{ $labels.stream }} record the exporter has ingested for "
        "{{ $labels.provider }}/{{ $labels.org }} is {{ $value | humanizeDuration }} old "
        f"(threshold {p['max_age']}). Polls can succeed while this fires: the vendor simply "
        "returns no newer records. Usual causes: nobody in the organisation used the tool "
        "(holidays), the vendor's ingestion is late, tracking was switched off for the team, "
        "or the key lost access to tracking data. Compare with the vendor's console; if "
        "records exist there, check aicode_records_ingested_total and the exporter log for "
        "this stream."
    )
    return expr, summary, desc


def auth_failing(p: Params, c: Ctx) -> Built:
    counter = c.sel("aicode_api_requests_total", 'code=~"401|403"')
    expr = f"sum by (provider, org, endpoint, code) (increase({counter}[{p['window']}])) > 0"
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }} rejects the API key "
        "(HTTP {{ $labels.code }} on {{ $labels.endpoint }})"
    )
    desc = (
        "The vendor answered HTTP {{ $labels.code }} to requests for {{ $labels.endpoint }} "
        f"of {{{{ $labels.provider }}}}/{{{{ $labels.org }}}} within the last {p['window']}. "
        "The exporter does not retry these: the endpoint stays down until the key is fixed.\n"
        "401: the key is missing, revoked or expired. 403: the key has no access to this "
        "organisation or endpoint (a Qoder key is bound to one organisation: check "
        "organization_id). Put a valid key where api_key_file / api_key_env points "
        "(the Kubernetes Secret), then restart the exporter so it reads it."
    )
    return expr, summary, desc


def rate_limited(p: Params, c: Ctx) -> Built:
    counter = c.sel("aicode_api_rate_limited_total")
    expr = (
        f"sum by (provider, org, endpoint) (increase({counter}[{p['window']}])) "
        f"> {num(p['min_increase'])}"
    )
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }}: {{ $labels.endpoint }} "
        f"rate limited for over {p['for']}"
    )
    desc = (
        "The vendor has throttled requests to {{ $labels.endpoint }} of "
        f"{{{{ $labels.provider }}}}/{{{{ $labels.org }}}} in every {p['window']} window for "
        f"{p['for']}. The exporter waits as told, so data arrives late or a poll does not "
        "finish within its interval.\n"
        "Lower the request volume: raise poll_interval, shorten lookback / initial_backfill, "
        "lower ranking_limit, keep rate_limit_per_minute below the vendor's limit (Cursor "
        "allows 5 requests per minute per endpoint and team), and make sure no second "
        "replica or other tool uses the same key."
    )
    return expr, summary, desc


def ai_share_low(p: Params, c: Ctx) -> Built:
    vendor = c.sel("aicode_ai_share_ratio", f'window="{p["window"]}"')
    expr = (
        "(\n"
        f"    max by (provider, org) ({vendor})\n"
        "  or\n"
        f"    {c.sel(AI_SHARE_1D)}\n"
        f")\n< {num(p['threshold'])}"
    )
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }}: AI share of committed code is "
        "{{ $value | humanizePercentage }}"
    )
    desc = (
        f"For {p['for']} the AI share of committed lines of {{{{ $labels.provider }}}}/"
        f"{{{{ $labels.org }}}} has been below {num(p['threshold'] * 100)}%. Where the vendor "
        f"reports it (Qoder) this is its own {p['window']} figure (overview aiShareRate, "
        f'aicode_ai_share_ratio{{window="{p["window"]}"}}); otherwise (Cursor) it is the share '
        "of AI lines among the commit lines ingested over the last day "
        f"({AI_SHARE_1D}).\n"
        "This is an adoption signal, not a fault. Look at the AI code adoption and "
        "Repositories dashboards for which repositories and people moved; check that "
        "tracking is on for every IDE and plugin user, and whether a large non-AI change "
        "(vendored or generated code) inflated the total. Change the threshold with "
        "AicodeAIShareLow.threshold in prometheus/alerts.config.yaml."
    )
    return expr, summary, desc


def tab_acceptance_drop(p: Params, c: Ctx) -> Built:
    ratio = c.sel("aicode_daily_tab_accept_ratio")
    suggestions = c.sel("aicode_daily_tab_suggestions")
    factor = num(round(1 - p["drop"], 6))
    expr = (
        "(\n"
        f"    max by (provider, org) ({ratio})\n"
        "  <\n"
        f"    {factor} * max by (provider, org) ({ratio} offset 7d)\n"
        ")\n"
        f"and\n  max by (provider, org) ({suggestions}) >= {num(p['min_suggestions'])}"
    )
    summary = (
        "{{ $labels.provider }}/{{ $labels.org }}: tab acceptance fell to "
        "{{ $value | humanizePercentage }}"
    )
    desc = (
        "The share of tab suggestions accepted on the latest complete day (Qoder "
        "daily-trend nextAcceptRate) is more than "
        f"{num(p['drop'] * 100)}% below its value 7 days earlier, on a day with at least "
        f"{num(p['min_suggestions'])} suggestions. A sudden drop often follows a vendor model "
        "or client update, a changed completion setting, or a vendor-side incident. Compare "
        "aicode_daily_tab_suggestions and aicode_daily_tab_accepts on the AI code adoption "
        "dashboard and read the vendor's release notes before raising it with the vendor. "
        "Tune with AicodeTabAcceptanceDrop.drop / min_suggestions."
    )
    return expr, summary, desc


# name -> (builder, extra parameters and their kinds)
ALERTS: dict[str, tuple[Callable[[Params, Ctx], Built], dict[str, str]]] = {
    "AicodeExporterDown": (exporter_down, {}),
    "AicodeEndpointDown": (endpoint_down, {}),
    "AicodeDataStale": (data_stale, {"max_age": "duration"}),
    "AicodeRecordStreamStale": (record_stream_stale, {"max_age": "duration"}),
    "AicodeAuthFailing": (auth_failing, {"window": "duration"}),
    "AicodeRateLimited": (rate_limited, {"window": "duration", "min_increase": "number"}),
    "AicodeAIShareLow": (ai_share_low, {"threshold": "ratio", "window": "duration"}),
    "AicodeTabAcceptanceDrop": (
        tab_acceptance_drop,
        {"drop": "ratio", "min_suggestions": "number"},
    ),
}


# --- config -----------------------------------------------------------------------------


def _check(kind: str, value: Any, where: str) -> None:
    ok = {
        "bool": isinstance(value, bool),
        "duration": isinstance(value, str) and bool(_DURATION.match(value)),
        "severity": value in _SEVERITIES,
        "number": isinstance(value, int | float) and not isinstance(value, bool) and value >= 0,
        "ratio": isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1,
    }[kind]
    if not ok:
        hint = {
            "duration": "a Prometheus duration like 15m",
            "severity": f"one of {sorted(_SEVERITIES)}",
            "ratio": "a number between 0 and 1 (exclusive)",
        }.get(kind, f"a {kind}")
        raise ConfigError(f"{where}: {value!r} is not {hint}")


def load_config(path: Path) -> dict[str, Any]:
    """Read and validate the alerts config; raise ConfigError naming the bad key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    top = {"job_selector", "org_selector", "extra_labels", "alerts"}
    for key in raw:
        if key not in top:
            raise ConfigError(f"{path}: unknown key {key!r}")
    for key in ("job_selector", "alerts"):
        if key not in raw:
            raise ConfigError(f"{path}: missing key {key!r}")
    if not isinstance(raw["job_selector"], str) or not raw["job_selector"].strip():
        raise ConfigError(f'{path}: job_selector must be label matchers like job="x"')
    if not isinstance(raw.get("org_selector", ""), str):
        raise ConfigError(f"{path}: org_selector must be a string")
    extra = raw.get("extra_labels") or {}
    if not isinstance(extra, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        raise ConfigError(f"{path}: extra_labels must map strings to strings")
    alerts = raw["alerts"]
    if not isinstance(alerts, dict):
        raise ConfigError(f"{path}: alerts must be a mapping")
    for name in alerts:
        if name not in ALERTS:
            raise ConfigError(f"{path}: unknown alert {name!r} (known: {', '.join(ALERTS)})")
    for name, (_, extra_params) in ALERTS.items():
        params = alerts.get(name)
        if not isinstance(params, dict):
            raise ConfigError(f"{path}: alerts.{name} is missing or not a mapping")
        kinds = {**_COMMON, **extra_params}
        for key, value in params.items():
            if key not in kinds:
                raise ConfigError(f"{path}: unknown key alerts.{name}.{key}")
            _check(kinds[key], value, f"{path}: alerts.{name}.{key}")
        for key in kinds:
            if key not in params:
                raise ConfigError(f"{path}: missing key alerts.{name}.{key}")
    return {
        "job_selector": raw["job_selector"].strip(),
        "org_selector": (raw.get("org_selector") or "").strip(),
        "extra_labels": dict(extra),
        "alerts": alerts,
    }


# --- rendering --------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value or len(value) > 80 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True)


def alert_groups(config: dict[str, Any]) -> list[dict[str, Any]]:
    ctx = Ctx(config["job_selector"], config["org_selector"])
    rules: list[dict[str, Any]] = []
    for name, (build, _) in ALERTS.items():
        params = config["alerts"][name]
        if not params["enabled"]:
            continue
        expr, summary, description = build(params, ctx)
        rule: dict[str, Any] = {"alert": name, "expr": expr}
        if seconds(params["for"]) > 0:
            rule["for"] = params["for"]
        rule["labels"] = {"severity": params["severity"], **config["extra_labels"]}
        rule["annotations"] = {"summary": summary, "description": description}
        rules.append(rule)
    return [{"name": "aicode-alerts", "rules": rules}]


def render(config_path: Path = DEFAULT_CONFIG) -> tuple[str, str]:
    """Return (alerts rules file text, PrometheusRule manifest text)."""
    config = load_config(config_path)
    groups = alert_groups(config)
    alerts_text = (
        "# GENERATED by prometheus/render_rules.py from prometheus/alerts.config.yaml.\n"
        "# Do not edit: change the config and re-render (README: Dashboards and alerts).\n"
        + dump({"groups": groups})
    )
    recording = yaml.safe_load(RECORDING_RULES.read_text(encoding="utf-8"))
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "aicode-exporter",
            "labels": {
                "app.kubernetes.io/name": "aicode-exporter",
                "app.kubernetes.io/component": "rules",
            },
        },
        "spec": {"groups": [*recording["groups"], *groups]},
    }
    rule_text = (
        "# GENERATED by prometheus/render_rules.py from prometheus/rules/aicode-recording"
        ".rules.yml\n# and prometheus/alerts.config.yaml. Do not edit. If your Prometheus "
        "Operator selects\n# rules by label (kube-prometheus-stack: release=<name>), add it "
        "in kustomization.yaml.\n" + dump(manifest)
    )
    return alerts_text, rule_text


def _cell(text: str) -> str:
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"


def markdown(config_path: Path = DEFAULT_CONFIG) -> str:
    """The alert and recording-rule tables of the README section Dashboards and alerts."""
    config = load_config(config_path)
    out = [
        "| Alert | Condition | For | Severity | Threshold (key in alerts.config.yaml) |",
        "|---|---|---|---|---|",
    ]
    for rule in alert_groups(config)[0]["rules"]:
        name = rule["alert"]
        params = config["alerts"][name]
        tunables = [f"`alerts.{name}.{k}`: {v}" for k, v in params.items() if k not in _COMMON]
        if name == "AicodeExporterDown":
            tunables.append(f"`job_selector`: {config['job_selector']}")
        tunables = tunables or ["none beyond `for`"]
        out.append(
            f"| {name} | {_cell(rule['expr'])} | {rule.get('for', '0m')} | "
            f"{rule['labels']['severity']} | {'<br>'.join(tunables)} |"
        )
    out += ["", "| Recording rule | Expression |", "|---|---|"]
    for group in yaml.safe_load(RECORDING_RULES.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            out.append(f"| `{rule['record']}` | {_cell(rule['expr'])} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--alerts-out", type=Path, default=ALERTS_OUT)
    parser.add_argument("--prometheusrule-out", type=Path, default=PROMETHEUSRULE_OUT)
    parser.add_argument("--check", action="store_true", help="fail if an output is stale")
    parser.add_argument("--markdown", action="store_true", help="print the alert tables")
    args = parser.parse_args(argv)
    try:
        if args.markdown:
            print(markdown(args.config), end="")
            return 0
        texts = render(args.config)
    except ConfigError as exc:
        print(f"render_rules: {exc}", file=sys.stderr)
        return 2
    outputs = dict(zip((args.alerts_out, args.prometheusrule_out), texts, strict=True))
    return write_or_check(outputs, check=args.check, how="python prometheus/render_rules.py")

if __name__ == "__main__":
    sys.exit(main())
