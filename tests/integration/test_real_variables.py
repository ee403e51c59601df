"""Pipeline variables and project secrets against a real Mage OSS 0.9.80.

Each test makes its own uniquely named pipeline (one data loader that returns what it saw: a
variable's value, and the length and hash of a secret, never the secret) and removes it after.
What reached Mage is read back through Mage's own API (`MageApi`), and a run shows what a block sees.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from tests.integration.conftest import ServerFactory
from tests.support.mage_api import MageApi
from tests.support.mcp_results import accept, ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]

BLOCK_CODE = """\
import hashlib

import pandas as pd
from mage_ai.data_preparation.shared.secrets import get_secret_value

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load(*args, **kwargs):
    name = kwargs.get("secret_name")
    secret = get_secret_value(name) if name else None
    return pd.DataFrame([{
        "greeting": str(kwargs.get("greeting")),
        "secret_length": -1 if secret is None else len(secret),
        "secret_sha256": "" if secret is None else hashlib.sha256(secret.encode()).hexdigest(),
    }])
"""


@dataclass(frozen=True)
class Probe:
    pipeline_uuid: str
    block_uuid: str
    tag: str
    admin: MageApi

    async def run_output(self, variables: dict[str, Any]) -> dict[str, Any]:
        """What the block returned in a new run with these run variables: its one row, by column."""
        run_id = await self.admin.start_run(self.pipeline_uuid, variables)
        run = await self.admin.wait_run(run_id, timeout_s=90)
        assert run["status"] == "completed", run
        block_run = (await self.admin.block_runs(run_id))[self.block_uuid]
        output = await self.admin.block_output(int(block_run["id"]))
        return dict(zip(output["columns"], output["rows"][0], strict=True))


async def every_secret_name(client: Client, shown: list[str]) -> list[str]:
    """Every name list_secrets gives, page by page; each page's text goes to `shown`."""
    names: list[str] = []
    cursor: dict[str, str] = {}
    while True:
        page = await client.call_tool("list_secrets", {"limit": 100} | cursor)
        shown.append(text_of(page))
        names += ok(page)["names"]
        if "next_cursor" not in ok(page):
            return names
        cursor = {"cursor": ok(page)["next_cursor"]}


@pytest.fixture
async def probe(admin: MageApi) -> AsyncIterator[Probe]:
    tag = secrets.token_hex(4)
    uuid = await admin.create_pipeline(f"mcp_vars_{tag}")
    try:
        block = await admin.add_loader_block(uuid, f"mcp_vars_load_{tag}", BLOCK_CODE)
        yield Probe(uuid, block, tag, admin)
    finally:
        await admin.remove_pipeline(uuid)


async def test_a_variable_set_by_the_tools_reaches_a_run_then_goes(make_server: ServerFactory, probe: Probe) -> None:
    prompts = accept()
    where = {"pipeline_uuid": probe.pipeline_uuid}
    async with Client(make_server(), elicitation_callback=prompts) as client:
        created = ok(await client.call_tool("set_variable", where | {"name": "greeting", "value": f"hi-{probe.tag}"}))
        assert await probe.admin.variables(probe.pipeline_uuid) == {"greeting": f"hi-{probe.tag}"}
        same = ok(await client.call_tool("set_variable", where | {"name": "greeting", "value": f"hi-{probe.tag}"}))
        updated = ok(await client.call_tool("set_variable", where | {"name": "greeting", "value": f"hola-{probe.tag}"}))
        listed = ok(await client.call_tool("list_variables", where))
        output = await probe.run_output({})
        deleted = ok(await client.call_tool("delete_variable", where | {"name": "greeting"}))
        after = await probe.admin.variables(probe.pipeline_uuid)
        again = await client.call_tool("delete_variable", where | {"name": "greeting"})

    assert (created["status"], same["status"], updated["status"], deleted["status"]) == (
        "created",
        "unchanged",
        "updated",
        "deleted",
    )
    assert len(prompts.seen) == 3  # the no-op asked nobody
    assert listed["variables"] == [{"name": "greeting", "value": f"hola-{probe.tag}"}]
    assert output["greeting"] == f"hola-{probe.tag}"
    assert after == {}
    assert again.is_error and "'greeting' was not found" in text_of(again) and "list_variables" in text_of(again)


async def test_names_mage_would_reject_or_overwrite_are_refused_before_asking(
    make_server: ServerFactory, probe: Probe
) -> None:
    prompts = accept()
    where = {"pipeline_uuid": probe.pipeline_uuid}
    async with Client(make_server(), elicitation_callback=prompts) as client:
        env = await client.call_tool("set_variable", where | {"name": "env", "value": "dev"})
        dashed = await client.call_tool("set_variable", where | {"name": "my-var", "value": "x"})
        missing = await client.call_tool("list_variables", {"pipeline_uuid": f"no_such_{probe.tag}"})
    assert env.is_error and "'prod'" in text_of(env)
    assert dashed.is_error and "Python identifier" in text_of(dashed)
    assert missing.is_error and "list_pipelines" in text_of(missing)
    assert prompts.seen == []
    assert await probe.admin.variables(probe.pipeline_uuid) == {}


async def test_a_secret_created_by_the_tools_is_read_by_a_block_and_never_shown(
    make_server: ServerFactory, probe: Probe
) -> None:
    name, value = f"MCP_SECRET_{probe.tag.upper()}", f"v-{secrets.token_urlsafe(24)}"
    prompts = accept()
    shown: list[str] = []
    try:
        async with Client(make_server(fallback="token")) as token_client:
            planned = await token_client.call_tool("create_secret", {"name": name, "value": value})
            shown.append(text_of(planned))
            assert ok(planned)["status"] == "confirmation_required"
        async with Client(make_server(), elicitation_callback=prompts) as client:
            created = await client.call_tool("create_secret", {"name": name, "value": value})
            twice = await client.call_tool("create_secret", {"name": name, "value": value})
            listed = await every_secret_name(client, shown)
            shown += [text_of(created), text_of(twice)]
            assert name in await probe.admin.secret_names()
            output = await probe.run_output({"secret_name": name})
            deleted = await client.call_tool("delete_secret", {"name": name})
            shown.append(text_of(deleted))
    finally:
        if name in await probe.admin.secret_names():
            await probe.admin.delete_secret(name)

    assert ok(created) | {"message": None} == {"status": "created", "name": name, "message": None}
    assert twice.is_error and "already exists" in text_of(twice) and "delete_secret" in text_of(twice)
    assert name in listed
    assert output["secret_length"] == len(value)
    assert output["secret_sha256"] == hashlib.sha256(value.encode()).hexdigest()
    assert ok(deleted)["status"] == "deleted" and name not in await probe.admin.secret_names()
    assert len(prompts.seen) == 2  # create and delete; the second create was refused before asking
    for text in [*shown, *prompts.seen]:
        assert value not in text, text
