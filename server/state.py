"""State that the replicas of one mage-mcp share: used confirmation tokens, idempotency keys, write locks.

One process keeps it in memory (`ProcessState`, the default). Several replicas behind a load
balancer share it through Redis (`RedisState`, chosen by `MAGE_MCP_STATE_URL=redis://…`): a token
works once across all of them, a repeated idempotency key finds the first call's result whichever
replica served it, and two writes to one Mage Pro cluster wait for each other even when they reach
different replicas. Nothing falls back to memory when Redis is away: a change that cannot be checked
against the shared state is refused before anything is sent.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import anyio
from mcp.server.mcpserver.exceptions import ToolError

if TYPE_CHECKING:
    from redis.asyncio import Redis

MAX_ENTRIES = 10_000
"""Claims and remembered values one process keeps at once (Redis bounds them by their expiry alone)."""
LOCK_LEASE_S = 120.0
"""A shared lock frees itself after this long, so a replica that dies holding it blocks nobody for ever."""
LOCK_WAIT_S = 60.0
"""How long a change waits for a lock another call holds before it is refused."""


class StateConfigError(ValueError):
    """`MAGE_MCP_STATE_URL` cannot be used: start-up stops with this message."""


class StateUnavailableError(ToolError):
    """The shared state could not be read or written: the change was refused and nothing was sent."""


class StateFullError(ToolError):
    """The process's bounded store is full of entries that have not expired yet."""


class LockBusyError(ToolError):
    """Another call held the lock for longer than `LOCK_WAIT_S`."""


class SharedState(Protocol):
    """What the server keeps beyond one call; every key is namespaced by its caller."""

    async def claim(self, key: str, until: float) -> bool:
        """Mark `key` used until the epoch time `until`; False when it already was."""
        ...

    async def recall(self, key: str) -> str | None: ...

    async def remember(self, key: str, value: str, ttl_s: float) -> None: ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one call at a time, across every process sharing this state."""
        ...

    async def aclose(self) -> None: ...


class ProcessState:
    """The state of a single process, bounded at `capacity` claims and `capacity` values."""

    def __init__(self, capacity: int = MAX_ENTRIES, *, clock: Callable[[], float] = time.time) -> None:
        self._capacity = capacity
        self._clock = clock
        self._claims: dict[str, float] = {}
        self._next_expiry = math.inf
        self._values: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}

    async def claim(self, key: str, until: float) -> bool:
        now = self._clock()
        if (held := self._claims.get(key)) is not None and held > now:
            return False
        if len(self._claims) >= self._capacity and not self._forgot_expired_claims(now):
            # every claim is kept until it expires: refuse, never forget one early
            raise StateFullError(f"more than {self._capacity:,} confirmations are still remembered")
        self._claims[key] = until
        self._next_expiry = min(self._next_expiry, until)
        return True

    def _forgot_expired_claims(self, now: float) -> bool:
        if now < self._next_expiry:  # none has expired: spare the scan
            return False
        self._claims = {k: expiry for k, expiry in self._claims.items() if expiry > now}
        self._next_expiry = min(self._claims.values(), default=math.inf)
        return len(self._claims) < self._capacity

    async def recall(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    async def remember(self, key: str, value: str, ttl_s: float) -> None:
        now = self._clock()
        self._values[key] = (value, now + ttl_s)
        self._values.move_to_end(key)
        while self._values and (len(self._values) > self._capacity or next(iter(self._values.values()))[1] <= now):
            self._values.popitem(last=False)  # the oldest first: every value has the same lifetime

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        if len(self._locks) > self._capacity:
            self._locks = {k: lock for k, lock in self._locks.items() if lock.locked()}
        return _waiting_at_most(self._locks.setdefault(name, anyio.Lock()), name)

    async def aclose(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._claims) + len(self._values)


@asynccontextmanager
async def _waiting_at_most(lock: anyio.Lock, name: str) -> AsyncIterator[None]:
    with anyio.move_on_after(LOCK_WAIT_S) as waited:
        await lock.acquire()
    if waited.cancelled_caught:
        raise LockBusyError(_busy(name))
    try:
        yield
    finally:
        lock.release()


class RedisState:
    """The state in Redis, shared by every replica given the same URL; connects on first use."""

    PREFIX = "mage-mcp:"

    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: Redis | None = None

    @property
    def where(self) -> str:
        """The URL without credentials, for messages."""
        parts = urlsplit(self._url)
        host = parts.hostname or "localhost"
        return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"

    async def claim(self, key: str, until: float) -> bool:
        async with self._answering():
            created = await self._client().set(self.PREFIX + key, "1", nx=True, exat=int(until) + 1)
        return bool(created)

    async def recall(self, key: str) -> str | None:
        async with self._answering():
            value = await self._client().get(self.PREFIX + key)
        return value.decode() if isinstance(value, bytes) else value

    async def remember(self, key: str, value: str, ttl_s: float) -> None:
        async with self._answering():
            await self._client().set(self.PREFIX + key, value, px=max(1, int(ttl_s * 1000)))

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        from redis.exceptions import RedisError

        held = self._client().lock(self.PREFIX + "lock:" + name, timeout=LOCK_LEASE_S, blocking_timeout=LOCK_WAIT_S)
        async with self._answering():
            acquired = await held.acquire()
        if not acquired:
            raise LockBusyError(_busy(name))
        try:
            yield
        finally:
            # The lease ran out (the lock may be another call's now), or Redis went away: the lease frees it.
            with suppress(RedisError):
                await held.release()

    async def aclose(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()

    def _client(self) -> Redis:
        if self._redis is None:
            from redis.asyncio import Redis  # loaded only when a state URL is set, and on first use

            self._redis = Redis.from_url(self._url, socket_timeout=5, socket_connect_timeout=5)
        return self._redis

    @asynccontextmanager
    async def _answering(self) -> AsyncIterator[None]:
        from redis.exceptions import RedisError

        try:
            yield
        except RedisError as exc:
            raise StateUnavailableError(
                f"The shared state (Redis at {self.where}, MAGE_MCP_STATE_URL) did not answer "
                f"({type(exc).__name__}); nothing was changed. Check that Redis runs and is reachable, "
                "then repeat the call."
            ) from None


def _busy(name: str) -> str:
    return (
        f"Another change ({name}) held its lock for over {LOCK_WAIT_S:.0f} s; nothing was changed. "
        "Repeat the call once it is done."
    )


def shared_state(url: str | None) -> SharedState:
    """Redis when `url` is given (`redis://`, `rediss://` or `unix://`), else this process's memory."""
    if url is None:
        return ProcessState()
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise StateConfigError("MAGE_MCP_STATE_URL must be a redis://, rediss:// or unix:// URL.")
    if importlib.util.find_spec("redis") is None:
        raise StateConfigError("MAGE_MCP_STATE_URL needs the Redis client: pip install 'mage-mcp[redis]'.")
    from redis.connection import parse_url

    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError:  # its message may quote the URL, credentials included
        raise StateConfigError("MAGE_MCP_STATE_URL is not a valid Redis URL (host, port, database).") from None
    return RedisState(url)
