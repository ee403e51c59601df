"""The Redis-backed shared state against a real Redis: what one replica records, another sees."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from mage_mcp.server.state import RedisState
from tests.support.services import redis_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def two(redis_url: str) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """Two replicas' views of one Redis."""
    a, b = RedisState(redis_url), RedisState(redis_url)
    yield a, b
    await a.aclose()
    await b.aclose()


def unique(what: str) -> str:
    return f"{what}:{secrets.token_hex(6)}"


async def test_a_claim_succeeds_once_across_replicas(two: tuple[RedisState, RedisState]) -> None:
    a, b = two
    key, until = unique("token"), time.time() + 60
    assert await a.claim(key, until) is True
    assert await b.claim(key, until) is False
    assert await a.claim(key, until) is False


async def test_concurrent_claims_of_one_key_let_exactly_one_through(two: tuple[RedisState, RedisState]) -> None:
    key, until, won = unique("token"), time.time() + 60, []

    async def claim(state: RedisState) -> None:
        won.append(await state.claim(key, until))

    async with anyio.create_task_group() as tg:
        for state in two * 10:
            tg.start_soon(claim, state)
    assert sorted(won) == [False] * 19 + [True]


async def test_a_remembered_value_is_seen_by_the_other_replica_until_it_expires(
    two: tuple[RedisState, RedisState],
) -> None:
    a, b = two
    key = unique("idempotency")
    await a.remember(key, '{"run_id": 7}', ttl_s=0.5)
    assert await b.recall(key) == '{"run_id": 7}'
    await anyio.sleep(0.8)
    assert await b.recall(key) is None


async def test_a_lock_held_by_one_replica_makes_the_other_wait(two: tuple[RedisState, RedisState]) -> None:
    a, b = two
    name, events = unique("cloud"), []

    async def hold(state: RedisState, who: str, delay: float) -> None:
        await anyio.sleep(delay)
        async with state.lock(name):
            events.append(f"{who} in")
            await anyio.sleep(0.3)
            events.append(f"{who} out")

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold, a, "a", 0)
        tg.start_soon(hold, b, "b", 0.05)
    assert events == ["a in", "a out", "b in", "b out"]
