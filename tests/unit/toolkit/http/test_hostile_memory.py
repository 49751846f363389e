"""A vendor that tries to make one answer cost memory: compression bombs (gzip, deflate,
stacked `gzip, gzip`), a JSON page of a million tiny records, JSON nested 100,000 deep;
and a vendor that redirects, or writes control characters into its errors. Each is
refused with a message naming the cause, after reading little, within a bounded peak
(the slow tests measure a sub-process's peak resident size)."""

from __future__ import annotations

import io
import logging
import threading
import zlib

import httpx
import pytest

from aicode_exporter.errors import BadRequest, SchemaError, Unavailable
from aicode_exporter.toolkit.http.budget import MemoryBudget
from aicode_exporter.toolkit.http.client import MAX_JSON_COST
from aicode_exporter.toolkit.http.decode import PIECE, decoded
from aicode_exporter.toolkit.http.jsonbody import MAX_DEPTH, JsonCost, depth
from aicode_exporter.toolkit.logfmt import JsonFormatter, LogfmtFormatter
from tests.support.bombs import (
    CLIENT,
    MIB,
    Chunks,
    gzip,
    gzip_bomb,
    peak_growth,
    raw_deflate_bomb,
    zlib_bomb,
)
from tests.unit.toolkit.http.test_hostile_http import BASIC, EP, KEY, PATH, make

JSON = {"content-type": "application/json"}


def serve(body: bytes, encoding: str = "", streams: list[Chunks] | None = None,
          status: int = 200, **headers: str):
    def handler(request: httpx.Request) -> httpx.Response:
        stream = Chunks(body)
        if streams is not None:
            streams.append(stream)
        extra = {"content-encoding": encoding} if encoding else {}
        return httpx.Response(status, stream=stream, headers={**JSON, **extra, **headers})
    return handler


# -- decoding in bounded pieces -----------------------------------------------------------

PAYLOAD = b'{"items": [' + b",".join(b'{"changeId": "c%d"}' % i for i in range(2000)) + b"]}"


@pytest.mark.parametrize("encoding,body", [
    ("gzip", gzip(PAYLOAD)),
    ("x-gzip", gzip(PAYLOAD)),
    ("deflate", zlib.compress(PAYLOAD)),  # zlib-wrapped, as the standard says
    ("deflate", zlib.compress(PAYLOAD, wbits=-15)),  # raw, as some servers send it
    ("gzip, gzip", gzip(gzip(PAYLOAD))),
    ("gzip", gzip(PAYLOAD[:5000]) + gzip(PAYLOAD[5000:])),  # two gzip members
    ("identity", PAYLOAD),
])
def test_encoded_answers_are_decoded(encoding: str, body: bytes) -> None:
    api, _, _ = make(serve(body, encoding))
    assert len(api.get_json(EP, PATH, {}, deadline=None)["items"]) == 2000


def test_we_ask_only_for_what_we_decode() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, json={})

    make(handler)[0].get_json(EP, PATH, {}, deadline=None)
    assert seen == ["gzip, deflate"]


def test_each_inflating_step_is_at_most_one_piece() -> None:
    pieces = list(decoded(iter([gzip(bytes(10 * MIB))]), "gzip"))
    assert sum(map(len, pieces)) == 10 * MIB and max(map(len, pieces)) <= PIECE


@pytest.mark.parametrize("encoding,body", [
    ("gzip", gzip_bomb(256)),
    ("deflate", zlib_bomb(256)),
    ("deflate", raw_deflate_bomb(256)),
    ("gzip, gzip", gzip(gzip_bomb(256))),
    ("gzip, deflate", zlib.compress(gzip_bomb(256))),
], ids=["gzip", "deflate-zlib", "deflate-raw", "gzip-gzip", "gzip-deflate"])
def test_a_compression_bomb_is_refused_as_it_inflates(encoding: str, body: bytes) -> None:
    streams: list[Chunks] = []
    api, _, observer = make(serve(body, encoding, streams), max_json_cost=1 << 40,
                            budget=MemoryBudget(1 << 40))  # the decompressed-byte cap alone
    with pytest.raises(SchemaError, match="larger decompressed than the 64 MiB allowed"):
        api.get_json(EP, PATH, {}, deadline=None)
    # 64 MiB of zeros is 64 KB of deflate: the reading stopped about there, not at 256 MiB
    assert streams[0].sent <= 4 * 64 * 1024
    assert observer.codes == ["error"]  # not retried


