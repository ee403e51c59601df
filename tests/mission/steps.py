"""The steps every mission test takes through MCP: calls with a time limit, confirmed or declined changes,
waits for Mage and for runs; each failure says what went wrong, with the cluster's logs when they help."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from mcp.types import CallToolResult, TextContent

from tests.support.mage_api import TERMINAL_RUN_STATUSES

from .conftest import Mission

ANSWER_TIMEOUT_S = 90.0  # a cluster's Mage answers ~10 s after a start or restart
RUN_TIMEOUT_S = 60.0  # a one-block run takes ~2-3 s with Mage's 1 s scheduler interval
CALL_TIMEOUT_S = 90.0  # one tool call (a start or restart through the local cloud takes a few seconds)
POLL_S = 0.5
SANITIZED = "Error executing tool list_pipelines"  # all the SDK shows of an unexpected exception


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(mission: Mission, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
    with anyio.fail_after(CALL_TIMEOUT_S):
        return await mission.client.call_tool(tool, arguments or {})


def ok(result: CallToolResult, what: str) -> dict[str, Any]:
    assert not result.is_error, f"{what}: error result: {text_of(result)}"
    assert result.structured_content is not None, f"{what}: no structured content: {text_of(result)}"
    return dict(result.structured_content)


async def confirmed(mission: Mission, tool: str, arguments: dict[str, Any], *, mentions: str) -> dict[str, Any]:
    """Call a mutating tool with the person accepting; it must have asked exactly once."""
    mission.answers.action = "accept"
    asked = len(mission.answers.seen)
    result = ok(await call(mission, tool, arguments), tool)
    assert len(mission.answers.seen) == asked + 1, f"{tool}: the person was asked {len(mission.answers.seen) - asked}x"
    assert mentions in mission.answers.seen[-1], (
        f"{tool}: the prompt does not name {mentions!r}: {mission.answers.seen[-1]}"
    )
    assert result["status"] not in {"declined", "cancelled", "confirmation_required"}, result
    return result


async def declined(mission: Mission, tool: str, arguments: dict[str, Any], *, mentions: str) -> dict[str, Any]:
    """Call a mutating tool with the person declining: asked once, a result (not an error) with status declined."""
    mission.answers.action = "decline"
    asked = len(mission.answers.seen)
    try:
        result = ok(await call(mission, tool, arguments), f"declined {tool}")
    finally:
        mission.answers.action = "accept"
    assert len(mission.answers.seen) == asked + 1, f"{tool}: the person was asked {len(mission.answers.seen) - asked}x"
    assert mentions in mission.answers.seen[-1], (
        f"{tool}: the prompt does not name {mentions!r}: {mission.answers.seen[-1]}"
    )
    assert result["status"] == "declined", result
    return result


async def wait_until_mage_answers(mission: Mission) -> tuple[dict[str, Any], list[str]]:
    """Poll `list_pipelines` through MCP until it answers; returns its result and the errors seen before.

    Until the cluster's Mage is up, each call must be an error result (not a crash, not a protocol
    error) that says what went wrong, not just the SDK's sanitized "Error executing tool ...".
    """
    errors: list[str] = []
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while True:
        result = await call(mission, "list_pipelines", {"limit": 100})
        if not result.is_error:
            return ok(result, "list_pipelines"), errors
        text = text_of(result)
        assert text.startswith(f"{SANITIZED}: ") and len(text) > len(SANITIZED) + 10, (
            f"list_pipelines failed without saying why (an unexpected exception in the server?): {text!r}"
        )
        errors.append(text)
        if time.monotonic() > deadline:
            distinct = "\n".join(dict.fromkeys(errors))
            pytest.fail(
                f"list_pipelines did not answer within {ANSWER_TIMEOUT_S:g} s; its errors:\n{distinct}"
                f"{mission.local.diagnostics()}"
            )
        await anyio.sleep(POLL_S)


async def wait_for_run(mission: Mission, run_id: int) -> dict[str, Any]:
    """Poll `get_run` through MCP until the run is finished."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        run = ok(await call(mission, "get_run", {"run_id": run_id}), "get_run")
        if run["status"] in TERMINAL_RUN_STATUSES:
            return run
        if time.monotonic() > deadline:
            pytest.fail(
                f"run {run_id} still {run['status']} after {RUN_TIMEOUT_S:g} s: {run}{mission.local.diagnostics()}"
            )
        await anyio.sleep(POLL_S)


def power(cluster: dict[str, Any]) -> tuple[Any, Any]:
    return cluster["status"], cluster["config"].get("replicaCount")


async def server_pid(mission: Mission) -> int:
    status = await mission.mage.status()
    assert status is not None, f"{mission.mage.url}/api/status does not answer{mission.local.diagnostics()}"
    return int(status["server_process_id"])


async def confirmed_wait(mission: Mission, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A confirmed mutating call with `wait`: its result (which must say ready) and the progress messages it sent."""
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    mission.answers.action = "accept"
    with anyio.fail_after(CALL_TIMEOUT_S + 60):
        result = ok(
            await mission.client.call_tool(
                tool, {**arguments, "wait": True, "timeout_s": 120}, progress_callback=on_progress
            ),
            tool,
        )
    assert result["ready"] is True and result["timed_out"] is False, f"{result}{mission.local.diagnostics()}"
    return result, progress
