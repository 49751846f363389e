"""A hostile or broken vendor against ApiClient and the page loop: a body trickling one
byte a second, a body too large to hold, rate-limit headers that cannot be believed, a
vendor echoing our key in its errors, a list that never ends. Each is bounded: typed
errors within the request's budget, never a hang, never the key in a log."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from aicode_exporter.errors import AuthError, RateLimited, SchemaError, Unavailable, VendorError
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.jobs import Endpoint, Failure, Outcome, PollContext, ProviderRuntime
from aicode_exporter.pipeline.poller import Poller
from aicode_exporter.toolkit.http import paging
from aicode_exporter.toolkit.http.auth import BearerAuth, basic_auth
from aicode_exporter.toolkit.http.budget import MemoryBudget
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.waits import parse_wait
from aicode_exporter.toolkit.logfmt import JsonFormatter, LogfmtFormatter
from aicode_exporter.vendors.qoder.client import QoderMetricsClient
from tests.support.fakes import FakeClock, Observer

EP = "commits"
PATH = "/analytics/ai-code/commits"
CSV_PATH = "/analytics/ai-code/commits.csv"
KEY = "sk_live_hostile_0123456789abcdef"
BASIC = base64.b64encode(f"{KEY}:".encode()).decode()
START = datetime(2025, 6, 1, tzinfo=UTC)


class Trickle(httpx.SyncByteStream):
    """A body that arrives one chunk per `step` seconds of the fake clock."""

    def __init__(self, clock: FakeClock, chunks: list[bytes], step: float = 1.0) -> None:
        self.clock, self.chunks, self.step = clock, chunks, step
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.clock.mono += self.step
            self.clock.wall_time += self.step
            self.sent += 1
            yield chunk


Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, clock: FakeClock | None = None, *, timeout: float = 5,
         observer: Any = None, endpoints: tuple[str, ...] = (EP,), rate: float = 600,
         **kw: Any) -> tuple[ApiClient, FakeClock, Any]:
    clock = clock or FakeClock()
    observer = observer if observer is not None else Observer()
    kw.setdefault("auth", basic_auth(KEY))
    api = ApiClient(vendor="cursor", org="acme", base_url="http://cursor.test",
                    timeout=timeout, rate_per_minute=dict.fromkeys(endpoints, rate),
                    observer=observer, transport=httpx.MockTransport(handler),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep, **kw)
    return api, clock, observer


def json_ok(body: bytes = b'{"items": []}',
            headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, content=body,
                          headers={"content-type": "application/json", **(headers or {})})


# -- (2) a total budget per request ---------------------------------------------------------

def trickling(clock: FakeClock, streams: list[Trickle], body: bytes = b"{}",
              ctype: str = "application/json") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        # 1000 s of one byte a second, then a valid body: only a total budget stops it
        stream = Trickle(clock, [b" "] * 1000 + [body])
        streams.append(stream)
        return httpx.Response(200, headers={"content-type": ctype}, stream=stream)

    return handler


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_body_trickling_one_byte_a_second_times_out_and_is_retried(method: str) -> None:
    clock, streams = FakeClock(), list[Trickle]()
    api, clock, observer = make(trickling(clock, streams), clock, timeout=5)
    deadline = clock.monotonic() + 120
    with pytest.raises(Unavailable, match=r"response took longer than 5s"):
        if method == "get":
            api.get_json(EP, PATH, {}, deadline=deadline)
        else:
            api.post_json(EP, PATH, {"x": 1}, deadline=deadline)
    assert len(streams) >= 2  # retried like any timeout, within the deadline
    assert all(s.sent <= 6 for s in streams)  # each stopped within its 5 s budget
    assert observer.codes == ["error"] * len(streams)  # not "200": the exchange failed


def test_the_callers_deadline_caps_the_request_budget() -> None:
    clock, streams = FakeClock(), list[Trickle]()
    api, clock, observer = make(trickling(clock, streams), clock, timeout=30)
    t0 = clock.monotonic()
    with pytest.raises(Unavailable, match=r"response took longer than 3s"):
        api.get_json(EP, PATH, {}, deadline=t0 + 3)
    assert len(streams) == 1 and clock.monotonic() - t0 <= 4  # no retry past the deadline
    assert observer.codes == ["error"]


def test_headers_that_take_the_whole_budget_are_an_overrun() -> None:
    clock = FakeClock()

    def slow_headers(request: httpx.Request) -> httpx.Response:
        clock.mono += 10  # the vendor thought for 10 s before answering
        return json_ok()

    api, clock, observer = make(slow_headers, clock, timeout=5)
    with pytest.raises(Unavailable, match="longer than 5s"):
        api.get_json(EP, PATH, {}, deadline=clock.monotonic() + 9)  # no time for a retry
    assert observer.codes == ["error"]


def test_stream_text_trickling_times_out_while_reading() -> None:
    clock, streams = FakeClock(), list[Trickle]()
    handler = trickling(clock, streams, body=b"x\r\n", ctype="text/csv")
    api, clock, observer = make(handler, clock, timeout=5)
    with pytest.raises(Unavailable, match="longer than 5s"), \
            api.stream_text(EP, CSV_PATH, {}, deadline=None) as text:
        text.read()
    assert streams[0].sent <= 6
    assert observer.codes == ["error"]


def test_stream_text_budget_counts_the_vendor_not_the_reader() -> None:
    """A CSV export that arrives promptly may take the caller longer than the budget to
    consume (it commits to SQLite as it goes): that is not the vendor's delay."""
    clock = FakeClock()
    lines = [b"commitHash\r\n"] + [f"h{i}\r\n".encode() for i in range(20)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/csv"},
                              stream=Trickle(clock, lines, step=0.01))

    api, clock, observer = make(handler, clock, timeout=5)
    got = []
    with api.stream_text(EP, CSV_PATH, {}, deadline=None) as text:
        for line in text:
            got.append(line)
            clock.sleep(1)  # our own work between lines: 20 s in all
    assert len(got) == 21 and observer.codes == ["200"]


