"""Logs with real fields: every log call of the exporter has a constant message and its
fields as `extra=`, so `--log.format json` gives provider, org, endpoint, ... as top-level
keys a log store can filter on, and logfmt gives them as key=value pairs."""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.toolkit.logfmt import JsonFormatter, LogfmtFormatter
from tests.support.fakes import QODER_KEY, FakeClock, QoderFake, make_app, qoder_config

EXPORTER = Path(__file__).resolve().parents[2] / "aicode_exporter"
AGGREGATES = ("overview", "daily_trend", "member_ranking", "repos", "file_extensions",
              "members", "resource_packages")
STREAMS = ("commits", "changes", "credits")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Capture:
    """The exporter's log as written, in both formats at once."""

    def __init__(self) -> None:
        self.json, self.logfmt = io.StringIO(), io.StringIO()
        self.handlers = [logging.StreamHandler(self.json), logging.StreamHandler(self.logfmt)]
        self.handlers[0].setFormatter(JsonFormatter())
        self.handlers[1].setFormatter(LogfmtFormatter())

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.json.getvalue().splitlines()]

    def logfmt_lines(self) -> list[str]:
        return self.logfmt.getvalue().splitlines()


@pytest.fixture
def logs() -> Iterator[Capture]:
    cap = Capture()
    logger = logging.getLogger("aicode_exporter")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    for h in cap.handlers:
        logger.addHandler(h)
    try:
        yield cap
    finally:
        for h in cap.handlers:
            logger.removeHandler(h)
        logger.setLevel(level)


def poll(tmp_path: Path, fake: QoderFake, polls: int = 1) -> App:
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path, backfill_slice="7d"), fake, clock)
    for _ in range(polls):
        app.poller.poll_all_once()
        clock.sleep(300)
    return app


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# -- what a poll logs --------------------------------------------------------------------

def test_json_lines_carry_the_fields_at_the_top_level(tmp_path: Path, logs: Capture) -> None:
    poll(tmp_path, QoderFake(), polls=2).close()
    lines = logs.json_lines()  # every line parses
    assert lines
    for line in lines:
        assert {"ts", "level", "logger", "msg"} <= line.keys()
        assert "provider=" not in line["msg"] and "org=" not in line["msg"], line
        assert "=%" not in line["msg"]

    polled = [ln for ln in lines if ln["msg"] == "endpoint polled"]
    assert sorted(ln["endpoint"] for ln in polled) == sorted((*AGGREGATES, *STREAMS) * 2)
    for ln in polled:
        assert ln["level"] == "info" and ln["logger"] == "aicode_exporter.pipeline.poller"
        assert (ln["provider"], ln["org"]) == ("qoder", "acme")
        assert is_number(ln["duration_seconds"]) and ln["duration_seconds"] >= 0
        # what changed: the parts published and their samples
        assert isinstance(ln["parts"], int) and ln["parts"] >= 1
        assert isinstance(ln["series"], int) and ln["series"] > 0

    committed = [ln for ln in lines if ln["msg"] == "stream slice committed"]
    assert {ln["stream"] for ln in committed} == set(STREAMS)
    for ln in committed:
        assert (ln["provider"], ln["org"]) == ("qoder", "acme")
        assert {"from", "to"} <= ln.keys()
        for count in ("new", "duplicate", "invalid", "out_of_window"):
            assert isinstance(ln[count], int), (count, ln)
    # the first poll reads each stream's record, the second sees it again
    assert [ln["new"] for ln in committed if ln["stream"] == "commits"] == [1, 0]
    assert [ln["duplicate"] for ln in committed if ln["stream"] == "commits"] == [0, 1]

    configured = [ln for ln in lines if ln["msg"] == "stream configured"]
    assert {(ln["stream"], ln["format"]) for ln in configured} == {("commits", "csv"),
                                                                   ("changes", "json")}


def test_logfmt_lines_carry_the_fields_as_pairs(tmp_path: Path, logs: Capture) -> None:
    poll(tmp_path, QoderFake()).close()
    polled = [ln for ln in logs.logfmt_lines() if 'msg="endpoint polled"' in ln]
    assert len(polled) == len(AGGREGATES) + len(STREAMS)
    for ln in polled:
        assert " provider=qoder org=acme endpoint=" in ln, ln
        assert re.search(r" duration_seconds=\d+(\.\d{1,3})?( |$)", ln), ln
        assert re.search(r" parts=\d+ series=\d+$", ln), ln
    assert any(" endpoint=overview " in ln for ln in polled)