def test_by_default_a_bomb_of_zeros_is_refused_by_its_parse_cost_even_sooner() -> None:
    streams: list[Chunks] = []
    api, _, _ = make(serve(gzip_bomb(256), "gzip", streams))
    with pytest.raises(SchemaError, match="would take about"):
        api.get_json(EP, PATH, {}, deadline=None)
    assert streams[0].sent <= 2 * 64 * 1024


@pytest.mark.parametrize("encoding,message", [
    ("br", "unsupported Content-Encoding 'br'"),
    ("zstd", "unsupported Content-Encoding 'zstd'"),
    ("gzip, gzip, gzip, gzip", "4 stacked Content-Encodings"),
])
def test_an_encoding_we_did_not_ask_for_is_refused_unread(encoding: str, message: str) -> None:
    streams: list[Chunks] = []
    api, _, _ = make(serve(b"\x00" * 1000, encoding, streams))
    with pytest.raises(SchemaError, match=message):
        api.get_json(EP, PATH, {}, deadline=None)
    assert streams[0].sent == 0


@pytest.mark.parametrize("body,message", [
    (b"this is not gzip at all", "not valid gzip"),
    (gzip(PAYLOAD)[:200], "ends before its compressed stream does"),
])
def test_a_broken_compressed_body_is_a_schema_error(body: bytes, message: str) -> None:
    api, _, _ = make(serve(body, "gzip"))
    with pytest.raises(SchemaError, match=message):
        api.get_json(EP, PATH, {}, deadline=None)


def test_a_csv_stream_counts_decompressed_bytes_too() -> None:
    api, _, _ = make(lambda r: httpx.Response(200, stream=Chunks(gzip_bomb(256)), headers={
        "content-type": "text/csv", "content-encoding": "gzip"}))
    with pytest.raises(SchemaError, match="larger decompressed than the 64 MiB"), \
            api.stream_text(EP, PATH + ".csv", {}, deadline=None) as text:
        while text.read(1 << 20):
            pass


# -- JSON pages: bounded parse cost, bounded depth ----------------------------------------

def tiny_records(n: int) -> bytes:
    return b'{"items":[' + b",".join([b'{"changeId":"7"}'] * n) + b"]}"


def test_a_page_of_a_million_tiny_records_is_refused_before_it_is_parsed() -> None:
    body = tiny_records(1_000_000)  # 17 MB: under the 64 MiB byte cap
    assert len(body) < 64 * MIB
    streams: list[Chunks] = []
    api, _, observer = make(serve(body, streams=streams))
    with pytest.raises(SchemaError) as e:
        api.get_json(EP, PATH, {}, deadline=None)
    assert "would take about" in str(e.value) and "max_json_cost" in str(e.value)
    assert "page size" in str(e.value)
    assert streams[0].sent <= 4 * MIB  # refused a few MiB in, not after 17
    assert observer.codes == ["error"] and api.budget.used == 0


