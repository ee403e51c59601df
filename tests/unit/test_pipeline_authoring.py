"""Reading, creating, updating and deleting pipelines through the tools, against the Mage cluster fake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from mage_mcp.clients import ClusterClient
from tests.fakes import FakeMage
from tests.fakes.cluster.helpers import Unhandled
from tests.support.mcp_results import ok, text_of
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

ACCEPT = {"confirm": True}


def changes_sent(mage: FakeMage) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def size(body: dict[str, Any]) -> int:
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def completed_runs(mage: FakeMage, trigger_id: int, count: int) -> list[int]:
    return [int(run["id"]) for run in mage.add_runs(trigger_id, count)]


# -- list_pipelines ---------------------------------------------------------------------------


async def test_two_thousand_wordy_pipelines_page_within_the_budget_and_none_is_skipped(
    client: Client, mage: FakeMage
) -> None:
    for i in range(2_000):
        mage.add_pipeline(f"pipe_{i:04}", name=f"Pipe {i} " + "n" * 2_000, description="d" * 50_000)
    seen: list[str] = []
    cursor = None
    while True:
        result = await client.call_tool("list_pipelines", {"limit": 100} | ({"cursor": cursor} if cursor else {}))
        page = ok(result)
        assert len(text_of(result).encode()) <= 90_000 and page["total"] == 2_001
        assert all(len(p.get("description", "")) < 600 for p in page["pipelines"])
        seen += [p["uuid"] for p in page["pipelines"]]
        if (cursor := page.get("next_cursor")) is None:
            break
    assert seen == sorted(mage.pipelines) and len(seen) == 2_001


# -- get_pipeline -----------------------------------------------------------------------------


async def test_a_pipeline_is_shown_with_its_blocks_in_execution_order_and_no_code(
    client: Client, mage: FakeMage
) -> None:
    pipeline = mage.add_pipeline(
        "sales",
        name="Sales",
        description="daily sales",
        tags=["finance"],
        blocks=[
            {"uuid": "export", "upstream_blocks": ["clean"]},
            {"uuid": "clean", "upstream_blocks": ["load"]},
            {"uuid": "load", "upstream_blocks": [], "type": "data_loader"},
        ],
    )
    pipeline["variables"] = {"region": "eu", "day": "mon"}
    mage.add_trigger("sales", name="hourly", schedule_type="time", schedule_interval="@hourly")
    mage.add_trigger("sales", name="hook")

    shown = ok(await client.call_tool("get_pipeline", {"pipeline_uuid": "sales"}))

    assert (shown["uuid"], shown["name"], shown["type"]) == ("sales", "Sales", "python")
    assert shown["description"] == "daily sales" and shown["tags"] == ["finance"]
    assert [b["uuid"] for b in shown["blocks"]] == ["load", "clean", "export"]
    assert shown["blocks"][1] == {
        "uuid": "clean",
        "type": "transformer",
        "language": "python",
        "upstream": ["load"],
        "downstream": ["export"],
    }
    assert shown["variable_names"] == ["region", "day"] and shown["trigger_count"] == 2
    (read,) = [r for r in mage.recorder.requests if r.path == "/api/pipelines/sales"]
    assert read.query["includes_content"] == "false"


async def test_code_is_shown_when_asked_each_block_cut_at_20000_chars(client: Client, mage: FakeMage) -> None:
    huge = "# big\n" + "x = 1\n" * 200_000  # about 1.2 MB
    mage.add_pipeline("big", blocks=[{"uuid": "load", "content": huge}, {"uuid": "tiny", "content": "pass\n"}])

    result = await client.call_tool("get_pipeline", {"pipeline_uuid": "big", "include_code": True})
    shown = ok(result)

    load, tiny = shown["blocks"]
    assert load["code"] == huge[:20_000] and load["code_truncated"] is True and load["code_chars"] == len(huge)
    assert tiny["code"] == "pass\n" and tiny["code_truncated"] is False
    assert "code_left_out" not in shown
    assert len(text_of(result).encode()) < 90_000


async def test_many_blocks_with_code_keep_the_result_bounded_and_say_what_was_left_out(
    client: Client, mage: FakeMage
) -> None:
    blocks = [{"uuid": f"step_{i:02}", "content": f"# step {i}\n" + "y = 2\n" * 3_000} for i in range(30)]
    mage.add_pipeline("long", blocks=blocks)

    result = await client.call_tool("get_pipeline", {"pipeline_uuid": "long", "include_code": True})
    shown = ok(result)

    assert len(text_of(result).encode()) <= 90_000
    assert shown["block_count"] == 30 and len(shown["blocks"]) == 30
    with_code = [b["uuid"] for b in shown["blocks"] if "code" in b]
    assert with_code == [f"step_{i:02}" for i in range(len(with_code))] and 4 <= len(with_code) < 30
    assert shown["code_left_out"] == [f"step_{i:02}" for i in range(len(with_code), 30)]
    assert "get_block" in shown["note"] and repr(shown["code_left_out"][0]) in shown["note"]


async def test_thousands_of_blocks_are_listed_while_they_fit(client: Client, mage: FakeMage) -> None:
    mage.add_pipeline("wide", blocks=[{"uuid": f"block_number_{i:05}", "upstream_blocks": []} for i in range(3_000)])

    result = await client.call_tool("get_pipeline", {"pipeline_uuid": "wide"})
    shown = ok(result)

    assert len(text_of(result).encode()) <= 90_000
    assert shown["block_count"] == 3_000 and 100 < len(shown["blocks"]) < 3_000
    assert f"first {len(shown['blocks'])} of 3000 blocks" in shown["note"]


async def test_an_unknown_pipeline_is_not_found_and_names_the_list_tool(client: Client) -> None:
    result = await client.call_tool("get_pipeline", {"pipeline_uuid": "nope"})
    assert result.is_error
    assert "'nope' does not exist" in text_of(result) and "list_pipelines" in text_of(result)


@pytest.mark.parametrize("uuid", ["../etc", "a/b", " "])
async def test_a_path_like_pipeline_uuid_is_refused_before_any_request(
    client: Client, mage: FakeMage, uuid: str
) -> None:
    result = await client.call_tool("get_pipeline", {"pipeline_uuid": uuid})
    assert result.is_error and "pipeline_uuid" in text_of(result)
    assert [r for r in mage.recorder.requests if r.path.startswith("/api/pipelines")] == []


# -- create_pipeline --------------------------------------------------------------------------


async def test_a_created_pipeline_gets_the_uuid_mage_derives_and_the_plan_says_so(
    client: Client, mage: FakeMage
) -> None:
    arguments = {"name": "Daily Sales 2", "type": "streaming", "description": "sales", "tags": ["finance", "eu"]}
    first = ok(await client.call_tool("create_pipeline", arguments))
    assert "daily_sales_2" in first["plan"]["summary"] and "derives" in first["plan"]["summary"]
    assert changes_sent(mage) == []

    created = ok(
        await client.call_tool("create_pipeline", {**arguments, "confirmation_token": first["confirmation_token"]})
    )

    assert created["status"] == "created" and created["pipeline_uuid"] == "daily_sales_2"
    assert "derived" in created["message"]
    stored = mage.pipelines["daily_sales_2"]
    assert (stored["name"], stored["type"], stored["description"], stored["tags"]) == (
        "Daily Sales 2",
        "streaming",
        "sales",
        ["finance", "eu"],
    )


async def test_a_name_whose_uuid_exists_is_refused_before_asking(make_server: ServerFactory, mage: FakeMage) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        result = await c.call_tool("create_pipeline", {"name": "Example Pipeline"})
    assert result.is_error and "'example_pipeline' exists already" in text_of(result)
    assert prompts == [] and changes_sent(mage) == []


@pytest.mark.parametrize(("name", "said"), [("", "name"), ("sales/eu", "name"), ("a..b", "name"), ('"$', "no letter")])
async def test_a_name_mage_would_mangle_is_refused_with_nothing_sent(
    make_server: ServerFactory, mage: FakeMage, name: str, said: str
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("create_pipeline", {"name": name})
    assert result.is_error and said in text_of(result)
    assert changes_sent(mage) == []


# -- update_pipeline --------------------------------------------------------------------------


async def test_a_rename_changes_the_uuid_and_the_triggers_and_runs_follow(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    mage.add_pipeline("orders", name="orders", blocks=["load_orders"])
    trigger = mage.add_trigger("orders", name="hourly", schedule_type="time", schedule_interval="@hourly")
    runs = completed_runs(mage, trigger["id"], 3)
    prompts: list[str] = []
    arguments = {"pipeline_uuid": "orders", "name": "Orders EU", "description": "eu orders", "tags": ["eu"]}
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        updated = ok(await c.call_tool("update_pipeline", arguments))

    assert updated["status"] == "updated" and updated["pipeline_uuid"] == "orders_eu"
    assert updated["previous_pipeline_uuid"] == "orders" and updated["changed"] == ["description", "name", "tags"]
    (prompt,) = prompts
    assert "from 'orders' to 'orders_eu'" in prompt and "its 1 trigger and its 3 runs" in prompt
    assert "orders" not in mage.pipelines
    moved = mage.pipelines["orders_eu"]
    assert (moved["name"], moved["description"], moved["tags"]) == ("Orders EU", "eu orders", ["eu"])
    assert mage.pipeline_schedules[trigger["id"]]["pipeline_uuid"] == "orders_eu"
    assert {mage.pipeline_runs[i]["pipeline_uuid"] for i in runs} == {"orders_eu"}
    (put,) = [r for r in mage.recorder.mutations() if r.method == "PUT"]
    assert put.json == {"pipeline": {"name": "Orders EU", "description": "eu orders", "tags": ["eu"]}}


async def test_only_what_differs_is_sent(make_server: ServerFactory, mage: FakeMage) -> None:
    mage.add_pipeline("orders", name="orders", description="old", tags=["a", "b"])
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        updated = ok(
            await c.call_tool(
                "update_pipeline",
                {"pipeline_uuid": "orders", "name": "orders", "description": "new", "tags": ["b", "a"]},
            )
        )
    assert updated["pipeline_uuid"] == "orders" and "previous_pipeline_uuid" not in updated
    (put,) = [r for r in mage.recorder.mutations() if r.method == "PUT"]
    assert put.json == {"pipeline": {"description": "new"}}


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Other Pipeline", "uuid 'other_pipeline', and a pipeline with that uuid exists"),
        ("ORDERS", "same uuid 'orders'"),
    ],
)
async def test_a_rename_mage_would_refuse_is_refused_before_asking(
    make_server: ServerFactory, mage: FakeMage, name: str, said: str
) -> None:
    mage.add_pipeline("orders", name="orders")
    mage.add_pipeline("other_pipeline")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        result = await c.call_tool("update_pipeline", {"pipeline_uuid": "orders", "name": name})
    assert result.is_error and said in text_of(result)
    assert prompts == [] and changes_sent(mage) == []


async def test_an_update_that_changes_nothing_asks_nothing_and_sends_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    mage.add_pipeline("orders", name="orders", description="same", tags=["x"])
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        result = ok(
            await c.call_tool(
                "update_pipeline", {"pipeline_uuid": "orders", "name": "orders", "description": "same", "tags": ["x"]}
            )
        )
    assert result["status"] == "unchanged" and result["pipeline_uuid"] == "orders"
    assert prompts == [] and changes_sent(mage) == []


async def test_updating_an_unknown_pipeline_names_the_list_tool(client: Client, mage: FakeMage) -> None:
    result = await client.call_tool("update_pipeline", {"pipeline_uuid": "gone", "description": "x"})
    assert result.is_error and "list_pipelines" in text_of(result)
    assert changes_sent(mage) == []


# -- delete_pipeline --------------------------------------------------------------------------


def doomed_pipeline(mage: FakeMage, triggers: int = 2, runs: int = 3) -> tuple[list[int], list[int]]:
    """Pipeline `doomed` (3 blocks) with `triggers` triggers, the first holding `runs` completed runs."""
    mage.add_pipeline("doomed", blocks=["load_doomed", "clean_doomed", "export_doomed"])
    trigger_ids = [
        int(mage.add_trigger("doomed", name=f"trigger_{i}", schedule_type="time", schedule_interval="@daily")["id"])
        for i in range(triggers)
    ]
    return trigger_ids, completed_runs(mage, trigger_ids[0], runs) if trigger_ids and runs else []


async def test_a_pipeline_goes_with_its_triggers_and_its_runs_stay_in_the_database(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    trigger_ids, run_ids = doomed_pipeline(mage)
    tokens = [mage.pipeline_schedules[i]["token"] for i in trigger_ids]
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        result = await c.call_tool("delete_pipeline", {"pipeline_uuid": "doomed"})
    deleted = ok(result)

    assert deleted["status"] == "deleted" and deleted["triggers_deleted"] == 2 and deleted["runs_kept"] == 3
    assert sorted(deleted["kept_run_ids"]) == sorted(run_ids) and "no longer lists" in deleted["message"]
    assert "doomed" not in mage.pipelines
    assert not [s for s in mage.pipeline_schedules.values() if s["pipeline_uuid"] == "doomed"]
    assert sorted(mage.orphaned_runs) == sorted(run_ids)  # Mage keeps them, and shows them no more
    order = changes_sent(mage)
    assert order[-1] == ("DELETE", "/api/pipelines/doomed")
    assert sorted(order[:-1]) == [("DELETE", f"/api/pipeline_schedules/{i}") for i in trigger_ids]
    (prompt,) = prompts
    for said in ("load_doomed", "clean_doomed", "export_doomed", "'trigger_0'", "'trigger_1'", "its 3 runs"):
        assert said in prompt
    assert "Kept in Mage's database" in prompt and "no longer lists" in prompt and "block files stay" in prompt
    assert not any(token in prompt or token in text_of(result) for token in tokens)


async def test_delete_runs_deletes_the_runs_first_while_mage_shows_them(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    trigger_ids, run_ids = doomed_pipeline(mage)
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        deleted = ok(await c.call_tool("delete_pipeline", {"pipeline_uuid": "doomed", "delete_runs": True}))
    assert deleted["runs_deleted"] == 3 and deleted["runs_kept"] == 0 and "kept_run_ids" not in deleted
    assert mage.pipeline_runs == {} and mage.orphaned_runs == {}
    assert changes_sent(mage) == [
        *[("DELETE", f"/api/pipeline_runs/{i}") for i in sorted(run_ids, reverse=True)],
        *[("DELETE", f"/api/pipeline_schedules/{i}") for i in sorted(trigger_ids, reverse=True)],
        ("DELETE", "/api/pipelines/doomed"),
    ]
    assert "Deleted too, with their block runs: its 3 runs" in prompts[0]


async def test_a_plan_for_many_triggers_and_runs_is_bounded_and_every_one_goes(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    doomed_pipeline(mage, triggers=150, runs=250)
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        deleted = ok(await c.call_tool("delete_pipeline", {"pipeline_uuid": "doomed", "delete_runs": True}))
    assert deleted["triggers_deleted"] == 150 and deleted["runs_deleted"] == 250
    assert mage.pipeline_schedules == {} and mage.pipeline_runs == {}
    (prompt,) = prompts
    assert "and 140 more" in prompt and "and 240 more" in prompt and len(prompt) < 3_000


async def test_unfinished_runs_are_refused_before_asking(make_server: ServerFactory, mage: FakeMage) -> None:
    trigger_ids, _ = doomed_pipeline(mage, runs=0)
    running = mage.trigger_run(trigger_ids[0])
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", ACCEPT, prompts)) as c:
        result = await c.call_tool("delete_pipeline", {"pipeline_uuid": "doomed"})
    assert result.is_error and f"initial runs (id {running['id']})" in text_of(result)
    assert "cancel_run" in text_of(result)
    assert prompts == [] and changes_sent(mage) == [] and "doomed" in mage.pipelines


async def test_a_failure_half_way_says_what_went_and_leaves_no_orphan_trigger(
    make_server: ServerFactory, mage: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger_ids, _ = doomed_pipeline(mage, triggers=3)
    first, failing = sorted(trigger_ids, reverse=True)[:2]  # Mage lists a pipeline's triggers newest first
    serve = mage._schedule_member

    def flaky(method: str, pk: str, body: Any, user: Any) -> Any:
        if method == "DELETE" and int(pk) == failing:
            raise Unhandled("database is locked", "OperationalError")
        return serve(method, pk, body, user)

    monkeypatch.setattr(mage, "_schedule_member", flaky)
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("delete_pipeline", {"pipeline_uuid": "doomed"})

    assert result.is_error
    text = text_of(result)
    assert "database is locked" in text and f"1 triggers ({first})" in text and "still there" in text
    assert "doomed" in mage.pipelines and first not in mage.pipeline_schedules
    assert ("DELETE", "/api/pipelines/doomed") not in changes_sent(mage)


async def test_deleting_an_unknown_pipeline_names_the_list_tool(client: Client, mage: FakeMage) -> None:
    result = await client.call_tool("delete_pipeline", {"pipeline_uuid": "gone"})
    assert result.is_error and "list_pipelines" in text_of(result)
    assert changes_sent(mage) == []


async def test_whatever_mage_holds_the_pipeline_head_is_cut(client: Client, mage: FakeMage) -> None:
    pipeline = mage.add_pipeline(
        "noisy", name="N" * 50_000, description="d" * 1_000_000, tags=[f"t{i}" * 40 for i in range(500)]
    )
    pipeline["variables"] = {f"v{i}_" + "x" * 200: i for i in range(1_000)}

    result = await client.call_tool("get_pipeline", {"pipeline_uuid": "noisy"})
    shown = ok(result)

    assert len(text_of(result).encode()) <= 90_000
    assert shown["description"].startswith("d" * 5_000) and "more chars" in shown["description"]
    assert len(shown["tags"]) == 50 and len(shown["variable_names"]) == 100


# -- the fake's pipeline PUT, as Mage's Pipeline.update answers it ----------------------------


async def test_the_fake_writes_block_code_only_with_update_content_and_sets_trigger_status(
    cluster: ClusterClient, mage: FakeMage
) -> None:
    trigger = mage.add_trigger("example_pipeline", status="active")
    blocks = [{"uuid": b["uuid"], "content": f"# {b['uuid']}\n"} for b in mage.pipelines["example_pipeline"]["blocks"]]

    await cluster.update_pipeline("example_pipeline", {"blocks": blocks, "status": "inactive"})
    unchanged = [b["content"] for b in mage.pipelines["example_pipeline"]["blocks"]]
    await cluster.request(
        "PUT", "/pipelines/example_pipeline", params={"update_content": "true"}, json={"pipeline": {"blocks": blocks}}
    )

    assert not any(code.startswith("# ") for code in unchanged)
    assert [b["content"] for b in mage.pipelines["example_pipeline"]["blocks"]] == [b["content"] for b in blocks]
    assert mage.pipeline_schedules[trigger["id"]]["status"] == "inactive"
