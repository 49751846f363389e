"""The simulator's named hostile fault modes really produce their hostility."""

from __future__ import annotations

import base64
import contextlib
import csv
import http.client
import io
import json
import math
import socket
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from aicode_sim import FAULT_MODES, AbortConnection, Simulator, parse_fault_mode
from aicode_sim.timeutil import to_ms

NOW = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)
QODER = {"Authorization": "Bearer sim-key"}
CURSOR = {"Authorization": "Basic " + base64.b64encode(b"sim-key:").decode()}
ORG = "/v1/organizations/org_sim"
Q_COMMITS = f"{ORG}/ai-code-tracking/commits"
Q_CHANGES = f"{ORG}/ai-code-tracking/changes"
Q_OVERVIEW = (
    f"{ORG}/ai-code/stats/overview?start_date=2025-07-01T00:00:00Z&end_date=2025-07-30T00:00:00Z"
)
C_COMMITS = "/analytics/ai-code/commits"
C_CHANGES = "/analytics/ai-code/changes"
LONE = "\udc80"


def make(*modes: str, **kwargs: Any) -> Simulator:
    options: dict[str, Any] = {"seed": 4, "users": 12, "repos": 5, "days": 20,
                               "now": lambda: NOW, "cursor_rate_limit_per_minute": 0}
    options.update(kwargs)
    return Simulator(fault_modes=modes, **options)


