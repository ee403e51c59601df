"""The block tools against the Mage cluster fake, whose blocks keep Mage's quirks: project-wide block
files, a block PUT that ignores `content`, a force delete that can list an upstream block twice.

What reached Mage is read from the fake's state and its request recorder, never from the tool's answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fakes import FakeMage
from tests.support.mcp_results import ok, text_of
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

PIPELINE = "shop"
TEMPLATE = "if 'transformer' not in globals():"


@pytest.fixture
def mage() -> FakeMage:
    """example_pipeline, and shop: load_orders -> clean_orders -> {save_orders, count_orders}, with
    total_orders after both load_orders and clean_orders."""
    fake = FakeMage()
    fake.add_pipeline(
        PIPELINE,
        blocks=[
            {"uuid": "load_orders", "type": "data_loader", "content": "orders = 1\n"},
            {"uuid": "clean_orders", "type": "transformer", "content": "def clean():\n    return 1\n"},
            {"uuid": "save_orders", "type": "data_exporter", "upstream_blocks": ["clean_orders"]},
            {"uuid": "count_orders", "type": "transformer", "upstream_blocks": ["clean_orders"]},
            {"uuid": "total_orders", "type": "custom", "upstream_blocks": ["clean_orders", "load_orders"]},
        ],
    )
    return fake


@pytest.fixture
async def allowed(make_server: ServerFactory) -> AsyncIterator[Client]:
    """A client whose changes apply without a prompt (trusted automation)."""
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        yield c


def changes_sent(mage: FakeMage) -> list[str]:
    return [f"{r.method} {r.path}" for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def block_of(mage: FakeMage, block_uuid: str, pipeline: str = PIPELINE) -> dict[str, Any]:
    return next(b for b in mage.pipelines[pipeline]["blocks"] if b["uuid"] == block_uuid)


def error_of(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return text_of(result)


async def plan_of(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The plan a client without prompts gets back (nothing is applied)."""
    body = ok(await client.call_tool(tool, arguments))
    assert body["status"] == "confirmation_required", body
    return dict(body["plan"])


# -- get_block --------------------------------------------------------------------------------


async def test_get_block_shows_the_graph_and_the_code(client: Client, mage: FakeMage) -> None:
    block = ok(await client.call_tool("get_block", {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders"}))
    assert block == {
        "uuid": "clean_orders",
        "type": "transformer",
        "language": "python",
        "upstream": ["load_orders"],
        "downstream": ["save_orders", "count_orders", "total_orders"],
        "code": "def clean():\n    return 1\n",
        "code_truncated": False,
    }
    (read,) = [r for r in mage.recorder.requests if r.path.endswith("/blocks/clean_orders")]
    assert read.query.get("include_outputs") == "false"


async def test_a_1_mb_block_is_cut_at_60000_chars_with_its_length(client: Client, mage: FakeMage) -> None:
    block_of(mage, "load_orders")["content"] = "x = 1  # padding\n" * 61_681  # just over 1 MB
    result = await client.call_tool("get_block", {"pipeline_uuid": PIPELINE, "block_uuid": "load_orders"})
    block = ok(result)
    assert len(block["code"]) == 60_000 and block["code_truncated"] is True
    assert block["code_chars"] == 17 * 61_681 > 1_000_000
    assert len(text_of(result).encode()) < 100_000


async def test_code_of_wide_characters_is_cut_to_fit_100_kb(client: Client, mage: FakeMage) -> None:
    block_of(mage, "load_orders")["content"] = "漢" * 50_000  # 150 KB in UTF-8
    result = await client.call_tool("get_block", {"pipeline_uuid": PIPELINE, "block_uuid": "load_orders"})
    block = ok(result)
    assert block["code_truncated"] is True and block["code_chars"] == 50_000
    assert 25_000 < len(block["code"]) < 50_000
    assert len(text_of(result).encode()) < 100_000


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"pipeline_uuid": PIPELINE, "block_uuid": "nope"}, "Block 'nope' of pipeline 'shop' does not exist"),
        ({"pipeline_uuid": "nope", "block_uuid": "load_orders"}, "Pipeline 'nope' does not exist"),
    ],
)
async def test_an_unknown_block_or_pipeline_names_the_list_to_look_in(
    client: Client, arguments: dict[str, str], expected: str
) -> None:
    text = error_of(await client.call_tool("get_block", arguments))
    assert expected in text
    assert ("get_pipeline lists" if arguments["pipeline_uuid"] == PIPELINE else "list_pipelines") in text


