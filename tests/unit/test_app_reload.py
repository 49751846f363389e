"""App.reload (what SIGHUP applies): a rotated key is used from the next request on and
redacted like the old one; settings that need a restart are named, not applied."""

from __future__ import annotations

from pathlib import Path

from tests.support.fakes import CURSOR_KEY, CursorFake, FakeClock, cursor_config, make_app


def test_a_rotated_key_is_used_from_the_next_request_on(tmp_path: Path) -> None:
    fake = CursorFake()
    clock = FakeClock()
    app = make_app(cursor_config(tmp_path, rate_limit_per_minute=600), fake, clock)
    app.poller.poll_all_once()
    assert all(st.up for st in app.telemetry.statuses().values())
    fake.key = "key_cursor_rotated_789"  # the vendor now wants the new key only
    new = cursor_config(tmp_path, api_key=fake.key, rate_limit_per_minute=600)
    assert app.reload(new) == []  # only the key changed: nothing waits for a restart
    app.poller.poll_all_once()
    assert all(st.up for st in app.telemetry.statuses().values())
    client = app.providers[0].clients[0]
    assert client.redact(f"old {CURSOR_KEY} new {fake.key}") == "old <redacted> new <redacted>"
    app.close()


def test_settings_that_need_a_restart_are_named(tmp_path: Path) -> None:
    app = make_app(cursor_config(tmp_path), CursorFake(), FakeClock())
    new = cursor_config(tmp_path, poll_interval="1m", top={"labels": {"max_values": 10}})
    assert app.reload(new) == ["labels", "providers cursor/acme"]
    assert app.cfg.providers[0].poll_interval.total_seconds() == 300  # still the old one
    app.close()
