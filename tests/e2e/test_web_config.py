"""--web.config.file: TLS and bcrypt basic auth on every path, checked with curl and with
a real Prometheus scraping over TLS; plain HTTP is not served on the TLS port; a changed
file is picked up without a restart; a broken one is exit 2 naming the key."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from aicode_sim import Simulator
from tests.ops.helpers import tool
from tests.support.processes import exporter_cmd, free_port, running, wait_for, write_config

USER, PASSWORD = "prometheus", "s3cret-scrape-pass"


def make_certs(d: Path) -> None:
    """A CA and a server certificate for 127.0.0.1, signed by it."""
    openssl = tool("openssl")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
        "server.key", "-out", "server.csr")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")


def hash_password(password: str) -> str:
    out = subprocess.run(exporter_cmd("hash-password", "--cost", "4"), input=password + "\n",
                         capture_output=True, text=True, timeout=60, check=True)
    hashed = out.stdout.strip()
    assert hashed.startswith("$2b$04$") and password not in out.stdout + out.stderr
    return hashed


def curl(url: str, ca: Path, *extra: str) -> tuple[int, str]:
    proc = subprocess.run([tool("curl"), "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time",
                           "10", "--cacert", str(ca), *extra, url],
                          capture_output=True, text=True, timeout=30)
    body, _, code = proc.stdout.rpartition("\n")
    return int(code or 0), body


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    make_certs(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
        "basic_auth_users": {USER: hash_password(PASSWORD)}}))
    sim = Simulator(users=10, repos=3)
    sim.start()
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "cursor", "name": "sim", "base_url": sim.url, "api_key": "sim-key",
        "rate_limit_per_minute": 600, "poll_interval": "5s"}])
    port = free_port()
    try:
        with running(exporter_cmd("--config.file", str(cfg), "--web.config.file", str(web),
                                  "--web.listen-address", f"127.0.0.1:{port}"),
                     tmp_path / "exporter.log"):
            url = f"https://127.0.0.1:{port}"
            wait_for(lambda: curl(f"{url}/-/healthy", tmp_path / "ca.crt",
                                  "-u", f"{USER}:{PASSWORD}")[0] == 200 or None, 30,
                     "the exporter over TLS")
            yield url, tmp_path, web, port
    finally:
        sim.stop()


def test_tls_and_basic_auth_on_every_path_with_curl(served) -> None:  # type: ignore[no-untyped-def]
    url, d, _, port = served
    ca = d / "ca.crt"
    for path in ("/metrics", "/", "/-/healthy", "/-/ready"):
        assert curl(url + path, ca)[0] == 401, path
        assert curl(url + path, ca, "-u", f"{USER}:wrong")[0] == 401, path
        assert curl(url + path, ca, "-u", f"nobody:{PASSWORD}")[0] == 401, path
    code, body = curl(f"{url}/metrics", ca, "-u", f"{USER}:{PASSWORD}")
    assert code == 200 and "aicode_exporter_build_info" in body
    # Plain HTTP on the TLS port gets no HTTP answer.
    code, body = curl(f"http://127.0.0.1:{port}/metrics", ca, "-u", f"{USER}:{PASSWORD}")
    assert code != 200 and "aicode_" not in body


def test_a_changed_web_config_is_picked_up_without_a_restart(served) -> None:  # type: ignore[no-untyped-def]
    url, d, web, _ = served
    ca = d / "ca.crt"
    cfg = yaml.safe_load(web.read_text())
    cfg["basic_auth_users"] = {USER: hash_password("rotated-pass")}
    web.write_text(yaml.safe_dump(cfg))
    wait_for(lambda: curl(f"{url}/metrics", ca, "-u", f"{USER}:rotated-pass")[0] == 200
             or None, 10, "the new password")
    assert curl(f"{url}/metrics", ca, "-u", f"{USER}:{PASSWORD}")[0] == 401
    web.write_text("basic_auth_users: [broken\n")  # a broken file keeps the last good one
    time.sleep(0.5)
    assert curl(f"{url}/metrics", ca, "-u", f"{USER}:rotated-pass")[0] == 200


def test_prometheus_scrapes_over_tls_with_basic_auth(served) -> None:  # type: ignore[no-untyped-def]
    _, d, _, port = served
    prom_port = free_port()
    (d / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{
            "job_name": "aicode-exporter", "scheme": "https",
            "tls_config": {"ca_file": str(d / "ca.crt")},
            "basic_auth": {"username": USER, "password": PASSWORD},
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}))
    with running([tool("prometheus"), f"--config.file={d / 'prometheus.yml'}",
                  f"--storage.tsdb.path={d / 'tsdb'}",
                  f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                 d / "prometheus.log"):
        def up() -> bool | None:
            q = urllib.parse.quote('up{job="aicode-exporter"} == 1 and on() '
                                   'count(aicode_exporter_build_info) > 0')
            code, body = curl(f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}",
                              d / "ca.crt")
            return (code == 200 and bool(json.loads(body)["data"]["result"])) or None

        wait_for(up, 60, "Prometheus to scrape the exporter over TLS with basic auth")


def test_an_invalid_web_config_is_exit_2_naming_the_key(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "cursor", "name": "x", "api_key": "k-test-key"}])
    cases = {
        "tls_server_config: {cert_file: missing.crt, key_file: missing.key}":
            "tls_server_config.cert_file",
        "basic_auth_users: {alice: not-a-hash}": "basic_auth_users.alice",
        "tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}":
            "tls_server_config.client_auth_type",
        "bogus: 1": "bogus: unknown key",
    }
    for text, key in cases.items():
        web = tmp_path / "web.yml"
        web.write_text(text + "\n")
        out = subprocess.run(exporter_cmd("--config.file", str(cfg), "--web.config.file",
                                          str(web), "--config.check"),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and key in out.stderr and "Traceback" not in out.stderr, (
            text, out.stderr)
