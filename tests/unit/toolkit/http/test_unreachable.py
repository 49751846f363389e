"""A vendor address that cannot be reached (no such host, refused, TLS not trusted, an
unsupported scheme) fails in moments, at warning, naming the provider, the endpoint and
the address: never minutes of silent retries, never a rate-limit token spent on it."""

from __future__ import annotations

import logging
import socket
import ssl

import httpx
import pytest

from aicode_exporter.errors import Unavailable
from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.toolkit.http.client import ApiClient
from tests.support.fakes import FakeClock, Observer


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused") from ConnectionRefusedError(
        111, "Connection refused")


def _no_such_host(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(
        -2, "Name or service not known")


def _untrusted(request: httpx.Request) -> httpx.Response:
    err = ssl.SSLCertVerificationError(1, "certificate verify failed")
    err.verify_message = "self-signed certificate"
    raise httpx.ConnectError("certificate verify failed") from err


class Calls:
    def __init__(self, *handlers: object) -> None:
        self.handlers = list(handlers)
        self.n = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        handler = self.handlers[min(self.n, len(self.handlers) - 1)]
        self.n += 1
        if isinstance(handler, httpx.Response):
            return handler
        return handler(request)  # type: ignore[operator, no-any-return]


def make(handler: Calls, rate: float = 5) -> tuple[ApiClient, FakeClock, Observer]:
    clock, observer = FakeClock(), Observer()
    api = ApiClient(vendor="cursor", org="acme", base_url="https://vendor.test:8443/api",
                    auth=BearerAuth("k" * 32), timeout=30,
                    rate_per_minute={"commits": rate, "changes": rate}, observer=observer,
                    transport=httpx.MockTransport(handler), clock=clock.monotonic,
                    wall=clock.wall, sleep=clock.sleep)
    return api, clock, observer


@pytest.mark.parametrize(("handler", "said"), [
    (_refused, "connection refused"),
    (_no_such_host, "cannot resolve the host name (Name or service not known)"),
])
def test_unreachable_address_is_retried_once_briefly_and_logged_at_warning(
        handler: object, said: str, caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls(handler)
    api, clock, observer = make(calls)
    t0 = clock.mono
    with caplog.at_level(logging.DEBUG), pytest.raises(Unavailable) as e:
        api.get_json("commits", "/x", {}, deadline=None)
    assert str(e.value) == f"cannot reach https://vendor.test:8443: {said}"
    assert calls.n == 2  # one retry
    # The refused request gave its token back: the retry did not wait for the next slot
    # of a 5/min bucket (12 s), only for the short back-off.
    assert clock.mono - t0 < 1.0
    assert observer.codes == ["error", "error"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    (w,) = warnings
    assert w.getMessage() == "cannot reach the vendor"
    assert (w.provider, w.org, w.endpoint, w.address) == (  # type: ignore[attr-defined]
        "cursor", "acme", "commits", "https://vendor.test:8443")


def test_after_a_failure_the_next_endpoint_fails_at_once_and_a_success_resets() -> None:
    ok = httpx.Response(200, json={"items": []})
    calls = Calls(_refused, _refused, _refused, ok, _refused, _refused)
    api, _, _ = make(calls)
    with pytest.raises(Unavailable):
        api.get_json("commits", "/x", {}, deadline=None)
    assert calls.n == 2
    with pytest.raises(Unavailable):
        api.get_json("changes", "/y", {}, deadline=None)
    assert calls.n == 3  # the address is known to be unreachable: no second try
    assert api.get_json("changes", "/y", {}, deadline=None) == {"items": []}
    with pytest.raises(Unavailable):
        api.get_json("commits", "/x", {}, deadline=None)
    assert calls.n == 6  # reached once since: a new failure is retried once again


def test_untrusted_certificate_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls(_untrusted)
    api, _, _ = make(calls)
    with caplog.at_level(logging.WARNING), pytest.raises(Unavailable) as e:
        api.get_json("commits", "/x", {}, deadline=None)
    assert calls.n == 1
    assert "the server's certificate is not trusted (self-signed certificate)" in str(e.value)
    assert "cannot reach the vendor" in caplog.text


def test_unsupported_scheme_is_not_retried() -> None:
    clock, observer = FakeClock(), Observer()
    api = ApiClient(vendor="qoder", org="acme", base_url="ftp://vendor.test",
                    auth=BearerAuth("k" * 32), timeout=30, rate_per_minute={"overview": 60},
                    observer=observer, clock=clock.monotonic, wall=clock.wall,
                    sleep=clock.sleep)
    with pytest.raises(Unavailable, match=r"unsupported URL scheme"):
        api.get_json("overview", "/x", {}, deadline=None)
    assert observer.codes == ["error"]
