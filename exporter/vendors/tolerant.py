"""Tolerant response models shared by every vendor: unknown fields ignored, nulls read as
zero, empty or unknown, one envelope rule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from exporter.errors import SchemaError


class Tolerant(BaseModel):
    """Vendor response models: unknown fields ignored, missing ones default."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# Field types of the tolerant models: a vendor's null (or a CSV's empty field) reads as
# zero, empty, empty list, or stays None where "unknown" is a value of its own.
def _zero_if_null(v: Any) -> Any:
    return 0 if v is None else v


def _empty_if_null(v: Any) -> Any:
    return "" if v is None else v


def _list_if_null(v: Any) -> Any:
    return [] if v is None else v


def _none_if_blank(v: Any) -> Any:
    return None if v in ("", None) else v


T = TypeVar("T")
Num = Annotated[float, BeforeValidator(_zero_if_null)]
Str = Annotated[str, BeforeValidator(_empty_if_null)]
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
        raise SchemaError(f"unexpected response shape at {where}: {first['msg']}",
                          endpoint=endpoint) from None
