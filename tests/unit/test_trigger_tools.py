"""Trigger tools against the Mage cluster fake, which hands out each trigger's token the way Mage does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.tools.schedules import next_fire
from tests.fakes import FakeMage
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


def body(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def changes_sent(mage: FakeMage) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def assert_no_token(mage: FakeMage, *results: CallToolResult) -> None:
    tokens = [t["token"] for t in mage.pipeline_schedules.values()]
    assert tokens
    for result in results:
        shown = text(result) + json.dumps(result.structured_content)
        assert not [token for token in tokens if token in shown]


def time_trigger(mage: FakeMage, name: str = "hourly", **fields: Any) -> dict[str, Any]:
    return mage.add_trigger(
        "example_pipeline", name=name, schedule_type="time", **{"schedule_interval": "@hourly", **fields}
    )


@pytest.fixture
async def allowed(make_server: ServerFactory) -> Any:
    """A client whose changes apply without asking (MAGE_MCP_CONFIRM_FALLBACK=allow)."""
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        yield c


# -- list_triggers ----------------------------------------------------------------------------


async def test_list_triggers_pages_oldest_first_and_never_shows_a_token(client: Client, mage: FakeMage) -> None:
    for n in range(5):
        mage.add_trigger("example_pipeline", name=f"hook_{n}")
    seen: list[str] = []
    results = []
    cursor = None
    for _ in range(4):
        result = await client.call_tool("list_triggers", {"limit": 2} | ({"cursor": cursor} if cursor else {}))
        results.append(result)
        page = body(result)
        assert page["total"] == 5
        seen += [t["name"] for t in page["triggers"]]
        if (cursor := page.get("next_cursor")) is None:
            break
    assert seen == ["hook_0", "hook_1", "hook_2", "hook_3", "hook_4"]
    assert_no_token(mage, *results)


async def test_list_triggers_shows_schedule_status_and_the_next_run_of_active_schedules(
    client: Client, mage: FakeMage
) -> None:
    mage.add_pipeline("other_pipeline")
    on = time_trigger(mage, "every_5", schedule_interval="*/5 * * * *", status="active")
    off = time_trigger(mage, "nightly", schedule_interval="@daily")
    hook = mage.add_trigger("other_pipeline", name="hook", schedule_type="api", status="active")
    triggers = {t["id"]: t for t in body(await client.call_tool("list_triggers", {}))["triggers"]}
    assert triggers[on["id"]] | {"next_run_at": "a time"} == {
        "id": on["id"],
        "name": "every_5",
        "pipeline_uuid": "example_pipeline",
        "type": "time",
        "schedule": "*/5 * * * *",
        "status": "active",
        "next_run_at": "a time",
    }
    next_run = datetime.fromisoformat(triggers[on["id"]]["next_run_at"])
    assert next_run > datetime.now(UTC) and next_run.minute % 5 == 0
    assert triggers[off["id"]]["schedule"] == "@daily" and "next_run_at" not in triggers[off["id"]]  # inactive
    assert triggers[hook["id"]]["type"] == "api" and "schedule" not in triggers[hook["id"]]


async def test_list_triggers_of_one_pipeline_uses_its_route(client: Client, mage: FakeMage) -> None:
    mage.add_pipeline("other_pipeline")
    older = mage.add_trigger("other_pipeline", name="older")
    mage.add_trigger("example_pipeline", name="not_mine")
    newer = mage.add_trigger("other_pipeline", name="newer")
    page = body(await client.call_tool("list_triggers", {"pipeline_uuid": "other_pipeline"}))
    assert [t["id"] for t in page["triggers"]] == [newer["id"], older["id"]] and page["total"] == 2
    assert "/api/pipelines/other_pipeline/pipeline_schedules" in [r.path for r in mage.recorder.requests]


async def test_list_triggers_by_status(client: Client, mage: FakeMage) -> None:
    active = time_trigger(mage, "on", status="active")
    time_trigger(mage, "off")
    page = body(await client.call_tool("list_triggers", {"status": "active"}))
    assert [t["id"] for t in page["triggers"]] == [active["id"]]
    assert [r.query.get("status[]") for r in mage.recorder.requests if r.path == "/api/pipeline_schedules"] == [
        "active"
    ]


async def test_list_triggers_of_an_unknown_pipeline_points_to_list_pipelines(client: Client) -> None:
    result = await client.call_tool("list_triggers", {"pipeline_uuid": "no_such_pipe"})
    assert result.is_error
    assert "'no_such_pipe' does not exist" in text(result) and "Hint: list_pipelines" in text(result)


async def test_list_triggers_stays_under_100_kb_whatever_the_names(client: Client, mage: FakeMage) -> None:
    mage.add_trigger("example_pipeline", name="n" * 1_000_000, schedule_type="time", schedule_interval="@hourly")
    for n in range(99):
        mage.add_trigger("example_pipeline", name=f"{n}" + "x" * 5_000)
    result = await client.call_tool("list_triggers", {"limit": 100})
    page = body(result)
    assert len(page["triggers"]) == 100 and page["total"] == 100
    assert len(text(result).encode()) < 100_000
    assert page["triggers"][0]["name"].startswith("n" * 255) and "more chars" in page["triggers"][0]["name"]


# -- get_trigger ------------------------------------------------------------------------------


async def test_get_trigger_shows_variables_start_sla_and_its_last_run(client: Client, mage: FakeMage) -> None:
    trigger = time_trigger(mage, status="active", start_time="2026-01-01 06:30:00", variables={"env": "prod"}, sla=3600)
    first = mage.trigger_run(trigger["id"])
    mage.complete_run(first["id"])
    last = mage.trigger_run(trigger["id"])
    mage.complete_run(last["id"], "failed")
    result = await client.call_tool("get_trigger", {"trigger_id": trigger["id"]})
    detail = body(result)
    assert detail["variables"] == {"env": "prod"} and detail["variables_truncated"] is False
    assert detail["start_time"] == "2026-01-01T06:30:00Z" and detail["sla"] == 3600
    assert (detail["last_run_id"], detail["last_run_status"]) == (last["id"], "failed")
    assert detail["schedule"] == "@hourly" and detail["next_run_at"] is not None
    assert_no_token(mage, result)


async def test_get_trigger_without_runs(client: Client, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", name="hook")
    detail = body(await client.call_tool("get_trigger", {"trigger_id": trigger["id"]}))
    assert detail["variables"] == {} and not {"last_run_id", "last_run_status", "start_time"} & detail.keys()


async def test_get_trigger_bounds_huge_variables(client: Client, mage: FakeMage) -> None:
    variables = {f"v{n}": "x" * 50_000 for n in range(30)} | {"blob": list(range(100_000))}
    trigger = mage.add_trigger("example_pipeline", variables=variables)
    result = await client.call_tool("get_trigger", {"trigger_id": trigger["id"]})
    detail = body(result)
    assert detail["variables_truncated"] is True and 0 < len(detail["variables"]) < 30
    assert detail["variables"]["v0"].endswith("more chars]")
    assert len(text(result).encode()) < 100_000


async def test_an_unknown_trigger_points_to_list_triggers(client: Client) -> None:
    result = await client.call_tool("get_trigger", {"trigger_id": 4242})
    assert result.is_error
    assert "Trigger 4242 was not found" in text(result) and "Hint: list_triggers" in text(result)
    assert "Email/username" not in text(result)


# -- create_trigger ---------------------------------------------------------------------------


async def test_a_new_time_trigger_is_inactive_unless_asked(allowed: Client, mage: FakeMage) -> None:
    result = await allowed.call_tool(
        "create_trigger",
        {
            "pipeline_uuid": "example_pipeline",
            "name": "every_15",
            "type": "time",
            "schedule": " */15  *  * * *",
            "start_time": "2030-01-01T05:00:00+02:00",
            "variables": {"env": "prod"},
        },
    )
    created = body(result)
    stored = mage.pipeline_schedules[created["trigger_id"]]
    assert (created["status"], created["active"], created["pipeline_uuid"]) == ("created", False, "example_pipeline")
    assert stored["status"] == "inactive" and stored["schedule_type"] == "time"
    assert stored["schedule_interval"] == "*/15 * * * *"
    assert stored["start_time"] == datetime(2030, 1, 1, 3, 0)  # sent as UTC: Mage would drop the +02:00
    assert stored["variables"] == {"env": "prod"}
    assert_no_token(mage, result)


async def test_an_active_schedule_says_when_it_fires_first(make_server: ServerFactory, mage: FakeMage) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(
            "create_trigger",
            {
                "pipeline_uuid": "example_pipeline",
                "name": "hourly",
                "type": "time",
                "schedule": "@hourly",
                "active": True,
            },
        )
    created = body(result)
    assert mage.pipeline_schedules[created["trigger_id"]]["status"] == "active" and created["active"] is True
    (prompt,) = prompts
    assert "'@hourly'" in prompt and "first at" in prompt and ":00 UTC" in prompt


async def test_the_plan_of_a_new_trigger_carries_no_token(client: Client, mage: FakeMage) -> None:
    mage.add_trigger("example_pipeline", name="existing")
    first = await client.call_tool(
        "create_trigger", {"pipeline_uuid": "example_pipeline", "name": "hook", "type": "api", "active": True}
    )
    plan = body(first)
    assert plan["status"] == "confirmation_required" and "trigger_pipeline" in plan["plan"]["summary"]
    second = await client.call_tool(
        "create_trigger",
        {
            "pipeline_uuid": "example_pipeline",
            "name": "hook",
            "type": "api",
            "active": True,
            "confirmation_token": plan["confirmation_token"],
        },
    )
    created = body(second)
    assert mage.pipeline_schedules[created["trigger_id"]]["schedule_type"] == "api"
    assert_no_token(mage, first, second)


@pytest.mark.parametrize("preset", ["@once", "@hourly", "@daily", "@weekly", "@monthly"])
async def test_every_preset_is_taken(allowed: Client, mage: FakeMage, preset: str) -> None:
    created = body(
        await allowed.call_tool(
            "create_trigger", {"pipeline_uuid": "example_pipeline", "name": "t", "type": "time", "schedule": preset}
        )
    )
    assert mage.pipeline_schedules[created["trigger_id"]]["schedule_interval"] == preset


@pytest.mark.parametrize(
    ("schedule", "said"),
    [
        ("61 * * * *", "the minute field '61'"),
        ("* 24 * * *", "the hour field '24'"),
        ("* * 0 * *", "the day of month field '0'"),
        ("* * * 13 *", "the month field '13'"),
        ("* * * * MON-FUN", "the day of week field 'MON-FUN'"),
        ("*/0 * * * *", "the minute field '*/0'"),
        ("* * * *", "5 fields"),
        ("0 * * * * *", "5 fields"),
        ("@yearly", "@once, @hourly"),
        ("0 0 30 2 *", "never fires"),
    ],
)
async def test_a_bad_schedule_names_what_is_wrong_and_sends_nothing(
    allowed: Client, mage: FakeMage, schedule: str, said: str
) -> None:
    for tool, arguments in (
        ("create_trigger", {"pipeline_uuid": "example_pipeline", "name": "t", "type": "time"}),
        ("update_trigger", {"trigger_id": time_trigger(mage)["id"]}),
    ):
        result = await allowed.call_tool(tool, arguments | {"schedule": schedule})
        assert result.is_error and said in text(result), text(result)
    assert mage.recorder.requests == []


@pytest.mark.parametrize("start_time", ["tomorrow", "01/02/2030 10:00", "2030-13-01T00:00:00"])
async def test_a_start_time_that_is_not_iso_8601_is_refused(allowed: Client, mage: FakeMage, start_time: str) -> None:
    result = await allowed.call_tool(
        "create_trigger",
        {
            "pipeline_uuid": "example_pipeline",
            "name": "t",
            "type": "time",
            "schedule": "@daily",
            "start_time": start_time,
        },
    )
    assert result.is_error and "start_time" in text(result) and "ISO 8601" in text(result)
    assert mage.recorder.requests == []


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"type": "time"}, "needs a schedule"),
        ({"type": "api", "name": "  "}, "name"),
        ({"type": "api", "variables": {"not-an-identifier": 1}}, "variables"),
        ({"type": "hourly"}, "type"),
    ],
)
async def test_bad_input_is_refused_before_any_change(
    allowed: Client, mage: FakeMage, arguments: dict[str, Any], said: str
) -> None:
    result = await allowed.call_tool("create_trigger", {"pipeline_uuid": "example_pipeline", "name": "t"} | arguments)
    assert result.is_error and said in text(result)
    assert changes_sent(mage) == []


async def test_an_api_trigger_is_made_without_the_schedule_it_was_given(allowed: Client, mage: FakeMage) -> None:
    result = await allowed.call_tool(
        "create_trigger",
        {"pipeline_uuid": "example_pipeline", "name": "hook", "type": "api", "schedule": "@daily"},
    )
    created = body(result)
    assert "apply only to time triggers" in created["message"]
    assert mage.pipeline_schedules[created["trigger_id"]]["schedule_interval"] is None


async def test_a_name_the_pipeline_already_has_is_refused(make_server: ServerFactory, mage: FakeMage) -> None:
    taken = mage.add_trigger("example_pipeline", name="nightly")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(
            "create_trigger", {"pipeline_uuid": "example_pipeline", "name": "nightly", "type": "api"}
        )
    assert result.is_error and f"(id {taken['id']})" in text(result) and "update_trigger" in text(result)
    assert prompts == [] and changes_sent(mage) == []


async def test_a_trigger_of_an_unknown_pipeline_is_refused(allowed: Client, mage: FakeMage) -> None:
    result = await allowed.call_tool("create_trigger", {"pipeline_uuid": "no_such_pipe", "name": "t", "type": "api"})
    assert result.is_error and "'no_such_pipe' does not exist" in text(result) and "list_pipelines" in text(result)
    assert changes_sent(mage) == []


# -- update_trigger ---------------------------------------------------------------------------


async def test_update_changes_only_what_differs_and_says_what(allowed: Client, mage: FakeMage) -> None:
    trigger = time_trigger(mage, variables={"old": 1})
    result = await allowed.call_tool(
        "update_trigger",
        {"trigger_id": trigger["id"], "name": "hourly", "schedule": "0 3 * * *", "variables": {"new": 2}},
    )
    updated = body(result)
    assert updated["status"] == "updated" and sorted(updated["changed"]) == ["schedule", "variables"]
    stored = mage.pipeline_schedules[trigger["id"]]
    assert stored["schedule_interval"] == "0 3 * * *" and stored["variables"] == {"new": 2}
    (put,) = [r for r in mage.recorder.mutations() if r.method == "PUT"]
    assert put.json == {"pipeline_schedule": {"schedule_interval": "0 3 * * *", "variables": {"new": 2}}}
    assert updated["trigger"]["schedule"] == "0 3 * * *"
    assert_no_token(mage, result)


async def test_turning_a_schedule_on_and_off(allowed: Client, mage: FakeMage) -> None:
    trigger = time_trigger(mage)
    on = body(await allowed.call_tool("update_trigger", {"trigger_id": trigger["id"], "active": True}))
    assert mage.pipeline_schedules[trigger["id"]]["status"] == "active"
    assert on["changed"] == ["active"] and "first at" in on["message"] and on["trigger"]["next_run_at"]
    off = body(await allowed.call_tool("update_trigger", {"trigger_id": trigger["id"], "active": False}))
    assert mage.pipeline_schedules[trigger["id"]]["status"] == "inactive" and "does not fire" in off["message"]


async def test_an_update_that_changes_nothing_asks_and_sends_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    trigger = time_trigger(mage, variables={"a": 1}, start_time="2030-01-01 00:00:00")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(
            "update_trigger",
            {
                "trigger_id": trigger["id"],
                "name": "hourly",
                "schedule": "@hourly",
                "start_time": "2030-01-01T01:00:00+01:00",
                "variables": {"a": 1},
                "active": False,
            },
        )
    unchanged = body(result)
    assert (
        unchanged["status"] == "unchanged" and unchanged["changed"] == [] and "No request sent" in unchanged["message"]
    )
    assert prompts == [] and changes_sent(mage) == []


async def test_an_api_trigger_takes_no_schedule(allowed: Client, mage: FakeMage) -> None:
    hook = mage.add_trigger("example_pipeline", name="hook", schedule_type="api")
    result = await allowed.call_tool("update_trigger", {"trigger_id": hook["id"], "schedule": "@daily"})
    assert result.is_error and "only to time triggers" in text(result)
    assert changes_sent(mage) == []


async def test_a_rename_to_a_taken_name_is_refused(allowed: Client, mage: FakeMage) -> None:
    trigger = time_trigger(mage)
    mage.add_trigger("example_pipeline", name="nightly")
    result = await allowed.call_tool("update_trigger", {"trigger_id": trigger["id"], "name": "nightly"})
    assert result.is_error and "already has a trigger named 'nightly'" in text(result)
    assert changes_sent(mage) == []


async def test_the_update_plan_shows_old_and_new_values_without_the_token(client: Client, mage: FakeMage) -> None:
    trigger = time_trigger(mage)
    result = await client.call_tool(
        "update_trigger", {"trigger_id": trigger["id"], "schedule": "@daily", "active": True}
    )
    plan = body(result)["plan"]
    assert plan["changes"]["schedule"] == {"from": "@hourly", "to": "@daily"}
    assert plan["changes"]["active"] == {"from": False, "to": True}
    assert "'@hourly' → '@daily'" in plan["summary"] and "first at" in plan["summary"]
    assert_no_token(mage, result)
    assert changes_sent(mage) == []


async def test_updating_an_unknown_trigger_points_to_list_triggers(allowed: Client) -> None:
    result = await allowed.call_tool("update_trigger", {"trigger_id": 777, "active": True})
    assert result.is_error and "Trigger 777 was not found" in text(result) and "list_triggers" in text(result)


# -- delete_trigger ---------------------------------------------------------------------------


async def test_delete_says_its_runs_leave_mages_lists(client: Client, mage: FakeMage) -> None:
    trigger = time_trigger(mage, status="active")
    for _ in range(3):
        mage.complete_run(mage.trigger_run(trigger["id"])["id"])
    first = await client.call_tool("delete_trigger", {"trigger_id": trigger["id"]})
    plan = body(first)
    assert "The runs made through it (3) stay in Mage's database" in plan["plan"]["summary"]
    assert trigger["id"] in mage.pipeline_schedules
    second = await client.call_tool(
        "delete_trigger", {"trigger_id": trigger["id"], "confirmation_token": plan["confirmation_token"]}
    )
    deleted = body(second)
    assert (deleted["status"], deleted["trigger_id"], deleted["pipeline_uuid"]) == (
        "deleted",
        trigger["id"],
        "example_pipeline",
    )
    assert trigger["id"] not in mage.pipeline_schedules and len(mage.orphaned_runs) == 3
    assert trigger["token"] not in text(first) + text(second)


async def test_deleting_an_unknown_trigger_points_to_list_triggers(allowed: Client, mage: FakeMage) -> None:
    result = await allowed.call_tool("delete_trigger", {"trigger_id": 31337})
    assert result.is_error and "Trigger 31337 was not found" in text(result) and "list_triggers" in text(result)
    assert changes_sent(mage) == []


# -- when a schedule fires --------------------------------------------------------------------

NOW = datetime(2026, 12, 2, 10, 17, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("schedule", "start_time", "first"),
    [
        ("@hourly", None, datetime(2026, 12, 2, 11, 0, tzinfo=UTC)),
        ("@daily", None, datetime(2026, 12, 3, 0, 0, tzinfo=UTC)),
        ("@weekly", None, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)),  # Mage's week starts on Monday
        ("@monthly", None, datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("*/20 * * * *", None, datetime(2026, 12, 2, 10, 20, tzinfo=UTC)),
        ("0 3 * * *", datetime(2027, 5, 1, 3, 0, tzinfo=UTC), datetime(2027, 5, 1, 3, 0, tzinfo=UTC)),
        ("@once", None, None),
    ],
)
def test_next_fire_is_mages_next_scheduled_time_never_before_start(
    schedule: str, start_time: datetime | None, first: datetime | None
) -> None:
    assert next_fire(schedule, start_time, NOW) == first
