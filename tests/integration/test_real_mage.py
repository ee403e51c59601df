"""The MCP server end to end against a real Mage OSS 0.9.80 (authentication on).

The server is built in process and driven through the SDK's in-memory `Client`, exactly as an
MCP client would use it. Each test gets its own uniquely named pipeline with one data_loader
block, created (and removed afterwards) through Mage's API directly by `MageApi`: that is
test setup and the test's view of what really reached Mage, never the code under test.

Nothing here matches Mage's error messages, which are unreliable (mage-real.md, quirk 3).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.conftest import ServerFactory
from tests.support.mage_api import TERMINAL_RUN_STATUSES, MageApi
from tests.support.mcp_results import Action, Prompts, accept, ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]

OWNED_TRIGGER = "mage-mcp"
RUN_TIMEOUT_S = 60.0

# The block sees run variables as kwargs; GREETING is an environment variable of the Mage process.
LOADER_CODE = """\
import os

import pandas as pd

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_greeting(*args, **kwargs):
    return pd.DataFrame(
        [{"greeting": str(kwargs.get("greeting")), "env_greeting": str(os.environ.get("GREETING"))}]
    )
"""


@dataclass(frozen=True)
class MagePipeline:
    uuid: str
    block_uuid: str
    admin: MageApi


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
async def pipeline(admin: MageApi) -> AsyncIterator[MagePipeline]:
    """A new pipeline with one data_loader block, unique names (block files are project-wide)."""
    tag = secrets.token_hex(4)
    uuid = await admin.create_pipeline(f"mcp_it_{tag}")
    try:
        block = await admin.add_loader_block(uuid, f"mcp_it_load_{tag}", LOADER_CODE)
        assert 'kwargs.get("greeting")' in await admin.block_code(uuid, block)
        yield MagePipeline(uuid=uuid, block_uuid=block, admin=admin)
    finally:
        await admin.remove_pipeline(uuid)


async def wait_for_run(client: Client, run_id: int) -> dict[str, Any]:
    """Poll get_run through MCP until the run is finished; fail on a timeout."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        run = ok(await client.call_tool("get_run", {"run_id": run_id}))
        if run["status"] in TERMINAL_RUN_STATUSES:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']} after {RUN_TIMEOUT_S} s"
        await anyio.sleep(0.5)


# -- tests -------------------------------------------------------------------------------------


async def test_list_pipelines_searches_and_pages(make_server: ServerFactory, pipeline: MagePipeline) -> None:
    async with Client(make_server()) as client:
        found = ok(await client.call_tool("list_pipelines", {"search": pipeline.uuid}))
        assert [p["uuid"] for p in found["pipelines"]] == [pipeline.uuid]
        assert isinstance(found["total"], int)
        assert found["total"] >= 1

        first = ok(await client.call_tool("list_pipelines", {"limit": 1}))
        assert isinstance(first["total"], int)
        assert first["total"] >= 2  # example_pipeline and this test's pipeline at least
        assert len(first["pipelines"]) == 1
        assert first.get("next_cursor"), first

        second = ok(await client.call_tool("list_pipelines", {"limit": 1, "cursor": first["next_cursor"]}))
        assert len(second["pipelines"]) == 1
        assert second["pipelines"][0]["uuid"] != first["pipelines"][0]["uuid"]

        # Walking every page visits each pipeline once, this test's pipeline among them.
        seen = [first["pipelines"][0]["uuid"]]
        page = first
        while page.get("next_cursor"):
            page = ok(await client.call_tool("list_pipelines", {"limit": 1, "cursor": page["next_cursor"]}))
            seen.extend(p["uuid"] for p in page["pipelines"])
            assert len(seen) <= first["total"]
        assert len(seen) == len(set(seen)) == first["total"]
        assert pipeline.uuid in seen
        assert "example_pipeline" in seen


async def test_trigger_runs_the_pipeline_with_its_variables(make_server: ServerFactory, pipeline: MagePipeline) -> None:
    greeting = f"hi-{secrets.token_hex(4)}"
    prompts = accept()
    async with Client(make_server(), elicitation_callback=prompts) as client:
        started = ok(
            await client.call_tool(
                "trigger_pipeline", {"pipeline_uuid": pipeline.uuid, "variables": {"greeting": greeting}}
            )
        )
        assert prompts.seen, "the person was not asked to confirm"
        assert pipeline.uuid in prompts.seen[0]
        assert isinstance(started["run_id"], int)
        assert isinstance(started["status"], str)
        assert started["status"] not in {"declined", "cancelled", "confirmation_required"}

        run = await wait_for_run(client, started["run_id"])
        assert run["status"] == "completed", run
        assert run.get("started_at")
        assert run.get("completed_at")
        assert run["id"] == started["run_id"]
        assert run["pipeline_uuid"] == pipeline.uuid
        assert [b["block_uuid"] for b in run["block_runs"]] == [pipeline.block_uuid]
        assert all(b["status"] == "completed" for b in run["block_runs"]), run

    mage_run = await pipeline.admin.run(started["run_id"])
    assert mage_run["pipeline_uuid"] == pipeline.uuid
    block_run_ids = [b["id"] for b in mage_run["block_runs"]]
    assert len(block_run_ids) == 1
    rows = (await pipeline.admin.block_output(block_run_ids[0]))["rows"]
    assert greeting in json.dumps(rows), rows


