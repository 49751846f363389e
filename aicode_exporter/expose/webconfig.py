"""`--web.config.file`: TLS and basic auth for every HTTP path, in the exporter-toolkit
format that every official Prometheus exporter reads.

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default), ...
      client_ca_file: ca.crt
      min_version: TLS12                             # TLS10 | TLS11 | TLS12 | TLS13
    basic_auth_users:
      prometheus: $2b$12$...                         # bcrypt hashes

Relative paths resolve against the web config file's folder. The file (and the
certificate files) are re-read when they change; a broken new file keeps the previous
one in force and is logged. Verified credentials are cached, as exporter-toolkit does,
so a scrape does not pay a bcrypt check (~0.2 s at cost 12) every time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from aicode_exporter.errors import ConfigError

logger = logging.getLogger(__name__)

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
             "max_version"}
_TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
CACHE_SIZE = 1024  # verified (user, password digest) pairs kept


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    client_auth: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str | None = None

    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)


@dataclass(frozen=True)
class WebConfig:
    tls: TlsConfig | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash


def _fail(path: Path, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {msg}")


def load_web_config(path: Path) -> WebConfig:
    """Read and validate; every problem is a ConfigError naming the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read web config file: {e.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"{path}: invalid YAML: {type(e).__name__}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    for key in data:
        if key not in _TOP_KEYS:
            raise _fail(path, str(key), "unknown key")
    base = path.parent
    tls = _tls(path, base, data.get("tls_server_config"))
    users = _users(path, data.get("basic_auth_users"))
    if data.get("http_server_config") not in (None, {}):
        raise _fail(path, "http_server_config", "not supported by this exporter (HTTP/1.1 only)")
    return WebConfig(tls=tls, users=users)


def _tls(path: Path, base: Path, raw: Any) -> TlsConfig | None:
    if raw is None:
        return None
    where = "tls_server_config"
    if not isinstance(raw, dict):
        raise _fail(path, where, "must be a mapping")
    for key in raw:
        if key not in _TLS_KEYS:
            raise _fail(path, f"{where}.{key}", "unknown key")
    for key in ("cert_file", "key_file"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(path, f"{where}.{key}", "required (a file path)")
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in CLIENT_AUTH:
        raise _fail(path, f"{where}.client_auth_type", f"must be one of {', '.join(CLIENT_AUTH)}")
    ca = raw.get("client_ca_file")
    if auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not ca:
        raise _fail(path, f"{where}.client_ca_file", f"required with client_auth_type {auth}")
    for key in ("min_version", "max_version"):
        if raw.get(key) is not None and raw[key] not in TLS_VERSIONS:
            raise _fail(path, f"{where}.{key}", f"must be one of {', '.join(TLS_VERSIONS)}")
    tls = TlsConfig(cert_file=base / raw["cert_file"], key_file=base / raw["key_file"],
                    client_auth=auth, client_ca_file=base / ca if ca else None,
                    min_version=raw.get("min_version") or "TLS12",
                    max_version=raw.get("max_version"))
    try:
        make_ssl_context(tls)
    except (OSError, ssl.SSLError) as e:
        key = _which_file(tls, e)
        raise _fail(path, f"{where}.{key}", f"cannot load: {e}") from None
    return tls


def _which_file(tls: TlsConfig, e: Exception) -> str:
    for key, p in (("cert_file", tls.cert_file), ("key_file", tls.key_file),
                   ("client_ca_file", tls.client_ca_file)):
        if p is not None and not p.is_file():
            return key
    return "client_ca_file" if "verify" in str(e).lower() else "cert_file"


def _users(path: Path, raw: Any) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, "basic_auth_users", "must be a mapping of user: bcrypt hash")
    out = {}
    for user, hashed in raw.items():
        where = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not user or ":" in user:
            raise _fail(path, where, "user names must be non-empty and contain no ':'")
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise _fail(path, where, "must be a bcrypt hash ($2b$...); make one with "
                        "`aicode-exporter hash-password`")
        try:
            bcrypt.checkpw(b"", hashed.encode())  # rejects a malformed hash
        except ValueError:
            raise _fail(path, where, "not a valid bcrypt hash") from None
        out[user] = hashed.encode()
    return out


def make_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    if tls.max_version:
        ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth]
    if tls.client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(tls.client_ca_file))
    elif ctx.verify_mode != ssl.CERT_NONE:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def hash_password(password: bytes, rounds: int = 12) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds)).decode()


class WebConfigSource:
    """The web config in force: re-read when the file or its certificates change; a
    broken new version keeps the previous one and is logged once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._config = load_web_config(path)  # at start, a broken file is fatal (exit 2)
        self._stamp = self._stamps(self._config)
        self._context = make_ssl_context(self._config.tls) if self._config.tls else None
        self._cache: dict[tuple[str, bytes], bool] = {}
        self._last_error = ""

    def _stamps(self, cfg: WebConfig) -> tuple[tuple[int, int], ...]:
        files = (self.path, *(cfg.tls.files() if cfg.tls else ()))
        out = []
        for f in files:
            try:
                st = os.stat(f)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((0, 0))
        return tuple(out)

    def refresh(self) -> None:
        with self._lock:
            if self._stamps(self._config) == self._stamp:
                return
            try:
                cfg = load_web_config(self.path)
                ctx = make_ssl_context(cfg.tls) if cfg.tls else None
            except (ConfigError, OSError, ssl.SSLError) as e:
                if str(e) != self._last_error:
                    self._last_error = str(e)
                    logger.error("web config not reloaded, the previous one stays in force",
                                 extra={"path": str(self.path), "error": str(e)})
                self._stamp = self._stamps(self._config)
                return
            if (cfg.tls is None) != (self._config.tls is None):
                logger.error("web config not reloaded: switching TLS on or off needs a "
                             "restart", extra={"path": str(self.path)})
                self._stamp = self._stamps(self._config)
                return
            self._config, self._context, self._cache = cfg, ctx, {}
            self._stamp, self._last_error = self._stamps(cfg), ""
            logger.info("web config reloaded", extra={
                "path": str(self.path), "tls": cfg.tls is not None, "users": len(cfg.users)})

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        with self._lock:
            return self._context

    def authorized(self, header: str | None) -> bool:
        """An `Authorization: Basic ...` header against basic_auth_users."""
        with self._lock:
            users = self._config.users
        if not users:
            return True
        user, password = _parse_basic(header)
        if user is None or password is None:
            return False
        hashed = users.get(user)
        key = (user, hashlib.sha256(password).digest())
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        # An unknown user still pays one check, so timing does not tell users apart.
        ok = bcrypt.checkpw(password, hashed or _DUMMY) and hashed is not None
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = ok
        return ok


_DUMMY = bcrypt.hashpw(b"unused", bcrypt.gensalt(4))


def _parse_basic(header: str | None) -> tuple[str | None, bytes | None]:
    if not header:
        return None, None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None, None
    try:
        return user.decode(), password
    except UnicodeDecodeError:
        return None, None