@pytest.mark.parametrize("bad", ["", "  ", "../etc", "a/b", "a\\b"])
async def test_a_path_like_uuid_is_refused_before_any_request(client: Client, mage: FakeMage, bad: str) -> None:
    result = await client.call_tool("get_block", {"pipeline_uuid": PIPELINE, "block_uuid": bad})
    assert "block_uuid" in error_of(result)
    assert not [r for r in mage.recorder.requests if "/blocks" in r.path]


# -- create_block -----------------------------------------------------------------------------


async def test_create_block_with_code_and_upstream_is_read_back(allowed: Client, mage: FakeMage) -> None:
    arguments = {
        "pipeline_uuid": PIPELINE,
        "name": "Enrich Orders",
        "type": "transformer",
        "code": "def enrich():\r\n    return 2\r\n",
        "upstream": ["clean_orders", "load_orders", "clean_orders"],
    }
    created = ok(await allowed.call_tool("create_block", arguments))
    assert created["block_uuid"] == "enrich_orders" and created["file_path"] == "transformers/enrich_orders.py"
    block = block_of(mage, "enrich_orders")
    assert block["upstream_blocks"] == ["clean_orders", "load_orders"]
    assert "enrich_orders" in block_of(mage, "clean_orders")["downstream_blocks"]
    assert mage.block_file("transformers/enrich_orders.py") == "def enrich():\n    return 2\n"
    (post,) = [r for r in mage.recorder.mutations() if r.path.endswith("/blocks")]
    assert post.json["block"]["require_unique_name"] is True
    assert post.json["block"]["content"] == "def enrich():\n    return 2\n"  # line ends as Mage reads them back
    assert any(r.method == "GET" and r.path.endswith("/blocks/enrich_orders") for r in mage.recorder.requests)


async def test_without_code_mage_writes_its_template(allowed: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "name": "tidy", "type": "transformer"}
    ok(await allowed.call_tool("create_block", arguments))
    (post,) = [r for r in mage.recorder.mutations() if r.path.endswith("/blocks")]
    assert "content" not in post.json["block"]
    assert str(mage.block_file("transformers/tidy.py")).startswith(TEMPLATE)


async def test_empty_code_gives_an_empty_file_not_the_template(allowed: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "name": "blank", "type": "scratchpad", "code": ""}
    ok(await allowed.call_tool("create_block", arguments))
    assert mage.block_file("scratchpads/blank.py") == ""


async def test_a_markdown_block_is_markdown(allowed: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "name": "notes", "type": "markdown", "code": "# Orders\n"}
    created = ok(await allowed.call_tool("create_block", arguments))
    assert created["file_path"] == "markdowns/notes.md"
    assert block_of(mage, "notes")["language"] == "markdown"


async def test_the_plan_names_the_file_the_upstream_and_the_code(client: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "name": "q", "type": "data_loader", "language": "sql", "code": "select 1"}
    plan = await plan_of(client, "create_block", arguments | {"upstream": ["load_orders"]})
    assert "data_loaders/q.sql" in plan["summary"] and "after 'load_orders'" in plan["summary"]
    assert "(1 line)" in plan["summary"]
    assert changes_sent(mage) == []


async def test_a_name_whose_file_exists_in_another_pipeline_is_refused_before_asking(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        arguments = {"pipeline_uuid": PIPELINE, "name": "Load Titanic", "type": "data_loader", "code": "x = 1\n"}
        text = error_of(await c.call_tool("create_block", arguments))
    assert "data_loaders/load_titanic.py" in text and "shared by all pipelines" in text
    assert prompts == [] and changes_sent(mage) == []
    assert str(mage.block_file("data_loaders/load_titanic.py")).startswith("if 'data_loader'")


async def test_the_file_of_a_deleted_block_still_blocks_its_name(allowed: Client, mage: FakeMage) -> None:
    ok(await allowed.call_tool("delete_block", {"pipeline_uuid": PIPELINE, "block_uuid": "save_orders"}))
    arguments = {"pipeline_uuid": PIPELINE, "name": "save_orders", "type": "data_exporter"}
    assert "data_exporters/save_orders.py" in error_of(await allowed.call_tool("create_block", arguments))
    assert not any(r.method == "POST" and r.path.endswith("/blocks") for r in mage.recorder.requests)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"name": "clean_orders", "type": "transformer"}, "already has a block 'clean_orders'"),
        ({"name": "x", "type": "transformer", "upstream": ["ghost"]}, "has no block 'ghost'"),
        ({"name": "a/b", "type": "transformer"}, "name"),
        ({"name": "..", "type": "transformer"}, "name"),
        ({"name": " ", "type": "transformer"}, "name"),
        ({"name": "x", "type": "dbt"}, "type"),
        ({"name": "x", "type": "transformer", "language": "markdown"}, "language"),
    ],
)
async def test_bad_input_is_refused_with_nothing_sent(
    allowed: Client, mage: FakeMage, arguments: dict[str, Any], expected: str
) -> None:
    text = error_of(await allowed.call_tool("create_block", {"pipeline_uuid": PIPELINE, **arguments}))
    assert expected in text
    assert changes_sent(mage) == []


