"""Opaque list cursors and the size budget every result keeps, whatever Mage holds."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from mcp.server.mcpserver.exceptions import ToolError

T = TypeVar("T")

RESULT_BUDGET_BYTES = 90_000
"""What a tool fills at most with Mage's data, leaving room for its own fields under 100 KB."""
CELL_CHARS = 2_000


def cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def next_cursor(offset: int, shown: int, more: bool) -> str | None:
    """The cursor of the page after one that started at `offset` and showed `shown` items, when `more` follow."""
    return cursor(offset + shown) if more else None


def offset_from(value: str | None, tool: str) -> int:
    """The offset a cursor stands for; a cursor that no list gave is a clear error."""
    if value is None:
        return 0
    invalid = f"Invalid cursor: pass the next_cursor value of a previous {tool} result."
    try:
        offset = json.loads(base64.urlsafe_b64decode(value.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ToolError(invalid) from None
    if not isinstance(offset, int) or offset < 0:
        raise ToolError(invalid)
    return offset


def cut(text: str, limit: int = CELL_CHARS) -> str:
    """`text` at most `limit` characters, marked when cut."""
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more chars]"


def newest_that_fit(items: Sequence[T], size: Callable[[T], int], budget: int = RESULT_BUDGET_BYTES) -> list[T]:
    """The longest tail of `items` whose sizes add up to at most `budget` (order kept)."""
    kept: list[T] = []
    used = 0
    for item in reversed(items):
        used += size(item)
        if used > budget:
            break
        kept.append(item)
    return kept[::-1]
