"""Health checks that keep working when TLS and basic auth are on: the documented
`aicode-exporter healthcheck` command, and the probes of the Kubernetes TLS overlay as
`kubectl kustomize` renders them, run against an exporter serving with --web.config.file.
The image's HEALTHCHECK is the same command."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.e2e.test_web_config import make_certs
from tests.ops.helpers import tool
from tests.support.processes import (
    ROOT,
    exporter_cmd,
    free_port,
    running,
    wait_for,
    write_config,
)

USER, PASSWORD = "prometheus", "probe-pass-0123"
SECRET_DIR = "/run/secrets/aicode-web"


@pytest.fixture(scope="module")
def tls_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """An exporter with TLS and basic auth on every path; its web config folder (which
    also holds probe-password, as the overlay's Secret does) and port."""
    d = tmp_path_factory.mktemp("web")
    make_certs(d)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    (d / "web.yml").write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
        "basic_auth_users": {USER: hashed}}))
    (d / "probe-password").write_text(PASSWORD + "\n")
    cfg = write_config(d / "c.yaml", d / "state.db", [
        {"type": "cursor", "name": "acme", "api_key": "k-test-key-0123",
         "base_url": "http://127.0.0.1:1"}])
    port = free_port()
    with running(exporter_cmd("--config.file", str(cfg), "--web.config.file",
                              str(d / "web.yml"), "--web.listen-address",
                              f"127.0.0.1:{port}"), d / "exp.log") as proc:
        # Ready once every aggregate endpoint has been polled once (here: failed, the
        # vendor address refuses connections).
        wait_for(lambda: healthcheck(port, "--web.config.file", str(d / "web.yml"),
                                     "--auth.password-file", str(d / "probe-password"),
                                     "--path", "/-/ready").returncode == 0, 60,
                 "the exporter to be ready",
                 abort=lambda: "exited" if proc.poll() is not None else None,
                 details=(d / "exp.log").read_text)
        yield d, port


def healthcheck(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(exporter_cmd("healthcheck", "--web.listen-address", f":{port}",
                                       *args), capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_documented_command_is_healthy_with_tls_and_auth(tls_exporter: tuple[Path, int]
                                                         ) -> None:
    d, port = tls_exporter
    web = ("--web.config.file", str(d / "web.yml"))
    ok = healthcheck(port, *web, "--auth.password-file", str(d / "probe-password"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"https://127.0.0.1:{port}/-/healthy: 200 OK"
    ready = healthcheck(port, *web, "--auth.password-file", str(d / "probe-password"),
                        "--path", "/-/ready")
    assert ready.returncode == 0, ready.stderr


def test_without_the_web_config_or_with_a_wrong_password_it_is_unhealthy(
        tls_exporter: tuple[Path, int], tmp_path: Path) -> None:
    d, port = tls_exporter
    plain = healthcheck(port)  # the old probe: plain HTTP to a TLS port
    assert plain.returncode == 1
    (tmp_path / "wrong").write_text("nope\n")
    wrong = healthcheck(port, "--web.config.file", str(d / "web.yml"),
                        "--auth.password-file", str(tmp_path / "wrong"))
    assert wrong.returncode == 1 and "401 Unauthorized" in wrong.stderr
    missing = healthcheck(port, "--web.config.file", str(d / "web.yml"))
    assert missing.returncode == 2 and "--auth.password-file" in missing.stderr
    assert PASSWORD not in plain.stderr + wrong.stderr + missing.stderr


def _rendered() -> list[dict[str, Any]]:
    out = subprocess.run([tool("kubectl"), "kustomize", str(ROOT / "deploy" /
                                                             "kubernetes-tls-auth")],
                         capture_output=True, text=True, timeout=120, check=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def test_kubernetes_overlay_probes_are_healthy_with_tls_and_auth(
        tls_exporter: tuple[Path, int]) -> None:
    d, port = tls_exporter
    docs = _rendered()
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert f"--web.config.file={SECRET_DIR}/web.yml" in container["args"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["web"] == SECRET_DIR
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["web"]["secret"]["secretName"] == "aicode-exporter-web"
    for probe, path in (("readinessProbe", "/-/ready"), ("livenessProbe", "/-/healthy")):
        spec = container[probe]
        assert "httpGet" not in spec, probe
        command = spec["exec"]["command"]
        assert command[:2] == ["aicode-exporter", "healthcheck"]
        assert command[command.index("--path") + 1] == path
        # In the pod the exporter listens on :19877 and the Secret is mounted at
        # SECRET_DIR; here, the test's port and folder.
        args = [a.replace(SECRET_DIR, str(d)) for a in command[2:]]
        run = healthcheck(port, *args)
        assert run.returncode == 0, (probe, run.stderr)
    (monitor,) = [doc for doc in docs if doc["kind"] == "ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["basicAuth"]["password"]["secret"] == {
        "name": "aicode-exporter-web", "key": "probe-password"}


def test_the_image_healthcheck_is_the_same_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK .*\\\n\s*CMD (\[.*\])$", dockerfile, re.M)
    assert match, "no exec-form HEALTHCHECK"
    assert yaml.safe_load(match.group(1)) == ["aicode-exporter", "healthcheck"]
