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

import yaml
from pydantic import Field, ValidationError, create_model, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from yaml.composer import ComposerError
from yaml.nodes import Node

from aicode_exporter.config.base import LabelsConfig, ProviderBase, UsersConfig, read_capped
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
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "union_tag_invalid":
        return f"{where}.type: must be one of {', '.join(vendors())}"
    if kind == "union_tag_not_found":
        return f"{where}.type: required key is missing ({' or '.join(vendors())})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}"


MAX_CONFIG_BYTES = 1024 * 1024
MAX_DEPTH = 32  # nesting of mappings and lists; the schema needs 4


class _Loader(yaml.SafeLoader):
    """safe_load with a nesting limit: PyYAML composes nodes recursively, so a deeply
    nested document would otherwise end in RecursionError (and pydantic after it)."""

    depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.depth >= MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _read(p: Path) -> str:
    try:
        raw = read_capped(p, MAX_CONFIG_BYTES)
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config file: {e.strerror}") from None
    if raw is None:
        raise ConfigError(f"{p}: config file is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"{p}: line {line}: not UTF-8 text") from None


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


def resolve_paths(data: dict[str, Any], base: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Relative file settings made absolute: data files against the config file's folder,
    key files against `key_dir` (from the file or AICODE_KEY_DIR) when set."""
    out = dict(data)
    secrets = env.get(f"{ENV_PREFIX}KEY_DIR") or out.get("key_dir")
    key_base = base / secrets if isinstance(secrets, str) and secrets else base

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
    if isinstance(out.get("state_path"), str):
        out["state_path"] = str(base / Path(out["state_path"]).expanduser())
    return out


def load_config(path: str | Path) -> Config:
    """Read, parse and validate; every failure is a ConfigError naming file and key.
    The environment (AICODE_*) is read by pydantic-settings, and checked here."""
    env = os.environ
    p = Path(path)
    text = _read(p)
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader with a depth limit
    except RecursionError:
        raise ConfigError(f"{p}: invalid YAML: nested too deeply") from None
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
