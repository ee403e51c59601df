"""The state a long-running server keeps is bounded: used confirmation tokens and idempotency keys."""

from __future__ import annotations

import pytest

from mage_mcp.server.confirmation import ConfirmationTokens, TokenError
from mage_mcp.server.idempotency import IdempotencyKeys
from mage_mcp.server.state import MAX_ENTRIES, ProcessState

pytestmark = pytest.mark.anyio


async def test_used_tokens_are_bounded_and_a_flood_is_refused_never_forgotten_early() -> None:
    now = [1_000.0]
    state = ProcessState(clock=lambda: now[0])
    tokens = ConfirmationTokens(300, state, clock=lambda: now[0])
    for n in range(MAX_ENTRIES):
        token, _ = tokens.issue("create_secret", {"n": n})
        await tokens.redeem(token, "create_secret", {"n": n})
    first, _ = tokens.issue("create_secret", {"n": 0})
    one_more, _ = tokens.issue("create_secret", {"n": "one more"})
    with pytest.raises(TokenError, match="More than 10,000 changes were confirmed"):
        await tokens.redeem(one_more, "create_secret", {"n": "one more"})
    assert len(state) == MAX_ENTRIES

    now[0] += 301  # the used ones expire, and with them what is remembered
    later, _ = tokens.issue("create_secret", {"n": "later"})
    await tokens.redeem(later, "create_secret", {"n": "later"})
    assert len(state) == 1
    with pytest.raises(TokenError, match="expired"):
        await tokens.redeem(first, "create_secret", {"n": 0})


async def test_a_used_token_stays_refused_until_it_expires_even_at_the_cap() -> None:
    now = [1_000.0]
    state = ProcessState(capacity=3, clock=lambda: now[0])
    tokens = ConfirmationTokens(300, state, clock=lambda: now[0])
    used, _ = tokens.issue("create_secret", {"n": 0})
    await tokens.redeem(used, "create_secret", {"n": 0})
    for n in range(1, 3):
        token, _ = tokens.issue("create_secret", {"n": n})
        await tokens.redeem(token, "create_secret", {"n": n})
    with pytest.raises(TokenError, match="already used"):
        await tokens.redeem(used, "create_secret", {"n": 0})


async def test_idempotency_keys_are_bounded_by_the_state_capacity() -> None:
    state = ProcessState(capacity=100)
    keys = IdempotencyKeys(state, "default")
    for n in range(1_000):
        await keys.remember("trigger_pipeline", f"key-{n}", {"pipeline_uuid": "p"}, {"run_id": n})
    assert await keys.recall("trigger_pipeline", "key-999", {"pipeline_uuid": "p"}) == {"run_id": 999}
    assert await keys.recall("trigger_pipeline", "key-0", {"pipeline_uuid": "p"}) is None
    assert len(state) == 100


async def test_idempotency_keys_of_two_profiles_sharing_a_state_stay_apart() -> None:
    state = ProcessState()
    dev, prod = IdempotencyKeys(state, "dev"), IdempotencyKeys(state, "prod")
    await dev.remember("trigger_pipeline", "k", {"pipeline_uuid": "p"}, {"run_id": 1})
    assert await prod.recall("trigger_pipeline", "k", {"pipeline_uuid": "p"}) is None
    assert await dev.recall("trigger_pipeline", "k", {"pipeline_uuid": "p"}) == {"run_id": 1}
