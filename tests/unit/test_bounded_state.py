"""The state a long-running server keeps is bounded: used confirmation tokens and idempotency keys."""

from __future__ import annotations

import pytest

from mage_mcp.server.confirmation import MAX_USED_TOKENS, ConfirmationTokens, TokenError
from mage_mcp.server.idempotency import IdempotencyKeys


def test_used_tokens_are_bounded_and_a_flood_is_refused_never_forgotten_early() -> None:
    now = [1_000.0]
    tokens = ConfirmationTokens(300, clock=lambda: now[0])
    for n in range(MAX_USED_TOKENS):
        token, _ = tokens.issue("create_secret", {"n": n})
        tokens.redeem(token, "create_secret", {"n": n})
    first, _ = tokens.issue("create_secret", {"n": 0})
    one_more, _ = tokens.issue("create_secret", {"n": "one more"})
    with pytest.raises(TokenError, match="More than 10,000 changes were confirmed"):
        tokens.redeem(one_more, "create_secret", {"n": "one more"})
    assert len(tokens._used) == MAX_USED_TOKENS

    now[0] += 301  # the used ones expire, and with them what is remembered
    later, _ = tokens.issue("create_secret", {"n": "later"})
    tokens.redeem(later, "create_secret", {"n": "later"})
    assert len(tokens._used) == 1
    with pytest.raises(TokenError, match="expired"):
        tokens.redeem(first, "create_secret", {"n": 0})


def test_idempotency_keys_are_bounded_by_their_capacity() -> None:
    keys = IdempotencyKeys(capacity=100)
    for n in range(1_000):
        keys.remember("trigger_pipeline", f"key-{n}", {"pipeline_uuid": "p"}, {"run_id": n})
    assert keys.recall("trigger_pipeline", "key-999", {"pipeline_uuid": "p"}) == {"run_id": 999}
    assert keys.recall("trigger_pipeline", "key-0", {"pipeline_uuid": "p"}) is None
    assert len(keys._entries) == 100