async def test_code_mage_did_not_keep_is_an_error(allowed: Client, mage: FakeMage) -> None:
    mage.mangle_file_writes = lambda text: text[:-1]
    secret_code = "token = 'do-not-echo-7731'\n"
    result = await allowed.call_tool(
        "create_block", {"pipeline_uuid": PIPELINE, "name": "lossy", "type": "custom", "code": secret_code}
    )
    text = error_of(result)
    assert "did not keep the code" in text and "lossy" in text and "do-not-echo-7731" not in text


# -- update_block -----------------------------------------------------------------------------


async def test_code_goes_through_the_file_route_and_is_read_back(allowed: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders", "code": "def clean():\n    return 2\n"}
    updated = ok(await allowed.call_tool("update_block", arguments))
    assert updated["changed"] == ["code"] and updated["block_uuid"] == "clean_orders"
    assert mage.block_file("transformers/clean_orders.py") == "def clean():\n    return 2\n"
    (write,) = [r for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]
    assert (write.method, write.path) == ("PUT", "/api/file_contents/transformers/clean_orders.py")
    sent = {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders", "content": "def clean():\n    return 2\n"}
    assert write.json == {"file_content": sent}
    assert [r.method for r in mage.recorder.requests if r.path.endswith("/blocks/clean_orders")][-1] == "GET"


async def test_the_block_put_ignores_code_so_it_is_never_used_for_it(allowed: Client, mage: FakeMage) -> None:
    """The fake keeps Mage's quirk; the tool must not rely on the block PUT for code."""
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders", "code": "y = 3\n", "name": "scrub"}
    ok(await allowed.call_tool("update_block", arguments))
    puts = [r for r in mage.recorder.mutations() if r.path.endswith("/blocks/clean_orders")]
    assert [p.json for p in puts] == [{"block": {"name": "scrub"}}]
    assert mage.block_file("transformers/scrub.py") == "y = 3\n"


async def test_the_plan_shows_a_unified_diff_of_at_most_200_lines(client: Client, mage: FakeMage) -> None:
    block_of(mage, "load_orders")["content"] = "".join(f"a{n} = {n}\n" for n in range(300))
    new_code = "".join(f"a{n} = {n * 2}\n" for n in range(300))
    plan = await plan_of(
        client, "update_block", {"pipeline_uuid": PIPELINE, "block_uuid": "load_orders", "code": new_code}
    )
    lines = plan["summary"].splitlines()
    assert "--- data_loaders/load_orders.py (now)" in lines and "+++ data_loaders/load_orders.py (new)" in lines
    assert "-a1 = 1" in lines and "+a1 = 2" not in lines  # all 299 removed lines come first
    assert lines[-1].startswith("… ") and lines[-1].endswith(" more diff lines")
    diff = lines[lines.index("--- data_loaders/load_orders.py (now)") : -1]
    assert len(diff) == 200
    assert int(lines[-1].split()[1]) == 2 + 1 + 1 + 299 + 299 - 200  # headers, hunk, a0 kept, 299 out, 299 in
    assert changes_sent(mage) == []


async def test_a_diff_of_long_wide_lines_stays_small(client: Client, mage: FakeMage) -> None:
    block_of(mage, "load_orders")["content"] = "".join(f"{n}{'漢' * 2000}\n" for n in range(300))
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "load_orders", "code": "x = 1\n"}
    result = await client.call_tool("update_block", arguments)
    summary = ok(result)["plan"]["summary"]
    assert summary.endswith(" more diff lines") and "more chars]" in summary
    assert len(text_of(result).encode()) < 100_000


async def test_a_code_write_mage_does_not_keep_is_an_error(allowed: Client, mage: FakeMage) -> None:
    mage.mangle_file_writes = lambda text: text.replace("2", "3")
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders", "code": "v = 2\n"}
    text = error_of(await allowed.call_tool("update_block", arguments))
    assert "did not keep the code" in text and "first different at line 1" in text


async def test_upstream_changes_through_the_block_put(allowed: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "count_orders", "upstream": ["load_orders"]}
    assert ok(await allowed.call_tool("update_block", arguments))["changed"] == ["upstream"]
    assert block_of(mage, "count_orders")["upstream_blocks"] == ["load_orders"]
    assert "count_orders" not in block_of(mage, "clean_orders")["downstream_blocks"]


@pytest.mark.parametrize(
    ("block", "upstream", "expected"),
    [
        ("load_orders", ["total_orders"], "would form a cycle"),
        ("clean_orders", ["clean_orders"], "would form a cycle"),
        ("clean_orders", ["ghost", "phantom"], "has no block 'ghost', 'phantom'"),
    ],
)
async def test_an_upstream_mage_would_refuse_or_drop_is_refused_first(
    allowed: Client, mage: FakeMage, block: str, upstream: list[str], expected: str
) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": block, "upstream": upstream}
    assert expected in error_of(await allowed.call_tool("update_block", arguments))
    assert changes_sent(mage) == []


async def test_a_rename_changes_the_uuid_and_moves_the_file(allowed: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "count_orders", "name": "Order Count"}
    renamed = ok(await allowed.call_tool("update_block", arguments))
    assert (renamed["block_uuid"], renamed["previous_uuid"]) == ("order_count", "count_orders")
    assert "its uuid becomes 'order_count'" in renamed["message"]
    assert mage.block_file("transformers/count_orders.py") is None
    assert mage.block_file("transformers/order_count.py") is not None
    assert "order_count" in block_of(mage, "clean_orders")["downstream_blocks"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Count Orders", "its own uuid"),
        ("save orders", "already has a block 'save_orders'"),
        ("fill_in_missing_values", "already has the block file transformers/fill_in_missing_values.py"),
    ],
)
async def test_a_rename_mage_would_fail_is_refused_first(
    allowed: Client, mage: FakeMage, name: str, expected: str
) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "count_orders", "name": name}
    assert expected in error_of(await allowed.call_tool("update_block", arguments))
    assert changes_sent(mage) == []


