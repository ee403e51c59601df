"""The pipeline variable tools against the Mage cluster fake: list, set (create or update), delete.

What reached Mage is read from the fake's state and request recorder, never from a tool's answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.clients import ClusterClient, MageNotFoundError
from tests.fakes import FakeMage
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

PIPELINE = "example_pipeline"
VARIABLES = f"/api/pipelines/{PIPELINE}/variables"


def body(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text  # type: ignore[union-attr]


def sent(mage: FakeMage) -> list[str]:
    """The requests that reached the fake, the status probe and the login excluded."""
    return [f"{r.method} {r.path}" for r in mage.recorder.requests if not r.path.endswith(("/sessions", "/statuses"))]


def changes_sent(mage: FakeMage) -> list[str]:
    return [f"{r.method} {r.path}" for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def holds(mage: FakeMage, **variables: Any) -> None:
    mage.pipelines[PIPELINE]["variables"] = dict(variables)


# -- list_variables ---------------------------------------------------------------------------


async def test_list_shows_names_and_values_from_the_globals_only(client: Client, mage: FakeMage) -> None:
    holds(mage, zone="a", retries=3, flags={"full": True, "days": [1, 2]})
    result = body(await client.call_tool("list_variables", {"pipeline_uuid": PIPELINE}))
    assert result == {
        "pipeline_uuid": PIPELINE,
        "variables": [
            {"name": "flags", "value": {"days": [1, 2], "full": True}},
            {"name": "retries", "value": 3},
            {"name": "zone", "value": "a"},
        ],
        "total": 3,
    }
    (request,) = [r for r in mage.recorder.requests if r.path == VARIABLES]
    assert request.query == {"global_only": "true"}  # without it Mage reads every block's outputs


async def test_a_pipeline_without_variables_lists_none(client: Client) -> None:
    result = body(await client.call_tool("list_variables", {"pipeline_uuid": PIPELINE}))
    assert result["variables"] == [] and result["total"] == 0


async def test_list_of_an_unknown_pipeline_suggests_list_pipelines(client: Client) -> None:
    text = error_text(await client.call_tool("list_variables", {"pipeline_uuid": "no_such_pipe"}))
    assert "'no_such_pipe' does not exist" in text and "list_pipelines" in text


async def test_huge_values_and_thousands_of_variables_stay_under_the_budget(client: Client, mage: FakeMage) -> None:
    many = {f"var_{n:05d}": "v" * 1_000 for n in range(5_000)}
    holds(mage, a_text="x" * 1_000_000, a_list=list(range(200_000)), **many)
    result = await client.call_tool("list_variables", {"pipeline_uuid": PIPELINE})
    listed = body(result)
    assert len(result.content[0].text.encode()) < 100_000  # type: ignore[union-attr]
    first, second = listed["variables"][:2]
    assert first["name"] == "a_list" and first["value_truncated"] is True and len(first["value"]) < 2_100
    assert second["name"] == "a_text" and second["value_truncated"] is True and "more chars" in second["value"]
    assert listed["total"] == 5_002 and listed["next_cursor"]


async def test_every_variable_is_reached_by_following_the_cursor(client: Client, mage: FakeMage) -> None:
    many = {f"var_{n:05d}": "v" * 1_000 for n in range(500)}
    holds(mage, **many)
    seen: list[str] = []
    arguments: dict[str, Any] = {"pipeline_uuid": PIPELINE}
    while True:
        result = await client.call_tool("list_variables", arguments)
        assert len(result.content[0].text.encode()) < 100_000  # type: ignore[union-attr]
        listed = body(result)
        seen += [item["name"] for item in listed["variables"]]
        if listed.get("next_cursor") is None:
            break
        arguments["cursor"] = listed["next_cursor"]
    assert sorted(seen) == sorted(many) and len(seen) == len(set(seen))


# -- set_variable -----------------------------------------------------------------------------


async def test_a_new_name_is_created_with_a_post_after_a_prompt(make_server: ServerFactory, mage: FakeMage) -> None:
    holds(mage, zone="a")
    prompts: list[str] = []
    arguments = {"pipeline_uuid": PIPELINE, "name": "region", "value": "eu-west"}
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = body(await c.call_tool("set_variable", arguments))
    assert result["status"] == "created" and result["name"] == "region" and result["pipeline_uuid"] == PIPELINE
    assert mage.pipelines[PIPELINE]["variables"] == {"zone": "a", "region": "eu-west"}
    (post,) = [r for r in mage.recorder.mutations() if r.path == VARIABLES]
    assert post.method == "POST" and post.json == {"variable": {"name": "region", "value": "eu-west"}}
    (prompt,) = prompts
    assert "'region'" in prompt and '"eu-west"' in prompt and PIPELINE in prompt and "kwargs['region']" in prompt


async def test_an_existing_name_is_updated_with_a_put_and_the_plan_shows_old_and_new(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    holds(mage, region="eu-west", zone="a")
    prompts: list[str] = []
    arguments = {"pipeline_uuid": PIPELINE, "name": "region", "value": {"primary": "us-east", "backups": 2}}
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = body(await c.call_tool("set_variable", arguments))
    assert result["status"] == "updated"
    assert mage.pipelines[PIPELINE]["variables"]["region"] == {"primary": "us-east", "backups": 2}
    assert changes_sent(mage) == [f"PUT {VARIABLES}/region"]
    assert '"eu-west"' in prompts[0] and '"us-east"' in prompts[0]


async def test_the_same_value_is_a_no_op_without_prompt_or_request(make_server: ServerFactory, mage: FakeMage) -> None:
    holds(mage, retries=3)
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = body(await c.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": "retries", "value": 3}))
    assert result["status"] == "unchanged" and "No request sent" in result["message"]
    assert prompts == [] and changes_sent(mage) == []


@pytest.mark.parametrize(("old", "new"), [(1, True), ("3", 3), (1, 1.0)])
async def test_a_value_of_another_json_type_is_a_change(
    make_server: ServerFactory, mage: FakeMage, old: Any, new: Any
) -> None:
    holds(mage, flag=old)
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = body(await c.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": "flag", "value": new}))
    assert result["status"] == "updated"
    assert json.dumps(mage.pipelines[PIPELINE]["variables"]["flag"]) == json.dumps(new)


@pytest.mark.parametrize("name", ["1st", "my-var", "class", "", "zoné", "a b"])
async def test_a_name_that_is_not_a_python_identifier_is_refused_before_any_request(
    client: Client, mage: FakeMage, name: str
) -> None:
    result = await client.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": name, "value": "x"})
    assert "Python identifier" in error_text(result)
    assert sent(mage) == []


@pytest.mark.parametrize("name", ["env", "execution_date", "pipeline_run_id"])
async def test_a_name_mage_sets_in_every_run_is_refused_and_says_why(client: Client, mage: FakeMage, name: str) -> None:
    text = error_text(await client.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": name, "value": "x"}))
    assert f"named {name!r} would never reach the blocks" in text and "another name" in text
    assert sent(mage) == []


async def test_env_is_refused_because_mage_forces_prod(client: Client, mage: FakeMage) -> None:
    text = error_text(
        await client.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": "env", "value": "dev"})
    )
    assert "'prod'" in text


async def test_a_null_or_huge_value_is_refused_before_any_request(client: Client, mage: FakeMage) -> None:
    null = await client.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": "x", "value": None})
    huge = await client.call_tool("set_variable", {"pipeline_uuid": PIPELINE, "name": "x", "value": "y" * 60_000})
    assert "value: Value error, must not be null" in error_text(null)
    assert "over 50,000 characters" in error_text(huge) and len(error_text(huge)) < 1_000
    assert sent(mage) == []


async def test_set_on_an_unknown_pipeline_suggests_list_pipelines_and_changes_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("set_variable", {"pipeline_uuid": "nope", "name": "x", "value": 1})
    assert "list_pipelines" in error_text(result)
    assert changes_sent(mage) == []


# -- delete_variable --------------------------------------------------------------------------


async def test_delete_removes_the_variable_after_a_prompt_naming_it(make_server: ServerFactory, mage: FakeMage) -> None:
    holds(mage, region="eu-west", zone="a")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = body(await c.call_tool("delete_variable", {"pipeline_uuid": PIPELINE, "name": "region"}))
    assert result["status"] == "deleted" and result["name"] == "region"
    assert mage.pipelines[PIPELINE]["variables"] == {"zone": "a"}
    assert changes_sent(mage) == [f"DELETE {VARIABLES}/region"]
    assert "'region'" in prompts[0] and '"eu-west"' in prompts[0] and PIPELINE in prompts[0]


async def test_delete_of_an_unknown_name_is_not_found_with_a_hint_and_sends_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    holds(mage, zone="a")
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        text = error_text(await c.call_tool("delete_variable", {"pipeline_uuid": PIPELINE, "name": "region"}))
    assert "'region' was not found" in text and "list_variables" in text
    assert changes_sent(mage) == []


async def test_delete_on_an_unknown_pipeline_suggests_list_pipelines(client: Client, mage: FakeMage) -> None:
    text = error_text(await client.call_tool("delete_variable", {"pipeline_uuid": "nope", "name": "x"}))
    assert "list_pipelines" in text and changes_sent(mage) == []


async def test_the_client_reports_mages_key_error_for_a_vanished_name_as_not_found(
    cluster: ClusterClient, mage: FakeMage
) -> None:
    """Mage answers an unknown name with a bare KeyError once the pipeline has variables (a race with the plan)."""
    holds(mage, zone="a")
    with pytest.raises(MageNotFoundError) as raised:
        await cluster.delete_variable(PIPELINE, "region")
    assert raised.value.kind == "variable" and "'region'" in raised.value.message


# -- the fake answers as Mage does -------------------------------------------------------------


async def test_the_fake_follows_mages_variable_quirks(cluster: ClusterClient, mage: FakeMage) -> None:
    await cluster.delete_variable(PIPELINE, "never_set")  # no variables yet: Mage says nothing
    await cluster.update_variable(PIPELINE, "brand_new", 1)  # a PUT of a new name creates it
    await cluster.create_variable(PIPELINE, "brand_new", 2)  # a POST of an existing one overwrites it
    assert await cluster.list_variables(PIPELINE) == {"brand_new": 2}
    with_outputs = (await cluster.request("GET", VARIABLES.removeprefix("/api")))["variables"]
    assert [entry["block"]["uuid"] for entry in with_outputs] == [
        "load_titanic",
        "fill_in_missing_values",
        "export_titanic_clean",
        "global",
    ]
