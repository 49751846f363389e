"""Configuration that is broken in ways a fixture alone does not show: key files and
environment values (whose errors must never print the key), durations too large for a
timedelta, documents nested thousands deep, files that are not text or never end. Every
one is a ConfigError naming the file (exit 2 from the CLI), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from aicode_exporter.__main__ import EXIT_CONFIG, main
from aicode_exporter.config.base import DURATION_BOUNDS
from aicode_exporter.config.file import load_config
from aicode_exporter.durations import parse_duration
from aicode_exporter.errors import ConfigError

KEY = "k3y-0123456789abcdef"
KEY_LINE = "api_key: k-test-key"


def provider_yaml(secret: str, **extra: str) -> str:
    more = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    return ("providers:\n  - type: qoder\n    name: acme\n    organization_id: org_x\n"
            f"    {secret}\n{more}")


def write_config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def key_file(tmp_path: Path, content: bytes) -> Path:
    k = tmp_path / "qoder.key"
    k.write_bytes(content)
    return k


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:"), msg
    return msg


# --- API keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("content", [KEY.encode(), KEY.encode() + b"\n",
                                     KEY.encode() + b"\r\n"])
def test_key_file_loses_one_trailing_newline(tmp_path: Path, content: bytes) -> None:
    k = key_file(tmp_path, content)
    cfg = load_config(write_config(tmp_path, provider_yaml(f"api_key_file: {k}")))
    assert cfg.providers[0].key.get_secret_value() == KEY


@pytest.mark.parametrize(("content", "what"), [
    (KEY.encode() + b"\n# rotated 2024-05-01 by ops\n", "a line break"),
    (KEY.encode() + b"\n\n", "a line break"),
    (b" " + KEY.encode() + b"\n", "whitespace"),
    (KEY.encode() + b" \n", "whitespace"),
    (KEY.encode() + b"\t\n", "whitespace"),
    (KEY.encode() + b"\x00\n", "a control character"),
    (b"\xef\xbb\xbf" + KEY.encode() + b"\n", "a non-ASCII character"),  # a UTF-8 BOM
    (KEY.encode() + b"\xff\n", "a non-ASCII character"),  # not UTF-8 at all
])
def test_key_file_with_more_than_the_key_is_an_error_that_hides_it(
        tmp_path: Path, content: bytes, what: str) -> None:
    k = key_file(tmp_path, content)
    msg = config_error(write_config(tmp_path, provider_yaml(f"api_key_file: {k}")))
    assert f"providers[0]: api_key_file: {str(k)!r}: the API key contains {what}" in msg
    assert "the key is not shown" in msg
    assert KEY not in msg and "rotated" not in msg and "0123" not in msg


def test_empty_key_file_names_the_file(tmp_path: Path) -> None:
    k = key_file(tmp_path, b"\n")
    msg = config_error(write_config(tmp_path, provider_yaml(f"api_key_file: {k}")))
    assert f"api_key_file: {str(k)!r}: the API key is empty" in msg


def test_key_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    msg = config_error(write_config(tmp_path, provider_yaml("api_key_file: /dev/zero")))
    assert "api_key_file: '/dev/zero' is larger than 64 KiB" in msg


def test_env_key_loses_one_trailing_newline(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICODE_TEST_KEY", KEY + "\n")  # a Kubernetes secret from a file
    cfg = load_config(write_config(tmp_path, provider_yaml("api_key_env: AICODE_TEST_KEY")))
    assert cfg.providers[0].key.get_secret_value() == KEY


@pytest.mark.parametrize(("value", "what"), [
    (KEY + "\n# rotated\n", "a line break"), (KEY + " ", "whitespace"),
    ("Bearer " + KEY, "whitespace"), (KEY + "\x1b", "a control character"),
])
def test_env_key_with_more_than_the_key_is_an_error_that_hides_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, what: str) -> None:
    monkeypatch.setenv("AICODE_TEST_KEY", value)
    msg = config_error(write_config(tmp_path, provider_yaml("api_key_env: AICODE_TEST_KEY")))
    assert ("api_key_env: environment variable 'AICODE_TEST_KEY': the API key contains "
            f"{what}") in msg
    assert KEY not in msg and "rotated" not in msg and "Bearer" not in msg


@pytest.mark.parametrize("yaml_value", [f'"{KEY} "', f'"{KEY}\\n# rotated"',
                                        f"|\n      {KEY}\n      second"])
def test_inline_key_with_more_than_the_key_is_an_error_that_hides_it(
        tmp_path: Path, yaml_value: str) -> None:
    msg = config_error(write_config(tmp_path, provider_yaml(f"api_key: {yaml_value}")))
    assert "providers[0]: api_key: the API key contains" in msg
    assert KEY not in msg and "second" not in msg


def test_inline_block_scalar_key_loses_its_trailing_newline(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, provider_yaml(f"api_key: |\n      {KEY}")))
    assert cfg.providers[0].key.get_secret_value() == KEY


# --- the HMAC key file: its rule (strip, at least 16 bytes) is unchanged -----------------


def hmac_config(tmp_path: Path, key_path: str) -> Path:
    return write_config(tmp_path, f"users: {{label: hmac, hmac_key_file: {key_path}}}\n"
                        + provider_yaml("api_key: k-test-key"))


def test_hmac_key_is_stripped_and_used(tmp_path: Path) -> None:
    k = key_file(tmp_path, b"  0123456789abcdef-hmac  \n\n")
    cfg = load_config(hmac_config(tmp_path, str(k)))
    assert cfg.users.hmac_key == b"0123456789abcdef-hmac"


@pytest.mark.parametrize("content", [b"short-secret\n", b"  short secret  \n"])
def test_hmac_key_errors_never_show_the_key(tmp_path: Path, content: bytes) -> None:
    k = key_file(tmp_path, content)
    msg = config_error(hmac_config(tmp_path, str(k)))
    assert f"users: hmac_key_file: the key in {str(k)!r} must be at least 16 bytes" in msg
    assert "short" not in msg and "secret" not in msg


def test_hmac_key_file_unreadable_or_endless(tmp_path: Path) -> None:
    msg = config_error(hmac_config(tmp_path, str(tmp_path / "absent")))
    assert "hmac_key_file: cannot read" in msg and "No such file" in msg
    msg = config_error(hmac_config(tmp_path, "/dev/zero"))
    assert "hmac_key_file: '/dev/zero' is larger than 64 KiB" in msg


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["99999999999999d", "9" * 5000 + "s",
                                  "999999999999999999999w", "1000000000d"])
def test_huge_durations_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="is out of range"):
        parse_duration(text)


def test_durations_still_parse() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    assert parse_duration("2w") == timedelta(days=14)
    assert parse_duration("0s") == timedelta(0)


@pytest.mark.parametrize("key", sorted(DURATION_BOUNDS))
def test_every_duration_setting_is_bounded_both_ways(tmp_path: Path, key: str) -> None:
    low, high = DURATION_BOUNDS[key]
    extra = {"overlap": {"lookback": "90d"}, "lookback": {"overlap": "0s"}}.get(key, {})
    for ok in (low, high):
        load_config(write_config(tmp_path, provider_yaml(KEY_LINE, **{key: ok}, **extra)))
    too_long = high + "1ms"
    msg = config_error(write_config(tmp_path, provider_yaml(KEY_LINE, **{key: too_long})))
    assert f"providers[0].{key}: must be at most {high}" in msg
    if low != "0s":
        msg = config_error(write_config(tmp_path, provider_yaml(KEY_LINE, **{key: "0s"})))
        assert f"providers[0].{key}:" in msg and f"must be at least {low}" in msg


# --- the document itself ----------------------------------------------------------------


@pytest.mark.parametrize("doc", [
    "providers: " + "[" * 5000 + "]" * 5000,
    "providers: " + "{a: " * 5000 + "1" + "}" * 5000,
    "providers:\n" + "".join("  " * i + "- \n" for i in range(1, 500)),
    provider_yaml("api_key: k-test-key", windows="[" * 100 + "]" * 100),
])
def test_deeply_nested_document_is_a_config_error(tmp_path: Path, doc: str) -> None:
    msg = config_error(write_config(tmp_path, doc))
    assert "invalid YAML: nested deeper than 32 levels" in msg


def test_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes(b"providers:\n  - type: qoder\n    name: acm\xe9\n")
    assert config_error(p) == f"{p}: line 3: not UTF-8 text"


def test_config_that_never_ends_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^/dev/zero: config file is larger than 1024 KiB"):
        load_config("/dev/zero")


# --- the CLI: exit 2 and a message, not a traceback -------------------------------------


@pytest.fixture
def cli_logging() -> Iterator[None]:
    yield
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize(("doc", "says"), [
    (provider_yaml("api_key: k-test-key", poll_interval="99999999999999d"),
     "providers[0].poll_interval: duration '99999999999999d' is out of range"),
    ("providers: " + "[" * 5000 + "]" * 5000, "invalid YAML: nested deeper than 32 levels"),
    (provider_yaml("api_key: k-test-key", request_timeout="0s"),
     "providers[0].request_timeout: must be at least 1s"),
])
def test_cli_config_check_exits_2_naming_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_logging: None,
        doc: str, says: str) -> None:
    p = write_config(tmp_path, doc)
    assert main(["--config.file", str(p), "--config.check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"error: {p}: ") and says in err
    assert "Traceback" not in err


def test_demo_with_an_overflowing_poll_interval_exits_2(
        capsys: pytest.CaptureFixture[str], cli_logging: None) -> None:
    assert main(["demo", "--poll-interval", "99999999999999d",
                 "--web.listen-address", "127.0.0.1:0"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "poll_interval: duration '99999999999999d' is out of range" in err
