"""Configuration: strict pydantic-settings models loaded from one YAML file.

Strict on purpose (blackbox_exporter's KnownFields): an unknown or misspelt key stops the
start with its name, instead of silently polling with a default.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from exporter.durations import parse_duration
from exporter.errors import ConfigError

MAX_WINDOW = timedelta(days=90)


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

QODER_ENDPOINTS = ("overview", "daily_trend", "member_ranking", "repos", "file_extensions",
                   "commits", "changes")
CURSOR_ENDPOINTS = ("commits", "changes")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointOverride(_Strict):
    enabled: bool = True
    # Tracking streams only: `auto` picks whichever of JSON and CSV needs fewer requests.
    format: Literal["auto", "json", "csv"] = "auto"
    rate_limit_per_minute: int | None = Field(default=None, gt=0)


class UsersConfig(_Strict):
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
        try:
            key = self.hmac_key_file.read_bytes().strip()
        except OSError as e:
            raise ValueError(f"hmac_key_file: cannot read {str(self.hmac_key_file)!r}: "
                             f"{e.strerror}") from None
        if len(key) < 16:
            raise ValueError("hmac_key_file: key must be at least 16 bytes")
        self._hmac_key = key
        return self

    @property
    def hmac_key(self) -> bytes:
        return self._hmac_key


class _ProviderBase(_Strict):
    name: str = Field(min_length=1, max_length=64)
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    api_key_env: str | None = None
    poll_interval: Duration = timedelta(minutes=5)
    request_timeout: Duration = timedelta(seconds=30)
    lookback: Duration = timedelta(days=2)
    initial_backfill: Duration = timedelta(days=7)
    endpoints: dict[str, EndpointOverride] = Field(default_factory=dict)
    _key: SecretStr = PrivateAttr(default=SecretStr(""))

    known_endpoints: ClassVar[tuple[str, ...]] = ()

    @field_validator("poll_interval")
    @classmethod
    def _min_interval(cls, v: timedelta) -> timedelta:
        if v < timedelta(seconds=1):
            raise ValueError("poll_interval must be at least 1s")
        return v

    @field_validator("initial_backfill", "lookback")
    @classmethod
    def _max_backfill(cls, v: timedelta) -> timedelta:
        if v > MAX_WINDOW:
            raise ValueError("must be at most 90d (vendor limit)")
        return v

    @model_validator(mode="after")
    def _resolve_key(self) -> _ProviderBase:
        given = [k for k in ("api_key", "api_key_file", "api_key_env") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "exactly one of api_key, api_key_file, api_key_env is required"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.api_key is not None:
            key = self.api_key.get_secret_value()
        elif self.api_key_file is not None:
            try:
                key = self.api_key_file.read_text().strip()
            except OSError as e:
                raise ValueError(f"api_key_file: cannot read {str(self.api_key_file)!r}: "
                                 f"{e.strerror}") from None
        else:
            env = self.api_key_env or ""
            key = os.environ.get(env, "").strip()
            if not key:
                raise ValueError(f"api_key_env: environment variable {env!r} is unset or empty")
        if not key:
            raise ValueError("the API key is empty")
        self._key = SecretStr(key)
        unknown = sorted(set(self.endpoints) - set(self.known_endpoints))
        if unknown:
            raise ValueError(f"endpoints: unknown endpoint {unknown[0]!r} for this provider "
                             f"type (known: {', '.join(self.known_endpoints)})")
        return self

    @property
    def key(self) -> SecretStr:
        return self._key

    def endpoint(self, name: str) -> EndpointOverride:
        return self.endpoints.get(name, EndpointOverride())

    def enabled(self, name: str) -> bool:
        return self.endpoint(name).enabled


class QoderProvider(_ProviderBase):
    type: Literal["qoder"]
    base_url: str = "https://api.qoder.com"
    organization_id: str = Field(min_length=1)
    windows: list[Window] = Field(default_factory=lambda: ["1d", "7d", "30d"], min_length=1)
    ranking_limit: int = Field(default=10, ge=1, le=1000)
    rate_limit_per_minute: int = Field(default=60, gt=0)
    known_endpoints: ClassVar[tuple[str, ...]] = QODER_ENDPOINTS

    @field_validator("windows")
    @classmethod
    def _unique_windows(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("windows must be unique")
        return v


class CursorProvider(_ProviderBase):
    type: Literal["cursor"]
    base_url: str = "https://api.cursor.com"
    rate_limit_per_minute: int = Field(default=5, gt=0)
    known_endpoints: ClassVar[tuple[str, ...]] = CURSOR_ENDPOINTS


Provider = Annotated[QoderProvider | CursorProvider, Field(discriminator="type")]


class Config(BaseSettings):
    """The whole file. Only the YAML feeds it: environment variables are not a second,
    silent source of settings (keys come from env only through api_key_env)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    listen_address: str = ":19877"
    state_path: Path = Path("./aicode-state.db")
    users: UsersConfig = Field(default_factory=UsersConfig)
    providers: list[Provider] = Field(min_length=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[tuple[str, str]] = set()
        for p in self.providers:
            if (p.type, p.name) in seen:
                raise ValueError(f"providers: name {p.name!r} is used twice for type {p.type}")
            seen.add((p.type, p.name))
        return self


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    prev: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(prev, int) and part in ("qoder", "cursor"):
            pass  # discriminated-union tag, not a key the user wrote
        else:
            out += ("." if out else "") + part
        prev = part
    return out


def _describe(err: Any) -> str:
    where = _loc(tuple(err["loc"])) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "union_tag_invalid":
        return f"{where}.type: must be one of qoder, cursor"
    if kind == "union_tag_not_found":
        return f"{where}.type: required key is missing (qoder or cursor)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}"


def load_config(path: str | Path) -> Config:
    """Read, parse and validate; every failure is a ConfigError naming file and key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config file: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        ctx, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if ctx and cmark:
            problem += f" ({ctx} started at line {cmark.line + 1})"
        raise ConfigError(f"{p}:{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys")
    try:
        return Config(**data)
    except ValidationError as e:
        lines = [_describe(err) for err in e.errors()]
        raise ConfigError(f"{p}: " + "; ".join(lines)) from None
