"""Resource templates and prompts through the real `mage-mcp` process, over stdio and Streamable HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.types import TextContent

from mage_mcp.server.resources import PIPELINE_TEMPLATE, RUN_TEMPLATE

from .conftest import PIPELINE, Fakes, http_server, stdio_session

pytestmark = pytest.mark.anyio


async def check_templates_and_prompts(client: Client, fakes: Fakes) -> None:
    templates = (await client.list_resource_templates()).resource_templates
    assert {t.uri_template for t in templates} == {PIPELINE_TEMPLATE, RUN_TEMPLATE}
    prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert prompts == {"why_did_it_fail", "cluster_health", "deploy_and_verify"}
    fakes.clear()
    result = await client.get_prompt("why_did_it_fail", {"pipeline_uuid": PIPELINE})
    (message,) = result.messages
    assert isinstance(message.content, TextContent)
    assert f'"{PIPELINE}"' in message.content.text and "diagnose_run" in message.content.text
    assert fakes.mage.recorder.requests == [] and fakes.cloud.recorder.requests == []


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
async def test_templates_and_prompts_are_listed_and_a_prompt_read(fakes: Fakes, workdir: Path, transport: str) -> None:
    if transport == "stdio":
        async with stdio_session(fakes, workdir) as client:
            await check_templates_and_prompts(client, fakes)
        return
    with http_server(transport, fakes.env(), workdir, fakes.secrets) as server:
        async with Client(server.url) as client:
            await check_templates_and_prompts(client, fakes)