# -- (2) a size cap per response ------------------------------------------------------------

def test_a_body_over_max_body_bytes_is_a_schema_error_before_it_is_buffered() -> None:
    clock, streams = FakeClock(), list[Trickle]()

    def huge(request: httpx.Request) -> httpx.Response:
        stream = Trickle(clock, [b"[" + b"1," * 49 + b"1"] * 10_000, step=0.0)
        streams.append(stream)
        return httpx.Response(200, headers={"content-type": "application/json"},
                              stream=stream)

    api, _, observer = make(huge, clock, max_body_bytes=1000)
    with pytest.raises(SchemaError) as e:
        api.get_json(EP, PATH, {}, deadline=None)
    assert "endpoint commits" in str(e.value) and "1000 bytes" in str(e.value)
    assert streams[0].sent <= 11  # stopped at the cap, not after 1 MB
    assert len(streams) == 1 and observer.codes == ["error"]  # not retried


def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    clock, streams = FakeClock(), list[Trickle]()

    def declared(request: httpx.Request) -> httpx.Response:
        stream = Trickle(clock, [b"{}"], step=0.0)
        streams.append(stream)
        return httpx.Response(200, stream=stream, headers={
            "content-type": "application/json", "content-length": str(500 << 20)})

    api, _, _ = make(declared, clock)
    with pytest.raises(SchemaError, match="larger than the 64 MiB allowed per request"):
        api.get_json(EP, PATH, {}, deadline=None)
    assert streams[0].sent == 0


def test_the_default_cap_is_64_mib() -> None:
    mib = b" " * (1 << 20)  # one object, many references: the test itself stays small
    api, _, _ = make(lambda r: httpx.Response(200, stream=Trickle(
        FakeClock(), [mib] * 70, step=0.0)),  # the byte cap alone
        max_json_cost=1 << 40, budget=MemoryBudget(1 << 40))
    assert api.max_body_bytes == 64 << 20
    with pytest.raises(SchemaError, match="64 MiB"):
        api.get_json(EP, PATH, {}, deadline=None)


