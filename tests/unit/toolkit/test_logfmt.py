"""Control characters from a server (CR, LF, ESC, the rest of C0, DEL, C1) are escaped
in every log format: they can neither start a forged log line nor reach a terminal."""

from __future__ import annotations

import json
import logging
import re

import pytest

from aicode_exporter.toolkit.logfmt import JsonFormatter, LogfmtFormatter

HOSTILE = ("ok\r\nts=2025-01-01 level=error msg=forged\n\x1b[2J\x1b]0;title\x07"
           "\x00\x08\x7f\x85\x9b31m\u2028end")
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def record(**extra: object) -> logging.LogRecord:
    rec = logging.makeLogRecord({"name": "t", "levelno": logging.WARNING,
                                 "levelname": "WARNING", "msg": "vendor said %s",
                                 "args": (HOSTILE,)})
    rec.__dict__.update(extra)
    return rec


@pytest.mark.parametrize("formatter", [LogfmtFormatter(), JsonFormatter()],
                         ids=["logfmt", "json"])
def test_no_control_character_reaches_the_output(formatter: logging.Formatter) -> None:
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        import sys
        exc_info = sys.exc_info()
    rec = record(error=HOSTILE, code=HOSTILE)
    rec.exc_info = exc_info
    line = formatter.format(rec)
    assert not RAW_CONTROL.search(line), repr(line)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line


def test_logfmt_escapes_are_readable_and_quoted() -> None:
    line = LogfmtFormatter().format(record(error="a\rb\x1bc\x85d\u2028e"))
    assert 'error="a\\rb\\x1bc\\x85d\\u2028e"' in line
    assert ' msg="vendor said ok\\r\\nts=2025-01-01 level=error msg=forged\\n\\x1b[2J' in line


def test_json_round_trips_the_text() -> None:
    line = JsonFormatter().format(record(error=HOSTILE))
    assert json.loads(line)["error"] == HOSTILE
