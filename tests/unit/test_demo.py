"""The demo's configuration: one provider per simulated vendor, from the simulator's table."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from aicode_exporter import __main__ as entry
from aicode_exporter.app import App


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Runs `demo` up to serving: the App it would serve, and the simulator's URL then."""
    seen: dict[str, Any] = {}

    def serve(app: App, listen: str, on_ready: Any = None, web: object = None) -> int:
        seen["providers"] = list(app.cfg.providers)
        seen["teams_file"] = app.cfg.teams.file if app.cfg.teams else None
        app.close()
        return 0

    monkeypatch.setattr(entry, "_serve", serve)
    yield seen
    logging.getLogger().handlers.clear()


def test_the_demo_polls_every_simulated_vendor(captured: dict[str, Any]) -> None:
    from aicode_sim import Simulator

    assert entry.main(["demo", "--web.listen-address", "127.0.0.1:0",
                       "--poll-interval", "7s", "--users", "4"]) == 0
    providers = captured["providers"]
    assert [p.type for p in providers] == Simulator(users=4).vendors
    base_urls = {p.base_url for p in providers}
    assert len(base_urls) == 1 and next(iter(base_urls)).startswith("http://127.0.0.1:")
    for p in providers:
        assert p.name == "demo" and p.poll_interval == timedelta(seconds=7)
        assert p.api_key is not None and p.api_key.get_secret_value() == "sim-key"
    by_type = {p.type: p for p in providers}
    assert by_type["qoder"].organization_id == "org_sim"
    assert captured["teams_file"] is not None