def call(sim: Simulator, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    status, response_headers, body = sim.app("GET", path, headers, b"")
    return status, response_headers, b"".join(body)


def get_json(sim: Simulator, path: str, headers: dict[str, str]) -> Any:
    status, _, body = call(sim, path, headers)
    assert status == 200, body[:300]
    return json.loads(body)


def csv_rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8", "surrogatepass")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def headers_of(path: str) -> dict[str, str]:
    return QODER if path.startswith("/v1/") else CURSOR


def connect(sim: Simulator, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(sim.url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)


# ---- the registry and the API ---------------------------------------------------------------


def test_registry_names_every_mode_and_parses_cli_specs() -> None:
    assert set(FAULT_MODES) == {
        "surrogate", "drip", "negative", "huge", "nan", "ignore_dates", "date_only",
        "branch_flip", "ratelimit_headers", "retry_after_inf", "retry_after_day", "echo_key",
        "endless_pages", "lying_total", "hang", "big_body",
    }
    assert all(isinstance(text, str) and text for text in FAULT_MODES.values())
    assert parse_fault_mode("drip:rate=20, max_seconds=5") == (
        "drip", {"rate": 20.0, "max_seconds": 5.0, "head": 0.0}
    )
    assert parse_fault_mode("surrogate") == ("surrogate", {})
    for bad in ("nope", "drip:speed=3", "drip:rate=fast", "drip:rate", "drip:rate=0",
                "hang:seconds=-1"):
        with pytest.raises(ValueError):
            parse_fault_mode(bad)
    with pytest.raises(ValueError):
        make("nope")
    with pytest.raises(ValueError):
        make().faults.mode("negative", times=0)


def test_modes_off_their_paths_or_used_up_change_nothing() -> None:
    plain, sim = make(), make()
    sim.faults.mode("surrogate", r"^/nothing-matches$")
    sim.faults.mode("negative", C_CHANGES, times=1)
    for path in (Q_OVERVIEW, Q_COMMITS, f"{Q_COMMITS}/export", f"{C_COMMITS}.csv"):
        assert call(sim, path, headers_of(path)) == call(plain, path, headers_of(path))
    assert call(sim, C_CHANGES, CURSOR) != call(plain, C_CHANGES, CURSOR)  # the one use
    assert call(sim, C_CHANGES, CURSOR) == call(plain, C_CHANGES, CURSOR)
    sim.faults.mode("negative")
    sim.faults.clear()
    assert call(sim, C_CHANGES, CURSOR) == call(plain, C_CHANGES, CURSOR)


# ---- surrogate ------------------------------------------------------------------------------


def test_surrogate_json_strings_carry_an_escaped_lone_surrogate() -> None:
    sim = make("surrogate")
    status, headers, raw = call(sim, Q_CHANGES, QODER)
    assert status == 200 and b"\\udc80" in raw
    assert int(headers["Content-Length"]) == len(raw)
    item = json.loads(raw)["data"]["items"][0]
    for key in ("userEmail", "source", "model"):
        assert item[key].endswith(LONE)
    with pytest.raises(UnicodeEncodeError):
        item["source"].encode()
    commit = json.loads(call(sim, C_COMMITS, CURSOR)[2])["items"][0]
    assert commit["userEmail"].endswith(LONE)
    _, headers, raw = call(sim, C_CHANGES, CURSOR)
    change = json.loads(raw)["items"][0]
    assert change["model"] is None or change["model"].endswith(LONE)
    assert all(m["fileExtension"].endswith(LONE) for m in change["metadata"])
    assert headers["ETag"] != call(make(), C_CHANGES, CURSOR)[1]["ETag"]  # follows the body
    repos = json.loads(call(sim, f"{ORG}/ai-code/repos", QODER)[2])["repos"]
    assert repos and all(r["repoName"].endswith(LONE) for r in repos)


@pytest.mark.parametrize(
    ("path", "columns"),
    [(f"{Q_COMMITS}/export", ("repoName", "userEmail", "branchName")),
     (f"{C_CHANGES}.csv", ("source", "user_email"))],
)
def test_surrogate_csv_holds_invalid_utf8(path: str, columns: tuple[str, ...]) -> None:
    status, _, body = call(make("surrogate"), path, headers_of(path))
    assert status == 200 and b"\xed\xb2\x80" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    rows = csv_rows(body)
    assert rows
    for column in columns:
        assert all(row[column].endswith(LONE) for row in rows)


# ---- drip -----------------------------------------------------------------------------------


def test_drip_pure_handler_yields_one_byte_at_a_time_with_a_pause() -> None:
    sim = make()
    sim.faults.mode("drip", rate=40)
    status, headers, body = sim.app("GET", Q_COMMITS, QODER, b"")
    assert status == 200 and int(headers["Content-Length"]) > 100
    chunks = iter(body)
    started = time.monotonic()
    first = [next(chunks) for _ in range(5)]
    assert time.monotonic() - started >= 4 / 40 * 0.9
    assert all(len(chunk) == 1 for chunk in first)
    assert b"".join(first) == b'{"suc'


@pytest.mark.slow  # real sockets, real time
def test_drip_over_http_never_finishes_quickly() -> None:
    sim = make("drip:rate=20")
    sim.start()
    try:
        conn = connect(sim, timeout=5)
        started = time.monotonic()
        conn.request("GET", Q_OVERVIEW, headers=QODER)
        response = conn.getresponse()  # the status line and headers come at once
        length = int(response.headers["Content-Length"])
        assert response.status == 200 and length > 100
        assert response.read(4) == b'{"co'
        elapsed = time.monotonic() - started
        assert 0.12 <= elapsed < 3
        # Every byte beats a 0.5 s read timeout, yet half a second brings only about ten.
        conn.sock.settimeout(0.5)
        received = 4
        while time.monotonic() - started < elapsed + 0.5:
            assert response.read(1)
            received += 1
        assert 8 <= received <= 20 < length
        conn.close()
    finally:
        started = time.monotonic()
        sim.stop()  # wakes the dripping thread
        assert time.monotonic() - started < 5


@pytest.mark.slow  # real sockets, real time
def test_drip_head_sends_the_status_line_and_headers_at_the_same_pace() -> None:
    sim = make("drip:rate=20,head=1")
    sim.start()
    try:
        parts = urlsplit(sim.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as s:
            s.sendall(f"GET {Q_OVERVIEW} HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer sim-key\r\n\r\n".encode())
            s.settimeout(0.5)
            started, head = time.monotonic(), b""
            with contextlib.suppress(TimeoutError):
                while time.monotonic() - started < 0.5:
                    head += s.recv(1)
        # about ten bytes of the status line in half a second, no header complete
        assert head and b"HTTP/1.1 200 OK\r\n".startswith(head[:17]), head
        assert len(head) <= 20 and b"\r\n\r\n" not in head, head
    finally:
        started = time.monotonic()
        sim.stop()  # wakes the dripping thread
        assert time.monotonic() - started < 5


# ---- negative, huge, nan --------------------------------------------------------------------


def _numbers(mode: str) -> tuple[Any, list[Any], Any, list[dict[str, str]]]:
    sim = make(mode)
    overview = get_json(sim, Q_OVERVIEW, QODER)
    items = get_json(sim, f"{C_COMMITS}?startDate=30d", CURSOR)["items"]
    pagination = get_json(sim, Q_CHANGES, QODER)["data"]["pagination"]
    rows = csv_rows(call(sim, f"{Q_COMMITS}/export", QODER)[2])
    return overview, items, pagination, rows


def test_negative_counts_and_rates() -> None:
    overview, items, pagination, rows = _numbers("negative")
    assert all(overview[key] < 0 for key in
               ("committedTotalLinesEdit", "acceptedLinesEdit", "messageCount"))
    assert overview["aiShareRate"] == -1e30
    assert all(item["totalLinesAdded"] < 0 and item["tabLinesAdded"] < 0 for item in items)
    assert pagination["totalItems"] > 0  # paging itself is not touched
    assert rows and all(int(row["totalLinesAdded"]) < 0 for row in rows)


def test_huge_counts_overflow_a_double() -> None:
    sim = make("huge")
    raw = call(sim, Q_OVERVIEW, QODER)[2]
    assert b'"committedTotalLinesEdit":1.8e308' in raw
    overview, items, _, rows = _numbers("huge")
    assert overview["messageCount"] == math.inf  # what a double-based parser makes of it
    assert overview["aiShareRate"] == 1e30
    assert all(item["totalLinesAdded"] == math.inf for item in items)
    assert rows and {row["totalLinesDeleted"] for row in rows} == {"1.8e308"}


def _refuse(token: str) -> float:
    raise ValueError(f"non-standard JSON token {token}")


def test_nan_counts_are_bare_json_tokens_and_csv_strings() -> None:
    raw = call(make("nan"), Q_OVERVIEW, QODER)[2]
    assert b":NaN" in raw and b":Infinity" in raw
    with pytest.raises(ValueError):  # not strict JSON
        json.loads(raw, parse_constant=_refuse)
    overview, items, _, rows = _numbers("nan")
    assert math.isnan(overview["aiShareRate"])
    counts = [item["totalLinesAdded"] for item in items] + [item["tabLinesAdded"] for item in items]
    assert all(not math.isfinite(value) for value in counts)
    values = {row[key] for row in rows for key in ("totalLinesAdded", "nonAiLinesDeleted")}
    assert values == {"NaN", "Infinity"}


# ---- ignore_dates, date_only ----------------------------------------------------------------


def test_ignore_dates_returns_the_last_90_days() -> None:
    sim, plain = make("ignore_dates"), make()
    narrow = "startDate=2025-07-29T00:00:00Z&endDate=2025-07-29T01:00:00Z&pageSize=1"
    wanted = get_json(plain, f"{Q_COMMITS}?{narrow}", QODER)["data"]["pagination"]["totalItems"]
    got = get_json(sim, f"{Q_COMMITS}?{narrow}", QODER)["data"]["pagination"]["totalItems"]
    everything = get_json(plain, f"{Q_COMMITS}?pageSize=1", QODER)["data"]["pagination"]
    assert got == everything["totalItems"] > wanted
    day = "startDate=2025-07-29&endDate=2025-07-29"
    rows = csv_rows(call(sim, f"{C_CHANGES}.csv?{day}", CURSOR)[2])
    all_rows = csv_rows(call(plain, f"{C_CHANGES}.csv?startDate=90d&endDate=now", CURSOR)[2])
    assert rows == all_rows
    assert len(rows) > len(csv_rows(call(plain, f"{C_CHANGES}.csv?{day}", CURSOR)[2]))


@pytest.mark.parametrize(
    ("path", "asked", "whole_days"),
    [
        (Q_CHANGES, "startDate=2025-07-20T12:00:00Z&endDate=2025-07-21T13:00:00Z",
         "startDate=2025-07-20T00:00:00Z&endDate=2025-07-21T23:59:59.999Z"),
        (C_CHANGES, "startDate=2025-07-20T12:00:00Z&endDate=2025-07-21T13:00:00Z",
         "startDate=2025-07-20&endDate=2025-07-21"),
    ],
)
def test_date_only_widens_to_whole_utc_days(path: str, asked: str, whole_days: str) -> None:
    sim, plain = make("date_only"), make()
    qoder = path.startswith("/v1/")

    def items(s: Simulator, query: str) -> list[Any]:
        payload = get_json(s, f"{path}?{query}&pageSize={200 if qoder else 1000}",
                           headers_of(path))
        return list(payload["data"]["items"] if qoder else payload["items"])

    hostile = items(sim, asked)
    assert hostile == items(plain, whole_days)
    assert len(hostile) > len(items(plain, asked))


# ---- branch_flip ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [Q_COMMITS, f"{C_COMMITS}?startDate=30d"])
def test_branch_flip_reports_one_hash_on_other_branches(path: str) -> None:
    sim = make("branch_flip")
    headers = headers_of(path)

    def branches() -> dict[str, Any]:
        payload = get_json(sim, path, headers)
        listed = payload["data"]["items"] if "data" in payload else payload["items"]
        return {item["commitHash"]: item["branchName"] for item in listed}

    first, second, third = branches(), branches(), branches()
    assert first.keys() == second.keys() == third.keys()
    named = [h for h, branch in first.items() if branch is not None]
    assert named and all(second[h] is not None and second[h] != first[h] for h in named)
    assert set(third.values()) == {None}


def test_branch_flip_in_csv() -> None:
    sim = make("branch_flip")
    path = f"{Q_COMMITS}/export"
    first = csv_rows(call(sim, path, QODER)[2])
    second = csv_rows(call(sim, path, QODER)[2])
    third = csv_rows(call(sim, path, QODER)[2])
    assert [r["commitHash"] for r in first] == [r["commitHash"] for r in second]
    assert all(a["branchName"] != b["branchName"] for a, b in zip(first, second, strict=True))
    assert {r["branchName"] for r in third} == {""}


# ---- rate-limit headers and Retry-After -----------------------------------------------------


def test_ratelimit_headers_reset_in_epoch_milliseconds() -> None:
    sim = make("ratelimit_headers")
    for path in (Q_COMMITS, C_CHANGES, f"{C_COMMITS}.csv"):
        status, headers, _ = call(sim, path, headers_of(path))
        assert status == 200
        assert headers["X-RateLimit-Remaining"] == "0"
        reset = int(headers["X-RateLimit-Reset"])
        assert to_ms(NOW) < reset <= to_ms(NOW) + 120_000  # milliseconds, not seconds


def test_retry_after_inf_and_1e999() -> None:
    sim = make("retry_after_inf")
    seen = []
    for path in (Q_COMMITS, C_CHANGES, Q_OVERVIEW, C_COMMITS):
        status, headers, body = call(sim, path, headers_of(path))
        assert status == 429 and json.loads(body)["message"]
        seen.append(headers["Retry-After"])
    assert seen == ["inf", "1e999", "inf", "1e999"]
    assert all(math.isinf(float(value)) for value in seen)


def test_retry_after_a_day() -> None:
    status, headers, body = call(make("retry_after_day"), C_COMMITS, CURSOR)
    assert status == 429 and headers["Retry-After"] == "86400"
    assert json.loads(body)["error"] == "Too Many Requests"


# ---- echo_key -------------------------------------------------------------------------------


def test_echo_key_puts_the_credentials_in_error_bodies() -> None:
    sim = make("echo_key")
    status, _, body = call(sim, Q_COMMITS, QODER)
    assert status == 500
    error = json.loads(body)
    assert "Bearer sim-key" in error["message"] and "sim-key" in " ".join(error["details"])
    status, _, body = call(sim, C_CHANGES, CURSOR)
    error = json.loads(body)
    assert status == 500 and CURSOR["Authorization"] in error["message"]
    assert any("sim-key" in detail for detail in error["details"])
    wrong = {"Authorization": "Bearer sk-live-SECRET"}
    status, _, body = call(sim, Q_COMMITS, wrong)
    assert status == 401 and b"sk-live-SECRET" in body
    sim.faults.clear()
    sim.faults.mode("echo_key", status=401)
    status, _, body = call(sim, C_COMMITS, CURSOR)
    assert status == 401 and b"sim-key" in body


# ---- endless_pages, lying_total -------------------------------------------------------------


def test_endless_pages_repeat_page_one_and_claim_a_huge_total() -> None:
    sim = make("endless_pages")
    first = get_json(sim, f"{C_CHANGES}?pageSize=5", CURSOR)
    far = get_json(sim, f"{C_CHANGES}?pageSize=5&page=5000", CURSOR)
    assert far["items"] == first["items"] and far["items"]
    assert far["page"] == 5000 and far["totalCount"] >= 10**9
    page = get_json(sim, f"{Q_COMMITS}?pageSize=5&page=777", QODER)["data"]
    assert page["items"] == get_json(sim, f"{Q_COMMITS}?pageSize=5", QODER)["data"]["items"]
    assert page["pagination"]["currentPage"] == 777
    assert page["pagination"]["totalPages"] > 777


def test_lying_total_claims_ten_times_more_than_exist() -> None:
    sim, plain = make("lying_total"), make()
    real = get_json(plain, f"{C_COMMITS}?pageSize=10", CURSOR)["totalCount"]
    lied = get_json(sim, f"{C_COMMITS}?pageSize=10", CURSOR)
    assert real > 0 and lied["totalCount"] == 10 * real
    beyond = (real // 10) + 2
    assert get_json(sim, f"{C_COMMITS}?pageSize=10&page={beyond}", CURSOR)["items"] == []
    pagination = get_json(sim, f"{Q_CHANGES}?pageSize=7", QODER)["data"]["pagination"]
    real_q = get_json(plain, f"{Q_CHANGES}?pageSize=7", QODER)["data"]["pagination"]
    assert pagination["totalItems"] == 10 * real_q["totalItems"]
    assert pagination["totalPages"] == math.ceil(pagination["totalItems"] / 7)


# ---- hang -----------------------------------------------------------------------------------


def test_hang_pure_handler_blocks_then_drops_the_connection() -> None:
    sim = make()
    sim.faults.mode("hang", times=1, seconds=0.3)
    started = time.monotonic()
    with pytest.raises(AbortConnection):
        sim.app("GET", Q_COMMITS, QODER, b"")
    assert time.monotonic() - started >= 0.3
    assert sim.requests[-1].status == 0
    assert call(sim, Q_COMMITS, QODER)[0] == 200  # times=1: used up


@pytest.mark.slow  # real sockets, real time
def test_hang_over_http_ends_when_the_client_leaves() -> None:
    sim = make("hang:seconds=60")
    sim.start()
    try:
        conn = connect(sim, timeout=0.5)
        conn.request("GET", C_CHANGES, headers=CURSOR)
        with pytest.raises(TimeoutError):
            conn.getresponse()  # not even a status line
        conn.close()
        deadline = time.monotonic() + 5
        while not sim.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.status for r in sim.requests] == [0]  # the handler thread noticed and ended
        conn = connect(sim, timeout=10)
        conn.request("GET", C_CHANGES, headers=CURSOR)
        time.sleep(0.2)
    finally:
        started = time.monotonic()
        sim.stop()  # releases the second hung request too
        assert time.monotonic() - started < 5
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()


# ---- big_body -------------------------------------------------------------------------------


@pytest.mark.slow  # about 1.5 s: 50 MB joined and parsed
def test_big_body_is_50_mb_of_valid_json() -> None:
    sim = make("big_body")
    status, headers, body = sim.app("GET", C_COMMITS, CURSOR, b"")
    assert status == 200
    length = int(headers["Content-Length"])
    assert length >= 50 * 1024 * 1024
    data = b"".join(body)
    assert len(data) == length
    payload = json.loads(data)
    assert payload["items"] == get_json(make(), C_COMMITS, CURSOR)["items"]
    small = make()
    small.faults.mode("big_body", f"^{Q_OVERVIEW.split('?')[0]}$", size=10_000)
    _, headers, raw = call(small, Q_OVERVIEW, QODER)
    assert len(raw) == int(headers["Content-Length"]) == 10_000
    assert json.loads(raw)["messageCount"] >= 0
