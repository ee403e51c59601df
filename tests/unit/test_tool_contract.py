"""The public contract of `tools/list`: names, arguments, annotations and schemas.

`tests/snapshots/tools_list.json` makes every change to it visible in review; after an
intended change, regenerate it with `UPDATE_SNAPSHOTS=1 pytest tests/unit/test_tool_contract.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import BaseModel

from mage_mcp.server.app import MageMCPServer
from mage_mcp.tools import TOOLS
from mage_mcp.tools.base import reads
from tests.fakes import FakeCloud, FakeMage
from tests.unit.conftest import ServerFactory

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "tools_list.json"
MUTATING = {spec.name for spec in TOOLS if spec.mutating}
READ_ONLY = {spec.name for spec in TOOLS if not spec.mutating}
REQUIRED = {
    "list_profiles": [],
    "get_cluster": [],
    "start_cluster": [],
    "stop_cluster": [],
    "restart_cluster": [],
    "set_env_vars": ["env_vars"],
    "unset_env_vars": ["names"],
    "update_cluster_config": ["config"],
    "list_pipelines": [],
    "trigger_pipeline": ["pipeline_uuid"],
    "get_run": ["run_id"],
    "list_runs": [],
    "wait_for_run": ["run_id"],
    "get_run_logs": ["run_id"],
    "diagnose_run": [],
    "get_block_output": ["run_id", "block_uuid"],
    "cancel_run": ["run_id"],
    "retry_run": ["run_id"],
    "delete_run": ["run_id"],
    # pipelines
    "get_pipeline": ["pipeline_uuid"],
    "create_pipeline": ["name"],
    "update_pipeline": ["pipeline_uuid"],
    "delete_pipeline": ["pipeline_uuid"],
    # blocks
    "get_block": ["pipeline_uuid", "block_uuid"],
    "create_block": ["pipeline_uuid", "name", "type"],
    "update_block": ["pipeline_uuid", "block_uuid"],
    "delete_block": ["pipeline_uuid", "block_uuid"],
    # triggers
    "list_triggers": [],
    "get_trigger": ["trigger_id"],
    "create_trigger": ["pipeline_uuid", "name", "type"],
    "update_trigger": ["trigger_id"],
    "delete_trigger": ["trigger_id"],
    # variables
    "list_variables": ["pipeline_uuid"],
    "set_variable": ["pipeline_uuid", "name", "value"],
    "delete_variable": ["pipeline_uuid", "name"],
    # secrets
    "list_secrets": [],
    "create_secret": ["name", "value"],
    "delete_secret": ["name"],
    # workspaces
    "list_workspaces": [],
    "get_workspace": ["name"],
    "create_workspace": ["name", "cluster_type"],
    "update_workspace": ["name", "action"],
    "delete_workspace": ["name"],
    # git
    "git_status": [],
    "git_pull": [],
    "deploy_git_commit": ["branch"],
}
DESTRUCTIVE = {"stop_cluster", "restart_cluster", "set_env_vars", "unset_env_vars", "update_cluster_config"}
DESTRUCTIVE |= {"cancel_run", "delete_run"}
DESTRUCTIVE |= {"update_pipeline", "delete_pipeline"}  # pipelines
DESTRUCTIVE |= {"update_block", "delete_block"}  # blocks
DESTRUCTIVE |= {"update_trigger", "delete_trigger"}  # triggers
DESTRUCTIVE |= {"set_variable", "delete_variable"}  # variables
DESTRUCTIVE |= {"delete_secret"}  # secrets
DESTRUCTIVE |= {"update_workspace", "delete_workspace"}  # workspaces
DESTRUCTIVE |= {"git_pull", "deploy_git_commit"}  # git
NOT_IDEMPOTENT = {"trigger_pipeline", "restart_cluster", "retry_run"}
NOT_IDEMPOTENT |= set[str]()  # pipelines
NOT_IDEMPOTENT |= set[str]()  # blocks
NOT_IDEMPOTENT |= {"create_trigger"}  # triggers
NOT_IDEMPOTENT |= set[str]()  # variables
NOT_IDEMPOTENT |= set[str]()  # secrets
NOT_IDEMPOTENT |= {"create_workspace"}  # workspaces
NOT_IDEMPOTENT |= {"deploy_git_commit"}  # git
CONFIRMING_WORDS = re.compile(r"confirm|approv|consent|accept|allow|yes", re.IGNORECASE)


async def listed(client: Client) -> dict[str, dict[str, Any]]:
    tools = (await client.list_tools()).tools
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools}


async def test_tools_list_matches_the_snapshot(client: Client) -> None:
    tools = await listed(client)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(tools, indent=2, sort_keys=True) + "\n")
    assert tools == json.loads(SNAPSHOT.read_text())


async def test_names_and_required_arguments_are_the_public_contract(client: Client) -> None:
    tools = await listed(client)
    assert {name: tool["inputSchema"].get("required", []) for name, tool in tools.items()} == REQUIRED


async def test_every_tool_has_title_description_and_both_schemas(client: Client) -> None:
    for tool in (await listed(client)).values():
        assert tool["title"] and len(tool["description"]) > 20
        assert tool["inputSchema"]["type"] == "object" and tool["outputSchema"]["type"] == "object"


async def test_annotations_are_honest(client: Client) -> None:
    tools = await listed(client)
    for name in READ_ONLY:
        assert tools[name]["annotations"] == {"readOnlyHint": True}
    for name in MUTATING:
        hints = tools[name]["annotations"]
        assert hints["readOnlyHint"] is False
        assert isinstance(hints["destructiveHint"], bool) and isinstance(hints["idempotentHint"], bool)
    assert {name for name in MUTATING if tools[name]["annotations"]["destructiveHint"]} == DESTRUCTIVE
    assert {name for name in MUTATING if not tools[name]["annotations"]["idempotentHint"]} == NOT_IDEMPOTENT


async def test_no_tool_lets_the_model_confirm_for_itself(client: Client) -> None:
    for name, tool in (await listed(client)).items():
        properties = tool["inputSchema"]["properties"]
        flags = [p for p, s in properties.items() if s.get("type") == "boolean"]
        assert not [flag for flag in flags if CONFIRMING_WORDS.search(flag)], name
        if name in MUTATING:
            assert "confirmation_token" in properties
            assert "confirmation_token" not in tool["inputSchema"].get("required", [])


async def test_nothing_reaches_mage_before_a_tool_is_called(client: Client, mage: FakeMage, cloud: FakeCloud) -> None:
    await client.list_tools()
    assert mage.recorder.requests == [] and cloud.recorder.requests == []


class Huge(BaseModel):
    text: str


async def huge_result() -> Huge:
    """A tool whose result would be over 100 KB."""
    return Huge(text="x" * 120_000)


async def test_a_result_over_100_kb_is_refused_not_sent(make_server: ServerFactory) -> None:
    """Every tool bounds its own result; the server is the last guard, whatever a tool returns."""
    server = MageMCPServer(make_server().runtime, tools=[reads(huge_result, "Huge", "cluster")])
    async with Client(server) as c:
        result = await c.call_tool("huge_result", {})
    assert result.is_error and "over 100 KB" in result.content[0].text  # type: ignore[union-attr]
    assert len(result.content[0].text) < 1_000  # type: ignore[union-attr]
