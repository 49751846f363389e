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

A strict model like the rest of the configuration: unknown keys fail, naming them.
Relative paths resolve against the web config file's folder. Whether the certificate
files load is checked where the TLS context is made (toolkit/web/tls.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import bcrypt
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from aicode_exporter.config.base import Strict, describe_error, read_yaml_mapping
from aicode_exporter.errors import ConfigError

MAX_WEB_CONFIG_BYTES = 1024 * 1024
ClientAuth = Literal["NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                     "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]
TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
_VERIFYING = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")


def _file_path(v: Any, info: ValidationInfo) -> Any:
    """A non-empty path string, relative to the web config file's folder."""
    if v is None:
        return v
    if not isinstance(v, str) or not v:
        raise ValueError("required (a file path)")
    base = (info.context or {}).get("base")
    return Path(base) / v if base is not None else Path(v)


FilePath = Annotated[Path, BeforeValidator(_file_path)]


def _user(name: str) -> str:
    if not name or ":" in name:
        raise ValueError("user names must be non-empty and contain no ':'")
    return name


def _bcrypt_hash(v: Any) -> bytes:
    if not isinstance(v, str) or not v.startswith(("$2a$", "$2b$", "$2y$")):
        raise ValueError("must be a bcrypt hash ($2b$...); make one with "
                         "`aicode-exporter hash-password`")
    try:
        bcrypt.checkpw(b"", v.encode())  # rejects a malformed hash
    except ValueError:
        raise ValueError("not a valid bcrypt hash") from None
    return v.encode()


User = Annotated[str, AfterValidator(_user)]
BcryptHash = Annotated[bytes, BeforeValidator(_bcrypt_hash)]


class TlsServerConfig(Strict):
    cert_file: FilePath
    key_file: FilePath
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: FilePath | None = Field(default=None, validate_default=True)
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion | None = None

    @field_validator("client_ca_file")
    @classmethod
    def _ca_when_verifying(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        auth = info.data.get("client_auth_type")
        if v is None and auth in _VERIFYING:
            raise ValueError(f"required with client_auth_type {auth}")
        return v

    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)


class WebConfig(Strict):
    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: dict[User, BcryptHash] = Field(default_factory=dict)
    http_server_config: dict[str, Any] | None = None

    @field_validator("http_server_config")
    @classmethod
    def _no_http_server_config(cls, v: dict[str, Any] | None) -> None:
        if v:
            raise ValueError("not supported by this exporter (HTTP/1.1 only)")
        return None

    def files(self) -> tuple[Path, ...]:
        """The files besides the web config that it names (certificates, keys)."""
        return self.tls_server_config.files() if self.tls_server_config else ()


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"] if p != "[key]") or "(top level)"
    return describe_error(err, where)


def load_web_config(path: Path) -> WebConfig:
    """Read and validate; every problem is a ConfigError naming the file and the key."""
    data = read_yaml_mapping(path, MAX_WEB_CONFIG_BYTES, "web config file")
    try:
        return WebConfig.model_validate(data, context={"base": path.parent})
    except ValidationError as e:
        raise ConfigError(f"{path}: " + "; ".join(_describe(err) for err in e.errors())
                          ) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