async def test_a_block_file_shared_with_another_pipeline_is_not_renamed(allowed: Client, mage: FakeMage) -> None:
    mage.add_pipeline("other_shop", blocks=[{"uuid": "count_orders", "type": "transformer"}])
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "count_orders", "name": "tally"}
    text = error_of(await allowed.call_tool("update_block", arguments))
    assert "'other_shop'" in text and "lose that code" in text
    assert changes_sent(mage) == []


async def test_a_code_change_to_a_shared_file_names_the_other_pipelines(client: Client, mage: FakeMage) -> None:
    mage.add_pipeline("other_shop", blocks=[{"uuid": "count_orders", "type": "transformer"}])
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "count_orders", "code": "n = 1\n"}
    plan = await plan_of(client, "update_block", arguments)
    assert "the code of pipelines 'other_shop' changes too" in plan["summary"]


async def test_nothing_to_change_sends_nothing_and_asks_nobody(make_server: ServerFactory, mage: FakeMage) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        arguments = {
            "pipeline_uuid": PIPELINE,
            "block_uuid": "clean_orders",
            "code": "def clean():\r\n    return 1\r\n",
            "upstream": ["load_orders"],
            "name": "clean_orders",
        }
        result = ok(await c.call_tool("update_block", arguments))
    assert result["status"] == "unchanged" and prompts == [] and changes_sent(mage) == []


# -- delete_block -----------------------------------------------------------------------------


async def test_delete_removes_the_block_and_keeps_its_file(allowed: Client, mage: FakeMage) -> None:
    deleted = ok(await allowed.call_tool("delete_block", {"pipeline_uuid": PIPELINE, "block_uuid": "save_orders"}))
    assert deleted["kept_file"] == "data_exporters/save_orders.py" and "stays in the project" in deleted["message"]
    assert "save_orders" not in {b["uuid"] for b in mage.pipelines[PIPELINE]["blocks"]}
    assert "save_orders" not in block_of(mage, "clean_orders")["downstream_blocks"]
    assert mage.block_file("data_exporters/save_orders.py") is not None
    assert changes_sent(mage) == [f"DELETE /api/pipelines/{PIPELINE}/blocks/save_orders"]


