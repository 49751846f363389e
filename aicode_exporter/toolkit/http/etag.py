"""Conditional GETs: the last validated body per GET URL, revalidated with
If-None-Match. A bounded LRU of raw bytes, in entries and in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

CACHE_ENTRIES = 256  # URLs kept per client (LRU)
CACHE_BODY_LIMIT = 8 << 20  # bodies larger than this are not kept
CACHE_TOTAL_LIMIT = 16 << 20  # all kept bodies of one client together (docs/deployment.md)


class CachedBody(NamedTuple):
    etag: str
    body: bytes  # as received, after content decoding
    content_type: str


class EtagCache:
    """The last validated body per GET URL: LRU, bounded in entries and bytes."""

    def __init__(self, entries: int = CACHE_ENTRIES, body_limit: int = CACHE_BODY_LIMIT,
                 total_limit: int = CACHE_TOTAL_LIMIT) -> None:
        self.entries = entries
        self.body_limit = body_limit
        self.total_limit = total_limit
        self._items: OrderedDict[str, CachedBody] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        return self._bytes

    def get(self, url: str) -> CachedBody | None:
        with self._lock:
            found = self._items.get(url)
            if found is not None:
                self._items.move_to_end(url)
            return found

    def put(self, url: str, etag: str, body: bytes, content_type: str) -> bool:
        """Keep body for url (replacing what was there); False, and forget url, when the
        body is over the limit."""
        with self._lock:
            self._drop(url)
            if len(body) > self.body_limit or len(body) > self.total_limit or self.entries < 1:
                return False
            self._items[url] = CachedBody(etag, body, content_type)
            self._bytes += len(body)
            while len(self._items) > self.entries or self._bytes > self.total_limit:
                self._drop(next(iter(self._items)))
            return True

    def discard(self, url: str) -> None:
        with self._lock:
            self._drop(url)

    def _drop(self, url: str) -> None:
        old = self._items.pop(url, None)
        if old is not None:
            self._bytes -= len(old.body)
