"""The `otlp:` block of the configuration, and resolve(): the block plus the standard
OTEL_* variables -> the pusher's OtlpSettings (toolkit/otlp/pusher.py).

A key of the block wins; where it is absent the OpenTelemetry variable applies (the
metrics-specific one before the generic one), then the default. Without a block, setting
an endpoint variable alone turns the push on. Header values are secrets: SecretStr in the
model, redacted in OtlpSettings' repr, and never quoted in an error.

Who reads the variables: the official exporter does, for every setting it reads with the
spec's meaning (endpoint, headers, compression, certificate): OtlpSettings.from_env names
the settings a variable supplied, and the pusher leaves those to the exporter. resolve()
still reads them, to refuse a bad value at start and under --config.check with the
variable's name and without quoting a header (the SDK logs a malformed header whole and
carries on, or fails at the first push), and to show the endpoint in force. Two settings
stay ours: the timeout (this SDK reads OTEL_EXPORTER_OTLP_(METRICS_)TIMEOUT as seconds,
the spec says milliseconds, and one export must end within its interval) and gRPC's
plaintext flag (the SDK lets OTEL_EXPORTER_OTLP_INSECURE override an http:// or https://
scheme; the spec lets the scheme decide).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BeforeValidator, PrivateAttr, SecretStr, field_validator, model_validator

from aicode_exporter.config.base import Duration, Strict
from aicode_exporter.errors import ConfigError

DEFAULT_INTERVAL = timedelta(seconds=60)
DEFAULT_TIMEOUT = timedelta(seconds=10)
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
METRICS_PATH = "/v1/metrics"
PROTOCOLS = ("http/protobuf", "grpc")
# An HTTP header name (RFC 9110 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOST_PORT = re.compile(r"[^\s/:@]+:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5}")

Env = Mapping[str, str]
Protocol_ = Literal["http/protobuf", "grpc"]


@dataclass(frozen=True)
class OtlpSettings:
    """Everything the pusher needs, resolved from the `otlp:` block and the OTEL_*
    variables. Header values never show in repr() or str(). `from_env`: the settings an
    OTEL_* variable supplied (endpoint, headers, compression, ca_file), which the official
    exporter reads itself."""

    endpoint: str  # http/protobuf: the full URL (…/v1/metrics); grpc: as configured
    protocol: Protocol_ = "http/protobuf"
    interval: float = 60.0  # seconds
    timeout: float = 10.0  # seconds, one export with the exporter's retries; <= interval
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    compression: Literal["gzip", "none"] = "gzip"
    ca_file: str | None = None
    insecure: bool = False  # grpc only: plaintext (http:// or OTEL_EXPORTER_OTLP_INSECURE)
    from_env: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        names = ",".join(k for k, _ in self.headers)
        return (f"OtlpSettings(endpoint={self.safe_endpoint!r}, protocol={self.protocol!r}, "
                f"interval={self.interval}, timeout={self.timeout}, "
                f"headers=[{names}] (values redacted), compression={self.compression!r}, "
                f"ca_file={self.ca_file!r}, insecure={self.insecure}, "
                f"from_env={sorted(self.from_env)})")

    __str__ = __repr__

    @property
    def safe_endpoint(self) -> str:
        """The endpoint without user:password, for logs and the landing page."""
        return redact_userinfo(self.endpoint)

    def scrub(self, text: str) -> str:
        """`text` with every header value (and URL userinfo) replaced."""
        for _, value in self.headers:
            if value:
                text = text.replace(value, "<redacted>")
        return text.replace(self.endpoint, self.safe_endpoint)


def redact_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"<redacted>@{host}"))


def _number_as_text(v: Any) -> Any:
    """An unquoted YAML number is still a header value (and an error would echo it)."""
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


HeaderValue = Annotated[SecretStr, BeforeValidator(_number_as_text)]


def _check_header(key: str, value: str, where: str) -> None:
    if not _TOKEN.fullmatch(key):
        raise ValueError(f"{where}: {key!r} is not a valid header name")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"{where}: the value of {key!r} contains a line break")


def parse_headers_file(text: str) -> list[tuple[str, str]]:
    """`key=value` lines; blank lines and `#` comments skipped. Errors name the line
    number, never its content."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ValueError(f"headers_file: line {n} is not key=value")
        _check_header(key, value, f"headers_file line {n}")
        out.append((key.lower(), value))
    return out