async def test_a_block_others_depend_on_is_refused_without_force(make_server: ServerFactory, mage: FakeMage) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("delete_block", {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders"})
    text = error_of(result)
    assert "'save_orders', 'count_orders', 'total_orders' depend on 'clean_orders'" in text and "force=true" in text
    assert prompts == [] and changes_sent(mage) == []


async def test_force_relinks_the_downstream_blocks_once_each(client: Client, mage: FakeMage) -> None:
    arguments = {"pipeline_uuid": PIPELINE, "block_uuid": "clean_orders", "force": True}
    first = ok(await client.call_tool("delete_block", arguments))
    plan = first["plan"]
    assert "Block 'total_orders' then runs after 'load_orders'." in plan["summary"]
    assert plan["changes"]["relink"] == {
        "save_orders": ["load_orders"],
        "count_orders": ["load_orders"],
        "total_orders": ["load_orders"],  # Mage's own force would give [load_orders, load_orders]
    }
    confirmed = arguments | {"confirmation_token": first["confirmation_token"]}
    deleted = ok(await client.call_tool("delete_block", confirmed))
    assert deleted["relinked"] == plan["changes"]["relink"]
    upstream = {b["uuid"]: b["upstream_blocks"] for b in mage.pipelines[PIPELINE]["blocks"]}
    assert upstream == {"load_orders": [], **{child: ["load_orders"] for child in plan["changes"]["relink"]}}
    assert sorted(block_of(mage, "load_orders")["downstream_blocks"]) == ["count_orders", "save_orders", "total_orders"]
    assert not any("force" in r.query for r in mage.recorder.mutations())


async def test_a_block_with_many_dependents_gives_a_bounded_plan(client: Client, mage: FakeMage) -> None:
    children = [{"uuid": f"child_{n:03}_{'x' * 200}", "upstream_blocks": ["clean_orders"]} for n in range(400)]
    mage.add_pipeline("wide", blocks=[{"uuid": "clean_orders", "type": "transformer"}, *children])
    result = await client.call_tool(
        "delete_block", {"pipeline_uuid": "wide", "block_uuid": "clean_orders", "force": True}
    )
    plan = ok(result)["plan"]
    assert "370 more blocks are re-linked the same way" in plan["summary"]
    assert plan["changes"]["relinked"] == 400 and len(plan["changes"]["relink"]) == 30
    assert len(text_of(result).encode()) < 100_000


async def test_delete_of_an_unknown_block_suggests_get_pipeline(allowed: Client) -> None:
    text = error_of(await allowed.call_tool("delete_block", {"pipeline_uuid": PIPELINE, "block_uuid": "ghost"}))
    assert "does not exist" in text and "get_pipeline" in text


# -- the fake keeps Mage's block quirks ------------------------------------------------------


async def test_the_fake_keeps_mages_block_quirks() -> None:
    """What the real Mage 0.9.80 did, measured (tests/fakes/cluster/blocks.py says it all)."""
    fake = FakeMage(require_auth=False)
    fake.add_pipeline(PIPELINE, blocks=["load_orders", "clean_orders", {"uuid": "both", "type": "custom"}])
    fake.pipelines[PIPELINE]["blocks"][2]["upstream_blocks"] = ["clean_orders", "load_orders"]
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mage.test/api") as http:

        async def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            body: dict[str, Any] = (await http.request(method, path, **kwargs)).json()
            return body

        same_name = {"name": "load_titanic", "type": "data_loader", "language": "python", "content": "other = 1\n"}
        created = await call("POST", f"/pipelines/{PIPELINE}/blocks", json={"block": same_name})
        assert created["block"]["content"] == "other = 1\n"
        assert block_of(fake, "load_titanic", "example_pipeline")["content"] == "other = 1\n"  # silently overwritten
        again = await call("POST", f"/pipelines/{PIPELINE}/blocks", json={"block": same_name})
        assert again["error"]["exception"].startswith("[ERR_BLOCK_EXISTS]")

        await call("PUT", f"/pipelines/{PIPELINE}/blocks/clean_orders", json={"block": {"content": "ignored\n"}})
        assert "ignored" not in str(fake.block_file("transformers/clean_orders.py"))

        refused = await call("DELETE", f"/pipelines/{PIPELINE}/blocks/clean_orders")
        assert "are depending on block clean_orders" in refused["error"]["exception"]
        await call("DELETE", f"/pipelines/{PIPELINE}/blocks/clean_orders", params={"force": "true"})
        assert block_of(fake, "both")["upstream_blocks"] == ["load_orders", "load_orders"]
        assert fake.block_file("transformers/clean_orders.py") is not None

        missing = await call("GET", "/file_contents/transformers%2Fnope.py")
        assert (missing["file_content"]["content"], missing["file_content"]["size"]) == ("", None)
        unknown = await call("GET", f"/pipelines/{PIPELINE}/blocks/nope")
        assert unknown["error"]["type"] == "record_invalid" and unknown["error"]["code"] == 400
