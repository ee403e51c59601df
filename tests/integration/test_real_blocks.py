"""The block tools against a real Mage OSS 0.9.80: create, edit, run, re-link, delete, read back through Mage's API.

Each test makes its own uniquely named pipeline (and so block files of unique names: Mage keeps a
block's file after the block is deleted, and a later block of that name would reuse it).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from tests.integration.conftest import ServerFactory
from tests.support.mage_api import MageApi
from tests.support.mcp_results import ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]

LOADER = """\
import pandas as pd

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load(*args, **kwargs):
    return pd.DataFrame([{"order": 1, "amount": 10}, {"order": 2, "amount": 32}])
"""
TRANSFORMER = """\
if "transformer" not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def shape(data, *args, **kwargs):
    data["tag"] = {tag!r}
    data["total"] = int(data["amount"].sum())
    return data
"""


@dataclass(frozen=True)
class Scene:
    pipeline_uuid: str
    tag: str
    admin: MageApi


@pytest.fixture
async def scene(admin: MageApi) -> AsyncIterator[Scene]:
    tag = secrets.token_hex(4)
    uuid = await admin.create_pipeline(f"mcp_blocks_{tag}")
    try:
        yield Scene(uuid, tag, admin)
    finally:
        await admin.remove_pipeline(uuid)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return ok(await client.call_tool(tool, arguments))


async def test_a_block_created_then_edited_runs_the_edited_code(make_server: ServerFactory, scene: Scene) -> None:
    p, tag = scene.pipeline_uuid, scene.tag
    async with Client(make_server(fallback="allow")) as client:
        loader = await call(
            client, "create_block", {"pipeline_uuid": p, "name": f"load {tag}", "type": "data_loader", "code": LOADER}
        )
        shaper = await call(
            client,
            "create_block",
            {"pipeline_uuid": p, "name": f"shape {tag}", "type": "transformer", "upstream": [loader["block_uuid"]]},
        )
        template = await scene.admin.block_code(p, shaper["block_uuid"])
        edited = TRANSFORMER.format(tag=f"edited-{tag}").replace("\n", "\r\n")
        updated = await call(
            client, "update_block", {"pipeline_uuid": p, "block_uuid": shaper["block_uuid"], "code": edited}
        )
        started = await call(client, "trigger_pipeline", {"pipeline_uuid": p})
        run = await call(client, "wait_for_run", {"run_id": started["run_id"], "timeout_s": 120})
        output = await call(
            client, "get_block_output", {"run_id": started["run_id"], "block_uuid": shaper["block_uuid"]}
        )

    assert loader["block_uuid"] == f"load_{tag}" and loader["file_path"] == f"data_loaders/load_{tag}.py"
    assert "@transformer" in template and f"edited-{tag}" not in template  # Mage's template, without code
    assert updated["changed"] == ["code"]
    assert await scene.admin.block_code(p, shaper["block_uuid"]) == edited.replace("\r\n", "\n")
    assert (await scene.admin.blocks(p))[shaper["block_uuid"]]["upstream_blocks"] == [loader["block_uuid"]]
    assert run["status"] == "completed", run
    (table,) = output["outputs"]
    row = dict(zip(table["columns"], table["rows"][0], strict=True))
    assert row["tag"] == f"edited-{tag}" and row["total"] == 42


async def test_upstream_and_rename_are_what_mage_then_shows(make_server: ServerFactory, scene: Scene) -> None:
    p, tag, admin = scene.pipeline_uuid, scene.tag, scene.admin
    first = await admin.add_block(p, f"first_{tag}", "data_loader")
    second = await admin.add_block(p, f"second_{tag}", "data_loader")
    child = await admin.add_block(p, f"child_{tag}", "transformer", upstream=[first])
    async with Client(make_server(fallback="allow")) as client:
        relinked = await call(client, "update_block", {"pipeline_uuid": p, "block_uuid": child, "upstream": [second]})
        cycle = await client.call_tool("update_block", {"pipeline_uuid": p, "block_uuid": second, "upstream": [child]})
        renamed = await call(client, "update_block", {"pipeline_uuid": p, "block_uuid": child, "name": f"Kid {tag}"})
        missing = await client.call_tool("get_block", {"pipeline_uuid": p, "block_uuid": child})

    blocks = await admin.blocks(p)
    assert relinked["changed"] == ["upstream"]
    assert cycle.is_error and "cycle" in text_of(cycle) and blocks[second]["upstream_blocks"] == []
    assert (renamed["block_uuid"], renamed["previous_uuid"]) == (f"kid_{tag}", child)
    assert child not in blocks and blocks[f"kid_{tag}"]["upstream_blocks"] == [second]
    assert blocks[second]["downstream_blocks"] == [f"kid_{tag}"] and blocks[first]["downstream_blocks"] == []
    assert await admin.file_size(f"transformers/{child}.py") is None
    assert await admin.file_size(f"transformers/kid_{tag}.py") is not None
    assert missing.is_error and "does not exist" in text_of(missing) and "get_pipeline" in text_of(missing)


async def test_a_name_whose_file_another_pipeline_uses_is_refused(
    make_server: ServerFactory, scene: Scene, admin: MageApi
) -> None:
    """Mage itself would reuse the file and overwrite it for the other pipeline, with a 200."""
    other = await admin.create_pipeline(f"mcp_blocks_other_{scene.tag}")
    try:
        shared = await admin.add_block(other, f"shared_{scene.tag}", "data_loader", code=LOADER)
        async with Client(make_server(fallback="allow")) as client:
            arguments = {"pipeline_uuid": scene.pipeline_uuid, "name": shared, "type": "data_loader", "code": "x = 1\n"}
            refused = await client.call_tool("create_block", arguments)
        assert refused.is_error and f"data_loaders/{shared}.py" in text_of(refused)
        assert await admin.block_code(other, shared) == LOADER
        assert await admin.blocks(scene.pipeline_uuid) == {}
    finally:
        await admin.remove_pipeline(other)


async def test_delete_refuses_dependents_unless_forced_then_relinks_once(
    make_server: ServerFactory, scene: Scene
) -> None:
    p, tag, admin = scene.pipeline_uuid, scene.tag, scene.admin
    top = await admin.add_block(p, f"top_{tag}", "data_loader")
    middle = await admin.add_block(p, f"middle_{tag}", "transformer", upstream=[top])
    bottom = await admin.add_block(p, f"bottom_{tag}", "transformer", upstream=[middle, top])
    async with Client(make_server(fallback="allow")) as client:
        refused = await client.call_tool("delete_block", {"pipeline_uuid": p, "block_uuid": middle})
        still = await admin.blocks(p)
        deleted = await call(client, "delete_block", {"pipeline_uuid": p, "block_uuid": middle, "force": True})
        relinked = await admin.blocks(p)
        leaf = await call(client, "delete_block", {"pipeline_uuid": p, "block_uuid": bottom})

    assert refused.is_error and "force=true" in text_of(refused) and middle in still
    assert deleted["relinked"] == {bottom: [top]}
    # Mage's own force delete would list `top` twice as the upstream of `bottom`.
    assert relinked[bottom]["upstream_blocks"] == [top] and relinked[top]["downstream_blocks"] == [bottom]
    assert leaf["kept_file"] == f"transformers/{bottom}.py"
    blocks = await admin.blocks(p)
    assert list(blocks) == [top] and blocks[top]["downstream_blocks"] == []
    assert await admin.file_size(f"transformers/{middle}.py") is not None  # Mage keeps the file
