"""The HTTP exchanges a piece of work made, for whoever needs to say what reached Mage (the audit log).

No httpx here: the server imports this at start-up, before any client exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    method: str
    status: int | None
    """None when no answer came."""

    @property
    def writes(self) -> bool:
        return self.method.upper() not in ("GET", "HEAD", "OPTIONS")


_recording: ContextVar[list[Exchange] | None] = ContextVar("mage_exchanges", default=None)


@contextmanager
def recorded_exchanges() -> Iterator[list[Exchange]]:
    """Collects every exchange the clients complete within the block, in this task and its children."""
    exchanges: list[Exchange] = []
    token = _recording.set(exchanges)
    try:
        yield exchanges
    finally:
        _recording.reset(token)


def note_exchange(method: str, status: int | None) -> None:
    """Called by the clients after each response; a no-op unless someone is recording."""
    exchanges = _recording.get()
    if exchanges is not None:
        exchanges.append(Exchange(method, status))
