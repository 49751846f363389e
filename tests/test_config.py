"""Strict configuration: every rule has a bad fixture whose message names key and file."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from exporter.config import load_config
from exporter.errors import ConfigError
from exporter.vendors.cursor.config import CursorProvider
from exporter.vendors.qoder.config import QoderProvider

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).parent / "fixtures" / "config" / "bad"
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


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    bad = run_cli("--config.file", str(BAD / "two-secrets.yaml"), "--config.check")
    assert bad.returncode == 2
    assert "two-secrets.yaml" in bad.stderr and "api_key_env" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = tmp_path / "ok.yaml"
    good.write_text("providers:\n  - {type: cursor, name: a, api_key: k}\n")
    ok = run_cli("--config.file", str(good), "--config.check")
    assert ok.returncode == 0 and "valid" in ok.stdout
    missing = run_cli("--config.file", str(tmp_path / "absent.yaml"), "--once")
    assert missing.returncode == 2 and "absent.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_unopenable_state_path_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg.write_text(f"state_path: {blocker}/sub/state.db\n"
                   "providers:\n  - {type: cursor, name: a, api_key: k}\n")
    r = run_cli("--config.file", str(cfg), "--once")
    assert r.returncode == 2 and "state_path: cannot open" in r.stderr
    assert "Traceback" not in r.stderr