def test_an_ordinary_page_costs_a_few_mib_of_the_estimate() -> None:
    record = (b'{"changeId":"c-1","userId":"u1","userEmail":"someone@example.com",'
              b'"source":"COMPOSER","model":"gpt-4o","totalLinesAdded":12,'
              b'"totalLinesDeleted":3,"createdAt":"2025-06-01T00:00:00Z","metadata":'
              b'[{"fileName":"src/a.ts","fileExtension":"ts","linesAdded":12,'
              b'"linesDeleted":3}]}')
    page = b'{"items":[' + b",".join([record] * 1000) + b"]}"  # Cursor's largest page
    assert JsonCost.of(page).estimate < 8 * MIB < MAX_JSON_COST
    api, _, _ = make(serve(page))
    assert len(api.get_json(EP, PATH, {}, deadline=None)["items"]) == 1000


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5000, 100_000])
def test_json_nested_too_deep_is_a_schema_error_not_a_traceback(levels: int) -> None:
    body = b'{"items":' + b"[" * levels + b"]" * levels + b"}"
    api, _, _ = make(serve(body))
    with pytest.raises(SchemaError, match=f"nested deeper than {MAX_DEPTH} levels"):
        api.get_json(EP, PATH, {}, deadline=None)
    assert api.budget.used == 0


def test_json_nested_to_the_limit_is_read() -> None:
    body = b"[" * (MAX_DEPTH - 1) + b"{}" + b"]" * (MAX_DEPTH - 1)
    api, _, _ = make(serve(body))
    data = api.get_json(EP, PATH, {}, deadline=None)
    assert depth(data) == MAX_DEPTH


# -- one budget for every client of the process -------------------------------------------

def test_a_thread_holds_its_last_answer_until_its_next_request_or_its_job_ends() -> None:
    budget = MemoryBudget(64 * MIB)
    page = tiny_records(1000)
    api, _, _ = make(serve(page), budget=budget)
    api.get_json(EP, PATH, {}, deadline=None)
    held = budget.used
    assert held == JsonCost.of(page).objects > 0
    api.get_json(EP, PATH, {}, deadline=None)
    assert budget.used == held  # the page before was given back, not added to
    api.release_held()
    assert budget.used == 0


def test_an_answer_that_does_not_fit_the_budget_fails_that_request_only() -> None:
    big, small = tiny_records(5000), tiny_records(10)
    cost = JsonCost.of(big)  # one held, one being read: more than the budget holds
    budget = MemoryBudget(cost.estimate + cost.objects // 2)
    api, _, observer = make(serve(big), budget=budget)
    other, _, _ = make(serve(small), budget=budget)
    holder = threading.Thread(target=lambda: api.get_json(EP, PATH, {}, deadline=None))
    holder.start()
    holder.join()  # that thread's job holds its page (it never ended)
    used = budget.used
    with pytest.raises(Unavailable, match="memory budget"):
        api.get_json(EP, PATH, {}, deadline=None)
    assert budget.used == used and set(observer.codes) == {"200", "error"}
    assert other.get_json(EP, PATH, {}, deadline=None) == {"items": [{"changeId": "7"}] * 10}


def test_a_replayed_304_is_parsed_within_the_budget_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"etag": '"v1"'})
        return httpx.Response(200, content=tiny_records(100), headers={**JSON, "etag": '"v1"'})

    api, _, observer = make(handler)
    api.get_json(EP, PATH, {}, deadline=None)
    api.max_json_cost = 2000
    with pytest.raises(SchemaError, match="would take about"):
        api.get_json(EP, PATH, {}, deadline=None)
    api.max_json_cost, api.budget = MAX_JSON_COST, MemoryBudget(4000)
    with pytest.raises(Unavailable, match="memory budget"):
        api.get_json(EP, PATH, {}, deadline=None)
    assert observer.codes == ["200", "304", "304"] and api.budget.used == 0


# -- redirects ------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_named_with_its_target_and_never_followed(status: int) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, headers={
            "location": "https://api.moved.example/v2/commits?token=t0k3n&x=1",
            "content-type": "text/html"}, content=b"<html>Moved</html>")

    api, _, observer = make(handler)
    with pytest.raises(BadRequest) as e:
        api.get_json(EP, PATH, {}, deadline=None)
    msg = str(e.value)
    assert f"redirected ({status}) to https://api.moved.example/v2/commits" in msg
    assert "another host" in msg and "not followed" in msg and "base_url" in msg
    assert "t0k3n" not in msg and "non-JSON" not in msg and KEY not in msg
    assert [r.url.host for r in sent] == ["cursor.test"]  # one request, never to the target
    assert observer.codes == [str(status)]


