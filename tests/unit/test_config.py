"""Strict configuration: every rule has a bad fixture whose message names key and file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aicode_exporter.config.file import load_config
from aicode_exporter.errors import ConfigError
from aicode_exporter.vendors.cursor.config import CursorProvider
from aicode_exporter.vendors.qoder.config import QoderProvider
from tests.support.fakes import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
BAD = FIXTURES / "config" / "bad"
BAD_FILES = sorted(BAD.glob("*.yaml"))


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_config_names_key_and_file(path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:"), msg
    assert expected(path).replace("Value error, ", "") in msg


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read config file"):
        load_config(BAD / "nope.yaml")


def test_example_config_is_valid_and_documents_defaults(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("secret-from-file\n")
    monkeypatch.setenv("CURSOR_API_KEY", "cursor-secret")
    text = (ROOT / "config.example.yaml").read_text()
    text = text.replace("/run/secrets/qoder", str(key))
    (tmp_path / "c.yaml").write_text(text)
    cfg = load_config(tmp_path / "c.yaml")
    q, c = cfg.providers
    assert isinstance(q, QoderProvider) and isinstance(c, CursorProvider)
    assert q.key.get_secret_value() == "secret-from-file"
    assert c.key.get_secret_value() == "cursor-secret"
    assert q.poll_interval == timedelta(minutes=5) and q.windows == ["1d", "7d", "30d"]
    assert q.rate_limit_per_minute == 60 and c.rate_limit_per_minute == 5
    assert "secret" not in repr(cfg) and "secret" not in str(cfg)


def test_key_file_and_env_are_read_and_never_shown(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QK", "from-env-xyz")
    (tmp_path / "c.yaml").write_text(
        "providers:\n  - {type: qoder, name: a, organization_id: o, api_key_env: QK}\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.providers[0].key.get_secret_value() == "from-env-xyz"
    assert "from-env-xyz" not in repr(cfg.providers[0])
