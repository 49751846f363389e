"""The TLS server context of a web config's tls_server_config."""

from __future__ import annotations

import ssl
from pathlib import Path

from aicode_exporter.config.web import TlsServerConfig
from aicode_exporter.errors import ConfigError

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


def make_ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    if tls.max_version:
        ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    if tls.client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(tls.client_ca_file))
    elif ctx.verify_mode != ssl.CERT_NONE:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def load_ssl_context(source: Path, tls: TlsServerConfig) -> ssl.SSLContext:
    """make_ssl_context(), a file that does not load being a ConfigError naming `source`
    (the web config file) and the key."""
    try:
        return make_ssl_context(tls)
    except (OSError, ssl.SSLError) as e:
        key = _which_file(tls, e)
        raise ConfigError(f"{source}: tls_server_config.{key}: cannot load: {e}") from None


def _which_file(tls: TlsServerConfig, e: Exception) -> str:
    for key, p in (("cert_file", tls.cert_file), ("key_file", tls.key_file),
                   ("client_ca_file", tls.client_ca_file)):
        if p is not None and not p.is_file():
            return key
    return "client_ca_file" if "verify" in str(e).lower() else "cert_file"
