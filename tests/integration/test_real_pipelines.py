"""The pipeline tools against a real Mage OSS 0.9.80: create, read, rename (the triggers and runs follow), delete
(with the triggers Mage's own delete keeps). Every change is read back through Mage's own API (`MageApi`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import suppress

import pytest
from mcp import Client

from tests.integration.conftest import ServerFactory
from tests.support.mage_api import ApiFailure, MageApi
from tests.support.mcp_results import accept, ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]

LOADER = """\
import pandas as pd

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load(*args, **kwargs):
    return pd.DataFrame([{"answer": 42}])
"""


@pytest.fixture
def tag() -> str:
    return secrets.token_hex(4)


@pytest.fixture
async def cleanup(admin: MageApi) -> AsyncIterator[list[str]]:
    """Pipeline uuids a test made: whatever is left of them (triggers, runs, the pipeline) goes at the end."""
    made: list[str] = []
    yield made
    for uuid in made:
        with suppress(ApiFailure):
            await admin.remove_pipeline(uuid)


async def worked_pipeline(admin: MageApi, cleanup: list[str], name: str) -> tuple[str, str, int, int]:
    """A pipeline with one loader block, an inactive daily trigger and one completed run (through an API
    trigger): its uuid, block uuid, the daily trigger's id and the run's id."""
    uuid = await admin.create_pipeline(name)
    cleanup.append(uuid)
    block = await admin.add_loader_block(uuid, f"{uuid}_load", LOADER)
    daily = await admin.add_schedule(uuid, "daily", schedule_type="time", schedule_interval="@daily")
    run_id = await admin.start_run(uuid, {})
    assert (await admin.wait_run(run_id, 90))["status"] == "completed"
    return uuid, block, int(daily["id"]), run_id


async def test_a_created_pipeline_is_in_mage_with_the_uuid_it_derives(
    make_server: ServerFactory, admin: MageApi, cleanup: list[str], tag: str
) -> None:
    name = f"MCP Pipe {tag}"
    async with Client(make_server(fallback="allow")) as client:
        created = ok(
            await client.call_tool(
                "create_pipeline", {"name": name, "type": "streaming", "description": "made by a test", "tags": ["t1"]}
            )
        )
        cleanup.append(created["pipeline_uuid"])
        again = await client.call_tool("create_pipeline", {"name": name.upper()})
        shown = ok(await client.call_tool("get_pipeline", {"pipeline_uuid": created["pipeline_uuid"]}))

    assert created["pipeline_uuid"] == f"mcp_pipe_{tag}"
    stored = await admin.pipeline(f"mcp_pipe_{tag}")
    assert (stored["name"], stored["type"], stored["description"], stored["tags"]) == (
        name,
        "streaming",
        "made by a test",
        ["t1"],
    )
    assert again.is_error and "exists already" in text_of(again)
    assert shown["blocks"] == [] and shown["trigger_count"] == 0 and shown["type"] == "streaming"


async def test_a_rename_changes_the_uuid_and_mage_moves_the_triggers_and_runs(
    make_server: ServerFactory, admin: MageApi, cleanup: list[str], tag: str
) -> None:
    old, block, daily, run_id = await worked_pipeline(admin, cleanup, f"mcp_rename_{tag}")
    new = f"mcp_renamed_{tag}"
    cleanup.append(new)
    prompts = accept()
    async with Client(make_server(), elicitation_callback=prompts) as client:
        same_uuid = await client.call_tool("update_pipeline", {"pipeline_uuid": old, "name": old.upper()})
        updated = ok(
            await client.call_tool(
                "update_pipeline",
                {"pipeline_uuid": old, "name": f"MCP Renamed {tag}", "description": "renamed", "tags": ["eu"]},
            )
        )
        shown = ok(await client.call_tool("get_pipeline", {"pipeline_uuid": new, "include_code": True}))

    assert same_uuid.is_error and "same uuid" in text_of(same_uuid)
    assert updated["pipeline_uuid"] == new and updated["previous_pipeline_uuid"] == old
    (prompt,) = prompts.seen
    assert f"from {old!r} to {new!r}" in prompt and "its 2 triggers and its 1 run " in prompt
    stored = await admin.pipeline(new)
    assert (stored["name"], stored["description"], stored["tags"]) == (f"MCP Renamed {tag}", "renamed", ["eu"])
    with pytest.raises(ApiFailure):
        await admin.pipeline(old)
    assert daily in [s["id"] for s in await admin.schedules(new)] and len(await admin.schedules(new)) == 2
    assert [r["id"] for r in await admin.runs(new)] == [run_id] and await admin.runs(old) == []
    (shown_block,) = shown["blocks"]
    assert shown_block["uuid"] == block and shown_block["code"] == LOADER and shown["trigger_count"] == 2


async def test_a_deleted_pipeline_takes_its_triggers_and_keeps_its_runs_in_the_database(
    make_server: ServerFactory, admin: MageApi, cleanup: list[str], tag: str
) -> None:
    uuid, block, _, run_id = await worked_pipeline(admin, cleanup, f"mcp_delete_{tag}")
    prompts = accept()
    async with Client(make_server(), elicitation_callback=prompts) as client:
        deleted = ok(await client.call_tool("delete_pipeline", {"pipeline_uuid": uuid}))

    assert deleted["triggers_deleted"] == 2 and deleted["runs_kept"] == 1 and deleted["kept_run_ids"] == [run_id]
    (prompt,) = prompts.seen
    assert block in prompt and "'daily'" in prompt and "Kept in Mage's database: its 1 run" in prompt
    with pytest.raises(ApiFailure):
        await admin.pipeline(uuid)
    assert [s for s in await admin.all_schedules() if s["pipeline_uuid"] == uuid] == []
    assert await admin.runs(uuid) == []  # Mage hides a run whose trigger is gone, but keeps it:
    async with Client(make_server(), elicitation_callback=prompts) as client:
        shown = await client.call_tool("get_run", {"run_id": run_id})
        assert shown.is_error and "its trigger was deleted" in text_of(shown), text_of(shown)
        assert ok(await client.call_tool("delete_run", {"run_id": run_id}))["status"] == "deleted"
    with pytest.raises(ApiFailure, match="record_not_found"):  # gone, not merely hidden
        await admin.run(run_id)


async def test_delete_runs_deletes_the_runs_too(
    make_server: ServerFactory, admin: MageApi, cleanup: list[str], tag: str
) -> None:
    uuid, _, _, run_id = await worked_pipeline(admin, cleanup, f"mcp_delete_all_{tag}")
    async with Client(make_server(fallback="allow")) as client:
        deleted = ok(await client.call_tool("delete_pipeline", {"pipeline_uuid": uuid, "delete_runs": True}))

    assert deleted["runs_deleted"] == 1 and deleted["runs_kept"] == 0 and deleted["triggers_deleted"] == 2
    assert [s for s in await admin.all_schedules() if s["pipeline_uuid"] == uuid] == []
    with pytest.raises(ApiFailure, match="record_not_found"):  # gone, not merely hidden
        await admin.run(run_id)
