"""A scripted GitHub for the Copilot tests: the REST API on one host answers report
metadata with signed links to tests/fixtures/copilot/ files on a second host."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.fakes import FIXTURES

TOKEN = "ghp_copilot_test_token_0123456789"
API = "https://api.github.test"
FILES = "files.githubusercontent.test"
SIG = "SIGsecretValue"  # what the signed links' query carries: must never be shown


class Chunked(httpx.SyncByteStream):
    """A file in small pieces, as it streams from a storage host."""

    def __init__(self, data: bytes, size: int = 997) -> None:
        self.data, self.size = data, size

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.size):
            yield self.data[i:i + self.size]


@dataclass
class CopilotFake:
    """`reports[(report, day)]`: fixture files of that report and day ("" for the 28-day
    reports); a day with none answers `missing` (204 by default). `script[(report, day)]`
    queues responses that come first. `files_script[name]` queues answers of the storage
    host for one file. `expires` is the links' expiry (Unix seconds)."""

    scope: str = "/orgs/octo-org"
    reports: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    script: dict[tuple[str, str], list[httpx.Response]] = field(default_factory=dict)
    files_script: dict[str, list[httpx.Response]] = field(default_factory=dict)
    missing: Callable[[], httpx.Response] = lambda: httpx.Response(204)
    expires: float = 4_000_000_000.0
    requests: list[httpx.Request] = field(default_factory=list)
    links_issued: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == FILES:
            return self._file(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"message": "Bad credentials", "status": "401"})
        path = request.url.path
        prefix = f"{self.scope}/copilot/metrics/reports/"
        if not path.startswith(prefix):
            return httpx.Response(404, json={"message": "Not Found", "status": "404"})
        key = (path[len(prefix):], request.url.params.get("day", ""))
        queue = self.script.get(key)
        if queue:
            return queue.pop(0)
        names = self.reports.get(key)
        if names is None:
            return self.missing()
        links = []
        for name in names:
            self.links_issued += 1
            links.append(f"https://{FILES}/copilot/{name}?sig={SIG}{self.links_issued}"
                         f"&exp={int(self.expires)}")
        body: dict[str, Any] = {"download_links": links}
        body.update({"report_day": key[1]} if key[1] else {})
        return httpx.Response(200, json=body)

    def _file(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        queue = self.files_script.get(name)
        if queue:
            return queue.pop(0)
        if SIG not in request.url.params.get("sig", ""):
            return httpx.Response(403, content=b"<Error>no signature</Error>")
        path: Path = FIXTURES / "copilot" / name
        if not path.exists():
            return httpx.Response(404, content=b"<Error>BlobNotFound</Error>")
        return httpx.Response(200, stream=Chunked(path.read_bytes()),
                              headers={"content-type": "application/x-ndjson"})

    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host != FILES]

    def downloads(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == FILES]

    def asked(self) -> list[tuple[str, str]]:
        """(report, day) of every metadata request, in order."""
        return [(r.url.path.rsplit("/reports/", 1)[-1], r.url.params.get("day", ""))
                for r in self.api_requests()]


def no_report_body() -> httpx.Response:
    return httpx.Response(200, content=json.dumps("No report available").encode(),
                          headers={"content-type": "application/json"})


def organization_fake(day: str = "2026-11-30") -> CopilotFake:
    """Every report of the fixtures, for `day`."""
    return CopilotFake(reports={
        ("organization-1-day", day): ["organization-1-day.json"],
        ("organization-28-day/latest", ""): ["organization-28-day.json"],
        ("users-1-day", day): ["users-1-day-part-1.ndjson", "users-1-day-part-2.ndjson"],
        ("user-teams-1-day", day): ["user-teams-1-day.ndjson"],
        ("repos-1-day", day): ["repos-1-day-three.ndjson"],
    })


def copilot_config(tmp_path: Path, users: dict[str, Any] | None = None,
                   **overrides: Any) -> Any:
    from tests.support.fakes import make_config

    provider = {"type": "copilot", "name": "acme", "base_url": API,
                "organization": "octo-org", "api_key": TOKEN, **overrides}
    if "enterprise" in overrides:
        provider.pop("organization")
    return make_config(tmp_path, [provider], users)