def test_stream_text_cap_applies_to_the_bytes_read() -> None:
    body = b"commitHash\r\n" + b"h0123456789\r\n" * 1000
    api, _, observer = make(lambda r: httpx.Response(
        200, content=body, headers={"content-type": "text/csv"}), max_body_bytes=4096)
    with pytest.raises(SchemaError, match="larger than the 4096 bytes"), \
            api.stream_text(EP, CSV_PATH, {}, deadline=None) as text:
        text.read()
    assert observer.codes == ["error"]


# -- (5) rate-limit headers -----------------------------------------------------------------

NOW = FakeClock().wall_time


@pytest.mark.parametrize("raw,seconds", [
    ("20", 20.0),
    (str(int(NOW) + 20), 20.0),  # epoch seconds
    (str(int(NOW * 1000) + 20_000), 20.0),  # epoch milliseconds
    (format_datetime(datetime.fromtimestamp(NOW + 20, UTC), usegmt=True), 20.0),
    (str(int(NOW) - 5), 0.0),  # a reset just past: no wait
])
def test_parse_wait_understands_seconds_epoch_seconds_and_milliseconds(
        raw: str, seconds: float) -> None:
    assert parse_wait(raw, NOW) == pytest.approx(seconds, abs=1.0)


@pytest.mark.parametrize("raw", ["inf", "nan", "1e999", "-5", "-inf",
                                 "99999999999999999999", "172800", "soon"])
def test_parse_wait_refuses_what_cannot_be_believed(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_wait(raw, NOW)


def remaining_zero(reset: str) -> httpx.Response:
    return json_ok(headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})


def test_ratelimit_reset_in_epoch_milliseconds_waits_seconds_not_millennia() -> None:
    clock = FakeClock()
    reset = str(int(clock.wall_time * 1000) + 20_000)
    answers = [remaining_zero(reset), json_ok()]
    api, clock, _ = make(lambda r: answers.pop(0), clock)
    api.get_json(EP, PATH, {}, deadline=clock.monotonic() + 120)
    assert api.get_json(EP, PATH, {}, deadline=clock.monotonic() + 120) == {"items": []}
    assert sum(clock.sleeps) == pytest.approx(20, abs=0.5)


UNUSABLE = ["inf", "nan", "1e999", "-5", "99999999999999999999", "soon"]


