"""ApiClient.stream_lines: a link the vendor hands out (a pre-signed URL) is downloaded
without the vendor's key or headers, read line by line as it streams under its own
bounds, and never shown with its query string; plus the two small answers the download
flow relies on (204 is None, a 403 that says the limit is spent is a rate limit)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aicode_exporter.errors import BadRequest, RateLimited, SchemaError, Unavailable
from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.toolkit.http.client import ApiClient, public_url
from tests.support.fakes import FakeClock, Observer

KEY = "ghp_streamlines_secret_0123456789"
SIG = "sig=S3cr3tSignatureValue&exp=1749003600"
LINK = f"https://files.example/reports/u1.ndjson?{SIG}"


class Chunks(httpx.SyncByteStream):
    """A body in the given chunks; `cut` raises mid-way like a dropped connection."""

    def __init__(self, chunks: list[bytes], cut: bool = False) -> None:
        self.chunks, self.cut, self.sent = chunks, cut, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.cut:
            raise httpx.RemoteProtocolError("peer closed connection")


def make(handler: Any, clock: FakeClock | None = None) -> tuple[ApiClient, Observer]:
    clock = clock or FakeClock()
    observer = Observer()
    api = ApiClient(vendor="api", org="acme", base_url="https://api.example",
                    auth=BearerAuth(KEY), timeout=30, rate_per_minute={"users": 60.0},
                    observer=observer, transport=httpx.MockTransport(handler),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep,
                    secrets=[KEY], user_agent="aicode-exporter/test")
    return api, observer


def read(api: ApiClient, url: str = LINK, **kw: Any) -> list[bytes]:
    kw.setdefault("max_bytes", 1 << 20)
    kw.setdefault("max_line_bytes", 1 << 10)
    with api.stream_lines("users", url, deadline=None, **kw) as lines:
        return list(lines)


def test_lines_come_as_they_stream_split_anywhere() -> None:
    stream = Chunks([b'{"a":1}\n{"b"', b':2}\n\n{"c":3', b"}"])
    api, observer = make(lambda r: httpx.Response(200, stream=stream))
    with api.stream_lines("users", LINK, max_bytes=1000, max_line_bytes=100,
                          deadline=None) as lines:
        first = next(lines)
        assert first == b'{"a":1}\n' and stream.sent == 1  # before the rest arrived
        rest = list(lines)
    assert rest == [b'{"b":2}\n', b"\n", b'{"c":3}']
    assert observer.codes == ["200"]


def test_no_key_and_no_vendor_header_reach_the_download_host() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.example":
            return httpx.Response(200, json={"download_links": [LINK]})
        return httpx.Response(200, content=b"x\n")

    api, _ = make(handle)
    link = api.get_json("users", "/report", {}, deadline=None)["download_links"][0]
    assert read(api, link) == [b"x\n"]
    meta, download = seen
    assert meta.headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in download.headers
    assert download.headers["user-agent"].startswith("aicode-exporter/")
    assert download.headers.get("accept") != "application/json"
    assert str(download.url) == LINK  # the signed query exactly as given


def test_a_redirect_is_followed_without_credentials() -> None:
    seen: list[httpx.Request] = []
    moved = "https://mirror.example/blob/u1?other=SecondSignature"

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "files.example":
            return httpx.Response(307, headers={"location": moved})
        return httpx.Response(200, content=b"moved\n")

    api, observer = make(handle)
    assert read(api) == [b"moved\n"]
    assert [str(r.url) for r in seen] == [LINK, moved]
    assert all("authorization" not in r.headers for r in seen)
    assert observer.codes == ["200"]


def test_endless_redirects_end_in_a_schema_error_without_the_query() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": f"{request.url}&again=1"})

    api, _ = make(handle)
    with pytest.raises(SchemaError, match="more than 5 redirects") as e:
        read(api)
    assert "S3cr3t" not in str(e.value) and "files.example/reports/u1.ndjson" in str(e.value)


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_a_refused_link_is_bad_request_with_its_status_and_no_secret(
        status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aicode_exporter")
    body = f"<Error><Code>AuthenticationFailed</Code><Url>{LINK}</Url></Error>".encode()
    api, observer = make(lambda r: httpx.Response(status, content=body))
    with pytest.raises(BadRequest) as e:
        read(api)
    assert e.value.status == status and f"HTTP {status}" in str(e.value)
    assert "S3cr3t" not in str(e.value) and "sig=" not in str(e.value)
    assert "S3cr3t" not in caplog.text
    assert observer.codes == [str(status)]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_failing_host_is_unavailable(status: int) -> None:
    api, _ = make(lambda r: httpx.Response(status))
    with pytest.raises(Unavailable, match=f"HTTP {status}"):
        read(api)


def test_a_body_cut_off_or_a_dead_host_is_unavailable_without_the_query() -> None:
    api, observer = make(lambda r: httpx.Response(200, stream=Chunks([b"a\nb"], cut=True)))
    with pytest.raises(Unavailable, match="cut off"):
        read(api)
    assert observer.codes == ["error"]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}")

    api, _ = make(refuse)
    with pytest.raises(Unavailable, match="ConnectError") as e:
        read(api)
    assert "S3cr3t" not in str(e.value)


def test_the_size_bound_names_its_setting_and_the_line_bound_its_size() -> None:
    body = b"0123456789\n" * 100
    api, _ = make(lambda r: httpx.Response(200, stream=Chunks([body[:500], body[500:]])))
    with pytest.raises(SchemaError, match=r"larger than the 600 bytes .*\(max_download_bytes\)"):
        read(api, max_bytes=600, limit_name="max_download_bytes")
    api, _ = make(lambda r: httpx.Response(200, content=b"short\n" + b"x" * 50 + b"\nend\n"))
    with pytest.raises(SchemaError, match="a line is longer than 20 bytes") as e:
        read(api, max_line_bytes=20)
    assert "S3cr3t" not in str(e.value)
    # A line of exactly the bound passes.
    api, _ = make(lambda r: httpx.Response(200, content=b"y" * 20 + b"\n"))
    assert read(api, max_line_bytes=20) == [b"y" * 20 + b"\n"]


def test_a_link_that_is_no_http_url_is_refused_before_any_request() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    api, _ = make(handle)
    for bad in ("file:///etc/passwd", "not a url", "ftp://files.example/x?sig=1"):
        with pytest.raises(SchemaError, match="not an http"):
            read(api, bad)
    assert seen == []


def test_public_url_drops_query_fragment_and_user_info() -> None:
    assert public_url("https://u:p@h.example:8443/a/b.ndjson?sig=x#f") == \
        "https://h.example:8443/a/b.ndjson"
    assert public_url(LINK) == "https://files.example/reports/u1.ndjson"


def test_no_content_is_none() -> None:
    api, _ = make(lambda r: httpx.Response(204))
    assert api.get_json("users", "/report", {"day": "2026-11-30"}, deadline=None) is None


def test_a_403_saying_the_limit_is_spent_is_a_rate_limit_until_the_reset() -> None:
    clock = FakeClock()
    reset = str(int(clock.wall_time) + 600)
    api, observer = make(lambda r: httpx.Response(
        403, json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}), clock)
    with pytest.raises(RateLimited) as e:
        api.get_json("users", "/report", {}, deadline=clock.monotonic() + 60)
    assert e.value.header == "X-RateLimit-Reset" and e.value.until == float(reset)
    assert observer.limited == 1
    # A 403 without those headers stays a refusal (not retried).
    api, _ = make(lambda r: httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(Exception) as refused:
        api.get_json("users", "/report", {}, deadline=None)
    assert type(refused.value).__name__ == "AuthError"
