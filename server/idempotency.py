"""Idempotency keys: the same key and arguments again return the first call's result.

Kept in the shared state (`server/state.py`: this process, or Redis for several replicas) for
`ttl_s` (24 h by default), and only as a digest of the arguments, since run variables can hold
secrets. A process alone keeps at most `state.MAX_ENTRIES` keys (the oldest go first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from .state import SharedState

DAY_S = 86_400


class IdempotencyKeys:
    """One profile's keys (`scope` keeps profiles that share a state apart)."""

    def __init__(self, state: SharedState, scope: str, ttl_s: int = DAY_S) -> None:
        self._state = state
        self._scope = scope
        self._ttl_s = ttl_s

    async def recall(self, tool: str, key: str, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first result for this key, or None; the key with other arguments is an error."""
        stored = await self._state.recall(self._key(tool, key))
        if stored is None:
            return None
        entry = json.loads(stored)
        if entry["digest"] != _digest(arguments):
            raise ToolError(
                f"idempotency_key {key!r} was already used with other arguments. Nothing was sent: use a new key "
                "for a different call, or repeat the first call's arguments to get its result."
            )
        result: dict[str, Any] = entry["result"]
        return result

    async def remember(self, tool: str, key: str, arguments: Mapping[str, Any], result: dict[str, Any]) -> None:
        entry = json.dumps({"digest": _digest(arguments), "result": result}, default=str)
        await self._state.remember(self._key(tool, key), entry, self._ttl_s)

    def lock(self, tool: str, key: str) -> AbstractAsyncContextManager[None]:
        """Serialises the calls with one key, so two concurrent first calls still start one thing."""
        return self._state.lock(self._key(tool, key))

    def _key(self, tool: str, key: str) -> str:
        return f"idempotency:{self._scope}:{tool}:{hashlib.sha256(key.encode()).hexdigest()}"


def _digest(arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