async def test_repeated_triggers_share_one_api_trigger_and_never_show_its_token(
    make_server: ServerFactory, pipeline: MagePipeline
) -> None:
    prompts = accept()
    texts: list[str] = []
    started: list[dict[str, Any]] = []
    async with Client(make_server(), elicitation_callback=prompts) as client:
        for n in range(3):
            result = await client.call_tool(
                "trigger_pipeline", {"pipeline_uuid": pipeline.uuid, "variables": {"greeting": f"n{n}"}}
            )
            texts.append(text_of(result))
            started.append(ok(result))
        for run in started:
            texts.append(text_of(await client.call_tool("get_run", {"run_id": run["run_id"]})))
        texts.append(text_of(await client.call_tool("list_pipelines", {"search": pipeline.uuid})))

    schedules = await pipeline.admin.schedules(pipeline.uuid)
    assert len(schedules) == 1, schedules
    (trigger,) = schedules
    assert trigger["name"] == OWNED_TRIGGER
    assert trigger["schedule_type"] == "api"

    run_ids = [run["run_id"] for run in started]
    assert len(set(run_ids)) == 3
    assert all(run["trigger_id"] == trigger["id"] for run in started), started
    for run_id in run_ids:
        assert (await pipeline.admin.run(run_id))["pipeline_schedule_id"] == trigger["id"]
    assert sorted(r["id"] for r in await pipeline.admin.runs(pipeline.uuid)) == sorted(run_ids)

    token = trigger["token"]
    assert isinstance(token, str)
    assert len(token) >= 16
    for text in [*texts, *prompts.seen]:
        assert text
        assert token not in text


@pytest.mark.parametrize(
    ("action", "content", "status"),
    [("decline", None, "declined"), ("cancel", None, "cancelled"), ("accept", {"confirm": False}, "declined")],
)
async def test_refused_confirmation_sends_nothing(
    make_server: ServerFactory, pipeline: MagePipeline, action: Action, content: dict[str, Any] | None, status: str
) -> None:
    admin = pipeline.admin
    runs_before = await admin.runs(pipeline.uuid)
    schedules_before = await admin.schedules(pipeline.uuid)
    prompts = Prompts(action, content)
    async with Client(make_server(), elicitation_callback=prompts) as client:
        result = await client.call_tool(
            "trigger_pipeline", {"pipeline_uuid": pipeline.uuid, "variables": {"greeting": "nope"}}
        )
    outcome = ok(result)
    assert prompts.seen, "the person was not asked"
    assert outcome["status"] == status
    assert outcome.get("run_id") is None
    assert await admin.runs(pipeline.uuid) == runs_before == []
    assert await admin.schedules(pipeline.uuid) == schedules_before == []


async def test_unknown_pipeline_and_run_are_errors_naming_them(make_server: ServerFactory, admin: MageApi) -> None:
    missing = f"does_not_exist_{secrets.token_hex(4)}"
    prompts = accept()
    async with Client(make_server(), elicitation_callback=prompts) as client:
        result = await client.call_tool("trigger_pipeline", {"pipeline_uuid": missing})
        assert result.is_error
        assert missing in text_of(result)
        assert prompts.seen == [], "a change to a pipeline that does not exist was put to the person"

        result = await client.call_tool("get_run", {"run_id": 987654})
        assert result.is_error
        assert "987654" in text_of(result)
    assert await admin.runs(missing) == []


async def test_token_fallback_confirms_once(make_server: ServerFactory, pipeline: MagePipeline) -> None:
    admin = pipeline.admin
    arguments: dict[str, Any] = {"pipeline_uuid": pipeline.uuid, "variables": {"greeting": "by-token"}}
    async with Client(make_server(fallback="token")) as client:  # no elicitation callback
        halted = ok(await client.call_tool("trigger_pipeline", arguments))
        assert halted["status"] == "confirmation_required"
        token = halted["confirmation_token"]
        assert isinstance(token, str)
        assert token
        assert halted.get("run_id") is None
        assert await admin.runs(pipeline.uuid) == []
        assert await admin.schedules(pipeline.uuid) == []

        started = ok(await client.call_tool("trigger_pipeline", {**arguments, "confirmation_token": token}))
        assert isinstance(started["run_id"], int)
        assert [r["id"] for r in await admin.runs(pipeline.uuid)] == [started["run_id"]]

        again = await client.call_tool("trigger_pipeline", {**arguments, "confirmation_token": token})
        assert again.is_error, text_of(again)
        assert [r["id"] for r in await admin.runs(pipeline.uuid)] == [started["run_id"]]


async def test_wrong_password_is_a_login_error_without_the_password(make_server: ServerFactory) -> None:
    wrong = f"wrong-{secrets.token_urlsafe(12)}"
    async with Client(make_server(password=wrong)) as client:
        result = await client.call_tool("list_pipelines", {})
    assert result.is_error
    text = text_of(result)
    assert any(word in text for word in ("MAGE_EMAIL", "MAGE_PASSWORD", "login")), text
    assert wrong not in text
