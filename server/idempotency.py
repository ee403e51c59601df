"""Idempotency keys: the same key and arguments again return the first call's result.

Kept in the server process for `ttl_s` (24 h by default), at most `capacity` keys (the oldest
go first), and only as a digest of the arguments, since run variables can hold secrets.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError

DAY_S = 86_400


@dataclass(frozen=True)
class Remembered:
    digest: str
    result: dict[str, Any]
    expires: float


class IdempotencyKeys:
    def __init__(self, ttl_s: int = DAY_S, capacity: int = 10_000, *, clock: Callable[[], float] = time.time) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}

    def recall(self, scope: str, key: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first result for this key, or None; the key with other arguments is an error."""
        entry = self._entries.get(f"{scope}\0{key}")
        if entry is None or entry.expires <= self._clock():
            return None
        if entry.digest != _digest(arguments):
            raise ToolError(
                f"idempotency_key {key!r} was already used with other arguments. Nothing was sent: use a new key "
                "for a different call, or repeat the first call's arguments to get its result."
            )
        return entry.result

    def remember(self, scope: str, key: str, arguments: Mapping[str, Any], result: dict[str, Any]) -> None:
        now = self._clock()
        self._entries[f"{scope}\0{key}"] = Remembered(_digest(arguments), result, now + self._ttl_s)
        self._entries.move_to_end(f"{scope}\0{key}")
        while len(self._entries) > self._capacity or (self._entries and _oldest(self._entries).expires <= now):
            self._entries.popitem(last=False)

    def lock(self, scope: str, key: str) -> anyio.Lock:
        """Serialises the calls with one key, so two concurrent first calls still start one thing."""
        if len(self._locks) > self._capacity:
            self._locks = {k: lock for k, lock in self._locks.items() if lock.locked()}
        return self._locks.setdefault(f"{scope}\0{key}", anyio.Lock())

    def __len__(self) -> int:
        return len(self._entries)


def _oldest(entries: OrderedDict[str, Remembered]) -> Remembered:
    return next(iter(entries.values()))


def _digest(arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
