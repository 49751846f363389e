"""Configuration: the whole YAML file, strict; every failure names the file and the key.

Strict on purpose (blackbox_exporter's KnownFields): an unknown or misspelt key stops the
start with its name, instead of silently polling with a default. Provider entries are a
union of the registered vendors' models, told apart by `type`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, ValidationError, create_model, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from aicode_exporter.config.base import (
    LabelsConfig,
    ProviderBase,
    UsersConfig,
    describe_error,
    read_yaml_mapping,
)
from aicode_exporter.config.otlp import OtlpConfig
from aicode_exporter.config.otlp import resolve as resolve_otlp
from aicode_exporter.config.teams import TeamsConfig
from aicode_exporter.errors import ConfigError
from aicode_exporter.pipeline.teams import load_team_map
from aicode_exporter.vendors.base import Vendor
from aicode_exporter.vendors.registry import vendors

ENV_PREFIX = "AICODE_"
# Settings that name files. A relative path resolves against the config file's folder
# (key files against `key_dir` when that is set), so a config means the same thing
# whatever directory the exporter starts in.
_KEY_FILES = (("users", "hmac_key_file"), ("providers", "api_key_file"),
              ("providers", "client_key_file"), ("otlp", "headers_file"))
_DATA_FILES = (("teams", "file"), ("otlp", "ca_file"), ("providers", "ca_file"),
               ("providers", "client_cert_file"))

class Config(BaseSettings):
    """The whole file, with `AICODE_*` environment variables overriding its top-level
    settings (`AICODE_STATE_PATH`, `AICODE_USERS__LABEL`, `AICODE_PROVIDERS` as JSON...):
    pydantic-settings merges the environment over the YAML, nested keys by `__`.

    Validate with `config_model()`: it knows the registered vendors' provider models."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_prefix=ENV_PREFIX,
                                      env_nested_delimiter="__")

    listen_address: str = ":19877"
    state_path: Path = Path("./aicode-state.db")
    state_dir: Path | None = None
    key_dir: Path | None = None
    users: UsersConfig = Field(default_factory=UsersConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    providers: list[ProviderBase] = Field(min_length=1)
    teams: TeamsConfig | None = None
    otlp: OtlpConfig | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the first wins: environment over YAML

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[tuple[str, str]] = set()
        for p in self.providers:
            if (p.type, p.name) in seen:
                raise ValueError(f"providers: name {p.name!r} is used twice for type {p.type}")
            seen.add((p.type, p.name))
        return self


def config_model() -> type[Config]:
    """Config whose provider entries are the registered vendors' models, told apart by
    `type` (built when first asked, so a vendor folder added later is known)."""
    return _config_model(tuple(vendors().values()))


@functools.cache
def _config_model(registered: tuple[Vendor, ...]) -> type[Config]:
    models = tuple(v.config_model for v in registered)
    entry: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007
    return create_model("Config", __base__=Config, providers=(list[entry], Field(min_length=1)))


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    prev: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(prev, int) and part in vendors():
            pass  # discriminated-union tag, not a key the user wrote
        else:
            out += ("." if out else "") + part
        prev = part
    return out


def _describe(err: Any) -> str:
    where = _loc(tuple(err["loc"])) or "(top level)"
    kind = err["type"]
    if kind == "union_tag_invalid":
        return f"{where}.type: must be one of {', '.join(vendors())}"
    if kind == "union_tag_not_found":
        return f"{where}.type: required key is missing ({' or '.join(vendors())})"
    return describe_error(err, where)


MAX_CONFIG_BYTES = 1024 * 1024


def _unknown_env(env: Mapping[str, str], data: dict[str, Any]) -> str | None:
    """An AICODE_* variable that names no setting (nor a key named by api_key_env): a
    typo must not pass silently."""
    known = {name.upper() for name in Config.model_fields}
    providers = data.get("providers")
    keys = {p.get("api_key_env") for p in providers if isinstance(p, dict)} \
        if isinstance(providers, list) else set()
    for var in env:
        if var.startswith(ENV_PREFIX) and var not in keys:
            head = var[len(ENV_PREFIX):].split("__", 1)[0]
            if head not in known:
                return var
    return None


def _dir_setting(name: str, data: Mapping[str, Any], base: Path,
                 env: Mapping[str, str]) -> Path:
    """The folder a `*_dir` setting names (AICODE_<NAME> over the file; relative to the
    config file's folder), else the config file's folder."""
    value = env.get(f"{ENV_PREFIX}{name.upper()}") or data.get(name)
    return base / Path(value).expanduser() if isinstance(value, str) and value else base


def resolve_paths(data: dict[str, Any], base: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Relative file settings made absolute: data files against the config file's folder,
    key files against `key_dir` (from the file or AICODE_KEY_DIR) when set, the state file
    against `state_dir` (AICODE_STATE_DIR: the container sets /var/lib/aicode-exporter, so
    a config in a read-only folder still has its state on the writable volume)."""
    out = dict(data)
    key_base = _dir_setting("key_dir", out, base, env)

    def fix(section: str, key: str, root: Path) -> None:
        node = out.get(section)
        items = node if isinstance(node, list) else [node]
        fixed = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get(key), str):
                item = {**item, key: str(root / Path(item[key]).expanduser())}
            fixed.append(item)
        if isinstance(node, list):
            out[section] = fixed
        elif isinstance(node, dict):
            out[section] = fixed[0]

    for section, key in _KEY_FILES:
        fix(section, key, key_base)
    for section, key in _DATA_FILES:
        fix(section, key, base)
    state_dir = _dir_setting("state_dir", out, base, env)
    # Without state_path, the default file goes to state_dir when one is set, else (as
    # always) to the working directory.
    state = out.get("state_path", str(Config.model_fields["state_path"].default)
                    if state_dir != base else None)
    if isinstance(state, str) and state != ":memory:":
        out["state_path"] = str(state_dir / Path(state).expanduser())
    return out


def load_config(path: str | Path) -> Config:
    """Read, parse and validate; every failure is a ConfigError naming file and key.
    The environment (AICODE_*) is read by pydantic-settings, and checked here."""
    env = os.environ
    p = Path(path)
    data = read_yaml_mapping(p, MAX_CONFIG_BYTES, "config file")
    bad = _unknown_env(env, data)
    if bad:
        known = ", ".join(ENV_PREFIX + n.upper() for n in Config.model_fields)
        raise ConfigError(f"{p}: environment variable {bad} names no setting (known: {known})")
    cfg = build_config(resolve_paths(data, p.resolve().parent, env), str(p))
    if cfg.teams is not None:  # --config.check checks the map too: file, line, column
        load_team_map(cfg.teams.file, cfg.teams.unassigned)
    resolve_otlp(cfg.otlp, env)  # and the OTEL_* variables the push would use
    return cfg


def build_config(data: dict[str, Any], source: str) -> Config:
    """Validate an already parsed document; errors are ConfigErrors starting `source:`."""
    try:
        return config_model()(**data)
    except ValidationError as e:
        lines = [_describe(err) for err in e.errors()]
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
