"""One page loop for every paginated vendor list.

A vendor that never reaches the end of a list is told apart from a long list as early as
possible, so a looping or lying API fails the read (a SchemaError naming the page) instead
of holding the endpoint for hours with aicode_up 1:

- a page whose items are the previous page's again (the page parameter is ignored);
- a stated total beyond what the caller says the window can hold (`max_pages`), or a
  non-empty page past the total the vendor itself stated;
- more pages than `max_pages` (at most MAX_PAGES whatever the caller says).

Aggregate callers pass their run's deadline to every request, so the loop also ends when
the rate budget of the run is spent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from aicode_exporter.errors import SchemaError

# Far beyond any real organisation; past it the vendor is looping, and we say so rather
# than silently stop counting.
MAX_PAGES = 100_000

# page number -> (items, total pages if the vendor says)
FetchPage = Callable[[int], tuple[list[Any], int | None]]


def fingerprint(items: list[Any]) -> bytes:
    """A cheap digest of a page's items (their repr: dicts and models alike)."""
    return hashlib.blake2b(repr(items).encode("utf-8", "replace"), digest_size=16).digest()


def paginate(fetch_page: FetchPage, *, page_size: int, endpoint: str,
             on_total: Callable[[int], None] = lambda n: None,
             max_pages: int | None = None) -> Iterator[Any]:
    """Items of pages 1, 2, ... until the stated total, an empty page or a short page.

    `max_pages`: the most pages the caller's window can hold (MAX_PAGES when not given,
    and never more)."""
    limit = MAX_PAGES if max_pages is None else max(1, min(max_pages, MAX_PAGES))
    total: int | None = None
    previous: bytes | None = None
    page = 1
    while True:
        items, stated = fetch_page(page)
        if stated is not None and items and page > max(stated, 1):
            raise SchemaError(f"page {page} has {len(items)} items but the vendor states "
                              f"{stated} pages in all: the list never ends",
                              endpoint=endpoint)
        if total is None and stated is not None:
            if stated > limit:
                raise SchemaError(f"the vendor states {stated} pages, more than the "
                                  f"{limit} this read can hold", endpoint=endpoint)
            total = stated
            on_total(total)
        if items:
            digest = fingerprint(items)
            if digest == previous:
                raise SchemaError(f"page {page} repeats the items of page {page - 1}: the "
                                  f"vendor ignores the page parameter", endpoint=endpoint)
            previous = digest
        yield from items
        if not items or len(items) < page_size or (total is not None and page >= total):
            return
        if page >= limit:
            raise SchemaError(f"more than {limit} pages: the vendor never reached the "
                              f"end of the list", endpoint=endpoint)
        page += 1



# (the token the previous page gave, None for the first page) -> (items, the next page's
# token; None or "" on the last page)
FetchTokenPage = Callable[[str | None], tuple[list[Any], str | None]]


def paginate_tokens(fetch_page: FetchTokenPage, *, endpoint: str) -> Iterator[Any]:
    """Items of each page of a list paged by next-page token (`maxResults` and
    `nextToken` style), until a page comes without a further token.

    A token the vendor already gave in this read means the list loops (a server that
    ignores the token hands out the first page's again): a SchemaError, as is more than
    MAX_PAGES pages. Two pages with the same items are not an error here: without a page
    number the items are all such a list has, and identical records do exist."""
    seen: set[str] = set()
    token: str | None = None
    for page in range(1, MAX_PAGES + 1):
        items, nxt = fetch_page(token)
        yield from items
        if not nxt:
            return
        if nxt in seen:
            raise SchemaError(f"page {page} hands out a next-page token an earlier page "
                              f"gave: the vendor ignores the token, the list never ends",
                              endpoint=endpoint)
        seen.add(nxt)
        token = nxt
    raise SchemaError(f"more than {MAX_PAGES} pages: the vendor never reached the end of "
                      f"the list", endpoint=endpoint)
