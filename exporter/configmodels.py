"""Strict building blocks of the configuration, shared by config.py and every vendor's
provider model (vendors/<name>/config.py). Imports no vendor."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from exporter.durations import parse_duration

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

    @field_validator("backfill_slice", "lookback_interval")
    @classmethod
    def _min_second(cls, v: timedelta) -> timedelta:
        if v < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
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
        if self.overlap > self.lookback:
            raise ValueError("overlap must not be longer than lookback")
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
