"""A scripted Claude Code Analytics endpoint over tests/fixtures/claude_code/, and the
configuration and clock the Claude Code tests share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.fakes import FIXTURES, FakeClock, make_config

ADMIN_KEY = "sk-ant-admin01-test-secret-789"
PATH = "/v1/organizations/usage_report/claude_code"
# 2025-08-09 12:00 UTC: the fixtures' day, 2025-08-08, is complete and past the lag.
NOON_AFTER = datetime(2025, 8, 9, 12, 0, tzinfo=UTC).timestamp()


def page(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "claude_code" / name).read_text())
    return data


def anthropic_error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = (FIXTURES / "claude_code" / f"error-{status}.json").read_bytes()
    return httpx.Response(status, content=body,
                          headers={"content-type": "application/json", **(headers or {})})


@dataclass
class ClaudeFake:
    """Answers each day with its list of pages (fixture names or bodies), chained by
    their own next_page cursors; an unlisted day is the empty day. `script` answers first,
    in order."""

    days: dict[str, list[str | dict[str, Any]]] = field(default_factory=dict)
    script: list[httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if (request.headers.get("x-api-key") != ADMIN_KEY
                or request.headers.get("anthropic-version") != "2023-06-01"):
            return anthropic_error(401)
        if request.url.path != PATH:
            return httpx.Response(404, json={"type": "error", "error": {
                "type": "not_found_error", "message": "not found"}})
        if self.script:
            return self.script.pop(0)
        day = request.url.params["starting_at"]
        pages = [page(p) if isinstance(p, str) else p
                 for p in self.days.get(day, ["empty-day.json"])]
        index = 0
        cursor = request.url.params.get("page")
        if cursor is not None:
            index = 1 + next(i for i, p in enumerate(pages) if p.get("next_page") == cursor)
        # json.dumps escapes what UTF-8 cannot carry (a lone surrogate), as JSON may.
        return httpx.Response(200, content=json.dumps(pages[index]).encode(),
                              headers={"content-type": "application/json"})

    def asked(self) -> list[tuple[str, str | None]]:
        return [(r.url.params["starting_at"], r.url.params.get("page"))
                for r in self.requests]


def clock_at(wall: float) -> FakeClock:
    return FakeClock(wall_time=wall)


def claude_config(tmp_path: Path, users: dict[str, Any] | None = None,
                  teams: str | None = None, **overrides: Any) -> Any:
    provider = {"type": "claude_code", "name": "acme", "base_url": "http://anthropic.test",
                "api_key": ADMIN_KEY, **overrides}
    if teams is None:
        return make_config(tmp_path, [provider], users)
    from aicode_exporter.config.file import config_model

    path = tmp_path / "teams.csv"
    path.write_text(teams)
    return config_model().model_validate({
        "state_path": str(tmp_path / "state.db"), "users": users or {},
        "teams": {"file": str(path)}, "providers": [provider]})
