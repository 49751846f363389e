"""The simulated Cursor API's validators: strong ETags and Cache-Control on 200s, 304 to a
matching If-None-Match, and a 304 not counted against the rate limit."""

from __future__ import annotations

import base64
import http.client
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from aicode_sim import Simulator
from aicode_sim.responses import etag_matches

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)
AUTH = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
RANGE = "startDate=2025-07-10&endDate=2025-07-30"
COMMITS = f"/analytics/ai-code/commits?{RANGE}&pageSize=50"
CHANGES_CSV = f"/analytics/ai-code/changes.csv?{RANGE}"
BLAME_BASE = "/analytics/ai-code/commits/"


def call(sim: Simulator, path: str, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = dict(AUTH)
    if etag is not None:
        headers["If-None-Match"] = etag
    status, response_headers, chunks = sim.app("GET", path, headers, b"")
    return status, response_headers, b"".join(chunks)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=3, users=20, days=30, now=lambda: NOW, cursor_rate_limit_per_minute=0)


@pytest.mark.parametrize("path", [COMMITS, "/analytics/ai-code/changes?" + RANGE, CHANGES_CSV,
                                  "/analytics/ai-code/commits.csv?" + RANGE])
def test_200_has_strong_etag_and_cache_control_and_a_match_gets_304(
        sim: Simulator, path: str) -> None:
    status, headers, body = call(sim, path)
    assert status == 200 and body
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert headers["Cache-Control"] == "public, max-age=900"
    assert call(sim, path)[1]["ETag"] == etag  # same data, same tag

    status, headers304, body304 = call(sim, path, etag)
    assert (status, body304) == (304, b"")
    assert headers304 == {"ETag": etag, "Cache-Control": "public, max-age=900"}
    logged = sim.requests[-1]
    assert (logged.method, logged.path, logged.status) == ("GET", urlsplit(path).path, 304)

    status, _, again = call(sim, path, '"something-else"')
    assert status == 200 and again == body


def test_blame_has_an_etag_too(sim: Simulator) -> None:
    status, headers, _ = call(sim, BLAME_BASE + "abc123")
    assert status == 200
    assert call(sim, BLAME_BASE + "abc123", headers["ETag"])[0] == 304


def test_etag_follows_the_body(sim: Simulator) -> None:
    pages = [call(sim, f"{COMMITS}&page={n}") for n in (1, 2)]
    assert pages[0][2] != pages[1][2] and pages[0][1]["ETag"] != pages[1][1]["ETag"]
    # The CSV export's tag is not a hash of its (streamed) body; it must still change
    # exactly when the body does, e.g. as late records become visible during the day.
    now = [NOW]
    moving = Simulator(seed=3, users=20, days=30, now=lambda: now[0],
                       cursor_rate_limit_per_minute=0)
    path = "/analytics/ai-code/changes.csv?startDate=2025-07-30&endDate=2025-07-30"
    seen: dict[bytes, str] = {}
    for hours in (0, 0, 1, 2, 2, 1):
        now[0] = NOW + timedelta(hours=hours)
        status, headers, body = call(moving, path)
        assert status == 200
        assert seen.setdefault(body, headers["ETag"]) == headers["ETag"]
    assert len(seen) == 3 and len(set(seen.values())) == 3


def test_304_does_not_count_against_the_rate_limit() -> None:
    ticks = [0.0]
    limited = Simulator(users=5, days=3, now=lambda: NOW, clock=lambda: ticks[0],
                        cursor_rate_limit_per_minute=1)
    status, headers, _ = call(limited, COMMITS)
    assert status == 200
    etag = headers["ETag"]
    for _ in range(3):  # the limit (1/min) is used up, but a 304 is not counted
        ticks[0] += 1
        assert call(limited, COMMITS, etag)[0] == 304
    # Anything but a 304 is still limited, conditional or not ...
    assert call(limited, COMMITS, '"stale"')[0] == 429
    assert call(limited, COMMITS)[0] == 429
    # ... and the 304s did not take the slot that frees after the window.
    ticks[0] = 60.5
    assert call(limited, COMMITS)[0] == 200
    assert call(limited, COMMITS, etag)[0] == 304
    assert [r.status for r in limited.requests] == [200, 304, 304, 304, 429, 429, 200, 304]


def test_conditional_request_still_authenticated_and_validated() -> None:
    limited = Simulator(users=5, days=3, now=lambda: NOW, cursor_rate_limit_per_minute=1)
    _, headers, _ = call(limited, COMMITS)
    status, _, _ = limited.app("GET", COMMITS, {"If-None-Match": headers["ETag"]}, b"")
    assert status == 401
    # An invalid request is refused as usual; with the limit used up, the 429 comes first.
    assert call(limited, "/analytics/ai-code/commits?pageSize=0", headers["ETag"])[0] == 429


def test_304_over_http_has_no_body_and_keeps_the_connection_usable() -> None:
    with Simulator(seed=9, users=5, days=3, now=lambda: NOW,
                   cursor_rate_limit_per_minute=0) as served:
        parts = urlsplit(served.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            for path in (COMMITS, CHANGES_CSV):
                conn.request("GET", path, headers=AUTH)
                first = conn.getresponse()
                body = first.read()
                etag = first.headers["ETag"]
                conn.request("GET", path, headers={**AUTH, "If-None-Match": etag})
                second = conn.getresponse()
                assert second.status == 304
                assert second.headers["Transfer-Encoding"] is None
                assert second.read() == b""
                conn.request("GET", path, headers=AUTH)  # same connection, next request
                third = conn.getresponse()
                assert third.status == 200 and third.read() == body
        finally:
            conn.close()


@pytest.mark.parametrize(("header", "matches"), [
    ('"a"', True), ('W/"a"', True), ('"b", "a"', True), ("*", True),
    ('"b"', False), ("", False), ('"A"', False),
])
def test_if_none_match_uses_weak_comparison(header: str, matches: bool) -> None:
    assert etag_matches(header, '"a"') is matches


def test_exporter_client_revalidates_against_the_simulator() -> None:
    from aicode_exporter.toolkit.http.auth import basic_auth
    from aicode_exporter.toolkit.http.client import ApiClient, EndpointKey
    from tests.support.fakes import FakeClock, sim_transport

    clock = FakeClock()
    limited = Simulator(users=5, days=3, now=lambda: NOW, clock=clock.monotonic,
                        cursor_rate_limit_per_minute=1)
    codes: list[str] = []

    class Observer:
        def request(self, key: EndpointKey, code: str) -> None:
            codes.append(code)

        def rate_limited(self, key: EndpointKey) -> None:
            codes.append("limited")

    api = ApiClient(vendor="cursor", org="sim", base_url="http://sim.test",
                    auth=basic_auth("sim-key"), timeout=5, rate_per_minute={"commits": 600},
                    observer=Observer(), transport=sim_transport(limited),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep)
    params = {"startDate": "2025-07-28", "endDate": "2025-07-30", "pageSize": 50}
    bodies = [api.get_json("commits", "/analytics/ai-code/commits", params, deadline=None)
              for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2] and bodies[0]["items"]
    assert codes == ["200", "304", "304"]
    assert [r.status for r in limited.requests] == [200, 304, 304]
