"""A long wait never holds up the server: other calls are answered while it waits, and a client
that cancels the call stops the wait (no more polls reach Mage). Real processes, real transports.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from .conftest import PIPELINE, Fakes, http_server, stdio_session

pytestmark = pytest.mark.anyio

QUICK_S = 1.0


def running_run(fakes: Fakes) -> int:
    trigger = fakes.mage.add_trigger(PIPELINE, name=f"wait-{time.monotonic_ns()}", status="active")
    run = fakes.mage.trigger_run(trigger["id"])
    fakes.mage.complete_run(run["id"], "running")
    return int(run["id"])


def polls_of(fakes: Fakes, run_id: int) -> int:
    return len(fakes.mage.recorder.filter(method="GET", path_prefix=f"/api/pipeline_runs/{run_id}"))


async def answered_quickly(client: Client, calls: int = 3) -> list[float]:
    """Latencies of `list_pipelines` calls made while something else waits on the server."""
    latencies = []
    for _ in range(calls):
        started = time.monotonic()
        result = await client.call_tool("list_pipelines", {"limit": 1})
        assert not result.is_error, result.content
        latencies.append(time.monotonic() - started)
        await anyio.sleep(0.4)
    return latencies


async def wait_alongside(waiting: Client, others: list[Client], run_id: int) -> dict[str, Any]:
    outcome: dict[str, Any] = {}

    async def wait() -> None:
        result = await waiting.call_tool("wait_for_run", {"run_id": run_id, "timeout_s": 4})
        outcome.update(result.structured_content or {})

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.sleep(0.5)
        for other in others:
            latencies = await answered_quickly(other)
            assert max(latencies) < QUICK_S, latencies
    return outcome


async def test_stdio_answers_other_calls_during_a_wait(fakes: Fakes, workdir: Path) -> None:
    run_id = running_run(fakes)
    async with stdio_session(fakes, workdir) as client:
        outcome = await wait_alongside(client, [client], run_id)
    assert outcome["timed_out"] is True and outcome["status"] == "running"


async def test_streamable_http_answers_this_and_other_connections_during_a_wait(fakes: Fakes, workdir: Path) -> None:
    run_id = running_run(fakes)
    with http_server("streamable-http", fakes.env(), workdir, fakes.secrets) as server:
        async with Client(server.url) as first, Client(server.url) as second:
            outcome = await wait_alongside(first, [first, second], run_id)
    assert outcome["timed_out"] is True


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
async def test_a_cancelled_call_stops_its_wait(fakes: Fakes, workdir: Path, transport: str) -> None:
    run_id = running_run(fakes)

    async def cancel_a_wait(client: Client) -> None:
        with anyio.move_on_after(2.5):
            await client.call_tool("wait_for_run", {"run_id": run_id, "timeout_s": 60})
        await anyio.sleep(1.0)  # let the cancellation reach the server
        polled = polls_of(fakes, run_id)
        await anyio.sleep(6.0)  # longer than the longest poll interval
        assert polls_of(fakes, run_id) == polled, "the wait went on polling after the client cancelled"
        assert not (await client.call_tool("list_pipelines", {"limit": 1})).is_error

    if transport == "stdio":
        async with stdio_session(fakes, workdir) as client:
            await cancel_a_wait(client)
    else:
        with http_server(transport, fakes.env(), workdir, fakes.secrets) as server:
            async with Client(server.url) as client:
                await cancel_a_wait(client)
