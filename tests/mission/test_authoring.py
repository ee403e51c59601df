"""An operator's authoring request, end to end over stdio against the local cloud's real Mage:

"Add a block that loads the orders table to daily_sales, and schedule it hourly."

Every step goes through MCP with the person confirming each change; every change is checked
from Mage's own API, never from the tool's answer. The secret the loader reads appears in no
result, prompt or log (the mission's conftest also checks mage-mcp's stderr for it).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from .conftest import SECRET_VALUE, Mission
from .steps import call, confirmed, confirmed_wait, ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.mage]

LOADER = """\
import pandas as pd
from mage_ai.data_preparation.shared.secrets import get_secret_value

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_orders(*args, **kwargs):
    password = get_secret_value(kwargs["secret_name"])
    return pd.DataFrame({"amount": [10, 20, 12], "secret_chars": [len(password)] * 3})
"""

TOTAL_V1 = """\
if "transformer" not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def total(orders, *args, **kwargs):
    return {"total": int(orders["amount"].sum()), "edited": False}
"""

TOTAL_V2 = TOTAL_V1.replace('"edited": False', '"edited": True, "currency": kwargs["currency"]')


async def test_add_a_loader_block_and_schedule_it_hourly(mission: Mission) -> None:
    env = mission.local.env
    await confirmed_wait(mission, "start_cluster", {})
    await mission.mage.login(env["MAGE_EMAIL"], env["MAGE_PASSWORD"])
    tag = secrets.token_hex(3)
    secret_name = f"ORDERS_DB_{tag.upper()}"
    results: list[str] = []

    async def change(tool: str, arguments: dict[str, Any], mentions: str) -> dict[str, Any]:
        result = await confirmed(mission, tool, arguments, mentions=mentions)
        results.append(json.dumps(result))
        return result

    created = await change("create_pipeline", {"name": f"Daily Sales {tag}"}, mentions=f"daily_sales_{tag}")
    pipeline = created["pipeline_uuid"]
    assert pipeline == f"daily_sales_{tag}", created
    assert pipeline in await mission.mage.pipeline_uuids()

    await change("create_secret", {"name": secret_name, "value": SECRET_VALUE}, mentions=secret_name)
    assert secret_name in await mission.mage.secret_names()
    await change(
        "set_variable", {"pipeline_uuid": pipeline, "name": "secret_name", "value": secret_name}, "secret_name"
    )
    await change("set_variable", {"pipeline_uuid": pipeline, "name": "currency", "value": "EUR"}, mentions="currency")
    assert (await mission.mage.variables(pipeline)) == {"secret_name": secret_name, "currency": "EUR"}

    loader = await change(
        "create_block",
        {"pipeline_uuid": pipeline, "name": f"load orders {tag}", "type": "data_loader", "code": LOADER},
        mentions=pipeline,
    )
    total = await change(
        "create_block",
        {
            "pipeline_uuid": pipeline,
            "name": f"total {tag}",
            "type": "transformer",
            "code": TOTAL_V1,
            "upstream": [loader["block_uuid"]],
        },
        mentions=pipeline,
    )
    edited = await change(
        "update_block",
        {"pipeline_uuid": pipeline, "block_uuid": total["block_uuid"], "code": TOTAL_V2},
        mentions='+    return {"total"',  # the prompt shows the diff
    )
    assert "code" in json.dumps(edited), edited
    assert await mission.mage.block_code(pipeline, total["block_uuid"]) == TOTAL_V2

    hourly = await change(
        "create_trigger",
        {"pipeline_uuid": pipeline, "name": "hourly", "type": "time", "schedule": "@hourly"},
        mentions="@hourly",
    )
    (schedule,) = await mission.mage.schedules(pipeline)
    assert schedule["id"] == hourly["trigger_id"] and schedule["schedule_interval"] == "@hourly"
    assert schedule["status"] == "inactive", "a new schedule must not fire before the person turns it on"

    shown = ok(await call(mission, "get_pipeline", {"pipeline_uuid": pipeline}), "get_pipeline")
    assert [b["uuid"] for b in shown["blocks"]] == [loader["block_uuid"], total["block_uuid"]], shown
    assert sorted(shown["variable_names"]) == ["currency", "secret_name"] and shown["trigger_count"] == 1, shown

    started = await change("trigger_pipeline", {"pipeline_uuid": pipeline}, mentions=pipeline)
    run = ok(await call(mission, "wait_for_run", {"run_id": started["run_id"], "timeout_s": 90}), "wait_for_run")
    assert run["status"] == "completed", f"{run}{mission.local.diagnostics()}"
    output = ok(
        await call(mission, "get_block_output", {"run_id": started["run_id"], "block_uuid": total["block_uuid"]}),
        "get_block_output",
    )
    (table,) = output["outputs"]
    assert dict(zip(table["columns"], table["rows"][0], strict=True)) == {
        "total": 42,
        "edited": True,
        "currency": "EUR",
    }, output
    loaded = ok(
        await call(mission, "get_block_output", {"run_id": started["run_id"], "block_uuid": loader["block_uuid"]}),
        "get_block_output",
    )
    assert loaded["outputs"][0]["rows"][0][1] == len(SECRET_VALUE), loaded

    listed = ok(await call(mission, "list_triggers", {"pipeline_uuid": pipeline}), "list_triggers")  # newest first
    assert [t["id"] for t in listed["triggers"]] == [started["trigger_id"], hourly["trigger_id"]], listed

    deleted = await change("delete_pipeline", {"pipeline_uuid": pipeline}, mentions="hourly")
    assert pipeline not in await mission.mage.pipeline_uuids(), deleted
    assert await schedules_of_any(mission, pipeline) == [], "delete_pipeline left the pipeline's triggers"
    await change("delete_secret", {"name": secret_name}, mentions=secret_name)
    assert secret_name not in await mission.mage.secret_names()

    seen = [*results, *mission.answers.seen, text_of(await call(mission, "list_secrets", {}))]
    assert not [text for text in seen if SECRET_VALUE in text], "the secret's value left the server"
    await confirmed(mission, "stop_cluster", {}, mentions=env["MAGE_CLUSTER_ID"])


async def schedules_of_any(mission: Mission, pipeline_uuid: str) -> list[dict[str, Any]]:
    """The project's triggers that name the pipeline, even once the pipeline is gone."""
    body = await mission.mage.call("GET", "/pipeline_schedules", params={"_limit": 1000})
    return [s for s in body["pipeline_schedules"] if s["pipeline_uuid"] == pipeline_uuid]
