"""Read-only mode and toolsets: which tools are listed, what a call to a hidden one gets, and start-up checks."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from pydantic import BaseModel

from mage_mcp.main import overrides, parse_args
from mage_mcp.server.app import INSTRUCTIONS, build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.selection import READ_ONLY_REASON, SelectionError, select
from mage_mcp.tools import TOOLS, TOOLSETS
from mage_mcp.tools.base import reads
from tests.fakes import FakeCloud, FakeMage
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

ALL = {spec.name for spec in TOOLS}
READ_ONLY_TOOLS = {spec.name for spec in TOOLS if spec.annotations.read_only_hint is True}
TOOLSET_OF = {spec.name: spec.toolset for spec in TOOLS}


def listed(**settings: Any) -> set[str]:
    return {spec.name for spec in select(TOOLS, Settings(**settings)).listed}


# ------------------------------------------------------------------------------ settings
def test_names_come_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAGE_MCP_TOOLSETS", " clusters, runs ,")
    monkeypatch.setenv("MAGE_MCP_TOOLS", "get_run")
    monkeypatch.setenv("MAGE_MCP_EXCLUDE_TOOLS", "")
    monkeypatch.setenv("MAGE_MCP_READ_ONLY", "1")
    settings = Settings()
    assert settings.mage_mcp_toolsets == ("clusters", "runs")
    assert settings.mage_mcp_tools == ("get_run",)
    assert settings.mage_mcp_exclude_tools is None  # blank: no narrowing
    assert settings.mage_mcp_read_only is True


def test_no_option_means_every_tool_and_writes_enabled() -> None:
    settings = Settings()
    assert (settings.mage_mcp_read_only, settings.mage_mcp_toolsets, settings.mage_mcp_tools) == (False, None, None)
    assert listed() == ALL and len(ALL) == 46


def test_command_line_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAGE_MCP_TOOLSETS", "git")
    monkeypatch.setenv("MAGE_MCP_READ_ONLY", "1")
    monkeypatch.setenv("MAGE_MCP_EXCLUDE_TOOLS", "get_run")
    args = parse_args(["--toolsets", "runs,clusters", "--no-read-only", "--tools", "get_run,get_cluster"])
    settings = Settings(**overrides(args))
    assert settings.mage_mcp_toolsets == ("runs", "clusters")
    assert settings.mage_mcp_tools == ("get_run", "get_cluster")
    assert settings.mage_mcp_read_only is False
    assert settings.mage_mcp_exclude_tools == ("get_run",)  # not given on the command line: the env stays
    assert Settings(**overrides(parse_args(["--read-only"]))).mage_mcp_read_only is True


# ----------------------------------------------------------------------------- selection
def test_every_tool_is_in_one_toolset_declared_by_its_module() -> None:
    assert set(TOOLSET_OF.values()) == {*TOOLSETS, None}
    assert [name for name, toolset in TOOLSET_OF.items() if toolset is None] == ["list_profiles"]
    assert TOOLSET_OF["trigger_pipeline"] == "runs" and TOOLSET_OF["get_run_logs"] == "runs"
    assert TOOLSET_OF["set_env_vars"] == "clusters" and TOOLSET_OF["update_cluster_config"] == "clusters"
    assert TOOLSET_OF["delete_pipeline"] == "pipelines" and TOOLSET_OF["deploy_git_commit"] == "git"


def test_toolsets_tools_and_exclusions_narrow_the_list() -> None:
    in_runs = {name for name, toolset in TOOLSET_OF.items() if toolset in ("clusters", "runs")}
    assert listed(mage_mcp_toolsets=("clusters", "runs")) == in_runs | {"list_profiles"}
    assert listed(mage_mcp_toolsets=("runs",), mage_mcp_tools=("get_run", "get_cluster", "cancel_run")) == {
        "get_run",
        "cancel_run",
        "list_profiles",
    }
    assert listed(mage_mcp_toolsets=("runs",), mage_mcp_exclude_tools=("delete_run",)) == (
        {name for name, toolset in TOOLSET_OF.items() if toolset == "runs"} - {"delete_run"} | {"list_profiles"}
    )
    assert listed(mage_mcp_tools=("get_run", "cancel_run"), mage_mcp_read_only=True) == {"get_run", "list_profiles"}


def test_list_profiles_is_in_no_toolset_and_always_listed_but_never_alone() -> None:
    assert "list_profiles" in listed(mage_mcp_tools=("get_run",), mage_mcp_exclude_tools=("list_profiles",))
    with pytest.raises(SelectionError, match="leaves no tool"):
        select(TOOLS, Settings(mage_mcp_tools=("get_run",), mage_mcp_exclude_tools=("get_run",)))


def test_read_only_keeps_exactly_the_tools_whose_read_only_hint_is_true() -> None:
    selection = select(TOOLS, Settings(mage_mcp_read_only=True))
    assert all(spec.annotations.read_only_hint is True for spec in selection.listed)
    assert {spec.name for spec in selection.listed} == READ_ONLY_TOOLS
    assert set(selection.hidden) == ALL - READ_ONLY_TOOLS
    assert READ_ONLY_REASON in selection.hidden["trigger_pipeline"]


def test_each_hidden_tool_says_every_option_that_hides_it() -> None:
    hidden = select(
        TOOLS,
        Settings(
            mage_mcp_toolsets=("runs",),
            mage_mcp_tools=("get_run", "cancel_run", "list_runs"),
            mage_mcp_exclude_tools=("get_run",),
            mage_mcp_read_only=True,
        ),
    ).hidden
    assert "toolset 'pipelines' is not in --toolsets / MAGE_MCP_TOOLSETS (runs)" in hidden["get_pipeline"]
    assert "not in --tools / MAGE_MCP_TOOLS" in hidden["get_pipeline"]
    assert "in --exclude-tools / MAGE_MCP_EXCLUDE_TOOLS" in hidden["get_run"]
    assert hidden["cancel_run"] == f"Tool 'cancel_run' is not enabled on this server: {READ_ONLY_REASON}."
    assert "list_runs" not in hidden


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mage_mcp_toolsets": ("runs", "clusterz")}, "unknown toolset 'clusterz' in --toolsets / MAGE_MCP_TOOLSETS"),
        ({"mage_mcp_tools": ("get_runz",)}, "unknown tool 'get_runz' in --tools / MAGE_MCP_TOOLS"),
        ({"mage_mcp_exclude_tools": ("nope",)}, "unknown tool 'nope' in --exclude-tools / MAGE_MCP_EXCLUDE_TOOLS"),
    ],
)
def test_an_unknown_name_is_refused_with_the_valid_names(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectionError) as raised:
        select(TOOLS, Settings(**settings))
    text = str(raised.value)
    assert message in text
    valid = TOOLSETS if "toolset" in message else sorted(ALL)
    assert text.endswith(", ".join(valid))


@pytest.mark.parametrize(
    "settings",
    [
        {"mage_mcp_tools": ("cancel_run",), "mage_mcp_read_only": True},
        {"mage_mcp_toolsets": ("runs",), "mage_mcp_tools": ("get_cluster",)},
        {"mage_mcp_tools": ("get_run",), "mage_mcp_exclude_tools": ("get_run",)},
    ],
)
def test_a_selection_that_leaves_no_tool_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(SelectionError, match="leaves no tool"):
        select(TOOLS, Settings(**settings))


# ------------------------------------------------------------------------- the build check
class Echo(BaseModel):
    text: str


async def stray_tool() -> Echo:
    """A tool whose module names no toolset."""
    return Echo(text="x")


def test_a_tool_in_no_toolset_fails_the_build(make_server: ServerFactory) -> None:
    runtime = make_server().runtime
    with pytest.raises(SelectionError, match="tool 'stray_tool' belongs to no toolset"):
        build_server(runtime=runtime, tools=[*TOOLS, reads(stray_tool, "Stray", "cluster")])
    build_server(runtime=runtime, tools=[*TOOLS, reads(stray_tool, "Stray", "cluster").in_toolset("runs")])


def test_a_tool_declared_twice_fails_the_build(make_server: ServerFactory) -> None:
    with pytest.raises(SelectionError, match="'get_run' is declared twice"):
        build_server(runtime=make_server().runtime, tools=[*TOOLS, *(s for s in TOOLS if s.name == "get_run")])


# ------------------------------------------------------------------------ through a client
async def test_read_only_server_lists_only_read_only_tools_and_says_writes_are_disabled(
    make_server: ServerFactory,
) -> None:
    async with Client(make_server(mage_mcp_read_only=True)) as client:
        tools = (await client.list_tools()).tools
        instructions = client.instructions or ""
    assert {t.name for t in tools} == READ_ONLY_TOOLS
    assert all(t.annotations is not None and t.annotations.read_only_hint is True for t in tools)
    assert "Writes are disabled" in instructions and "MAGE_MCP_READ_ONLY" in instructions
    assert "confirmation_token" not in instructions


async def test_default_server_keeps_todays_instructions(client: Client) -> None:
    assert client.instructions == INSTRUCTIONS


@pytest.mark.parametrize(
    ("settings", "tool", "arguments", "says"),
    [
        ({"mage_mcp_read_only": True}, "cancel_run", {"run_id": 1}, READ_ONLY_REASON),
        ({"mage_mcp_read_only": True}, "stop_cluster", {}, READ_ONLY_REASON),
        ({"mage_mcp_toolsets": ("runs",)}, "delete_pipeline", {"pipeline_uuid": "example_pipeline"}, "--toolsets"),
        ({"mage_mcp_toolsets": ("clusters",)}, "list_pipelines", {}, "toolset 'pipelines'"),
        ({"mage_mcp_exclude_tools": ("trigger_pipeline",)}, "trigger_pipeline", {"pipeline_uuid": "x"}, "remove it"),
        ({"mage_mcp_tools": ("get_run",)}, "get_cluster", {}, "--tools / MAGE_MCP_TOOLS"),
    ],
)
async def test_a_hidden_tool_called_by_name_gets_an_error_result_and_sends_nothing(
    make_server: ServerFactory,
    mage: FakeMage,
    cloud: FakeCloud,
    settings: dict[str, Any],
    tool: str,
    arguments: dict[str, Any],
    says: str,
) -> None:
    asked: list[str] = []
    async with Client(make_server(**settings), elicitation_callback=answer("accept", {"confirm": True}, asked)) as c:
        result = await c.call_tool(
            tool, {**arguments, "confirmation_token": "x"} if tool == "cancel_run" else arguments
        )
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"Tool {tool!r} is not enabled on this server: ") and says in text
    assert asked == []
    assert mage.recorder.requests == [] and cloud.recorder.requests == []


async def test_an_unknown_tool_keeps_the_sdk_answer(make_server: ServerFactory, mage: FakeMage) -> None:
    async with Client(make_server(mage_mcp_read_only=True)) as c:
        result = await c.call_tool("no_such_tool", {})
    assert result.is_error and "Unknown tool" in result.content[0].text  # type: ignore[union-attr]
    assert mage.recorder.requests == []