def parse_env_headers(var: str, raw: str) -> list[tuple[str, str]]:
    """The spec's `key1=value1,key2=value2` with URL-encoded values. Unlike the SDK's
    parser, an error never quotes the text (it holds secrets)."""
    out = []
    for n, item in enumerate(raw.split(","), 1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), unquote(value.strip())
        if not sep or not _TOKEN.fullmatch(key) or any(c in value for c in "\r\n\0"):
            raise ConfigError(f"{var}: entry {n} is not key=value with a valid header name "
                              "(values are not shown)")
        out.append((key.lower(), value))
    return out


class OtlpConfig(Strict):
    """The top-level `otlp:` block. Every key is optional; see resolve() for what applies
    where one is absent."""

    enabled: bool = True
    endpoint: str | None = None
    protocol: Literal["http/protobuf", "grpc"] | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    headers: dict[str, HeaderValue] | None = None
    headers_file: Path | None = None
    compression: Literal["gzip", "none"] | None = None
    ca_file: Path | None = None
    _headers: tuple[tuple[str, str], ...] | None = PrivateAttr(default=None)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not v or any(c.isspace() for c in v):
            raise ValueError("must be a URL such as http://otel-collector:4318 (or host:port "
                             "for grpc)")
        return v

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v <= timedelta(0):
            raise ValueError("must be longer than 0")
        return v

    @model_validator(mode="after")
    def _load_headers(self) -> OtlpConfig:
        if self.headers is not None and self.headers_file is not None:
            raise ValueError("give headers or headers_file, not both")
        if self.headers is not None:
            pairs = [(k, v.get_secret_value()) for k, v in self.headers.items()]
            for k, v in pairs:
                _check_header(k, v, "headers")
            self._headers = tuple((k.lower(), v) for k, v in pairs)
        elif self.headers_file is not None:
            try:
                text = self.headers_file.read_text()
            except (OSError, UnicodeDecodeError) as e:
                reason = getattr(e, "strerror", None) or "not UTF-8 text"
                raise ValueError(f"headers_file: cannot read {str(self.headers_file)!r}: "
                                 f"{reason}") from None
            self._headers = tuple(parse_headers_file(text))
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file: {str(self.ca_file)!r} is not a readable file")
        return self

    @property
    def header_pairs(self) -> tuple[tuple[str, str], ...] | None:
        """The headers of `headers` or `headers_file` (lower-case names), None if neither."""
        return self._headers


