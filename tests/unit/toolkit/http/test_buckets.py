"""Rate buckets shared by several endpoints: `bucket_of` maps an endpoint to a named
bucket; an endpoint not in it has the bucket of its own name."""

from __future__ import annotations

import httpx
import pytest

from aicode_exporter.toolkit.http.auth import basic_auth
from aicode_exporter.toolkit.http.client import ApiClient
from tests.support.fakes import FakeClock, Observer


def make(rates: dict[str, float], bucket_of: dict[str, str] | None = None,
         ) -> tuple[ApiClient, FakeClock]:
    clock = FakeClock()
    api = ApiClient(vendor="v", org="o", base_url="http://api.test", auth=basic_auth("k"),
                    timeout=5, rate_per_minute=rates, observer=Observer(),
                    transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep,
                    **({} if bucket_of is None else {"bucket_of": bucket_of}))
    return api, clock


def test_endpoints_named_in_bucket_of_share_one_bucket() -> None:
    api, _ = make({"reports": 60, "seats": 10}, {"usage": "reports", "spend": "reports"})
    assert api.bucket("usage") is api.bucket("spend") is api.bucket("reports")
    assert api.bucket("seats") is not api.bucket("reports")
    assert api.bucket("seats").per_minute == 10


def test_a_shared_bucket_paces_its_endpoints_together() -> None:
    api, clock = make({"reports": 60}, {"usage": "reports", "spend": "reports"})
    t0 = clock.monotonic()
    api.get_json("usage", "/usage", {}, deadline=None)
    api.get_json("spend", "/spend", {}, deadline=None)
    api.get_json("usage", "/usage", {}, deadline=None)
    # three requests at 60/min through one bucket: two intervals slept, not one per bucket
    assert clock.monotonic() - t0 == pytest.approx(2 * api.bucket("usage").interval)


def test_without_bucket_of_every_endpoint_has_its_own_bucket() -> None:
    api, _ = make({"a": 60, "b": 60})
    assert api.bucket("a") is not api.bucket("b")
    with pytest.raises(KeyError):
        api.bucket("c")


def test_bucket_of_naming_a_bucket_without_a_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        make({"reports": 60}, {"usage": "missing"})


class Memory:
    """A PacingMemory in a dict: the last process's requests, and this one's."""

    def __init__(self, last: dict[str, float]) -> None:
        self.last = dict(last)
        self.noted: list[tuple[str, float]] = []

    def last_requests(self) -> dict[str, float]:
        return self.last

    def note_request(self, bucket: str, at: float) -> None:
        self.noted.append((bucket, at))
        self.last[bucket] = at


@pytest.mark.parametrize("ago,wait", [(2.0, 60 / 5 * 1.02 - 2.0), (300.0, 0.0),
                                      (-3600.0, 60 / 5 * 1.02)])  # a clock set back
def test_a_new_client_starts_where_the_last_process_left_its_buckets(
        ago: float, wait: float) -> None:
    clock = FakeClock()
    memory = Memory({"reports": clock.wall_time - ago, "gone": clock.wall_time})
    api = ApiClient(vendor="v", org="o", base_url="http://api.test", auth=basic_auth("k"),
                    timeout=5, rate_per_minute={"reports": 5}, observer=Observer(),
                    transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
                    clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep,
                    bucket_of={"usage": "reports"}, pacing=memory)
    api.get_json("usage", "/u", {}, deadline=None)
    assert sum(clock.sleeps) == pytest.approx(wait)
    assert memory.noted == [("reports", clock.wall_time)]  # the bucket, not the endpoint
