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


def test_state_dir_takes_relative_state_paths_and_the_default(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    from aicode_exporter.config.file import resolve_paths

    base = tmp_path / "etc"
    env = {"AICODE_STATE_DIR": "/var/lib/x"}
    assert resolve_paths({"state_path": "./s.db"}, base, env)["state_path"] == "/var/lib/x/s.db"
    assert resolve_paths({"state_path": "/abs/s.db"}, base, env)["state_path"] == "/abs/s.db"
    assert resolve_paths({}, base, env)["state_path"] == "/var/lib/x/aicode-state.db"
    # state_dir in the file, relative to the file's folder; the variable wins over it
    assert resolve_paths({"state_dir": "st", "state_path": "s.db"}, base, {})["state_path"] \
        == str(base / "st" / "s.db")
    assert resolve_paths({"state_dir": "st", "state_path": "s.db"}, base, env)["state_path"] \
        == "/var/lib/x/s.db"
    # without state_dir: against the config file's folder; no state_path: unchanged
    assert resolve_paths({"state_path": "s.db"}, base, {})["state_path"] == str(base / "s.db")
    assert "state_path" not in resolve_paths({}, base, {})


def test_check_writable_names_the_folder(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from aicode_exporter.pipeline import statelock

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(statelock.os, "access",
                        lambda p, mode: False if Path(p) == ro else real(p, mode))
    with pytest.raises(ConfigError, match=rf"state_path: the folder '{ro}' is not writable"):
        statelock.check_writable(ro / "s.db")
    with pytest.raises(ConfigError, match=rf"the folder '{ro}' is not writable .*to create "
                                          rf"'{ro}/sub'"):
        statelock.check_writable(ro / "sub" / "s.db")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a folder"):
        statelock.check_writable(tmp_path / "file" / "s.db")
    statelock.check_writable(tmp_path / "new" / "deeper" / "s.db")  # creatable: fine
    with pytest.raises(ConfigError, match=rf"cannot open lock file .* in the folder '{ro}'|"
                                          rf"the folder '{ro}' is not writable"):
        statelock.StateLock(ro / "s.db").acquire()
