"""One page loop for every paginated vendor list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from exporter.errors import SchemaError

# Far beyond any real organisation; past it the vendor is looping, and we say so rather
# than silently stop counting.
MAX_PAGES = 100_000

# page number -> (items, total pages if the vendor says)
FetchPage = Callable[[int], tuple[list[Any], int | None]]


def paginate(fetch_page: FetchPage, *, page_size: int, endpoint: str,
             on_total: Callable[[int], None] = lambda n: None) -> Iterator[Any]:
    """Items of pages 1, 2, ... until the stated total, an empty page or a short page."""
    total: int | None = None
    page = 1
    while True:
        items, stated = fetch_page(page)
        if total is None and stated is not None:
            total = stated
            on_total(total)
        yield from items
        if not items or len(items) < page_size or (total is not None and page >= total):
            return
        if page >= MAX_PAGES:
            raise SchemaError(f"more than {MAX_PAGES} pages: the vendor never reached the "
                              f"end of the list", endpoint=endpoint)
        page += 1
