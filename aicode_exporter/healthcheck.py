"""`aicode-exporter healthcheck`: probe the exporter's own /-/healthy (or /-/ready) the way
the web config makes it answer: HTTPS when tls_server_config is set, basic auth when
basic_auth_users is. For container HEALTHCHECKs and Kubernetes exec probes, where a plain
HTTP probe stops working the moment TLS or basic auth is switched on.

The certificate is not verified: the probe talks to the exporter on this machine (the
loopback address, unless --web.listen-address names a host) and asks whether it answers,
not who it is. The password comes from a file (a mounted secret), never from a flag.
Standard library only, so a probe every few seconds stays cheap.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import ssl
import sys
from pathlib import Path

from aicode_exporter.config.web import load_web_config
from aicode_exporter.errors import ConfigError
from aicode_exporter.toolkit.web.server import parse_listen_address

HEALTHY, UNHEALTHY, USAGE = 0, 1, 2


def probe_target(listen: str) -> tuple[str, int]:
    """Where to probe a server listening on `listen`: a wildcard host is this machine."""
    host, port = parse_listen_address(listen)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, port


def _password(path: Path) -> str:
    try:
        raw = path.read_bytes()[:4096]
    except OSError as e:
        raise ConfigError(f"--auth.password-file: cannot read {str(path)!r}: "
                          f"{e.strerror}") from None
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def run(listen: str, path: str, web_config: Path | None, username: str | None,
        password_file: Path | None, timeout: float) -> tuple[int, str]:
    """(exit code, what to say): HEALTHY on a 200."""
    host, port = probe_target(listen)
    tls, users = False, {}
    if web_config is not None:
        cfg = load_web_config(web_config)
        tls, users = cfg.tls_server_config is not None, cfg.basic_auth_users
    headers = {"User-Agent": "aicode-exporter-healthcheck"}
    if users:
        if username is None and len(users) == 1:
            username = next(iter(users))
        if username is None or password_file is None:
            raise ConfigError(f"{web_config}: basic_auth_users is set: give --auth.username "
                              "(when there are several users) and --auth.password-file")
        pair = f"{username}:{_password(password_file)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    url = f"{'https' if tls else 'http'}://{host}:{port}{path}"
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read(4096)
    except (OSError, http.client.HTTPException) as e:
        return UNHEALTHY, f"{url}: {e}"
    finally:
        conn.close()
    if resp.status == 200:
        return HEALTHY, f"{url}: {resp.status} {resp.reason}"
    return UNHEALTHY, f"{url}: {resp.status} {resp.reason}"


def main(args: argparse.Namespace) -> int:
    """The subcommand, on healthcheck_parser()'s arguments."""
    try:
        code, said = run(args.listen, args.path, args.web_config_file, args.username,
                         args.password_file, args.timeout)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE
    print(said, file=sys.stderr if code else sys.stdout)
    return code
