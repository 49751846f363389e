"""The Qoder metrics client against httpx MockTransport: requests as documented, every
failure class mapped to its typed error, retries only where they can help."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from aicode_exporter.errors import AuthError, BadRequest, RateLimited, SchemaError, Unavailable
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.qoder.client import QoderMetricsClient
from aicode_exporter.vendors.registry import USER_AGENT
from tests.support.fakes import QODER_KEY, FakeClock, QoderFake, fixture

START = datetime(2025, 6, 1, tzinfo=UTC)
END = START + timedelta(days=7)


def make(fake: QoderFake, clock: FakeClock | None = None,
         telemetry: Telemetry | None = None) -> tuple[QoderMetricsClient, FakeClock, Telemetry]:
    clock = clock or FakeClock()
    telemetry = telemetry or Telemetry()
    api = ApiClient(vendor="qoder", org="acme", base_url="http://qoder.test",
                    auth=BearerAuth(fake.key), timeout=5, observer=telemetry,
                    rate_per_minute={ep: 600 for ep in ("overview", "daily_trend",
                                                        "member_ranking", "repos",
                                                        "file_extensions")},
                    transport=fake.transport(), clock=clock.monotonic, wall=clock.wall,
                    sleep=clock.sleep, user_agent=USER_AGENT)
    return QoderMetricsClient(api, fake.org), clock, telemetry


def deadline(clock: FakeClock, seconds: float = 120) -> float:
    return clock.monotonic() + seconds


def err(status: int, code: str, message: str = "boom", **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers,
                          json={"requestId": f"req_{status}", "code": code, "message": message})


def test_overview_request_spelling_auth_and_parse() -> None:
    fake = QoderFake()
    client, clock, _ = make(fake)
    ov = client.overview(START, END, deadline=deadline(clock))
    assert ov.committedAiLinesEdit == 15000 and ov.aiShareRate == 30.0
    req = fake.requests[0]
    assert req.url.path == "/v1/organizations/org_test/ai-code/stats/overview"
    assert req.url.params["start_date"] == "2025-06-01T00:00:00Z"
    assert req.url.params["end_date"] == "2025-06-08T00:00:00Z"
    assert req.headers["authorization"] == f"Bearer {QODER_KEY}"
    assert req.headers["user-agent"].startswith("aicode-exporter/")


def test_member_ranking_sends_limit_and_file_extensions_parse() -> None:
    fake = QoderFake()
    client, clock, _ = make(fake)
    members = client.member_ranking(START, END, 20, deadline=deadline(clock))
    assert members[0].email == "alice@example.com"
    assert fake.requests[0].url.params["limit"] == "20"
    exts = client.file_extensions(START, END, deadline=deadline(clock))
    assert exts[0].extension == ".go" and exts[0].aiShareRate == 35.5


def test_repos_reads_every_page_with_per_page_100() -> None:
    pages = [
        httpx.Response(200, json={"repos": [{"repoName": f"r{i}", "commitCount": i,
                                             "totalLinesAdded": 1} for i in range(100)],
                                  "totalCount": 230, "page": 1, "perPage": 100}),
        httpx.Response(200, json={"repos": [{"repoName": f"s{i}", "commitCount": i,
                                             "totalLinesAdded": 1} for i in range(100)],
                                  "totalCount": 230, "page": 2, "perPage": 100}),
        httpx.Response(200, json={"repos": [{"repoName": f"t{i}", "commitCount": i,
                                             "totalLinesAdded": 1} for i in range(30)],
                                  "totalCount": 230, "page": 3, "perPage": 100}),
    ]
    fake = QoderFake(script={"/ai-code/repos": pages})
    client, clock, _ = make(fake)
    repos = client.repos(START, END, deadline=deadline(clock))
    assert len(repos) == 230
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2", "3"]
    assert {r.url.params["per_page"] for r in fake.requests} == {"100"}


def test_400_with_vendor_error_body_is_bad_request_not_retried(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [
        httpx.Response(400, json=fixture("qoder", "error-400.json"))]})
    client, clock, tel = make(fake)
    with caplog.at_level(logging.WARNING), pytest.raises(BadRequest) as e:
        client.overview(START, END, deadline=deadline(clock))
    assert e.value.status == 400 and e.value.code == "BadRequest"
    assert e.value.request_id == "req_abc123"
    assert len(fake.requests) == 1
    [logged] = [vars(r) for r in caplog.records if r.getMessage() == "vendor error"]
    assert logged["request_id"] == "req_abc123" and "start_date is required" in logged["error"]
    assert (logged["provider"], logged["org"], logged["endpoint"], logged["status"]) == (
        "qoder", "acme", "overview", 400)
    assert tel.families()[3].samples == ((("qoder", "acme", "overview", "400"), 1.0),)


@pytest.mark.parametrize("status,code", [(401, "Unauthorized"), (403, "Forbidden")])
def test_auth_failures_are_final(status: int, code: str) -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [err(status, code)] * 5})
    client, clock, _ = make(fake)
    with pytest.raises(AuthError) as e:
        client.overview(START, END, deadline=deadline(clock))
    assert e.value.status == status and e.value.code == code
    assert len(fake.requests) == 1 and clock.sleeps == []


def test_wrong_key_gets_401() -> None:
    fake = QoderFake()
    fake.key = "another"
    client, clock, _ = make(fake)
    fake.key = QODER_KEY
    with pytest.raises(AuthError):
        client.overview(START, END, deadline=deadline(clock))


def test_429_waits_retry_after_seconds_then_succeeds() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [
        err(429, "TooManyRequests", **{"Retry-After": "7"})]})
    client, clock, tel = make(fake)
    ov = client.overview(START, END, deadline=deadline(clock))
    assert ov.messageCount == 3400
    assert len(fake.requests) == 2
    assert sum(clock.sleeps) == pytest.approx(7, abs=0.01)
    assert tel.families()[4].samples == ((("qoder", "acme", "overview"), 1.0),)


def test_429_retry_after_as_http_date() -> None:
    clock = FakeClock()
    when = datetime.fromtimestamp(clock.wall_time + 12, UTC)
    fake = QoderFake(script={"/ai-code/stats/overview": [
        err(429, "TooManyRequests", **{"Retry-After": format_datetime(when, usegmt=True)})]})
    client, clock, _ = make(fake, clock)
    client.overview(START, END, deadline=deadline(clock))
    assert sum(clock.sleeps) == pytest.approx(12, abs=1.0)


def test_429_beyond_deadline_raises_rate_limited_without_waiting() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [
        err(429, "TooManyRequests", **{"Retry-After": "600"})]})
    client, clock, _ = make(fake)
    with pytest.raises(RateLimited) as e:
        client.overview(START, END, deadline=deadline(clock, 60))
    assert e.value.retry_after == 600
    assert len(fake.requests) == 1 and clock.sleeps == []


def test_503_is_retried_and_500_backs_off_with_jitter() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [
        err(503, "Unavailable"), err(500, "InternalError")]})
    client, clock, _ = make(fake)
    assert client.overview(START, END, deadline=deadline(clock)).agentEditCount == 1200
    assert len(fake.requests) == 3
    assert len(clock.sleeps) >= 2 and all(0 < s <= 30 for s in clock.sleeps)  # 2 retries


def test_persistent_500_gives_up_as_unavailable() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [err(500, "InternalError")] * 10})
    client, clock, _ = make(fake)
    with pytest.raises(Unavailable) as e:
        client.overview(START, END, deadline=deadline(clock, 1000))
    assert e.value.status == 500
    assert 2 <= len(fake.requests) <= 5


def test_timeout_and_reset_are_unavailable_and_counted_as_error() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [
        httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")] * 5})
    client, clock, tel = make(fake)
    with pytest.raises(Unavailable, match=r"connection failed|took longer than"):
        client.overview(START, END, deadline=deadline(clock, 1000))
    codes = dict(tel.families()[3].samples)
    assert codes[("qoder", "acme", "overview", "error")] == len(fake.requests)


def test_malformed_json_and_html_are_schema_errors() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [
        httpx.Response(200, content=b'{"committedTotalLinesEdit": 5',
                       headers={"content-type": "application/json"}),
        httpx.Response(200, content=b"<html><body>Gateway login</body></html>",
                       headers={"content-type": "text/html"}),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(200, json={"aiShareRate": "thirty"}),
    ]})
    client, clock, _ = make(fake)
    for expected in ("expected JSON", "text/html", "JSON object", "aiShareRate"):
        with pytest.raises(SchemaError, match=expected):
            client.overview(START, END, deadline=deadline(clock))


def test_unknown_fields_ignored_missing_and_null_fields_default() -> None:
    fake = QoderFake(script={
        "/ai-code/stats/overview": [httpx.Response(200, json={
            "aiShareRate": 12.5, "brandNewField": {"x": 1}, "messageCount": None})],
        "/ai-code/stats/member-ranking": [httpx.Response(200, json={
            "items": [{"userId": "u1", "email": None, "aiLinesAdded": 3}]})],
    })
    client, clock, _ = make(fake)
    ov = client.overview(START, END, deadline=deadline(clock))
    assert ov.aiShareRate == 12.5 and ov.messageCount == 0 and ov.committedTotalLinesEdit == 0
    m = client.member_ranking(START, END, 10, deadline=deadline(clock))[0]
    assert (m.email, m.displayName, m.aiLinesAdded, m.totalLinesAdded) == ("", "", 3, 0)


def test_success_envelope_is_accepted() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [httpx.Response(200, json={
        "success": True, "data": {"aiShareRate": 44.0}})]})
    client, clock, _ = make(fake)
    assert client.overview(START, END, deadline=deadline(clock)).aiShareRate == 44.0


def test_ratelimit_remaining_zero_pauses_until_reset() -> None:
    fake = QoderFake(script={"/ai-code/stats/overview": [httpx.Response(
        200, json=fixture("qoder", "overview.json"),
        headers={"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": "20"})]})
    client, clock, _ = make(fake)
    client.overview(START, END, deadline=deadline(clock))
    assert clock.sleeps == []
    client.overview(START, END, deadline=deadline(clock))
    assert sum(clock.sleeps) == pytest.approx(20, abs=0.2)
