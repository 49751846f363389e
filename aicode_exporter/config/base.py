"""Strict building blocks of the configuration, shared by config.py and every vendor's
provider model (vendors/<name>/config.py). Imports no vendor."""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from yaml.composer import ComposerError
from yaml.nodes import Node

from aicode_exporter.durations import parse_duration
from aicode_exporter.errors import ConfigError
from aicode_exporter.toolkit.http.redact import MIN_SECRET_CHARS

MAX_WINDOW = timedelta(days=90)
MAX_KEY_FILE_BYTES = 64 * 1024  # a key file is a line; /dev/zero is not a key file
# (at least, at most) for every duration setting: anything accepted here works with the
# vendors and stays far inside datetime arithmetic.
DURATION_BOUNDS: dict[str, tuple[str, str]] = {
    "poll_interval": ("1s", "24h"),
    "request_timeout": ("1s", "1h"),
    "lookback": ("0s", "90d"),
    "lookback_interval": ("1s", "30d"),
    "overlap": ("0s", "90d"),
    "initial_backfill": ("0s", "90d"),
    "backfill_slice": ("1s", "90d"),
}


def _duration(v: Any) -> Any:
    if isinstance(v, str):
        return parse_duration(v)
    if isinstance(v, timedelta):
        return v
    raise ValueError("expected a duration string such as 30s, 5m, 2h or 7d")


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _window(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("expected a window such as 7d")
    td = parse_duration(v)
    if td <= timedelta(0) or td > MAX_WINDOW:
        raise ValueError(f"window {v!r} must be longer than 0 and at most 90d (vendor limit)")
    return v.strip()


Window = Annotated[str, BeforeValidator(_window)]


def read_capped(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `limit` (read no further, so
    /dev/zero is an error, not an out-of-memory). OSError passes through."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return None if len(data) > limit else data


MAX_YAML_DEPTH = 32  # nesting of mappings and lists; the schemas need 4


class _Loader(yaml.SafeLoader):
    """safe_load with a nesting limit: PyYAML composes nodes recursively, so a deeply
    nested document would otherwise end in RecursionError (and pydantic after it)."""

    depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.depth >= MAX_YAML_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_yaml_mapping(path: Path, limit: int, what: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty: {}), at most `limit` bytes; every
    problem a ConfigError naming the file and, for YAML errors, the line and column."""
    try:
        raw = read_capped(path, limit)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what}: {e.strerror}") from None
    if raw is None:
        raise ConfigError(f"{path}: {what} is larger than {limit // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader with a depth limit
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        ctx, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if ctx and cmark:
            problem += f" ({ctx} started at line {cmark.line + 1})"
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def describe_error(err: Any, where: str) -> str:
    """One pydantic validation error in the words of every config error: `where: what`."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "literal_error":
        return f"{where}: must be one of {err['ctx']['expected']}"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"


def _read_key_file(setting: str, path: Path) -> bytes:
    """At most MAX_KEY_FILE_BYTES of `path`; errors name the setting and the file only."""
    try:
        data = read_capped(path, MAX_KEY_FILE_BYTES)
    except OSError as e:
        raise ValueError(f"{setting}: cannot read {str(path)!r}: {e.strerror}") from None
    if data is None:
        raise ValueError(f"{setting}: {str(path)!r} is larger than "
                         f"{MAX_KEY_FILE_BYTES // 1024} KiB; it should hold just the key")
    return data


def clean_api_key(raw: str, where: str) -> str:
    """The key without ONE trailing newline (as `echo` and editors leave it). What remains
    must be one token of printable ASCII: anything else would be sent in the
    Authorization header and fail every request, or is a second line (`# rotated ...`)
    that does not belong to the key. Errors say `where` and what is wrong, never the key."""
    key = raw[:-2] if raw.endswith("\r\n") else raw.removesuffix("\n")
    if not key:
        raise ValueError(f"{where}: the API key is empty")
    bad = next((c for c in key if not "!" <= c <= "~"), None)
    if bad is None:
        if len(key) < MIN_SECRET_CHARS:
            # Too short to be a real key, and too short to redact from vendor text
            # without garbling it (toolkit/http/redact.py).
            raise ValueError(f"{where}: the API key is shorter than {MIN_SECRET_CHARS} "
                             "characters, which no real key is (the key is not shown)")
        return key
    if bad in "\r\n":
        what = "a line break (only one trailing newline is removed)"
    elif bad.isspace():
        what = "whitespace"
    elif bad.isprintable():
        what = "a non-ASCII character"
    else:
        what = "a control character"
    raise ValueError(f"{where}: the API key contains {what}; "
                     "it must be one line of printable ASCII (the key is not shown)")


def check_base_url(url: str) -> str:
    """A vendor's base_url: http or https, a host, no credentials, query or fragment
    (what else is there would be sent to the wrong place or dropped). Trailing slashes
    are removed."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("must be a URL such as https://api.example.com")
    raw = url.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"{raw!r} is not a valid URL ({e})") from None
    if parts.scheme.lower() not in ("https", "http"):
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"unsupported scheme ({shown}): must start with https:// "
                         "(or http:// for a local test server)")
    if not parts.hostname:
        raise ValueError(f"{raw!r} has no host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials (user:password@): "
                         "use api_key_file")
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise ValueError("must not contain a query (?...) or fragment (#...)")
    if port == 0:
        raise ValueError("port 0 is not a port to connect to")
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise ValueError("must not contain whitespace or control characters")
    return raw.rstrip("/")


def _ssl_reason(e: Exception) -> str:
    """An ssl or file error as a short reason (no key material is ever in it)."""
    if isinstance(e, ssl.SSLError):
        return e.reason or str(e)
    return getattr(e, "strerror", None) or str(e)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointOverride(Strict):
    enabled: bool = True
    # Tracking streams only: `auto` picks whichever of JSON and CSV needs fewer requests.
    format: Literal["auto", "json", "csv"] = "auto"
    rate_limit_per_minute: int | None = Field(default=None, gt=0)


class UsersConfig(Strict):
    label: Literal["email", "id", "name", "hmac", "none"] = "email"
    hmac_key_file: Path | None = None
    per_user_counters: bool = False
    max_users: int = Field(default=500, ge=1)
    _hmac_key: bytes = PrivateAttr(default=b"")

    @model_validator(mode="after")
    def _load_hmac_key(self) -> UsersConfig:
        if self.label != "hmac":
            return self
        if self.hmac_key_file is None:
            raise ValueError("hmac_key_file is required when label is hmac")
        key = _read_key_file("hmac_key_file", self.hmac_key_file).strip()
        if len(key) < 16:
            raise ValueError(f"hmac_key_file: the key in {str(self.hmac_key_file)!r} must be "
                             "at least 16 bytes (the key is not shown)")
        self._hmac_key = key
        return self

    @property
    def hmac_key(self) -> bytes:
        return self._hmac_key

    @property
    def per_user(self) -> bool:
        """Per-user series are exported: per_user_counters on and a label other than none."""
        return self.per_user_counters and self.label != "none"


class LabelsConfig(Strict):
    """Bounds on the values of vendor-supplied labels (repo, model, extension, source,
    team, ...): beyond `max_values` distinct values of one label (per stream for counters,
    per published family for gauges) the rest fold into `__other__`; a value longer than
    `max_length` characters is cut, keeping a hash of the whole so values stay distinct.
    `user` is bounded by users.max_users instead."""

    max_values: int = Field(default=1000, ge=1, le=1_000_000)
    max_values_per_label: dict[str, int] = Field(default_factory=dict)
    max_length: int = Field(default=128, ge=32, le=16384)

    @field_validator("max_values_per_label")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        for name, n in v.items():
            if not 1 <= n <= 1_000_000:
                raise ValueError(f"{name}: must be between 1 and 1000000, got {n}")
        return v

    def cap(self, label: str) -> int:
        """How many distinct values of `label` are kept before folding."""
        return self.max_values_per_label.get(label, self.max_values)


class ProviderBase(Strict):
    """What every vendor's provider entry has. A vendor's model adds `type:
    Literal["<vendor>"]` (the discriminator), its `base_url`, its default
    `rate_limit_per_minute` and `known_endpoints`."""

    type: str
    base_url: str
    rate_limit_per_minute: int
    name: str = Field(min_length=1, max_length=64)
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    api_key_env: str | None = None
    poll_interval: Duration = timedelta(minutes=5)
    request_timeout: Duration = timedelta(seconds=30)
    lookback: Duration = timedelta(days=2)  # how far the deep re-read reaches back
    lookback_interval: Duration = timedelta(hours=1)  # how often the deep re-read runs
    overlap: Duration = timedelta(minutes=10)  # re-read before the watermark every poll
    initial_backfill: Duration = timedelta(days=7)
    backfill_slice: Duration = timedelta(days=1)  # one transaction per slice of a stream
    endpoints: dict[str, EndpointOverride] = Field(default_factory=dict)
    # A vendor behind a private CA (a proxy, a self-hosted gateway): the CA certificates
    # (PEM) trusted for base_url instead of the system's, and a client certificate where
    # the gateway asks for one.
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    _key: SecretStr = PrivateAttr(default=SecretStr(""))
    _tls: ssl.SSLContext | None = PrivateAttr(default=None)

    known_endpoints: ClassVar[tuple[str, ...]] = ()

    @field_validator("base_url", mode="before")
    @classmethod
    def _base_url(cls, v: Any) -> str:
        return check_base_url(v)

    @field_validator("poll_interval")
    @classmethod
    def _min_interval(cls, v: timedelta) -> timedelta:
        if v < timedelta(seconds=1):
            raise ValueError("poll_interval must be at least 1s")
        return v

    @field_validator(*DURATION_BOUNDS)
    @classmethod
    def _bounded(cls, v: timedelta, info: ValidationInfo) -> timedelta:
        low, high = DURATION_BOUNDS[str(info.field_name)]
        if v < parse_duration(low):
            raise ValueError(f"must be at least {low}")
        if v > parse_duration(high):
            why = " (vendor limit)" if parse_duration(high) == MAX_WINDOW else ""
            raise ValueError(f"must be at most {high}{why}")
        return v

    @model_validator(mode="after")
    def _resolve_key(self) -> ProviderBase:
        given = [k for k in ("api_key", "api_key_file", "api_key_env") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "exactly one of api_key, api_key_file, api_key_env is required"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.api_key is not None:
            key = clean_api_key(self.api_key.get_secret_value(), "api_key")
        elif self.api_key_file is not None:
            where = f"api_key_file: {str(self.api_key_file)!r}"
            raw = _read_key_file("api_key_file", self.api_key_file)
            # Bytes, not text: a decode error would quote the offending byte of the key.
            key = clean_api_key(raw.decode("latin-1"), where)
        else:
            env = self.api_key_env or ""
            value = os.environ.get(env, "")
            if not value.strip():
                raise ValueError(f"api_key_env: environment variable {env!r} is unset or empty")
            key = clean_api_key(value, f"api_key_env: environment variable {env!r}")
        self._key = SecretStr(key)
        if self.overlap > self.lookback:
            raise ValueError("overlap must not be longer than lookback")
        unknown = sorted(set(self.endpoints) - set(self.known_endpoints))
        if unknown:
            raise ValueError(f"endpoints: unknown endpoint {unknown[0]!r} for this provider "
                             f"type (known: {', '.join(self.known_endpoints)})")
        self._tls = self._tls_context()
        return self

    def _tls_context(self) -> ssl.SSLContext | None:
        """The TLS settings as a context, loaded now so that a missing or broken file is
        a configuration error naming its key, not a failing poll."""
        if self.ca_file is None and self.client_cert_file is None:
            if self.client_key_file is not None:
                raise ValueError("client_key_file: needs client_cert_file")
            return None
        if not self.base_url.lower().startswith("https://"):
            raise ValueError("ca_file, client_cert_file: base_url must be https://")
        try:
            # Without ca_file, the same trust store as every other request (httpx's).
            ctx = (ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file
                   else httpx.create_ssl_context())
        except (OSError, ssl.SSLError) as e:
            raise ValueError(f"ca_file: cannot load {str(self.ca_file)!r}: "
                             f"{_ssl_reason(e)}") from None
        if self.client_cert_file is not None:
            try:
                ctx.load_cert_chain(str(self.client_cert_file),
                                    str(self.client_key_file) if self.client_key_file
                                    else None)
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"client_cert_file: cannot load {str(self.client_cert_file)!r}"
                                 f"{' with client_key_file' if self.client_key_file else ''}"
                                 f": {_ssl_reason(e)}") from None
        return ctx

    def tls(self) -> ssl.SSLContext | bool:
        """How requests to base_url verify the server (and present a client
        certificate): the context of ca_file / client_cert_file, else the default."""
        return self._tls if self._tls is not None else True

    @property
    def key(self) -> SecretStr:
        return self._key

    def endpoint(self, name: str) -> EndpointOverride:
        return self.endpoints.get(name, EndpointOverride())

    def enabled(self, name: str) -> bool:
        return self.endpoint(name).enabled

    def rate_buckets(self, endpoints: Sequence[str] = ()) -> dict[str, tuple[str, float]]:
        """endpoint -> (rate bucket, requests per minute) for `known_endpoints` and
        `endpoints`: by default one bucket per endpoint at `rate_limit_per_minute`, or
        the endpoint's own override. A vendor whose limits are shared by several
        endpoints overrides this."""
        out = {}
        for ep in dict.fromkeys((*self.known_endpoints, *endpoints)):
            rate = self.endpoint(ep).rate_limit_per_minute or self.rate_limit_per_minute
            out[ep] = (ep, float(rate))
        return out
