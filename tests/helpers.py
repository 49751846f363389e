"""Test doubles shared by the suite: a fake clock and a scripted Qoder transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
QODER_KEY = "qk_test_secret_value_123"


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / name).read_text())


@dataclass
class FakeClock:
    """Monotonic and wall time that only move when something sleeps."""

    mono: float = 1000.0
    wall_time: float = 1_749_000_000.0  # 2025-06-04T01:20:00Z
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.mono += seconds
        self.wall_time += seconds


Handler = Callable[[httpx.Request], httpx.Response]

QODER_ROUTES = {
    "/ai-code/stats/overview": "overview.json",
    "/ai-code/stats/daily-trend": "daily-trend.json",
    "/ai-code/stats/member-ranking": "member-ranking.json",
    "/ai-code/repos": "repos.json",
    "/ai-code/file-extensions": "file-extensions.json",
}


@dataclass
class QoderFake:
    """Serves the seed's example payloads; `script` overrides answers per path suffix with
    a queue of responses (consumed in order, then the fixture again)."""

    org: str = "org_test"
    key: str = QODER_KEY
    script: dict[str, list[httpx.Response | Exception]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=lambda: dict(QODER_ROUTES))
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        prefix = f"/v1/organizations/{self.org}"
        path = request.url.path
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return httpx.Response(401, json={"requestId": "req_1", "code": "Unauthorized",
                                             "message": "API key missing or invalid"})
        if not path.startswith(prefix):
            return httpx.Response(403, json={"requestId": "req_2", "code": "Forbidden",
                                             "message": "no access"})
        suffix = path[len(prefix):]
        queue = self.script.get(suffix)
        if queue:
            item = queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        if suffix not in self.files:
            return httpx.Response(404, json={"code": "NotFound", "message": suffix})
        return httpx.Response(200, json=fixture("qoder", self.files[suffix]))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [r.url.path.rsplit("/ai-code", 1)[-1] for r in self.requests]


def qoder_config(tmp_path: Path, **overrides: Any) -> Any:
    from exporter.config import Config

    provider = {"type": "qoder", "name": "acme", "base_url": "http://qoder.test",
                "organization_id": "org_test", "api_key": QODER_KEY,
                "windows": ["7d"], **overrides}
    return Config.model_validate({"state_path": str(tmp_path / "state.db"),
                                  "providers": [provider]})
