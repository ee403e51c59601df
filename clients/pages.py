"""Walking a paged Mage list to its end, for lookups that must see every item."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from .models import Page

T = TypeVar("T")

PAGE_SIZE = 100


async def every_item(fetch: Callable[[int, int], Awaitable[Page[T]]], page_size: int = PAGE_SIZE) -> AsyncIterator[T]:
    """Every item of the list `fetch(limit, offset)` pages through, until Mage says no page follows."""
    offset = 0
    while True:
        page = await fetch(page_size, offset)
        for item in page.items:
            yield item
        if not page.has_more or not page.items:
            return
        offset += len(page.items)
