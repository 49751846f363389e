"""Kubernetes manifests: kinds, the one-replica Deployment, probes, PrometheusRule in sync."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from aicode_exporter.config.base import EndpointOverride, UsersConfig
from aicode_exporter.config.file import Config
from aicode_exporter.vendors.registry import vendors
from tests.ops.helpers import (
    K8S_DIR,
    PROMETHEUS_DIR,
    assert_ok,
    read_yaml,
    rules_files,
    run,
)

NOT_MANIFESTS = {"kustomization.yaml", "config.yaml"}


def _docs() -> dict[str, list[dict[str, Any]]]:
    """Manifests by file name (every *.yaml but the kustomization and the exporter config)."""
    out = {}
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name not in NOT_MANIFESTS:
            text = path.read_text(encoding="utf-8")
            out[path.name] = [d for d in yaml.safe_load_all(text) if d]
    return out


DOCS = _docs()
KUSTOMIZATION = read_yaml(K8S_DIR / "kustomization.yaml")


def _one(kind: str) -> dict[str, Any]:
    found = [d for docs in DOCS.values() for d in docs if d.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_kustomization_lists_the_expected_kinds() -> None:
    kinds = {}
    for name in KUSTOMIZATION["resources"]:
        for doc in DOCS[name]:
            kinds[doc["kind"]] = doc
    assert set(kinds) == {
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
        "ServiceMonitor",
        "PrometheusRule",
    }
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    assert generator["name"] == "aicode-exporter-config"
    assert generator["files"] == ["config.yaml"]
    assert "secret.example.yaml" not in KUSTOMIZATION["resources"], "would overwrite real keys"


def test_deployment_runs_one_replica_with_recreate() -> None:
    deployment = _one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    (port,) = container["ports"]
    assert port == {"name": "metrics", "containerPort": 19877, "protocol": "TCP"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "metrics"}
    args = container["args"]
    config_file = args[args.index("--config.file") + 1]

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_dir = config_file.rsplit("/", 1)[0]
    assert volumes[mounts[config_dir]]["configMap"]["name"] == "aicode-exporter-config"
    pvc = _one("PersistentVolumeClaim")
    state = volumes[mounts["/var/lib/aicode-exporter"]]
    assert state["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    secret = _one("Secret")  # secret.example.yaml documents the expected keys
    keys = [v for v in volumes.values() if "secret" in v]
    assert [v["secret"]["secretName"] for v in keys] == [secret["metadata"]["name"]]

    # config.yaml reads its keys from the mounted Secret and keeps state on the PVC.
    config = read_yaml(K8S_DIR / "config.yaml")
    assert config["state_path"].startswith("/var/lib/aicode-exporter/")
    secret_dir = next(path for path, name in mounts.items() if name == keys[0]["name"])
    for provider in config["providers"]:
        assert "api_key" not in provider and "api_key_env" not in provider
        directory, _, key = provider["api_key_file"].rpartition("/")
        assert directory == secret_dir and key in secret["stringData"], provider


def test_config_uses_only_known_keys() -> None:
    models: list[type[BaseModel]] = [Config, UsersConfig, EndpointOverride,
                                     *(v.config_model for v in vendors().values())]
    keys = {k for m in models for k in m.model_fields}
    config = read_yaml(K8S_DIR / "config.yaml")

    def walk(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in walk(v)}
        if isinstance(node, list):
            return {k for v in node for k in walk(v)}
        return set()

    unknown = walk(config) - keys
    assert not unknown, f"config.yaml keys the exporter does not know: {unknown}"


def test_service_and_servicemonitor_use_the_named_port() -> None:
    service = _one("Service")
    deployment = _one("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "metrics"
    # The Prometheus Operator names the job after the Service: the alerts select it.
    job = read_yaml(PROMETHEUS_DIR / "alerts.config.yaml")["job_selector"]
    assert job == f'job="{service["metadata"]["name"]}"'
    monitor = _one("ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


def test_prometheusrule_holds_exactly_the_rules_files() -> None:
    rule = _one("PrometheusRule")
    expected = [g for path in rules_files() for g in read_yaml(path)["groups"]]
    key = lambda g: g["name"]  # noqa: E731
    assert sorted(rule["spec"]["groups"], key=key) == sorted(expected, key=key)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_manifests_are_labelled_kubernetes_objects(name: str) -> None:
    assert DOCS[name], f"{name} holds no document"
    for doc in DOCS[name]:
        assert re.fullmatch(r"([a-z.]+/)?v1(beta1)?", doc["apiVersion"]), doc["apiVersion"]
        assert doc["kind"] and doc["metadata"]["name"].startswith("aicode-exporter"), name
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "aicode-exporter", name


def test_config_passes_the_exporters_own_check(tmp_path: Path) -> None:
    """config.yaml is valid for the exporter, with the Secret's files and the PVC faked."""
    exporter = Path(sys.executable).parent / "aicode-exporter"
    config = read_yaml(K8S_DIR / "config.yaml")
    config["state_path"] = str(tmp_path / "state.db")
    for provider in config["providers"]:
        key = tmp_path / Path(provider["api_key_file"]).name
        key.write_text("not-a-real-key\n", encoding="utf-8")
        provider["api_key_file"] = str(key)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = run([str(exporter), "--config.file", str(path), "--config.check"])
    assert_ok(proc)
