"""JSON answers parsed within a memory bound and a nesting bound.

Parsing JSON costs far more than its bytes: `{}` is 2 bytes of text and about 80 bytes
of Python, `{"a":1.5}` about 250, so a 60 MB page of tiny records (a vendor ignoring the
page size) would take several hundred MB to parse. `JsonCost` estimates, from the body's
bytes as they arrive, what parsing them will take (the body and its text copy, plus a
fixed cost per object, array, member, value and string, measured on CPython 3.11 and set
above what it takes, about 1.1x for the costliest shapes and 2-3x for ordinary records),
so a reader can refuse a body before it is buffered, let alone parsed. Counting is
`bytes.count`, a few milliseconds per MiB.

Nesting: `loads` refuses a document nested deeper than `max_depth` (a vendor's records
need fewer than ten levels) with the same error whether CPython's own recursion limit
stopped the parse or the walk over what it built did, so nothing downstream (models,
repr, json.dumps) ever meets a structure deep enough to exhaust the stack.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
# Bytes of Python per token, with the body counted twice (its bytes, and the text the
# json module decodes it to first).
_PER_OBJECT = 200  # an empty dict grown to its first member, and its slot in the parent
_PER_ITEM = 48  # "[" and ",": a value's slot, and an array or a float/int behind it
_PER_MEMBER = 56  # ":": a dict entry (amortised table growth)
_PER_QUOTE = 24  # a string (two quotes) is about 48 bytes besides its characters
_CONTAINERS = (dict, list)


class JsonTooCostly(ValueError):
    """A JSON document too large or too deeply nested to parse within the bounds."""


class JsonCost:
    """The running estimate of what parsing the bytes seen so far will cost, in bytes."""

    __slots__ = ("estimate", "size")

    def __init__(self) -> None:
        self.size = 0
        self.estimate = 0

    def add(self, chunk: bytes) -> int:
        """Count `chunk`; returns the estimate's growth."""
        n = (2 * len(chunk) + _PER_OBJECT * chunk.count(b"{")
             + _PER_ITEM * (chunk.count(b"[") + chunk.count(b","))
             + _PER_MEMBER * chunk.count(b":") + _PER_QUOTE * chunk.count(b'"'))
        self.size += len(chunk)
        self.estimate += n
        return n

    @classmethod
    def of(cls, body: bytes) -> JsonCost:
        cost = cls()
        cost.add(body)
        return cost

    @property
    def objects(self) -> int:
        """The part of the estimate that outlives the parse (the objects, not the body
        and its text)."""
        return max(0, self.estimate - 2 * self.size)


def depth(root: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply `root` nests dicts and lists (a scalar is 0), counted no further than
    one past `limit`; iterative, level by level."""
    level = [root] if type(root) in _CONTAINERS else []
    d = 0
    while level and d <= limit:
        d += 1
        nxt: list[Any] = []
        for v in level:
            items = v.values() if type(v) is dict else v
            nxt += [x for x in items if type(x) in _CONTAINERS]
        level = nxt
    return d


def loads(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, refusing (JsonTooCostly) a document nested deeper than `max_depth`;
    ValueError and UnicodeDecodeError pass through as json raises them."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise JsonTooCostly(f"nested deeper than {max_depth} levels") from None
    if depth(data, max_depth) > max_depth:
        raise JsonTooCostly(f"nested deeper than {max_depth} levels")
    return data
