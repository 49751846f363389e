"""A vendor behind a private CA (a gateway, a proxy): `ca_file` per provider makes the
exporter trust it (without it the poll fails naming the certificate), and
`client_cert_file`/`client_key_file` answer a gateway that asks for a client
certificate. Certificates are made with `openssl`; the vendor is a small TLS server on
loopback. A broken TLS setting is a configuration error naming its key."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aicode_exporter.app import App
from aicode_exporter.config.file import load_config
from aicode_exporter.errors import ConfigError
from tests.support.fakes import tracking_only
from tests.support.processes import write_config

KEY = "cursor-key-behind-a-gateway"
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def issue(d: Path, name: str, ext: str) -> None:
    openssl("req", *CURVE, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", *CURVE, "-keyout", "ca.key", "-out", "ca.crt",
            "-subj", "/CN=aicode test CA", "-days", "2", cwd=d)
    issue(d, "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    issue(d, "client", "extendedKeyUsage=clientAuth\n")
    return d


class Cursor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        token = base64.b64encode(f"{KEY}:".encode()).decode()
        ok = self.headers.get("authorization") == f"Basic {token}"
        body = json.dumps({"items": [], "totalCount": 0, "page": 1, "pageSize": 1000}
                          if ok else {"message": "bad key"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(params=[False, True], ids=["server-auth", "client-cert-required"])
def gateway(request: pytest.FixtureRequest, pki: Path) -> Iterator[tuple[str, bool]]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    if request.param:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki / "ca.crt")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Cursor)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    # A short poll: shutdown() waits for it, once per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()
        server.server_close()


def poll(tmp_path: Path, base_url: str, **tls: str) -> str:
    """One poll against the gateway; '' when every endpoint succeeded, else the errors."""
    cfg = load_config(write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "cursor", "name": "acme", "base_url": base_url, "api_key": KEY,
        "initial_backfill": "1d", "rate_limit_per_minute": 6000, "request_timeout": "10s",
        "endpoints": tracking_only({"commits": {"format": "json"},
                                    "changes": {"format": "json"}}),
        **tls}]))
    app = App(cfg)
    try:
        app.poller.poll_all_once()
        return "; ".join(st.last_error for st in app.telemetry.statuses().values()
                         if not st.up)
    finally:
        app.close()


def test_a_private_ca_is_trusted_through_ca_file(
        tmp_path: Path, pki: Path, gateway: tuple[str, bool]) -> None:
    url, needs_client_cert = gateway
    tls = {"ca_file": str(pki / "ca.crt")}
    if needs_client_cert:
        tls |= {"client_cert_file": str(pki / "client.crt"),
                "client_key_file": str(pki / "client.key")}
    assert poll(tmp_path, url, **tls) == ""


def test_without_ca_file_the_poll_fails_naming_the_certificate(
        tmp_path: Path, gateway: tuple[str, bool]) -> None:
    error = poll(tmp_path, gateway[0])
    assert "the server's certificate is not trusted (" in error
    assert "ca_file" in error and KEY not in error


@pytest.mark.slow  # the refusal looks like a dropped connection: retried with backoff
@pytest.mark.parametrize("gateway", [True], ids=["client-cert-required"], indirect=True)
def test_a_gateway_asking_for_a_client_certificate_refuses_one_without(
        tmp_path: Path, pki: Path, gateway: tuple[str, bool]) -> None:
    url, needs_client_cert = gateway
    assert needs_client_cert
    error = poll(tmp_path, url, ca_file=str(pki / "ca.crt"))
    assert error and "connection failed" in error


@pytest.mark.parametrize("tls,message", [
    ({"ca_file": "missing.crt"}, "ca_file: cannot load"),
    ({"ca_file": "not-pem.crt"}, "ca_file: cannot load"),
    ({"client_key_file": "client.key"}, "client_key_file: needs client_cert_file"),
    ({"client_cert_file": "ca.crt", "client_key_file": "client.key"},
     "client_cert_file: cannot load"),
])
def test_a_broken_tls_setting_is_a_configuration_error_naming_its_key(
        tmp_path: Path, pki: Path, tls: dict[str, str], message: str) -> None:
    (tmp_path / "not-pem.crt").write_text("hello\n")
    for name in ("ca.crt", "client.key"):
        (tmp_path / name).write_bytes((pki / name).read_bytes())
    path = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "cursor", "name": "acme", "base_url": "https://cursor.test", "api_key": KEY,
        **tls}])
    with pytest.raises(ConfigError, match=message) as e:
        load_config(path)
    assert "BEGIN" not in str(e.value)  # no key material in the message


def test_tls_settings_need_an_https_base_url(tmp_path: Path, pki: Path) -> None:
    path = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [{
        "type": "cursor", "name": "acme", "base_url": "http://cursor.test", "api_key": KEY,
        "ca_file": str(pki / "ca.crt")}])
    with pytest.raises(ConfigError, match="base_url must be https"):
        load_config(path)