def _env(env: Env, *names: str) -> tuple[str, str] | None:
    """The first of `names` set to a non-empty value: (name, value)."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def _metrics_and_generic(suffix: str) -> tuple[str, str]:
    return f"OTEL_EXPORTER_OTLP_METRICS_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"


def _millis(name: str, raw: str) -> float:
    try:
        ms = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected milliseconds, got {raw!r}") from None
    if not ms > 0 or ms == float("inf"):
        raise ConfigError(f"{name}: must be a positive number of milliseconds")
    return ms / 1000


def _http_url(where: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: {redact_userinfo(url)!r} is not an http:// or https:// URL")
    return url


def _with_metrics_path(url: str) -> str:
    """A base URL + /v1/metrics (relative to its path, as the spec says)."""
    return url.rstrip("/") + METRICS_PATH


def resolve(cfg: OtlpConfig | None, env: Env) -> OtlpSettings | None:
    """The pusher's settings, or None when the push is off: no `otlp:` block and no
    OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT, or `enabled: false`. Raises ConfigError for an
    unusable variable (naming it, never quoting a header)."""
    endpoint_env = _env(env, *_metrics_and_generic("ENDPOINT"))
    if cfg is None:
        if endpoint_env is None:
            return None
        cfg = OtlpConfig()
    if not cfg.enabled:
        return None

    protocol_env = _env(env, *_metrics_and_generic("PROTOCOL"))
    protocol: Protocol_
    if cfg.protocol is not None:
        protocol = cfg.protocol
    elif protocol_env is not None:
        name, value = protocol_env
        if value not in PROTOCOLS:
            raise ConfigError(f"{name}: protocol {value!r} is not supported "
                              "(http/protobuf or grpc)")
        protocol = cast(Literal["http/protobuf", "grpc"], value)
    else:
        protocol = "http/protobuf"

    from_env: set[str] = set()
    endpoint = _endpoint(protocol, cfg.endpoint, endpoint_env)
    if cfg.endpoint is None and endpoint_env is not None:
        from_env.add("endpoint")
    insecure = False
    if protocol == "grpc":
        scheme = urlsplit(endpoint).scheme if "://" in endpoint else ""
        if scheme:
            insecure = scheme == "http"
        else:
            flag = _env(env, *_metrics_and_generic("INSECURE"))
            insecure = flag is not None and flag[1].lower() == "true"

    interval = (cfg.interval.total_seconds() if cfg.interval is not None else None)
    if interval is None and (found := _env(env, "OTEL_METRIC_EXPORT_INTERVAL")):
        interval = _millis(*found)
        if interval < 1:
            raise ConfigError("OTEL_METRIC_EXPORT_INTERVAL: must be at least 1000 (1s)")
    interval = interval or DEFAULT_INTERVAL.total_seconds()

    timeout = cfg.timeout.total_seconds() if cfg.timeout is not None else None
    if timeout is None and (found := _env(env, *_metrics_and_generic("TIMEOUT"))):
        timeout = _millis(*found)
    timeout = min(timeout or DEFAULT_TIMEOUT.total_seconds(), interval)

    headers = cfg.header_pairs
    if headers is None:
        found = _env(env, *_metrics_and_generic("HEADERS"))
        headers = tuple(parse_env_headers(*found)) if found else ()
        if found:
            from_env.add("headers")

    compression = cfg.compression
    if compression is None and (found := _env(env, *_metrics_and_generic("COMPRESSION"))):
        name, value = found
        if value.lower() not in ("gzip", "none"):
            raise ConfigError(f"{name}: compression {value!r} is not supported (gzip or none)")
        compression = cast(Literal["gzip", "none"], value.lower())
        from_env.add("compression")

    ca_file = str(cfg.ca_file) if cfg.ca_file is not None else None
    if ca_file is None and (found := _env(env, *_metrics_and_generic("CERTIFICATE"))):
        name, ca_file = found
        if not Path(ca_file).is_file():
            raise ConfigError(f"{name}: {ca_file!r} is not a readable file")
        from_env.add("ca_file")

    return OtlpSettings(endpoint=endpoint, protocol=protocol,
                        interval=interval, timeout=timeout, headers=headers,
                        compression=compression or "gzip", ca_file=ca_file, insecure=insecure,
                        from_env=frozenset(from_env))


def _endpoint(protocol: str, configured: str | None, env: tuple[str, str] | None) -> str:
    if protocol == "http/protobuf":
        if configured is not None:
            url = _http_url("otlp.endpoint", configured)
            path = urlsplit(url).path.rstrip("/")
            return url if path.endswith(METRICS_PATH) else _with_metrics_path(url)
        if env is not None:
            name, url = env
            _http_url(name, url)
            # The metrics-specific variable is the full URL; the generic one a base.
            return url if name.endswith("_METRICS_ENDPOINT") else _with_metrics_path(url)
        return _with_metrics_path(DEFAULT_HTTP_ENDPOINT)
    where, url = (("otlp.endpoint", configured) if configured is not None
                  else env if env is not None else ("default", DEFAULT_GRPC_ENDPOINT))
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{where}: {redact_userinfo(url)!r} is not host:port or "
                              "http(s)://host:port")
    elif not _HOST_PORT.fullmatch(url):
        raise ConfigError(f"{where}: {url!r} is not host:port or http(s)://host:port")
    return url
