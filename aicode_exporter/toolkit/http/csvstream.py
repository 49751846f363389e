"""Streaming CSV reading for API exports: rows parsed as they arrive, never the whole
body in memory. Structural damage (a short row, an unclosed quote, a header that lacks a
required column) fails the read so the caller commits nothing; a single bad record is
skipped and counted, whatever fails in it (a hook or a model raising anything but the
read's own SchemaError). What a column means is the caller's: `row_hook` may reshape a row
(parse a JSON column, say) or refuse it."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from aicode_exporter.errors import SchemaError

M = TypeVar("M", bound=BaseModel)

# Text fields can be long; the csv module's default 128 KiB field cap is not ours to
# impose on an API's data. Set when a read starts (the limit is the csv module's, global).
FIELD_SIZE_LIMIT = min(sys.maxsize, 2**31 - 1)

# A row's fields (renamed, "" as None) -> the fields to validate; ValueError(reason) skips
# the row with that reason.
RowHook = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that could not be read; counted, logged, not fatal. `key` is a digest of
    its raw content, so the stream can count it once however often it is read again."""

    reason: str
    key: str = ""


def skipped(reason: str, raw: str) -> Skipped:
    """A record that could not be read, keyed by a digest of `raw` (its content)."""
    return _skipped(reason, raw)


def _skipped(reason: str, raw: str) -> Skipped:
    digest = hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=16)
    return Skipped(reason.encode("utf-8", "replace").decode("utf-8"),
                   "\x1dunreadable:" + digest.hexdigest())


def snake_to_camel(name: str) -> str:
    head, *rest = name.strip().split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _same_row(row: dict[str, Any]) -> dict[str, Any]:
    return row


def validate_items(model: type[M], items: Iterable[Any]) -> Iterator[M | Skipped]:
    """JSON list items, one by one: a bad item is Skipped, not the page."""
    for i, item in enumerate(items):
        try:
            yield model.model_validate(item)
        except ValidationError as e:
            yield _skipped(f"item {i}: {_first_error(e)}", _raw(item))
        except Exception as e:  # one item never fails its page
            yield _skipped(f"item {i}: {type(e).__name__}: {str(e)[:200]}", _raw(item))


def _raw(item: Any) -> str:
    """What a JSON item's digest is taken of: its canonical JSON (ASCII: surrogates
    escaped), or its repr when even that fails."""
    try:
        return json.dumps(item, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):
        return repr(item)[:100_000]


def read_csv(text: Iterable[str], model: type[M], *, required: Iterable[str], endpoint: str,
             rename: Callable[[str], str] = lambda c: c,
             row_hook: RowHook = _same_row) -> Iterator[M | Skipped]:
    """Records of `model`, one per row, columns renamed by `rename` (an empty field is
    None, fields past the header are ignored); a row that `row_hook` or the model refuses
    is Skipped."""
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            return  # an empty body: no records in range
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        columns = [rename(h) for h in header]
        missing = sorted(set(required) - set(columns))
        if missing:
            shown = ",".join(header)[:120]
            raise SchemaError(f"CSV header lacks column(s) {', '.join(missing)}; "
                              f"got {shown!r}", endpoint=endpoint)
        width = len(columns)
        for row in reader:
            if not row:
                continue
            if len(row) < width:
                raise SchemaError(f"CSV row {reader.line_num} has {len(row)} of {width} "
                                  f"fields: the export was cut off", endpoint=endpoint)
            # Fields past the header (a newer export's extra column) are ignored.
            data: dict[str, Any] = {c: (v if v != "" else None)
                                    for c, v in zip(columns, row, strict=False)}
            try:
                data = row_hook(data)
            except SchemaError:
                raise
            except Exception as e:  # ValueError says why; anything else too
                why = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
                yield _skipped(f"CSV row {reader.line_num}: {why[:300]}", "\x1f".join(row))
                continue
            try:
                yield model.model_validate(data)
            except ValidationError as e:
                yield _skipped(f"CSV row {reader.line_num}: {_first_error(e)}",
                               "\x1f".join(row))
            except Exception as e:
                yield _skipped(f"CSV row {reader.line_num}: {type(e).__name__}: "
                               f"{str(e)[:200]}", "\x1f".join(row))
    except csv.Error as e:
        raise SchemaError(f"malformed CSV near line {reader.line_num}: {e}",
                          endpoint=endpoint) from None


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
