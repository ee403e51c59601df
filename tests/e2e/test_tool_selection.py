"""Read-only mode and toolsets through the real `mage-mcp` process, over stdio and Streamable HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mage_mcp.server.selection import READ_ONLY_REASON
from mage_mcp.tools import TOOLS, TOOLSETS
from tests.support.processes import assert_no_secrets, mage_mcp_command, read_text, stderr_file

from .conftest import PIPELINE, Answers, Fakes, http_server

pytestmark = pytest.mark.anyio

ALL_TOOLS = {spec.name for spec in TOOLS}
READ_ONLY_TOOLS = {spec.name for spec in TOOLS if spec.annotations.read_only_hint is True}
RUNS_TOOLS = {spec.name for spec in TOOLS if spec.toolset == "runs" or spec.about_server}


@asynccontextmanager
async def stdio_with(
    fakes: Fakes, cwd: Path, args: Sequence[str], answers: Answers | None = None
) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "mage_mcp", *args], env=fakes.env(), cwd=cwd)
    with stderr_file() as err:
        async with Client(stdio_client(params, errlog=err), elicitation_callback=answers) as client:
            yield client
        assert_no_secrets(read_text(err), fakes.secrets, "mage-mcp over stdio")


async def check_read_only(client: Client, answers: Answers, fakes: Fakes) -> None:
    """Only read-only tools are listed, reads work, and a mutating call is refused with nothing sent."""
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == READ_ONLY_TOOLS
    assert all(t.annotations is not None and t.annotations.read_only_hint is True for t in tools)
    assert "Writes are disabled" in (client.instructions or "")
    fakes.clear()
    result = await client.call_tool("trigger_pipeline", {"pipeline_uuid": PIPELINE})
    assert result.is_error and READ_ONLY_REASON in result.content[0].text  # type: ignore[union-attr]
    assert answers.seen == []
    assert fakes.mage.recorder.requests == [] and fakes.cloud.recorder.requests == []
    listed = await client.call_tool("list_pipelines", {})
    assert not listed.is_error, listed.content


async def check_runs_toolset(client: Client, fakes: Fakes) -> None:
    assert {t.name for t in (await client.list_tools()).tools} == RUNS_TOOLS
    fakes.clear()
    result = await client.call_tool("list_pipelines", {})
    assert result.is_error and "toolset 'pipelines'" in result.content[0].text  # type: ignore[union-attr]
    assert fakes.mage.recorder.requests == [] and fakes.cloud.recorder.requests == []


# ------------------------------------------------------------------------------- stdio
async def test_stdio_read_only_flag(fakes: Fakes, workdir: Path) -> None:
    answers = Answers("accept")
    async with stdio_with(fakes, workdir, ["--read-only"], answers) as client:
        await check_read_only(client, answers, fakes)


async def test_stdio_toolsets_flag(fakes: Fakes, workdir: Path) -> None:
    async with stdio_with(fakes, workdir, ["--toolsets", "runs"]) as client:
        await check_runs_toolset(client, fakes)


# ---------------------------------------------------------------------- Streamable HTTP
async def test_streamable_http_read_only_from_the_environment(fakes: Fakes, workdir: Path) -> None:
    answers = Answers("accept")
    with http_server("streamable-http", fakes.env(MAGE_MCP_READ_ONLY="1"), workdir, fakes.secrets) as server:
        async with Client(server.url, elicitation_callback=answers) as client:
            await check_read_only(client, answers, fakes)


async def test_streamable_http_toolsets_from_the_environment(fakes: Fakes, workdir: Path) -> None:
    with http_server("streamable-http", fakes.env(MAGE_MCP_TOOLSETS="runs"), workdir, fakes.secrets) as server:
        async with Client(server.url) as client:
            await check_runs_toolset(client, fakes)


# ------------------------------------------------------------------------ start-up typos
@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
@pytest.mark.parametrize(
    ("args", "env", "says", "valid"),
    [
        (["--toolsets", "runs,clusterz"], {}, "unknown toolset 'clusterz' in --toolsets", ", ".join(TOOLSETS)),
        (["--tools", "get_runz"], {}, "unknown tool 'get_runz' in --tools", ", ".join(sorted(ALL_TOOLS))),
        (
            [],
            {"MAGE_MCP_TOOLSETS": "pipeline"},
            "unknown toolset 'pipeline' in --toolsets / MAGE_MCP_TOOLSETS",
            ", ".join(TOOLSETS),
        ),
        (["--read-only", "--tools", "cancel_run"], {}, "leaves no tool", "--read-only"),
    ],
)
def test_a_bad_selection_stops_start_up(
    fakes: Fakes, workdir: Path, transport: str, args: list[str], env: dict[str, str], says: str, valid: str
) -> None:
    command = mage_mcp_command("--transport", transport, "--port", "9", *args)
    done = subprocess.run(
        command, env=fakes.env(**env), cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=30
    )
    stderr = done.stderr.decode()
    assert done.returncode != 0
    assert says in stderr and valid in stderr, stderr
    assert "Traceback" not in stderr and done.stdout == b""
    assert fakes.mage.recorder.requests == []
