"""Conditional GETs in ApiClient: ETags kept per URL, If-None-Match sent, a 304 replays
the kept body, is counted as "304" and gives its rate-limit token back; the cache is
bounded."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import httpx
import pytest

from aicode_exporter.errors import SchemaError
from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.toolkit.http.body import BodyReader
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.etag import EtagCache
from aicode_exporter.toolkit.http.ratelimit import TokenBucket
from tests.support.fakes import FakeClock, Observer

EP = "commits"
PATH = "/analytics/ai-code/commits"
CSV_PATH = "/analytics/ai-code/commits.csv"
RANGE = {"startDate": "2025-06-01", "endDate": "2025-06-08"}


@dataclass
class Vendor:
    """Answers every URL with `body`; with an ETag (unless `etag` is None) and a 304 when
    If-None-Match names it."""

    body: bytes = b'{"items": [1, 2, 3], "page": 1}'
    etag: str | None = '"v1"'
    content_type: str = "application/json"
    always_304: bool = False
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"Cache-Control": "public, max-age=900"}
        if self.etag is not None:
            headers["ETag"] = self.etag
        inm = request.headers.get("if-none-match")
        if self.always_304 or (self.etag is not None and inm == self.etag):
            return httpx.Response(304, headers=headers)
        headers["Content-Type"] = self.content_type
        return httpx.Response(200, headers=headers, content=self.body)

    def sent_inm(self) -> list[str | None]:
        return [r.headers.get("if-none-match") for r in self.requests]


def make(vendor: Vendor, *, rate: float = 600, cache: EtagCache | None = None,
         ) -> tuple[ApiClient, FakeClock, Observer]:
    clock, observer = FakeClock(), Observer()
    api = ApiClient(vendor="cursor", org="acme", base_url="http://cursor.test",
                    auth=basic_auth("key"), timeout=5, rate_per_minute={EP: rate},
                    observer=observer, transport=httpx.MockTransport(vendor),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep, cache=cache)
    return api, clock, observer


def test_etag_is_kept_and_sent_back_and_304_replays_the_decoded_body() -> None:
    vendor = Vendor()
    api, _, observer = make(vendor)
    first = api.get_json(EP, PATH, RANGE, deadline=None)
    second = api.get_json(EP, PATH, RANGE, deadline=None)
    assert first == second == {"items": [1, 2, 3], "page": 1}
    assert vendor.sent_inm() == [None, '"v1"']
    assert observer.codes == ["200", "304"]
    assert len(api.cache) == 1


def test_304_replay_is_a_fresh_copy_not_the_object_handed_out_before() -> None:
    api, _, _ = make(Vendor())
    first = api.get_json(EP, PATH, RANGE, deadline=None)
    first["items"].clear()  # a caller changing its result must not change the cache
    assert api.get_json(EP, PATH, RANGE, deadline=None)["items"] == [1, 2, 3]


def test_a_changed_body_replaces_the_kept_one() -> None:
    vendor = Vendor()
    api, _, observer = make(vendor)
    api.get_json(EP, PATH, RANGE, deadline=None)
    vendor.body, vendor.etag = b'{"items": [4]}', '"v2"'
    assert api.get_json(EP, PATH, RANGE, deadline=None) == {"items": [4]}
    assert api.get_json(EP, PATH, RANGE, deadline=None) == {"items": [4]}
    assert vendor.sent_inm() == [None, '"v1"', '"v2"']
    assert observer.codes == ["200", "200", "304"]


def test_without_etag_no_conditional_request() -> None:
    vendor = Vendor(etag=None)
    api, _, observer = make(vendor)
    for _ in range(3):
        api.get_json(EP, PATH, RANGE, deadline=None)
    assert vendor.sent_inm() == [None, None, None]
    assert observer.codes == ["200"] * 3
    assert len(api.cache) == 0


def test_the_url_with_its_query_is_the_key() -> None:
    vendor = Vendor()
    api, _, _ = make(vendor)
    api.get_json(EP, PATH, {**RANGE, "page": 1}, deadline=None)
    api.get_json(EP, PATH, {**RANGE, "page": 2}, deadline=None)  # another URL
    api.get_json(EP, PATH, {**RANGE, "page": 1}, deadline=None)
    assert vendor.sent_inm() == [None, None, '"v1"']


def test_304_gives_the_token_back_so_the_next_request_does_not_wait() -> None:
    vendor = Vendor()
    api, clock, observer = make(vendor, rate=5)
    interval = api.bucket(EP).interval
    api.get_json(EP, PATH, RANGE, deadline=None)  # 200: takes the first slot
    api.get_json(EP, PATH, RANGE, deadline=None)  # waits one interval; 304: slot refunded
    assert clock.sleeps == [pytest.approx(interval)]
    vendor.body, vendor.etag = b'{"items": []}', '"v2"'
    assert api.get_json(EP, PATH, RANGE, deadline=None) == {"items": []}  # no wait
    assert clock.sleeps == [pytest.approx(interval)]
    assert observer.codes == ["200", "304", "200"]
    api.get_json(EP, PATH, RANGE, deadline=None)  # that 200 was counted: wait again
    assert clock.sleeps == [pytest.approx(interval)] * 2


def test_a_200_keeps_its_token() -> None:
    vendor = Vendor(etag=None)
    api, clock, _ = make(vendor, rate=5)
    for _ in range(3):
        api.get_json(EP, PATH, RANGE, deadline=None)
    assert clock.sleeps == [pytest.approx(api.bucket(EP).interval)] * 2


def test_304_to_an_unconditional_request_is_a_schema_error() -> None:
    vendor = Vendor(always_304=True)
    api, _, observer = make(vendor)
    with pytest.raises(SchemaError, match="without If-None-Match") as info:
        api.get_json(EP, PATH, RANGE, deadline=None)
    assert info.value.status == 304
    assert observer.codes == ["304"] and len(vendor.requests) == 1  # not retried


def test_cache_is_lru_bounded_in_entries() -> None:
    vendor = Vendor()
    api, _, _ = make(vendor, cache=EtagCache(entries=2))
    for page in (1, 2, 1, 3):  # page 1 was used after page 2, so page 2 goes
        api.get_json(EP, PATH, {**RANGE, "page": page}, deadline=None)
    assert len(api.cache) == 2
    vendor.requests.clear()
    for page in (1, 3, 2):
        api.get_json(EP, PATH, {**RANGE, "page": page}, deadline=None)
    assert vendor.sent_inm() == ['"v1"', '"v1"', None]


def test_bodies_over_the_limit_are_not_kept_and_total_bytes_are_bounded() -> None:
    vendor = Vendor(body=b'{"items": "' + b"x" * 100 + b'"}')
    api, _, _ = make(vendor, cache=EtagCache(body_limit=50))
    api.get_json(EP, PATH, RANGE, deadline=None)
    api.get_json(EP, PATH, RANGE, deadline=None)
    assert vendor.sent_inm() == [None, None] and len(api.cache) == 0

    cache = EtagCache(total_limit=250)
    for n in range(5):
        assert cache.put(f"u{n}", '"e"', b"x" * 100, "")
    assert len(cache) == 2 and cache.size == 200
    assert cache.get("u3") is not None and cache.get("u0") is None


def test_post_is_never_conditional() -> None:
    vendor = Vendor()
    api, _, _ = make(vendor)
    api.post_json(EP, PATH, {"hashes": []}, deadline=None)
    api.post_json(EP, PATH, {"hashes": []}, deadline=None)
    assert vendor.sent_inm() == [None, None] and len(api.cache) == 0


CSV = b"commitHash,userEmail\r\nabc,a@example.com\r\ndef,b@example.com\r\n"


def read_all(api: ApiClient) -> str:
    with api.stream_text(EP, CSV_PATH, RANGE, deadline=None) as text:
        return text.read()


def test_stream_text_kept_once_read_to_the_end_and_replayed_on_304() -> None:
    vendor = Vendor(body=CSV, content_type="text/csv; charset=utf-8")
    api, _, observer = make(vendor)
    first = read_all(api)
    assert read_all(api) == first == CSV.decode()
    assert vendor.sent_inm() == [None, '"v1"']
    assert observer.codes == ["200", "304"]


def test_stream_text_read_part_way_is_not_kept() -> None:
    vendor = Vendor(body=CSV, content_type="text/csv; charset=utf-8")
    api, _, _ = make(vendor)
    with api.stream_text(EP, CSV_PATH, RANGE, deadline=None) as text:
        text.readline()
    assert len(api.cache) == 0
    read_all(api)
    assert vendor.sent_inm() == [None, None] and len(api.cache) == 1


def test_stream_text_over_the_limit_is_not_kept_and_forgets_the_old_body() -> None:
    vendor = Vendor(body=CSV, content_type="text/csv")
    api, _, _ = make(vendor, cache=EtagCache(body_limit=len(CSV)))
    read_all(api)
    assert len(api.cache) == 1
    vendor.body, vendor.etag = CSV * 2, '"v2"'
    assert read_all(api) == (CSV * 2).decode()
    assert len(api.cache) == 0


def test_token_bucket_refund_only_for_the_latest_slot() -> None:
    clock = FakeClock()
    bucket = TokenBucket(6, clock=clock.monotonic, sleep=clock.sleep)
    first = bucket.acquire_slot()
    assert first == 1000.0
    assert bucket.refund(first)
    assert bucket.acquire_slot() == first  # the same slot again, no wait
    second = bucket.acquire_slot()
    assert second == pytest.approx(first + bucket.interval)
    assert not bucket.refund(first)  # a later slot was taken since: nothing to give back
    assert bucket.refund(second)
    third = bucket.acquire_slot()
    bucket.pause_until(third + 100)  # the vendor asked for a pause: it stands
    assert not bucket.refund(third)
    assert bucket.acquire_slot() == pytest.approx(third + 100)


def test_stream_reader_hands_over_the_whole_body_at_its_end() -> None:
    kept: list[bytes] = []
    reader = BodyReader(iter([b"a,b\r\n", b"1,2\r\n"]), EP, keep=kept.append,
                        keep_limit=100)
    text = io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8", newline="")
    assert text.read() == "a,b\r\n1,2\r\n"
    assert kept == [b"a,b\r\n1,2\r\n"]
