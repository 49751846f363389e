"""Test doubles shared by the suite: a fake clock, scripted Qoder and Cursor transports
serving tests/fixtures/, the simulator as a transport, and config builders."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from aicode_exporter.app import App
    from aicode_sim import Simulator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QODER_KEY = "qk_test_secret_value_123"
CURSOR_KEY = "key_cursor_test_secret_456"


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
    "/ai-code-tracking/commits": "tracking-commits.json",
    "/ai-code-tracking/commits/export": "tracking-commits.csv",
    "/ai-code-tracking/changes": "tracking-changes.json",
    "/members": "members.json",
    "/members/member_abc123/quota": "member-quota.json",
    "/members/member_def456/quota": "member-quota-restricted.json",
    "/usage-events": "usage-events.json",
    "/resource-packages": "resource-packages.json",
}

# Every Qoder record stream, switched off: for tests about the aggregates.
QODER_NO_STREAMS = {s: {"enabled": False} for s in ("commits", "changes", "credits")}

CURSOR_ROUTES = {
    "/analytics/ai-code/commits": "commits.json",
    "/analytics/ai-code/commits.csv": "commits.csv",
    "/analytics/ai-code/changes": "changes.json",
    "/analytics/ai-code/changes.csv": "changes.csv",
    # Analytics API and Admin API: the documented examples.
    "/analytics/team/dau": "analytics-dau.json",
    "/analytics/team/tabs": "analytics-tabs.json",
    "/analytics/team/agent-edits": "analytics-agent-edits.json",
    "/analytics/team/models": "analytics-models.json",
    "/analytics/team/top-file-extensions": "analytics-top-file-extensions.json",
    "/analytics/team/client-versions": "analytics-client-versions.json",
    "/analytics/team/leaderboard": "analytics-leaderboard.json",
    "/analytics/by-user/models": "analytics-by-user-models.json",
    "/analytics/by-user/client-versions": "analytics-by-user-client-versions.json",
    "/teams/members": "admin-members.json",
    "/teams/spend": "admin-spend.json",
    "/teams/groups": "admin-groups.json",
    "/teams/daily-usage-data": "admin-daily-usage.json",
    "/teams/filtered-usage-events": "admin-usage-events.json",
}


@dataclass
class VendorFake:
    """Serves recorded payloads by path; `script` overrides answers per path suffix with a
    queue of responses (consumed in order, then the fixture again)."""

    vendor: str = ""
    key: str = ""
    script: dict[str, list[httpx.Response | Exception]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    prefix = ""

    def authorized(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if not self.authorized(request):
            return httpx.Response(401, json={"requestId": "req_1", "code": "Unauthorized",
                                             "message": "API key missing or invalid"})
        if not path.startswith(self.prefix):
            return httpx.Response(403, json={"requestId": "req_2", "code": "Forbidden",
                                             "message": "no access"})
        suffix = path[len(self.prefix):]
        queue = self.script.get(suffix)
        if queue:
            item = queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        name = self.files.get(suffix)
        if name is None:
            return httpx.Response(404, json={"code": "NotFound", "message": suffix})
        return self.serve(request, name)

    def serve(self, request: httpx.Request, name: str) -> httpx.Response:
        """The fixture file `name` as the answer to `request`."""
        body = (FIXTURES / self.vendor / name).read_bytes()
        ctype = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/json"
        return httpx.Response(200, content=body, headers={"content-type": ctype})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [r.url.path[len(self.prefix):] for r in self.requests]


@dataclass
class QoderFake(VendorFake):
    vendor: str = "qoder"
    key: str = QODER_KEY
    org: str = "org_test"
    files: dict[str, str] = field(default_factory=lambda: dict(QODER_ROUTES))

    @property
    def prefix(self) -> str:  # type: ignore[override]
        return f"/v1/organizations/{self.org}"

    def authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.key}"


@dataclass
class CursorFake(VendorFake):
    vendor: str = "cursor"
    key: str = CURSOR_KEY
    files: dict[str, str] = field(default_factory=lambda: dict(CURSOR_ROUTES))

    def authorized(self, request: httpx.Request) -> bool:
        token = base64.b64encode(f"{self.key}:".encode()).decode()
        return request.headers.get("authorization") == f"Basic {token}"

    def serve(self, request: httpx.Request, name: str) -> httpx.Response:
        """The documented examples are one page each: a later page of a paged report is
        empty, and the usage events are filtered and paged as the request asks."""
        if not name.startswith(("analytics-", "admin-")):
            return super().serve(request, name)
        data = fixture(self.vendor, name)
        body = json.loads(request.content) if request.content else {}
        page = int(request.url.params.get("page") or body.get("page") or 1)
        if name == "admin-usage-events.json":
            return httpx.Response(200, json=usage_page(data, body))
        if page > 1 and isinstance(data.get("data"), dict):
            data["data"] = {k: ({"data": [], "total_users": v.get("total_users")}
                                if k.endswith("_leaderboard") else [])
                            for k, v in data["data"].items()}
        return httpx.Response(200, json=data)


def usage_page(data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The documented usage events between the request's startDate and endDate (both
    inclusive, epoch ms), newest first, paged as asked, with the envelope's counts."""
    lo, hi = body.get("startDate", 0), body.get("endDate", 2**62)

    def when(e: dict[str, Any]) -> int:  # an event without a time is in every range
        return int(e["timestamp"]) if e.get("timestamp") is not None else lo

    events = sorted((e for e in data["usageEvents"] if lo <= when(e) <= hi),
                    key=lambda e: -when(e))
    size, page = int(body.get("pageSize") or 100), int(body.get("page") or 1)
    pages = max(1, -(-len(events) // size))
    return {**data, "usageEvents": events[(page - 1) * size:page * size],
            "totalUsageEventsCount": len(events),
            "pagination": {"numPages": pages, "currentPage": page, "pageSize": size,
                           "hasNextPage": page < pages, "hasPreviousPage": page > 1}}


def sim_transport(sim: Simulator) -> httpx.MockTransport:
    """The simulator's request handler behind httpx, no socket: shares a fake clock."""

    def handle(request: httpx.Request) -> httpx.Response:
        status, headers, body = sim.app(request.method, request.url.raw_path.decode(),
                                        dict(request.headers), request.content)
        return httpx.Response(status, headers=headers, content=b"".join(body))

    return httpx.MockTransport(handle)


def make_app(cfg: Any, transport: httpx.BaseTransport | VendorFake | Handler,
             clock: FakeClock | None = None) -> App:
    """The App the tests poll: a vendor transport (a VendorFake, a handler function or a
    transport) and, when given, a fake clock for monotonic time, wall time and sleeps."""
    from aicode_exporter.app import App

    if isinstance(transport, VendorFake):
        transport = transport.transport()
    elif not isinstance(transport, httpx.BaseTransport):
        transport = httpx.MockTransport(transport)
    if clock is None:
        return App(cfg, transport=transport)
    return App(cfg, transport=transport, clock=clock.monotonic, wall=clock.wall,
               sleep=clock.sleep)


def qoder_config(tmp_path: Path, users: dict[str, Any] | None = None,
                 top: dict[str, Any] | None = None, **overrides: Any) -> Any:
    provider = {"type": "qoder", "name": "acme", "base_url": "http://qoder.test",
                "organization_id": "org_test", "api_key": QODER_KEY,
                "windows": ["7d"], **overrides}
    return make_config(tmp_path, [provider], users, top)


# Cursor's Analytics and Admin endpoints: on by default, off where a test is about the
# tracking streams alone (cursor_config's tracking_only).
CURSOR_ANALYTICS_ADMIN = ("dau", "tabs", "agent_edits", "models", "top_file_extensions",
                          "client_versions", "leaderboard", "by_user_models",
                          "by_user_client_versions", "members", "spend", "groups",
                          "daily_usage", "usage_events")


def tracking_only(endpoints: dict[str, Any] | None = None) -> dict[str, Any]:
    """`endpoints:` with every Cursor Analytics and Admin endpoint off, then `endpoints`."""
    return {**{ep: {"enabled": False} for ep in CURSOR_ANALYTICS_ADMIN}, **(endpoints or {})}


def cursor_config(tmp_path: Path, users: dict[str, Any] | None = None, *,
                  top: dict[str, Any] | None = None, tracking_only: bool = True,
                  **overrides: Any) -> Any:
    """A Cursor provider entry; with `tracking_only` (what the tracking tests were written
    for) the Analytics and Admin endpoints are off."""
    if tracking_only:
        overrides["endpoints"] = _tracking_only(overrides.get("endpoints"))
    provider = {"type": "cursor", "name": "acme", "base_url": "http://cursor.test",
                "api_key": CURSOR_KEY, **overrides}
    return make_config(tmp_path, [provider], users, top)


_tracking_only = tracking_only


def make_config(tmp_path: Path, providers: list[dict[str, Any]],
                users: dict[str, Any] | None = None, top: dict[str, Any] | None = None) -> Any:
    """A validated config; `top`: further top-level keys (labels:, teams:...)."""
    from aicode_exporter.config.file import config_model

    return config_model().model_validate({"state_path": str(tmp_path / "state.db"),
                                          "users": users or {}, "providers": providers,
                                          **(top or {})})


@dataclass
class Observer:
    """What an ApiClient reports about its requests (the RequestObserver protocol)."""

    codes: list[str] = field(default_factory=list)
    limited: int = 0

    def request(self, key: tuple[str, str, str], code: str) -> None:
        self.codes.append(code)

    def rate_limited(self, key: tuple[str, str, str]) -> None:
        self.limited += 1
