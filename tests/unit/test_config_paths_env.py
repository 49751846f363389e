"""Paths resolve against the config file's folder (key files against key_dir when set),
and AICODE_* environment variables override the file's top-level settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicode_exporter.config.file import load_config
from aicode_exporter.errors import ConfigError

CONFIG = """
state_path: state/aicode.db
teams: {file: teams.csv}
users: {label: hmac, hmac_key_file: keys/hmac}
providers:
  - {type: qoder, name: acme, organization_id: o, api_key_file: keys/qoder}
"""


def setup(tmp_path: Path) -> Path:
    conf = tmp_path / "etc"
    (conf / "keys").mkdir(parents=True)
    (conf / "keys" / "qoder").write_text("qk-123\n")
    (conf / "keys" / "hmac").write_text("0123456789abcdef0123\n")
    (conf / "teams.csv").write_text("team,email\npayments,a@example.com\n")
    (conf / "c.yaml").write_text(CONFIG)
    return conf / "c.yaml"


def test_relative_paths_mean_the_same_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = setup(tmp_path)
    for cwd in (tmp_path, path.parent, Path("/")):
        monkeypatch.chdir(cwd)
        cfg = load_config(path)
        assert cfg.state_path == path.parent / "state" / "aicode.db"
        assert cfg.providers[0].key.get_secret_value() == "qk-123"
        assert cfg.teams is not None and cfg.teams.file == path.parent / "teams.csv"


def test_key_files_come_from_key_dir_when_set(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = setup(tmp_path)
    secrets = tmp_path / "run-secrets"
    (secrets / "keys").mkdir(parents=True)
    (secrets / "keys" / "qoder").write_text("from-the-secrets-dir\n")
    (secrets / "keys" / "hmac").write_text("fedcba9876543210fedc\n")
    monkeypatch.setenv("AICODE_KEY_DIR", str(secrets))
    cfg = load_config(path)
    assert cfg.providers[0].key.get_secret_value() == "from-the-secrets-dir"
    assert cfg.state_path == path.parent / "state" / "aicode.db"  # not a key file


def test_environment_overrides_top_level_and_nested_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = setup(tmp_path)
    monkeypatch.setenv("AICODE_STATE_PATH", "/var/lib/x.db")
    monkeypatch.setenv("AICODE_USERS__LABEL", "none")
    monkeypatch.setenv("AICODE_LISTEN_ADDRESS", "127.0.0.1:9999")
    cfg = load_config(path)
    assert cfg.state_path == Path("/var/lib/x.db")
    assert cfg.users.label == "none" and cfg.listen_address == "127.0.0.1:9999"
    assert cfg.providers[0].name == "acme"  # the rest still from the file


def test_a_misspelt_environment_variable_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = setup(tmp_path)
    monkeypatch.setenv("AICODE_STAT_PATH", "/x.db")
    with pytest.raises(ConfigError, match="AICODE_STAT_PATH names no setting"):
        load_config(path)


def test_a_wrong_value_from_the_environment_names_the_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = setup(tmp_path)
    monkeypatch.setenv("AICODE_USERS__LABEL", "nobody")
    with pytest.raises(ConfigError, match=r"users\.label"):
        load_config(path)
