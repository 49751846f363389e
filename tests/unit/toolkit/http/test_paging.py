"""The shared page loop reads every page of a long list and never truncates silently."""

from __future__ import annotations

from typing import Any

import pytest

from aicode_exporter.errors import SchemaError
from aicode_exporter.toolkit.http import paging


def pages_of(n_items: int, size: int, stated: bool = True) -> Any:
    calls: list[int] = []

    def fetch(page: int) -> tuple[list[Any], int | None]:
        calls.append(page)
        items = list(range((page - 1) * size, min(n_items, page * size)))
        return items, (-(-n_items // size) if stated else None)

    return fetch, calls


def test_reads_past_a_thousand_pages() -> None:
    fetch, calls = pages_of(2500, 1)
    assert list(paging.paginate(fetch, page_size=1, endpoint="x")) == list(range(2500))
    assert len(calls) == 2500


def test_stops_on_short_page_without_a_stated_total() -> None:
    fetch, calls = pages_of(250, 100, stated=False)
    assert len(list(paging.paginate(fetch, page_size=100, endpoint="x"))) == 250
    assert calls == [1, 2, 3]


def test_a_list_that_never_ends_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)
    with pytest.raises(SchemaError, match="more than 50 pages"):
        list(paging.paginate(lambda page: ([page], None), page_size=1, endpoint="x"))


def test_token_pages_until_a_page_without_a_token() -> None:
    asked: list[str | None] = []

    def fetch(token: str | None) -> tuple[list[Any], str | None]:
        asked.append(token)
        n = int(token or 0)
        return [n], (str(n + 1) if n < 4 else "")

    assert list(paging.paginate_tokens(fetch, endpoint="x")) == [0, 1, 2, 3, 4]
    assert asked == [None, "1", "2", "3", "4"]


def test_token_pages_may_repeat_items_but_not_tokens() -> None:
    pages = iter([(["same"], "a"), (["same"], "b"), (["same"], None)])
    assert list(paging.paginate_tokens(lambda t: next(pages), endpoint="x")) == ["same"] * 3
    loop = iter([([1], "a"), ([2], "b"), ([3], "a")])
    with pytest.raises(SchemaError, match="page 3 hands out a next-page token"):
        list(paging.paginate_tokens(lambda t: next(loop), endpoint="x"))


def test_a_token_list_that_never_ends_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 30)
    counter = iter(range(1000))
    with pytest.raises(SchemaError, match="more than 30 pages"):
        list(paging.paginate_tokens(lambda t: ([1], str(next(counter))), endpoint="x"))
