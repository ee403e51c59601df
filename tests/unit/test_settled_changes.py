"""Authoring changes whose answer was lost are settled by reading Mage back: applied when Mage shows the
whole change, "not applied" when it shows none of it, and unknown (with the tool that reads it back) when
it shows a part, as a pipeline whose triggers are deleted while the pipeline is still there.

`lose_answer`: the request reaches the fake and is handled, its answer times out. `drop`: the request
times out before it reaches the fake. What changed is read from the fake's own state.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fakes import FakeCloud, FakeMage
from tests.support.mcp_results import ok
from tests.unit.test_faults import Faulty, audited, text

pytestmark = pytest.mark.anyio

APPLIED, NOT_APPLIED = "lose_answer", "drop"
SHOP = "shop"
UNKNOWN = "may or may not have been applied"


@pytest.fixture
def faulty(mage: FakeMage, cloud: FakeCloud) -> Faulty:
    return Faulty(mage, cloud)


async def call(faulty: Faulty, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with Client(faulty.server()) as client:
        return await client.call_tool(tool, arguments)


def settled_applied(result: CallToolResult, status: str) -> dict[str, Any]:
    body = ok(result)
    assert body["status"] == status, body
    assert audited()[-1]["outcome"] == "applied" and "settled by reading Mage back" in audited()[-1]["message"]
    return body


def settled_not_applied(result: CallToolResult) -> None:
    assert result.is_error and "was not applied: nothing changed" in text(result), text(result)
    assert audited()[-1]["outcome"] == "failed" and "settled by reading Mage back" in audited()[-1]["message"]


def left_unknown(result: CallToolResult, read_back: str) -> str:
    assert result.is_error and UNKNOWN in text(result), text(result)
    assert f"Read it back with {read_back}" in text(result) and "not applied" not in text(result)
    assert audited()[-1]["outcome"] == "unknown"
    return text(result)


def blocks_of(mage: FakeMage, pipeline: str = SHOP) -> dict[str, dict[str, Any]]:
    return {block["uuid"]: block for block in mage.pipelines[pipeline]["blocks"]}


def triggers_of(mage: FakeMage, pipeline: str) -> list[int]:
    return [int(t["id"]) for t in mage.pipeline_schedules.values() if t["pipeline_uuid"] == pipeline]


@pytest.fixture
def shop(mage: FakeMage) -> FakeMage:
    """shop: load_orders -> clean_orders -> save_orders, with two triggers."""
    mage.add_pipeline(
        SHOP,
        name="shop",
        blocks=[
            {"uuid": "load_orders", "type": "data_loader", "content": "orders = 1\n"},
            {"uuid": "clean_orders", "type": "transformer", "content": "def clean():\n    return 1\n"},
            {"uuid": "save_orders", "type": "data_exporter", "upstream_blocks": ["clean_orders"]},
        ],
    )
    mage.add_trigger(SHOP, name="hook")
    mage.add_trigger(SHOP, name="hourly", schedule_type="time", schedule_interval="@hourly")
    return mage


# -- pipelines ----------------------------------------------------------------------------------


async def test_a_created_pipeline_whose_answer_was_lost_is_created(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/pipelines", APPLIED)
    result = await call(faulty, "create_pipeline", {"name": "orders daily", "tags": ["sales"]})
    assert settled_applied(result, "created")["pipeline_uuid"] == "orders_daily"
    assert mage.pipelines["orders_daily"]["tags"] == ["sales"]


async def test_a_pipeline_create_that_never_arrived_is_not_applied(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/pipelines", NOT_APPLIED)
    settled_not_applied(await call(faulty, "create_pipeline", {"name": "orders daily"}))
    assert "orders_daily" not in mage.pipelines


async def test_a_rename_whose_answer_was_lost_is_read_back_under_the_new_uuid(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("PUT", f"/api/pipelines/{SHOP}", APPLIED)
    result = await call(faulty, "update_pipeline", {"pipeline_uuid": SHOP, "name": "Web Shop", "tags": ["web"]})
    body = settled_applied(result, "updated")
    assert (body["pipeline_uuid"], body["previous_pipeline_uuid"]) == ("web_shop", SHOP)
    assert SHOP not in shop.pipelines and shop.pipelines["web_shop"]["tags"] == ["web"]


async def test_a_pipeline_update_that_never_arrived_is_not_applied(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("PUT", f"/api/pipelines/{SHOP}", NOT_APPLIED)
    settled_not_applied(await call(faulty, "update_pipeline", {"pipeline_uuid": SHOP, "name": "Web Shop"}))
    assert SHOP in shop.pipelines and "web_shop" not in shop.pipelines


# -- delete_pipeline: its triggers, then the pipeline ------------------------------------------


async def test_a_pipeline_delete_whose_last_answer_was_lost_is_deleted(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("DELETE", f"/api/pipelines/{SHOP}", APPLIED)
    body = settled_applied(await call(faulty, "delete_pipeline", {"pipeline_uuid": SHOP}), "deleted")
    assert "the pipeline and its triggers are gone" in body["message"]
    assert SHOP not in shop.pipelines and triggers_of(shop, SHOP) == []


async def test_a_pipeline_whose_triggers_went_but_it_stayed_is_neither_deleted_nor_unchanged(
    faulty: Faulty, shop: FakeMage
) -> None:
    faulty.cluster.inject("DELETE", f"/api/pipelines/{SHOP}", NOT_APPLIED)
    message = left_unknown(await call(faulty, "delete_pipeline", {"pipeline_uuid": SHOP}), "get_pipeline")
    assert "Already deleted before it: 2 triggers" in message
    assert f"Reading Mage back: Pipeline {SHOP!r} is still there, and some of its triggers or runs are not." in message
    assert SHOP in shop.pipelines and triggers_of(shop, SHOP) == []


async def test_a_pipeline_delete_that_stopped_after_one_trigger_is_partial(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("DELETE", "/api/pipeline_schedules/", APPLIED, after=1)
    message = left_unknown(await call(faulty, "delete_pipeline", {"pipeline_uuid": SHOP}), "get_pipeline")
    assert "Already deleted: 1 triggers" in message and "The pipeline itself is still there" in message
    assert SHOP in shop.pipelines and triggers_of(shop, SHOP) == []


async def test_a_pipeline_delete_whose_first_step_never_arrived_is_not_applied(faulty: Faulty, shop: FakeMage) -> None:
    before = triggers_of(shop, SHOP)
    faulty.cluster.inject("DELETE", "/api/pipeline_schedules/", NOT_APPLIED)
    settled_not_applied(await call(faulty, "delete_pipeline", {"pipeline_uuid": SHOP}))
    assert SHOP in shop.pipelines and triggers_of(shop, SHOP) == before


async def test_deleting_a_pipeline_without_triggers_that_never_arrived_is_not_applied(
    faulty: Faulty, mage: FakeMage
) -> None:
    faulty.cluster.inject("DELETE", "/api/pipelines/example_pipeline", NOT_APPLIED)
    settled_not_applied(await call(faulty, "delete_pipeline", {"pipeline_uuid": "example_pipeline"}))
    assert "example_pipeline" in mage.pipelines


# -- blocks -------------------------------------------------------------------------------------

NEW_BLOCK = {"pipeline_uuid": SHOP, "name": "count orders", "type": "transformer", "code": "n = 2\n"}


async def test_a_created_block_whose_answer_was_lost_is_created(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("POST", f"/api/pipelines/{SHOP}/blocks", APPLIED)
    arguments = NEW_BLOCK | {"upstream": ["clean_orders"]}
    assert settled_applied(await call(faulty, "create_block", arguments), "created")["block_uuid"] == "count_orders"
    assert blocks_of(shop)["count_orders"]["upstream_blocks"] == ["clean_orders"]
    assert shop.block_file("transformers/count_orders.py") == "n = 2\n"


async def test_a_block_create_that_never_arrived_is_not_applied(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("POST", f"/api/pipelines/{SHOP}/blocks", NOT_APPLIED)
    settled_not_applied(await call(faulty, "create_block", NEW_BLOCK))
    assert "count_orders" not in blocks_of(shop) and shop.block_file("transformers/count_orders.py") is None


@pytest.mark.parametrize("kind", [APPLIED, NOT_APPLIED])
async def test_a_code_write_whose_answer_was_lost_is_read_back(faulty: Faulty, shop: FakeMage, kind: Any) -> None:
    faulty.cluster.inject("PUT", "/api/file_contents/", kind)
    result = await call(faulty, "update_block", {"pipeline_uuid": SHOP, "block_uuid": "clean_orders", "code": "x = 3"})
    if kind == APPLIED:
        assert settled_applied(result, "updated")["changed"] == ["code"]
    else:
        settled_not_applied(result)
    expected = "x = 3" if kind == APPLIED else "def clean():\n    return 1\n"
    assert shop.block_file("transformers/clean_orders.py") == expected


async def test_a_rename_kept_without_its_code_is_partial(faulty: Faulty, shop: FakeMage) -> None:
    faulty.cluster.inject("PUT", "/api/file_contents/", NOT_APPLIED)
    arguments = {"pipeline_uuid": SHOP, "block_uuid": "clean_orders", "name": "tidy orders", "code": "x = 3"}
    left_unknown(await call(faulty, "update_block", arguments), "get_block")
    assert "tidy_orders" in blocks_of(shop) and shop.block_file("transformers/tidy_orders.py") != "x = 3"


@pytest.mark.parametrize("kind", [APPLIED, NOT_APPLIED])
async def test_a_block_delete_whose_answer_was_lost_is_read_back(faulty: Faulty, shop: FakeMage, kind: Any) -> None:
    faulty.cluster.inject("DELETE", f"/api/pipelines/{SHOP}/blocks/save_orders", kind)
    result = await call(faulty, "delete_block", {"pipeline_uuid": SHOP, "block_uuid": "save_orders"})
    if kind == APPLIED:
        assert settled_applied(result, "deleted")["kept_file"] == "data_exporters/save_orders.py"
    else:
        settled_not_applied(result)
    assert ("save_orders" in blocks_of(shop)) is (kind == NOT_APPLIED)


async def test_a_block_delete_lost_after_its_dependents_were_relinked_is_partial(
    faulty: Faulty, shop: FakeMage
) -> None:
    faulty.cluster.inject("DELETE", f"/api/pipelines/{SHOP}/blocks/clean_orders", NOT_APPLIED)
    arguments = {"pipeline_uuid": SHOP, "block_uuid": "clean_orders", "force": True}
    left_unknown(await call(faulty, "delete_block", arguments), "get_block")
    assert "clean_orders" in blocks_of(shop) and blocks_of(shop)["save_orders"]["upstream_blocks"] == ["load_orders"]


# -- triggers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [APPLIED, NOT_APPLIED])
async def test_a_trigger_update_whose_answer_was_lost_is_read_back(faulty: Faulty, shop: FakeMage, kind: Any) -> None:
    trigger = shop.add_trigger(SHOP, name="daily", schedule_type="time", schedule_interval="@daily")
    faulty.cluster.inject("PUT", f"/api/pipeline_schedules/{trigger['id']}", kind)
    arguments = {"trigger_id": trigger["id"], "schedule": "@weekly", "active": True}
    result = await call(faulty, "update_trigger", arguments)
    if kind == APPLIED:
        assert settled_applied(result, "updated")["changed"] == ["schedule", "active"]
    else:
        settled_not_applied(result)
    stored = shop.pipeline_schedules[trigger["id"]]
    expected = ("@weekly", "active") if kind == APPLIED else ("@daily", "inactive")
    assert (stored["schedule_interval"], stored["status"]) == expected


# -- workspaces ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [APPLIED, NOT_APPLIED])
async def test_a_workspace_create_whose_answer_was_lost_is_read_back(faulty: Faulty, mage: FakeMage, kind: Any) -> None:
    mage.pro = True
    faulty.cluster.inject("POST", "/api/workspaces", kind)
    result = await call(faulty, "create_workspace", {"name": "qa", "cluster_type": "k8s"})
    if kind == APPLIED:
        assert settled_applied(result, "created")["workspace_status"] == "RUNNING"
    else:
        settled_not_applied(result)
    assert ("qa" in mage.workspaces) is (kind == APPLIED)


async def test_a_workspace_delete_whose_answer_was_lost_is_deleted(faulty: Faulty, mage: FakeMage) -> None:
    mage.pro = True
    mage.add_workspace("qa")
    faulty.cluster.inject("DELETE", "/api/workspaces/qa", APPLIED)
    settled_applied(await call(faulty, "delete_workspace", {"name": "qa"}), "deleted")
    assert "qa" not in mage.workspaces


async def test_a_workspace_still_shown_after_a_lost_delete_stays_unknown(faulty: Faulty, mage: FakeMage) -> None:
    mage.pro = True
    mage.add_workspace("qa")
    faulty.cluster.inject("DELETE", "/api/workspaces/qa", NOT_APPLIED)
    message = left_unknown(await call(faulty, "delete_workspace", {"name": "qa"}), "get_workspace")
    assert "Reading Mage back: Workspace 'qa' is still shown." in message
    assert "qa" in mage.workspaces
