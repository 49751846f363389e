"""Tolerant response models shared by every vendor: unknown fields ignored, nulls read as
zero, empty or unknown, one envelope rule, and every vendor string made safe to render and
to store (see `clean_text`)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from aicode_exporter.errors import SchemaError


class Tolerant(BaseModel):
    """Vendor response models: unknown fields ignored, missing ones default."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# Code points that have no UTF-8 encoding: UTF-16 surrogates. Valid JSON can carry a lone
# one ("gpt\udc80"); in a label it would make every render of the exposition fail, in an
# id every SQLite write. They become U+FFFD, the replacement character.
_UNENCODABLE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(v: str) -> str:
    """`v` with every code point UTF-8 cannot encode (lone surrogates) replaced by U+FFFD;
    `v` itself when it has none (the common case costs one check)."""
    if v.isascii():
        return v
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return _UNENCODABLE.sub(REPLACEMENT, v)
    return v


def _clean(v: Any) -> Any:
    return clean_text(v) if isinstance(v, str) else v


# Field types of the tolerant models: a vendor's null (or a CSV's empty field) reads as
# zero, empty, empty list, or stays None where "unknown" is a value of its own. Every
# string type cleans its value first (before pydantic's own str check, which refuses lone
# surrogates in some field types and lets them through in others).
def _zero_if_null(v: Any) -> Any:
    return 0 if v is None else v


def _empty_if_null(v: Any) -> Any:
    return "" if v is None else _clean(v)


def _list_if_null(v: Any) -> Any:
    return [] if v is None else v


def _none_if_blank(v: Any) -> Any:
    return None if v in ("", None) else v


# Aggregate figures (gauges): a count must be a finite number >= 0, a rate a finite
# percentage in 0-100 (it is published /100 as a 0-1 ratio). Anything else fails the
# response with the field's name (parse_as -> SchemaError), so that window keeps its last
# good values and shows aicode_up 0. A null reads as 0, as it always has: the vendor's
# "nothing in this window".
PERCENT_SLACK = 1e-6  # 100.0000001 is rounding, not a broken answer: clamped to 100


def _count(v: Any) -> Any:
    if v is None:
        return 0
    f = _as_float(v)
    if f is None:
        return v  # not a number at all: pydantic says so
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"a count must be a finite number >= 0, got {v!r}")
    return f


def _percent(v: Any) -> Any:
    if v is None:
        return 0
    f = _as_float(v)
    if f is None:
        return v
    if not math.isfinite(f) or not -PERCENT_SLACK <= f <= 100 + PERCENT_SLACK:
        raise ValueError(f"a rate must be a finite percentage in 0-100, got {v!r}")
    return min(100.0, max(0.0, f))


def _as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


T = TypeVar("T")
# Record fields (line counts): any float, NaN and infinities included; the pipeline
# judges each record whole (pipeline/records.py) and remembers a bad one's id.
Num = Annotated[float, BeforeValidator(_zero_if_null)]
Count = Annotated[float, BeforeValidator(_count)]
Percent = Annotated[float, BeforeValidator(_percent)]
Str = Annotated[str, BeforeValidator(_empty_if_null)]
def _id(v: Any) -> Any:
    """An identifier sent as a JSON number (749356201, or 749356201.0) is the string of
    its digits, so `749356201` and `"749356201"` are one record; any other number
    (1.5, NaN, a boolean) is not an id and fails the record."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return _clean(v)


# A required, non-empty identifier (changeId, commitHash), cleaned like every string; a
# whole number is taken as the string of its digits.
Id = Annotated[str, BeforeValidator(_id), Field(min_length=1)]
ListOf = Annotated[list[T], BeforeValidator(_list_if_null)]
OptNum = Annotated[float | None, BeforeValidator(_none_if_blank)]
OptBool = Annotated[bool | None, BeforeValidator(_none_if_blank)]
OptTime = Annotated[datetime | None, BeforeValidator(_none_if_blank)]


def epoch(t: datetime | None) -> float | None:
    return t.timestamp() if t is not None else None


M = TypeVar("M", bound="Tolerant")


def parse_as(model: type[M], data: Any, endpoint: str) -> M:
    """Validate a decoded body; accept the `{"success": true, "data": {...}}` envelope some
    sections of the API use even where the document shows the bare object."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "success" in data:
        data = data["data"]
    if not isinstance(data, dict):
        raise SchemaError(f"expected a JSON object, got {type(data).__name__}",
                          endpoint=endpoint)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "value_error":  # our own checks (_count, _percent)
            msg = str(first["msg"]).removeprefix("Value error, ")
            raise SchemaError(f"invalid value at {where}: {msg}", endpoint=endpoint) from None
        raise SchemaError(f"unexpected response shape at {where}: {first['msg']}",
                          endpoint=endpoint) from None
