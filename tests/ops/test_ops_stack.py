"""The container and the compose stack: Dockerfile lint, Prometheus and Alertmanager configs."""

from __future__ import annotations

import json
import re

from tests.ops.helpers import (
    PROMETHEUS_DIR,
    REPO,
    alert_names,
    assert_ok,
    read_yaml,
    run,
    tool,
)

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_passes() -> None:
    proc = run([tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)])
    assert_ok(proc)


def test_dockerfile_shape() -> None:
    steps = _instructions()
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS builder"), froms
    # Pinned by digest, the tag it was resolved from kept beside it.
    digest = r"python:3\.11(\.\d+)?-slim-bookworm@sha256:[0-9a-f]{64}( AS builder)?"
    assert all(re.fullmatch(digest, f) for f in froms), froms
    assert froms[0].removesuffix(" AS builder") == froms[1], "one base image for both stages"
    text = DOCKERFILE.read_text(encoding="utf-8")
    for f in froms:
        tag = f.split("@", 1)[0]
        assert f"# {tag}\nFROM {f}" in text, f"no '# {tag}' comment above FROM {f}"
    assert "--require-hashes -r requirements.lock" in text
    runtime = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    ops = dict(runtime)
    assert "--from=builder /opt/venv /opt/venv" in ops["COPY"]
    user = ops["USER"].split(":")[0]
    assert user not in {"root", "0"}, "runtime must not run as root"
    assert ops["EXPOSE"] == "19877"
    assert "/var/lib/aicode-exporter" in ops["VOLUME"]
    assert json.loads(ops["ENTRYPOINT"]) == ["aicode-exporter"]
    assert json.loads(ops["CMD"]) == ["--config.file", "/etc/aicode-exporter/config.yaml"]
    healthcheck = ops["HEALTHCHECK"]
    # The exporter's own probe (TLS and basic auth aware), no curl or wget in the image.
    assert json.loads(healthcheck.split(" CMD ", 1)[1]) == ["aicode-exporter", "healthcheck"]


def test_dockerignore_keeps_only_the_build_context() -> None:
    text = (REPO / ".dockerignore").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    assert lines[0] == "*"
    for needed in ("!pyproject.toml", "!README.md", "!aicode_exporter/"):
        assert needed in lines


def test_promtool_check_config() -> None:
    assert_ok(run([tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")]))


def test_amtool_check_config() -> None:
    assert_ok(run([tool("amtool"), "check-config", str(PROMETHEUS_DIR / "alertmanager.yml")]))


def test_alertmanager_inhibitions_name_real_alerts() -> None:
    config = read_yaml(PROMETHEUS_DIR / "alertmanager.yml")
    names = alert_names()
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            pattern = re.fullmatch(r'alertname=~?"([^"]+)"', matcher)
            assert pattern, matcher
            for name in pattern.group(1).split("|"):
                assert name in names, f"inhibit rule names unknown alert {name}"


def test_prometheus_config_matches_the_compose_stack() -> None:
    prom = read_yaml(PROMETHEUS_DIR / "prometheus.yml")
    compose = read_yaml(REPO / "docker-compose.yml")
    services = compose["services"]
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    # The alerts select job="aicode-exporter" (prometheus/alerts.config.yaml).
    assert (
        'job="aicode-exporter"' in read_yaml(PROMETHEUS_DIR / "alerts.config.yaml")["job_selector"]
    )
    (target,) = jobs["aicode-exporter"]["static_configs"][0]["targets"]
    assert target == "exporter:19877" and "exporter" in services
    (am,) = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am.split(":")[0] in services
    assert prom["rule_files"] == ["rules/*.rules.yml"]


def test_compose_stack() -> None:
    compose = read_yaml(REPO / "docker-compose.yml")
    services = compose["services"]
    assert set(services) == {"exporter", "prometheus", "alertmanager", "grafana",
                             "exporter-otlp", "otel-collector"}
    # The `otlp` profile: a second demo pushes to the collector, which writes to Prometheus.
    for name in ("exporter-otlp", "otel-collector"):
        assert services[name]["profiles"] == ["otlp"], name
    assert services["exporter-otlp"]["command"][-2:] == ["--otlp-endpoint",
                                                         "http://otel-collector:4318"]
    collector = read_yaml(REPO / "deploy" / "otel" / "collector.yaml")
    assert collector["exporters"]["prometheusremotewrite"]["endpoint"] == \
        "http://prometheus:9090/api/v1/write"
    assert "--web.enable-remote-write-receiver" in services["prometheus"]["command"]
    exporter = services["exporter"]
    assert exporter["build"] == "."
    assert exporter["command"] == ["demo", "--web.listen-address", ":19877"]
    assert "environment" not in exporter, "demo mode needs no key"
    for name, service in services.items():
        if name not in ("exporter", "exporter-otlp"):
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), image
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
    prometheus_mounts = services["prometheus"]["volumes"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus_mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in services["grafana"]["volumes"]