def test_failures_log_their_fields_and_no_secret(tmp_path: Path, logs: Capture) -> None:
    fake = QoderFake(script={
        "/ai-code/stats/overview": [httpx.Response(
            400, json={"requestId": "req_9", "code": "BadRequest",
                       "message": f"bad \"start\"\nfield, key {QODER_KEY}"})],
        "/ai-code/repos": [httpx.Response(503, json={"code": "Busy"})] * 5})
    poll(tmp_path, fake).close()
    lines = logs.json_lines()
    text = logs.json.getvalue() + logs.logfmt.getvalue()
    assert QODER_KEY not in text

    [vendor] = [ln for ln in lines if ln["msg"] == "vendor error"
                and ln["endpoint"] == "overview"]
    assert vendor["level"] == "warning" and vendor["status"] == 400
    assert (vendor["provider"], vendor["org"], vendor["code"], vendor["request_id"]) == (
        "qoder", "acme", "BadRequest", "req_9")
    assert vendor["error"].startswith('bad "start"\nfield, key ')

    failed = {ln["endpoint"]: ln for ln in lines if ln["msg"] == "endpoint poll failed"}
    assert failed.keys() == {"overview", "repos"}
    assert all(is_number(ln["duration_seconds"]) and ln["error"] for ln in failed.values())
    retries = [ln for ln in lines if ln["msg"] == "retrying"]
    assert retries and all(ln["endpoint"] == "repos" and is_number(ln["wait_seconds"])
                           for ln in retries)

    # logfmt quotes a value with spaces, quotes or newlines, on one line
    [vendor_line] = [ln for ln in logs.logfmt_lines()
                     if 'msg="vendor error"' in ln and "endpoint=overview" in ln]
    assert ' error="bad \\"start\\"\\nfield, key ' in vendor_line
    assert " status=400 code=BadRequest request_id=req_9 " in vendor_line


def test_catch_up_progress_has_numbers_or_no_field(tmp_path: Path, logs: Capture) -> None:
    app = poll(tmp_path, QoderFake())
    key = ("qoder", "acme", "commits")
    app.telemetry.progress(key, done=0, total=4, watermark=None)
    app.poller.log_progress()  # nothing known yet but the slices
    app.telemetry.progress(key, done=1, total=4, watermark=1_748_900_000.0)
    app.poller.log_progress()
    app.close()
    first, second = [ln for ln in logs.json_lines() if ln["msg"] == "stream catching up"]
    assert (first["provider"], first["org"], first["stream"]) == key
    assert (first["slices_done"], first["slices_total"]) == (0, 4)
    assert "lag_seconds" not in first and "eta_seconds" not in first
    assert (second["slices_done"], second["slices_total"]) == (1, 4)
    assert isinstance(second["lag_seconds"], int) and second["lag_seconds"] > 0
    assert all(isinstance(second[k], int) for k in ("pages_done", "pages_left", "eta_seconds")
               if k in second)


# -- the formatters ----------------------------------------------------------------------

def record(**extra: object) -> logging.LogRecord:
    return logging.getLogger("aicode_exporter.test").makeRecord(
        "aicode_exporter.test", logging.INFO, __file__, 1, "something happened", (), None,
        extra=extra)


def test_logfmt_renders_values_sensibly() -> None:
    line = LogfmtFormatter().format(record(
        duration_seconds=1.23456, n=3, ok=True, off=False, none=None, big=2.0,
        nan=float("nan"), text='two words "quoted"\nnext', empty=""))
    assert line.endswith(
        ' msg="something happened" duration_seconds=1.235 n=3 ok=true off=false none="" '
        'big=2.0 nan=nan text="two words \\"quoted\\"\\nnext" empty=""')


def test_json_keeps_numbers_numbers() -> None:
    line = json.loads(JsonFormatter().format(record(
        duration_seconds=1.23456, n=3, ok=True, none=None, inf=float("inf"),
        path=Path("/x y"), level="a field", ts=5)))
    assert line["msg"] == "something happened" and line["level"] == "info"
    assert line["duration_seconds"] == 1.23456 and line["n"] == 3 and line["ok"] is True
    assert line["none"] is None and line["inf"] == "inf" and line["path"] == "/x y"
    # a field named like one of the line's own keys does not replace it
    assert line["field_level"] == "a field" and line["field_ts"] == 5
    assert line["ts"] != 5


def test_exceptions_keep_their_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.getLogger("aicode_exporter.test").makeRecord(
            "aicode_exporter.test", logging.ERROR, __file__, 1, "endpoint failed unexpectedly", (),
            sys.exc_info(), extra={"provider": "qoder"})
    line = json.loads(JsonFormatter().format(rec))
    assert line["provider"] == "qoder" and "ValueError: boom" in line["exc"]


# -- the habit sticks: no fields formatted into a message --------------------------------

def log_calls() -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(EXPORTER.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LOG_METHODS
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("logger", "logging", "log")):
                yield f"{path.relative_to(EXPORTER.parent)}:{node.lineno}", node


def test_no_log_call_formats_its_fields_into_the_message() -> None:
    calls = list(log_calls())
    assert len(calls) >= 40  # the scan sees the exporter's log calls
    for where, call in calls:
        is_log = isinstance(call.func, ast.Attribute) and call.func.attr == "log"
        args = call.args[1:] if is_log else call.args
        assert args, where
        msg = args[0]
        assert isinstance(msg, ast.Constant) and isinstance(msg.value, str), (
            f"{where}: the message is a constant string, fields go into extra=")
        assert "=%" not in msg.value and not re.search(r"%[-#0 +]*\d*(\.\d+)?[sdrfgx]",
                                                       msg.value), where
        assert len(args) == 1, f"{where}: no %-arguments, fields go into extra="
        for kw in call.keywords:
            if kw.arg == "extra" and isinstance(kw.value, ast.Dict):
                keys = {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
                assert not keys & RESERVED, (where, keys & RESERVED)