@pytest.mark.parametrize("raw", UNUSABLE)
def test_unusable_reset_is_clamped_to_max_wait_and_logged_once(
        raw: str, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    answers = [remaining_zero(raw), remaining_zero(raw), json_ok(), json_ok()]
    api, clock, _ = make(lambda r: answers.pop(0), clock, max_wait=60)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            api.get_json(EP, PATH, {}, deadline=clock.monotonic() + 120)
    assert sum(clock.sleeps) == pytest.approx(120, abs=1)  # twice the 60 s cap, no more
    warned = [r for r in caplog.records if "unusable wait" in r.getMessage()]
    assert len(warned) == 1 and vars(warned[0])["value"] == raw
    assert vars(warned[0])["header"] == "X-RateLimit-Reset"
    assert vars(warned[0])["using_seconds"] == 60


@pytest.mark.parametrize("raw", UNUSABLE)
def test_unusable_retry_after_is_clamped_and_the_endpoint_recovers(raw: str) -> None:
    clock = FakeClock()
    answers = [httpx.Response(429, headers={"Retry-After": raw}, json={"message": "slow"}),
               json_ok()]
    api, clock, observer = make(lambda r: answers.pop(0), clock, max_wait=60)
    assert api.get_json(EP, PATH, {}, deadline=clock.monotonic() + 120) == {"items": []}
    assert sum(clock.sleeps) == pytest.approx(60, abs=0.5)
    assert observer.codes == ["429", "200"]


def test_a_clamped_retry_after_past_the_deadline_raises_with_a_finite_wait() -> None:
    clock = FakeClock()
    api, clock, _ = make(lambda r: httpx.Response(429, headers={"Retry-After": "1e999"}),
                         clock, max_wait=300)
    with pytest.raises(RateLimited) as e:
        api.get_json(EP, PATH, {}, deadline=clock.monotonic() + 100)
    assert e.value.retry_after == 300 and e.value.until == clock.wall_time + 300
    assert clock.sleeps == []


def test_a_long_retry_after_on_a_stream_raises_at_once_and_is_remembered() -> None:
    clock, requests = FakeClock(), []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(429, headers={"Retry-After": "3600"},
                              json={"message": "daily quota"})

    api, clock, _ = make(handler, clock, max_wait=300)
    with pytest.raises(RateLimited) as e:
        api.get_json(EP, PATH, {}, deadline=None)  # a stream read: no deadline
    assert clock.sleeps == [] and len(requests) == 1
    assert e.value.until == pytest.approx(clock.wall_time + 3600)
    assert e.value.header == "Retry-After"
    assert "vendor asked to wait until 2025-06-04T02:20:00Z (Retry-After)" in str(e.value)
    # The next read does not knock again, nor sleep: the bucket remembers the wait.
    with pytest.raises(RateLimited) as again:
        api.get_json(EP, PATH, {}, deadline=None)
    assert clock.sleeps == [] and len(requests) == 1
    assert again.value.until == pytest.approx(clock.wall_time + 3600)
    clock.sleep(3601)
    with pytest.raises(RateLimited):
        api.get_json(EP, PATH, {}, deadline=None)
    assert len(requests) == 2


def test_remaining_zero_with_a_long_reset_on_a_stream_raises_instead_of_sleeping() -> None:
    clock = FakeClock()
    reset = str(int(clock.wall_time) + 7200)
    answers = [remaining_zero(reset), json_ok()]
    api, clock, _ = make(lambda r: answers.pop(0), clock, max_wait=300)
    api.get_json(EP, PATH, {}, deadline=None)
    with pytest.raises(RateLimited) as e:
        api.get_json(EP, PATH, {}, deadline=None)
    assert clock.sleeps == [] and e.value.header == "X-RateLimit-Reset"
    assert e.value.until == pytest.approx(clock.wall_time + 7200, abs=1)


# -- (6) the key never leaves through vendor text -------------------------------------------

def echoing(request: httpx.Request) -> httpx.Response:
    """A vendor that quotes our Authorization header back, in every field it has."""
    auth = request.headers.get("authorization", "")
    if request.url.path.endswith("/overview"):
        return httpx.Response(401, json={
            "requestId": f"req-{KEY}", "code": f"Unauthorized {auth}",
            "message": f"invalid credentials in Authorization: Bearer {KEY}",
            "details": [f"Authorization: Basic {BASIC}", f"key={KEY}",
                        f"unpadded {BASIC.rstrip('=')}"]})
    return httpx.Response(500, content=f"upstream said: {auth} / {KEY}".encode(),
                          headers={"content-type": "text/plain"})


def assert_clean(text: str) -> None:
    for form in (KEY, BASIC, BASIC.rstrip("="), f"Bearer {KEY}"):
        assert form not in text


@pytest.mark.parametrize("auth", [BearerAuth(KEY), basic_auth(KEY)])
def test_the_key_echoed_by_the_vendor_is_redacted_everywhere(
        auth: httpx.Auth, caplog: pytest.LogCaptureFixture) -> None:
    clock, telemetry = FakeClock(), Telemetry()
    api, clock, _ = make(echoing, clock, observer=telemetry, auth=auth, secrets=[KEY],
                         endpoints=("overview", "repos"))
    caplog.set_level(logging.DEBUG)
    errors: list[VendorError] = []

    def job(endpoint: str, path: str) -> Endpoint:
        def run(ctx: PollContext) -> Outcome:
            try:
                api.get_json(endpoint, path, {}, deadline=ctx.deadline)
            except VendorError as e:
                errors.append(e)
                return Outcome(failures=[Failure("window 7d", e)])
            return Outcome()
        return Endpoint(endpoint, run)

    provider = ProviderRuntime("qoder", "acme", timedelta(minutes=5),
                               [job("overview", "/overview"), job("repos", "/repos")], [api])
    for ep in ("overview", "repos"):
        telemetry.register(("qoder", "acme", ep))
    poller = Poller([provider], Publisher(extra=telemetry.families), telemetry,
                    clock=clock.monotonic, wall=clock.wall)
    poller.poll_all_once()

    assert isinstance(errors[0], AuthError) and isinstance(errors[1], Unavailable)
    assert "<redacted>" in str(errors[0]) and "<redacted>" in str(errors[1])
    for e in errors:
        assert_clean(f"{e} {e!r} {e.code} {e.request_id} {e.args}")
    # As written out, fields included, in both formats.
    logs = "\n".join(f.format(r) for r in caplog.records
                     for f in (LogfmtFormatter(), JsonFormatter()))
    assert_clean(logs)
    assert "invalid credentials" in logs  # the message itself is still there
    for st in telemetry.statuses().values():
        assert st.up is False
        assert_clean(st.last_error)
    assert_clean(poller.publisher.render().text.decode())


# -- (7) lists that never end ---------------------------------------------------------------

def test_the_same_page_forever_is_a_schema_error_at_page_two(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 1000)  # so the old loop ends, and fails
    calls: list[int] = []

    def same(page: int) -> tuple[list[Any], int | None]:
        calls.append(page)
        return [{"id": 1}, {"id": 2}], None

    with pytest.raises(SchemaError, match="page 2 repeats the items of page 1"):
        list(paging.paginate(same, page_size=2, endpoint="repos"))
    assert calls == [1, 2]


def test_a_total_beyond_what_the_window_holds_ends_at_the_first_page() -> None:
    calls: list[int] = []

    def lying(page: int) -> tuple[list[Any], int | None]:
        calls.append(page)
        return [page * 10 + i for i in range(10)], 10**9

    with pytest.raises(SchemaError, match="states 1000000000 pages, more than the 50"):
        list(paging.paginate(lying, page_size=10, endpoint="commits", max_pages=50))
    assert calls == [1]


def test_more_pages_than_max_pages_is_an_error() -> None:
    calls: list[int] = []

    def endless(page: int) -> tuple[list[Any], int | None]:
        calls.append(page)
        return [page], None

    with pytest.raises(SchemaError, match="more than 20 pages"):
        list(paging.paginate(endless, page_size=1, endpoint="commits", max_pages=20))
    assert len(calls) == 20


def test_a_full_page_past_the_stated_total_is_an_error_not_a_silent_stop() -> None:
    def contradicting(page: int) -> tuple[list[Any], int | None]:
        return [page * 10 + i for i in range(10)], (None if page == 1 else 1)

    with pytest.raises(SchemaError, match="page 2 has 10 items but the vendor states 1"):
        list(paging.paginate(contradicting, page_size=10, endpoint="commits"))


def test_repos_served_the_same_page_forever_fail_after_two_requests() -> None:
    """Through the Qoder client: the old loop read until the run's rate budget was spent
    (hundreds of requests, aicode_up 1 the while)."""
    clock, requests = FakeClock(), []
    page = {"repos": [{"repoName": f"r{i}", "commitCount": 1} for i in range(100)],
            "totalCount": 10**6, "page": 1, "perPage": 100}

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=page)

    api, clock, _ = make(handler, clock, endpoints=("repos",))
    client = QoderMetricsClient(api, "org_test")
    with pytest.raises(SchemaError, match="page 2 repeats"):
        client.repos(START, START + timedelta(days=7), deadline=clock.monotonic() + 270)
    assert len(requests) == 2
