"""Two `mage-mcp --transport streamable-http` replicas behind nginx round-robin behave as one server.

They share a Redis (`MAGE_MCP_STATE_URL`) and a secret (`MAGE_MCP_CONFIRM_SECRET`): a token issued by
one is honoured once by the other and then by none, two changes to one cluster through different
replicas lose nothing, and an elicitation round may land on either replica.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult

from tests.support.mcp_results import ok, text_of
from tests.support.processes import mage_mcp_command
from tests.support.services import nginx_round_robin, redis_server

from .conftest import CLUSTER, PIPELINE, Answers, Fakes, HttpServer, http_server, run_posts

pytestmark = pytest.mark.anyio

SECRET = secrets.token_urlsafe(32)


@dataclass
class Replicas:
    first: HttpServer
    second: HttpServer
    balanced: str
    """The nginx URL in front of both."""


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def replicas(
    fakes: Fakes, workdir: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    env = fakes.env(MAGE_MCP_STATE_URL=redis_url, MAGE_MCP_CONFIRM_SECRET=SECRET, MAGE_MCP_CONFIRM_FALLBACK="token")
    secrets_ = [*fakes.secrets, SECRET]
    with (
        http_server("streamable-http", env, workdir, secrets_) as first,
        http_server("streamable-http", env, workdir, secrets_) as second,
        nginx_round_robin(tmp_path_factory.mktemp("nginx"), [first.port, second.port]) as balanced,
    ):
        yield Replicas(first, second, f"{balanced}/mcp")


def run_arguments(token: str | None = None) -> dict[str, Any]:
    return {"pipeline_uuid": PIPELINE, **({"confirmation_token": token} if token else {})}


async def token_for(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    halted = ok(await client.call_tool(tool, arguments))
    assert halted["status"] == "confirmation_required", halted
    token: str = halted["confirmation_token"]
    return token


async def test_a_token_issued_by_one_replica_works_once_through_the_other_then_nowhere(
    replicas: Replicas, fakes: Fakes
) -> None:
    async with Client(replicas.first.url) as first, Client(replicas.second.url) as second:
        token = await token_for(first, "trigger_pipeline", run_arguments())
        started = ok(await second.call_tool("trigger_pipeline", run_arguments(token)))
        assert started["run_id"] in fakes.mage.pipeline_runs
        async with Client(replicas.balanced) as balanced:
            for client in (first, second, balanced):
                again = await client.call_tool("trigger_pipeline", run_arguments(token))
                assert again.is_error and "already used" in text_of(again), text_of(again)
    assert len(run_posts(fakes)) == 1


async def test_token_round_trips_through_the_load_balancer_each_apply_once(replicas: Replicas, fakes: Fakes) -> None:
    async with Client(replicas.balanced) as client:
        for _ in range(4):  # issue and redeem alternate between the replicas
            token = await token_for(client, "trigger_pipeline", run_arguments())
            ok(await client.call_tool("trigger_pipeline", run_arguments(token)))
    assert len(run_posts(fakes)) == 4


async def test_two_concurrent_env_var_changes_through_different_replicas_lose_nothing(
    replicas: Replicas, fakes: Fakes
) -> None:
    fakes.cloud.put_delay = 0.5  # each PUT is read, held, then written whole: unserialised writers lose one
    names = [f"REPLICA_{secrets.token_hex(3).upper()}_{n}" for n in range(2)]
    try:
        async with Client(replicas.first.url) as first, Client(replicas.second.url) as second:
            calls = [(client, {"env_vars": {name: "v"}}) for client, name in zip((first, second), names, strict=True)]
            tokens = [await token_for(client, "set_env_vars", arguments) for client, arguments in calls]
            results: list[CallToolResult] = []

            async def apply(client: Client, arguments: dict[str, Any], token: str) -> None:
                results.append(await client.call_tool("set_env_vars", {**arguments, "confirmation_token": token}))

            async with anyio.create_task_group() as tg:
                for (client, arguments), token in zip(calls, tokens, strict=True):
                    tg.start_soon(apply, client, arguments, token)
    finally:
        fakes.cloud.put_delay = 0.0
    assert all(not r.is_error for r in results), [text_of(r) for r in results]
    held = {env["name"] for env in fakes.cloud.clusters[CLUSTER]["config"].get("extraEnvs", [])}
    assert set(names) <= held
    assert len(fakes.cloud.recorder.filter("PUT", "/api/v1/teams/")) == 2  # one write each, none repeated


async def test_an_elicitation_round_trip_whose_rounds_land_on_different_replicas(
    replicas: Replicas, fakes: Fakes
) -> None:
    answers = Answers()  # declares elicitation; this test answers the round itself
    async with (
        Client(replicas.first.url, elicitation_callback=answers) as first,
        Client(replicas.second.url, elicitation_callback=answers) as second,
    ):
        asked = await first.session.call_tool("trigger_pipeline", run_arguments(), allow_input_required=True)
        assert isinstance(asked, InputRequiredResult), asked
        assert not run_posts(fakes)
        (key,) = asked.input_requests or {}
        done = await second.session.call_tool(
            "trigger_pipeline",
            run_arguments(),
            allow_input_required=True,
            input_responses={key: ElicitResult(action="accept", content={"confirm": True})},
            request_state=asked.request_state,
        )
    assert isinstance(done, CallToolResult) and not done.is_error, done
    assert len(run_posts(fakes)) == 1


def test_a_shared_secret_without_a_state_url_warns_that_tokens_are_single_use_per_replica(
    fakes: Fakes, workdir: Path
) -> None:
    env = fakes.env(MAGE_MCP_CONFIRM_SECRET=SECRET)
    started = subprocess.run(
        mage_mcp_command(), env=env, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    stderr = started.stderr.decode()
    assert "warning: MAGE_MCP_CONFIRM_SECRET is set without MAGE_MCP_STATE_URL" in stderr
    assert "works once per replica" in stderr
    assert SECRET not in stderr


def test_a_state_url_that_is_not_redis_stops_start_up(fakes: Fakes, workdir: Path) -> None:
    env = fakes.env(MAGE_MCP_STATE_URL="http://user:hunter2@127.0.0.1:1", MAGE_MCP_CONFIRM_SECRET=SECRET)
    started = subprocess.run(
        mage_mcp_command(), env=env, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert started.returncode != 0
    stderr = started.stderr.decode()
    assert "MAGE_MCP_STATE_URL must be a redis://" in stderr and "hunter2" not in stderr
