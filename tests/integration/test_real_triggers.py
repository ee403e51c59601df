"""The trigger tools against a real Mage OSS 0.9.80: what they change is read back through Mage's own API.

Each test makes its own uniquely named pipeline (one block) and removes it, with its triggers and runs.
Mage's scheduler ticks every second in these tests (`SCHEDULER_TRIGGER_INTERVAL=1`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.integration.conftest import ServerFactory
from tests.support.mage_api import ApiFailure, MageApi
from tests.support.mcp_results import accept, ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]

BLOCK_CODE = """\
if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load(*args, **kwargs):
    return {"env": kwargs.get("env")}
"""


@pytest.fixture
async def pipeline(admin: MageApi) -> AsyncIterator[str]:
    tag = secrets.token_hex(4)
    uuid = await admin.create_pipeline(f"mcp_triggers_{tag}")
    try:
        await admin.add_loader_block(uuid, f"mcp_triggers_load_{tag}", BLOCK_CODE)
        yield uuid
    finally:
        await admin.remove_pipeline(uuid)


@pytest.fixture
async def client(make_server: ServerFactory) -> AsyncIterator[Client]:
    """A client whose person accepts every change."""
    async with Client(make_server(), elicitation_callback=accept()) as c:
        yield c


async def schedule(admin: MageApi, trigger_id: int) -> dict[str, Any]:
    return dict((await admin.call("GET", f"/pipeline_schedules/{trigger_id}"))["pipeline_schedule"])


def assert_no_token(token: str, results: list[CallToolResult]) -> None:
    assert len(token) == 32
    for result in results:
        assert token not in text_of(result) and token not in str(result.structured_content)


async def test_a_trigger_made_read_changed_and_deleted_as_mage_shows_it(
    client: Client, admin: MageApi, pipeline: str
) -> None:
    created = await client.call_tool(
        "create_trigger",
        {
            "pipeline_uuid": pipeline,
            "name": "nightly",
            "type": "time",
            "schedule": "0 3 * * *",
            "start_time": "2030-01-01T05:00:00+02:00",
            "variables": {"env": "prod"},
        },
    )
    trigger_id = int(ok(created)["trigger_id"])
    stored = await schedule(admin, trigger_id)
    assert (stored["pipeline_uuid"], stored["name"], stored["schedule_type"]) == (pipeline, "nightly", "time")
    assert (stored["schedule_interval"], stored["status"]) == ("0 3 * * *", "inactive")
    assert stored["start_time"] == "2030-01-01 03:00:00"  # in UTC: Mage itself would drop the +02:00
    assert stored["variables"] == {"env": "prod"}

    got = await client.call_tool("get_trigger", {"trigger_id": trigger_id})
    detail = ok(got)
    assert detail["schedule"] == "0 3 * * *" and detail["variables"] == {"env": "prod"}
    assert detail["start_time"] == "2030-01-01T03:00:00Z" and "next_run_at" not in detail  # inactive
    inactive = await client.call_tool("list_triggers", {"pipeline_uuid": pipeline, "status": "inactive"})
    active = await client.call_tool("list_triggers", {"pipeline_uuid": pipeline, "status": "active"})
    assert [t["id"] for t in ok(inactive)["triggers"]] == [trigger_id] and ok(active)["triggers"] == []

    updated = await client.call_tool(
        "update_trigger",
        {"trigger_id": trigger_id, "schedule": "*/30 * * * *", "variables": {"env": "dev"}, "active": True},
    )
    assert sorted(ok(updated)["changed"]) == ["active", "schedule", "variables"]
    stored = await schedule(admin, trigger_id)
    assert (stored["schedule_interval"], stored["status"], stored["variables"]) == (
        "*/30 * * * *",
        "active",
        {"env": "dev"},
    )
    assert stored["last_enabled_at"] is not None
    next_run = datetime.fromisoformat(ok(updated)["trigger"]["next_run_at"])
    assert next_run.minute in (0, 30) and next_run > datetime.now(UTC)

    deleted = await client.call_tool("delete_trigger", {"trigger_id": trigger_id})
    assert ok(deleted)["status"] == "deleted"
    with pytest.raises(ApiFailure):
        await schedule(admin, trigger_id)
    assert_no_token(stored["token"], [created, got, inactive, updated, deleted])


async def test_an_inactive_every_minute_schedule_does_not_fire(client: Client, admin: MageApi, pipeline: str) -> None:
    """The control, an active copy of the same schedule, shows that the scheduler fires meanwhile."""
    made = {}
    results = []
    for name, active in (("off", False), ("on", True)):
        arguments = {"pipeline_uuid": pipeline, "name": name, "type": "time", "schedule": "* * * * *", "active": active}
        results.append(await client.call_tool("create_trigger", arguments))
        made[name] = int(ok(results[-1])["trigger_id"])
    await anyio.sleep(60 - time.time() % 60 + 15)  # past the next minute boundary, and the scheduler's ticks
    runs_by_trigger: dict[int, int] = {}
    for run in await admin.runs(pipeline):
        runs_by_trigger[run["pipeline_schedule_id"]] = runs_by_trigger.get(run["pipeline_schedule_id"], 0) + 1
    assert runs_by_trigger.get(made["on"], 0) >= 1, runs_by_trigger
    assert made["off"] not in runs_by_trigger
    assert (await schedule(admin, made["off"]))["status"] == "inactive"
    results.append(await client.call_tool("get_trigger", {"trigger_id": made["off"]}))
    results.append(await client.call_tool("list_triggers", {"pipeline_uuid": pipeline}))
    assert [t["id"] for t in ok(results[-1])["triggers"]] == [made["on"], made["off"]]  # newest first
    results.append(await client.call_tool("list_triggers", {"limit": 100}))
    project = [t["id"] for t in ok(results[-1])["triggers"]]
    assert project == sorted(project) and {made["on"], made["off"]} <= set(project)  # oldest first
    for trigger_id in made.values():
        assert_no_token((await schedule(admin, trigger_id))["token"], results)


async def test_a_bad_cron_field_is_named_and_mage_never_sees_it(client: Client, admin: MageApi, pipeline: str) -> None:
    result = await client.call_tool(
        "create_trigger", {"pipeline_uuid": pipeline, "name": "bad", "type": "time", "schedule": "0 24 * * *"}
    )
    assert result.is_error and "the hour field '24'" in text_of(result)
    assert await admin.schedules(pipeline) == []


async def test_deleting_a_trigger_hides_its_runs_as_the_plan_says(
    make_server: ServerFactory, admin: MageApi, pipeline: str
) -> None:
    async with Client(make_server(fallback="allow")) as c:
        arguments = {"pipeline_uuid": pipeline, "name": "hook", "type": "api", "active": True}
        hook = int(ok(await c.call_tool("create_trigger", arguments))["trigger_id"])
        started = ok(await c.call_tool("trigger_pipeline", {"pipeline_uuid": pipeline, "trigger_id": hook}))
        await admin.wait_run(int(started["run_id"]), 60)
    async with Client(make_server(fallback="token")) as c:
        planned = ok(await c.call_tool("delete_trigger", {"trigger_id": hook}))
        assert "The runs made through it (1) stay in Mage's database" in planned["plan"]["summary"]
        token = planned["confirmation_token"]
        ok(await c.call_tool("delete_trigger", {"trigger_id": hook, "confirmation_token": token}))
    assert await admin.runs(pipeline) == []  # Mage nulls the run's trigger id, then lists it nowhere


async def test_an_unknown_trigger_points_to_list_triggers(client: Client) -> None:
    result = await client.call_tool("get_trigger", {"trigger_id": 987654})
    assert result.is_error and "Trigger 987654 was not found" in text_of(result) and "list_triggers" in text_of(result)
