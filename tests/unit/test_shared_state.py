"""A change that cannot be checked against the shared state is refused before anything is sent."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import ValidationError

from mage_mcp.server.config import Settings
from mage_mcp.server.state import ProcessState, RedisState, StateConfigError, shared_state
from tests.fakes import FakeCloud, FakeMage
from tests.support.mcp_results import ok, text_of
from tests.support.ports import free_port

from .conftest import ServerFactory

pytestmark = pytest.mark.anyio


def last_audited() -> dict[str, Any]:
    record: dict[str, Any] = json.loads(Path(os.environ["MAGE_MCP_AUDIT_LOG"]).read_text().splitlines()[-1])
    return record


def dead_redis() -> str:
    return f"redis://:hunter2-state@127.0.0.1:{free_port()}/0"


async def test_a_token_is_refused_with_nothing_sent_when_the_shared_state_does_not_answer(
    make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    server = make_server(mage_mcp_state_url=dead_redis(), mage_mcp_confirm_secret="s" * 32)
    async with Client(server) as c:
        halted = ok(await c.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline"}))
        mage.recorder.clear()
        arguments = {"pipeline_uuid": "example_pipeline", "confirmation_token": halted["confirmation_token"]}
        refused = await c.call_tool("trigger_pipeline", arguments)
    assert refused.is_error
    message = text_of(refused)
    assert "The shared state (Redis at redis://127.0.0.1:" in message and "nothing was changed" in message
    assert "hunter2-state" not in message
    assert mage.recorder.mutations() == []
    last = last_audited()
    assert (last["tool"], last["outcome"]) == ("trigger_pipeline", "refused")


async def test_a_cluster_write_that_cannot_take_the_shared_lock_is_refused_with_nothing_sent(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    server = make_server(
        mage_mcp_state_url=dead_redis(), mage_mcp_confirm_secret="s" * 32, mage_mcp_confirm_fallback="allow"
    )
    async with Client(server) as c:
        refused = await c.call_tool("set_env_vars", {"env_vars": {"A_NAME": "v"}})
    assert refused.is_error and "The shared state (Redis at" in text_of(refused)
    assert [r.method for r in cloud.recorder.mutations() if r.path != "/api/v1/sessions"] == []


def test_the_state_is_this_process_unless_a_redis_url_is_given() -> None:
    assert isinstance(shared_state(None), ProcessState)
    assert isinstance(shared_state("redis://127.0.0.1:6379/0"), RedisState)
    with pytest.raises(StateConfigError, match="redis://, rediss:// or unix://"):
        shared_state("memcached://127.0.0.1:11211")
    with pytest.raises(StateConfigError, match="not a valid Redis URL") as bad:
        shared_state("redis://:hunter2-state@127.0.0.1:port/0")
    assert "hunter2-state" not in str(bad.value)


def test_the_redis_address_in_messages_carries_no_credentials() -> None:
    assert RedisState("redis://user:pw@10.0.0.5:6380/2").where == "redis://10.0.0.5:6380/2"


def test_half_a_replica_setup_is_warned_about_and_a_whole_one_is_not() -> None:
    secret, url = "s" * 32, "redis://127.0.0.1:6379/0"
    only_secret = Settings(_env_file=None, mage_mcp_confirm_secret=secret).replica_warning()
    only_url = Settings(_env_file=None, mage_mcp_state_url=url).replica_warning()
    assert only_secret is not None and "a token works once per replica" in only_secret
    assert only_url is not None and "works only on the replica that issued it" in only_url
    assert Settings(_env_file=None, mage_mcp_state_url=url, mage_mcp_confirm_secret=secret).replica_warning() is None
    assert Settings(_env_file=None).replica_warning() is None


def test_a_short_shared_secret_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, mage_mcp_confirm_secret="too short")