def test_a_relative_redirect_names_the_path() -> None:
    api, _, _ = make(lambda r: httpx.Response(301, headers={"location": "/v2/commits"}))
    with pytest.raises(BadRequest, match=r"to http://cursor.test/v2/commits \(another path\)"):
        api.get_json(EP, PATH, {}, deadline=None)


# -- control characters from a vendor reach no log raw --------------------------------------

@pytest.mark.parametrize("formatter", [LogfmtFormatter(), JsonFormatter()],
                         ids=["logfmt", "json"])
def test_cr_and_esc_in_a_vendor_error_are_escaped_in_the_log(
        formatter: logging.Formatter) -> None:
    hostile = "bad key\r\nts=2025 level=info msg=forged \x1b[2J\x1b[31mred\x1b[0m \x9b"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": hostile, "code": "E\rX\x1b"})

    out = io.StringIO()
    handler_ = logging.StreamHandler(out)
    handler_.setFormatter(formatter)
    log = logging.getLogger("aicode_exporter.toolkit.http.client")
    log.addHandler(handler_)
    try:
        api, _, _ = make(handler)
        with pytest.raises(BadRequest):
            api.get_json(EP, PATH, {}, deadline=None)
    finally:
        log.removeHandler(handler_)
    text = out.getvalue()
    assert "vendor error" in text
    assert text.count("\n") == 1  # one line, whatever the vendor wrote
    for raw in ("\r", "\x1b", "\x9b"):
        assert raw not in text
    assert ("\\r" in text) and ("\\x1b" in text or "\\u001b" in text)
    assert BASIC not in text


# -- peak memory, measured (slow: each case is a fresh interpreter) -------------------------


@pytest.mark.slow
@pytest.mark.parametrize("build,encoding", [
    ("gzip_bomb(1024)", "gzip"),
    ("zlib_bomb(1024)", "deflate"),
    ("raw_deflate_bomb(1024)", "deflate"),
    ("gzip(gzip_bomb(1024))", "gzip, gzip"),
], ids=["gzip", "deflate-zlib", "deflate-raw", "gzip-gzip"])
def test_peak_memory_of_a_1_gib_bomb_stays_bounded(build: str, encoding: str) -> None:
    growth, outcome = peak_growth(CLIENT + f"""
api = client({build}, {encoding!r})
def run():
    return attempt(api)
""")
    assert outcome.startswith("SchemaError")
    assert growth < 40, f"peak grew by {growth:.0f} MiB"


@pytest.mark.slow
def test_peak_memory_of_a_page_of_a_million_tiny_records_stays_bounded() -> None:
    growth, outcome = peak_growth(CLIENT + """
body = b'{"items":[' + b",".join([b'{"changeId":"7"}'] * 1_000_000) + b"]}"
api = client(body)
def run():
    return attempt(api)
""")
    assert "would take about" in outcome
    assert growth < 40, f"peak grew by {growth:.0f} MiB"


@pytest.mark.slow
def test_peak_memory_of_the_costliest_page_allowed_is_within_the_cap() -> None:
    """The costliest shape per byte ({"a":1.5}), as large as max_json_cost lets through:
    the estimate is an upper bound of what parsing it really takes."""
    growth, outcome = peak_growth(CLIENT + """
api = client(costliest())
def run():
    global data
    data = api.get_json("ep", "/x", {}, deadline=None)  # kept: its objects count
    return len(data["items"])
""")
    assert int(outcome) > 100_000
    assert growth < MAX_JSON_COST / MIB, f"peak grew by {growth:.0f} MiB"
