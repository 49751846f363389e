"""stdlib logging in logfmt or JSON, to stderr.

Log calls carry a short constant message and their fields as `extra=`
(`logger.info("endpoint polled", extra={"provider": ..., "duration_seconds": ...})`):
logfmt renders them as key=value pairs after msg, JSON as top-level keys, so log
stores can filter on provider, org, endpoint, ... The names of LogRecord's own
attributes (`name`, `msg`, `args`, `module`, ...) cannot be fields: logging refuses them.

Every control character (CR, LF, ESC and the rest of C0, DEL, C1, and the Unicode line
and paragraph separators) is escaped in both formats, in the message, every field and
the traceback, so text a server sent can neither forge a log line nor drive a terminal.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from datetime import UTC, datetime

# LogRecord's own attributes (taskName from 3.12 on), and what formatters add to it.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"taskName", "message", "asctime"}
# The keys every line starts with: a field of the same name is shown as field_<name>.
_BASE = ("ts", "level", "logger", "msg", "exc")


def _ts(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {(f"field_{k}" if k in _BASE else k): v for k, v in vars(record).items()
            if k not in _RESERVED}


# C0, DEL, C1, and U+2028/U+2029 (line breaks to some log viewers).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_control(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def _logfmt_value(v: object) -> str:
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif v is None:
        s = ""
    elif isinstance(v, float):
        s = str(round(v, 3)) if math.isfinite(v) else str(v)
    else:
        s = str(v)
    if s == "" or any(c in s for c in ' ="\\') or _CONTROL.search(s):
        return '"' + _CONTROL.sub(_escape_control,
                                  s.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return s


def _fields(fmt: logging.Formatter, record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = {
        "ts": _ts(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update(_extras(record))
    if record.exc_info:
        fields["exc"] = fmt.formatException(record.exc_info)
    return fields


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(self, record).items())


def _json_value(v: object) -> object:
    # NaN and infinities are not JSON numbers; everything else numeric stays a number.
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: _json_value(v) for k, v in _fields(self, record).items()}
        # ensure_ascii escapes C0, C1 and U+2028/9; DEL is the one it leaves as is.
        return json.dumps(fields, default=str, ensure_ascii=True).replace("\x7f", "\\u007f")


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; keep it at WARNING so logs stay ours.
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
