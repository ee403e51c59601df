"""Hostile input: every argument states its size limit, and what breaks a limit or a naming rule is refused
before any request, including the reads a changing tool makes to build its plan.

The checks walk the listed input schemas, so a new tool or argument is covered without a line here.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.tools.names import JSON_BYTES
from tests.fakes import FakeCloud, FakeMage
from tests.unit.confirmation_cases import CASES
from tests.unit.conftest import ServerFactory
from tests.unit.test_tool_contract import listed

pytestmark = pytest.mark.anyio

FREE_FORM_JSON = {
    ("trigger_pipeline", "variables"),
    ("create_trigger", "variables"),
    ("update_trigger", "variables"),
    ("set_variable", "value"),
    ("update_cluster_config", "config"),
}
"""Arguments that take any JSON: a schema cannot state their limit, `json_up_to` checks it (JSON_BYTES)."""

IDENTIFYING = {"pipeline_uuid", "block_uuid", "from_block_uuid", "name", "team_id", "cluster_id"}
"""Arguments that name an object, so go into a URL path or a file name."""
FREE_TEXT_NAMES = {("create_trigger", "name"), ("update_trigger", "name")}
"""A trigger's name is a label Mage stores, never a path."""
PATH_LIKE = ["x/../../y", "../etc", "a\\b", "/etc/passwd", "a\x00b", "a\nb", ".."]

PLAIN_VALUES: dict[str, Any] = {
    "pipeline_uuid": "example_pipeline",
    "block_uuid": "load_data",
    "run_id": 1,
    "trigger_id": 1,
    "name": "plain_name",
    "names": ["GREETING"],
    "env_vars": {"GREETING": "hi"},
    "config": {"resources": {"cpu": "1"}},
    "value": 1,
    "type": "data_loader",
    "schedule": "@daily",
    "cluster_type": "k8s",
    "action": "stop",
    "branch": "main",
}


def unbounded(schema: dict[str, Any], path: str = "") -> list[str]:
    """The paths in `schema` of strings, arrays, objects and numbers without a stated limit."""
    if "anyOf" in schema:
        return [found for option in schema["anyOf"] for found in unbounded(option, path)]
    kinds = schema.get("type")
    types = set(kinds) if isinstance(kinds, list) else {kinds}
    found = []
    if "string" in types and not {"maxLength", "enum", "const"} & set(schema):
        found.append(path)
    if types & {"integer", "number"} and "maximum" not in schema:
        found.append(path)
    if "array" in types:
        found += [path] if "maxItems" not in schema else []
        found += unbounded(schema.get("items", {}), f"{path}[]")
    if "object" in types:
        properties = schema.get("properties", {})
        if path and not properties and "maxProperties" not in schema:
            found.append(path)
        for key, value in properties.items():
            found += unbounded(value, f"{path}.{key}" if path else key)
        if isinstance(schema.get("additionalProperties"), dict):
            found += unbounded(schema["additionalProperties"], f"{path}.*")
    return found


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


def baseline(tool: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments that pass validation: a confirmation case's, else a plain value for each required one."""
    if tool in CASES:
        return dict(CASES[tool].arguments)
    return {name: PLAIN_VALUES[name] for name in schema.get("required", [])}


def nothing_sent(mage: FakeMage, cloud: FakeCloud) -> bool:
    return mage.recorder.requests == [] and cloud.recorder.requests == []


async def test_every_argument_states_its_limit(client: Client) -> None:
    found = {
        (name, path.split(".")[0].split("[")[0])
        for name, tool in (await listed(client)).items()
        for path in unbounded(tool["inputSchema"])
    }
    assert found == FREE_FORM_JSON


@pytest.mark.parametrize(("tool", "argument"), sorted(FREE_FORM_JSON))
async def test_free_form_json_over_its_limit_is_refused_before_any_request(
    tool: str, argument: str, client: Client, mage: FakeMage, cloud: FakeCloud
) -> None:
    schema = (await listed(client))[tool]["inputSchema"]
    big = {"text": "x" * JSON_BYTES}
    result = await client.call_tool(tool, {**baseline(tool, schema), argument: big})
    assert result.is_error and f"at most {JSON_BYTES:,}" in text(result) and argument in text(result)
    assert nothing_sent(mage, cloud)


async def identifying_arguments(client: Client) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, argument, tool["inputSchema"])
        for name, tool in (await listed(client)).items()
        for argument in tool["inputSchema"].get("properties", {})
        if argument in IDENTIFYING and (name, argument) not in FREE_TEXT_NAMES
    ]


async def test_path_like_names_and_ids_are_refused_before_any_request(
    make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    async with Client(make_server()) as client:
        checked = await identifying_arguments(client)
        assert len(checked) > 40
        for tool, argument, schema in checked:
            for value in PATH_LIKE:
                result = await client.call_tool(tool, {**baseline(tool, schema), argument: value})
                assert result.is_error, (tool, argument, value, result.structured_content)
                assert argument in text(result), (tool, argument, text(result))
                assert len(value) < 3 or value not in text(result), (tool, argument, text(result))
        assert nothing_sent(mage, cloud)


async def test_an_identifier_over_its_limit_says_the_limit(client: Client, mage: FakeMage, cloud: FakeCloud) -> None:
    result = await client.call_tool("get_cluster", {"cluster_id": "c" * 65_536})
    assert result.is_error and "cluster_id" in text(result) and "at most 255 characters" in text(result)
    assert nothing_sent(mage, cloud)


async def test_a_crash_inside_a_tool_says_what_kind_and_what_to_do(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyError("s3cr3t-looking-text")

    monkeypatch.setattr("mage_mcp.clients.cluster.ClusterClient.list_pipelines", crash)
    result = await client.call_tool("list_pipelines", {})
    assert result.is_error and "failed unexpectedly (KeyError)" in text(result)
    assert "Nothing was changed" in text(result) and "s3cr3t" not in text(result)


async def test_a_boolean_is_not_taken_for_a_number(client: Client, mage: FakeMage, cloud: FakeCloud) -> None:
    for tool, arguments in (("get_run", {"run_id": True}), ("list_runs", {"limit": False})):
        result = await client.call_tool(tool, arguments)
        assert result.is_error and "must be a number, not true or false" in text(result), (tool, text(result))
    assert nothing_sent(mage, cloud)
