"""Pipeline and run tools against the Mage cluster fake (its quirks included)."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.fakes import FakeMage
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio


def schedule_posts(mage: FakeMage) -> list[str]:
    return [r.path for r in mage.recorder.requests if r.method == "POST" and r.path.endswith("/pipeline_schedules")]


async def test_list_pipelines_pages_with_a_cursor(client: Client, mage: FakeMage) -> None:
    for name in ("alpha", "beta", "gamma", "delta"):
        mage.add_pipeline(f"etl_{name}", description=f"{name} loads")
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        args = {"limit": 2, "search": "ETL"} | ({"cursor": cursor} if cursor else {})
        result = await client.call_tool("list_pipelines", args)
        assert not result.is_error, result.content
        page = result.structured_content
        assert page is not None and page["total"] == 4
        seen += [p["uuid"] for p in page["pipelines"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert seen == ["etl_alpha", "etl_beta", "etl_delta", "etl_gamma"]
    limits = [r.query.get("_limit") for r in mage.recorder.requests if r.path == "/api/pipelines"]
    assert limits == ["2", "2"]


async def test_list_pipelines_projects_fields(client: Client, mage: FakeMage) -> None:
    mage.add_pipeline("with_desc", name="With Desc", description="does things")
    result = await client.call_tool("list_pipelines", {"search": "with_desc"})
    assert result.structured_content == {
        "pipelines": [{"uuid": "with_desc", "name": "With Desc", "type": "python", "description": "does things"}],
        "total": 1,
    }


async def test_a_bad_cursor_is_a_clear_error(client: Client) -> None:
    result = await client.call_tool("list_pipelines", {"cursor": "not-a-cursor"})
    assert result.is_error and "next_cursor" in result.content[0].text  # type: ignore[union-attr]


async def test_three_runs_share_one_trigger_and_never_show_its_token(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        results = [
            await c.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline", "variables": {"n": n}})
            for n in range(3)
        ]
    assert len(schedule_posts(mage)) == 1
    (trigger,) = mage.pipeline_schedules.values()
    assert trigger["name"] == "mage-mcp" and trigger["schedule_type"] == "api" and trigger["status"] == "active"
    run_ids = [r.structured_content["run_id"] for r in results]  # type: ignore[index]
    assert len(set(run_ids)) == 3
    assert all(mage.pipeline_runs[i]["pipeline_schedule_id"] == trigger["id"] for i in run_ids)
    assert [mage.pipeline_runs[i]["variables"]["n"] for i in run_ids] == [0, 1, 2]
    assert all(trigger["token"] not in r.content[0].text for r in results)  # type: ignore[union-attr]
    assert not any(trigger["token"] in r.path for r in mage.recorder.requests)


async def test_concurrent_first_runs_still_create_one_trigger(make_server: ServerFactory, mage: FakeMage) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c, anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(c.call_tool, "trigger_pipeline", {"pipeline_uuid": "example_pipeline"})
    assert len(schedule_posts(mage)) == 1
    assert len(mage.pipeline_runs) == 3


async def test_an_inactive_owned_trigger_is_reactivated(make_server: ServerFactory, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", name="mage-mcp", schedule_type="api", status="inactive")
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline"})
    assert result.structured_content is not None and result.structured_content["trigger_id"] == trigger["id"]
    assert mage.pipeline_schedules[trigger["id"]]["status"] == "active"
    assert schedule_posts(mage) == []


async def test_a_given_trigger_is_used_when_it_belongs_and_is_active(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    mine = mage.add_trigger("example_pipeline", name="nightly", schedule_type="time", status="active")
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline", "trigger_id": mine["id"]})
    assert result.structured_content is not None and result.structured_content["trigger_id"] == mine["id"]
    assert schedule_posts(mage) == []


@pytest.mark.parametrize(
    ("pipeline", "status", "expected"),
    [
        ("other_pipeline", "active", "belongs to pipeline 'other_pipeline'"),
        ("example_pipeline", "inactive", "inactive"),
    ],
)
async def test_an_unusable_trigger_is_refused_before_asking(
    make_server: ServerFactory, mage: FakeMage, pipeline: str, status: str, expected: str
) -> None:
    mage.add_pipeline("other_pipeline")
    trigger = mage.add_trigger(pipeline, name="t", schedule_type="api", status=status)
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(
            "trigger_pipeline", {"pipeline_uuid": "example_pipeline", "trigger_id": trigger["id"]}
        )
    assert result.is_error and expected in result.content[0].text  # type: ignore[union-attr]
    assert prompts == []
    assert [r for r in mage.recorder.mutations() if not r.path.endswith("/sessions")] == []


async def test_unknown_pipeline_is_an_error_that_names_it_and_sends_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("trigger_pipeline", {"pipeline_uuid": "no_such_pipe"})
    assert result.is_error
    assert "'no_such_pipe' does not exist" in result.content[0].text  # type: ignore[union-attr]
    assert [r for r in mage.recorder.mutations() if not r.path.endswith("/sessions")] == []


async def test_get_run_reports_status_times_and_blocks(client: Client, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", status="active")
    run = mage.trigger_run(trigger["id"], {"x": 1})
    mage.complete_run(run["id"])
    result = await client.call_tool("get_run", {"run_id": run["id"]})
    body = result.structured_content
    assert body is not None and not result.is_error
    assert body["id"] == run["id"] and body["status"] == "completed" and body["pipeline_uuid"] == "example_pipeline"
    assert body["started_at"].endswith("Z") and body["completed_at"].endswith("Z")
    assert [b["status"] for b in body["block_runs"]] == ["completed"] * 3
    blocks = {b["block_uuid"] for b in body["block_runs"]}
    assert blocks == {"load_titanic", "fill_in_missing_values", "export_titanic_clean"}


async def test_unknown_run_is_an_error_that_names_it(client: Client) -> None:
    result = await client.call_tool("get_run", {"run_id": 4242})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "4242" in text and "404" in text
    assert "Email/username" not in text  # Mage's corrupted 404 message is never repeated


async def test_login_happens_once_and_again_once_after_expiry(client: Client, mage: FakeMage) -> None:
    await client.call_tool("list_pipelines", {})
    await client.call_tool("list_pipelines", {})
    assert mage.logins == 1
    mage.expire_tokens()
    result = await client.call_tool("list_pipelines", {})
    assert not result.is_error and mage.logins == 2
    bearers = [r.headers.get("authorization", "") for r in mage.recorder.requests if r.path == "/api/pipelines"]
    assert all(b.startswith("Bearer ") and "." not in b for b in bearers)  # the inner token, not the JWT


async def test_a_cluster_without_auth_gets_no_login(make_server: ServerFactory, mage: FakeMage) -> None:
    mage.require_auth = False
    async with Client(make_server(mage_email=None, mage_password=None)) as c:
        result = await c.call_tool("list_pipelines", {})
    assert not result.is_error and mage.logins == 0


async def test_missing_cluster_credentials_name_the_variables(make_server: ServerFactory) -> None:
    async with Client(make_server(mage_email=None, mage_password=None)) as c:
        result = await c.call_tool("list_pipelines", {})
    assert result.is_error and "MAGE_EMAIL and MAGE_PASSWORD" in result.content[0].text  # type: ignore[union-attr]


async def test_wrong_cluster_password_is_an_auth_error_without_the_password(make_server: ServerFactory) -> None:
    async with Client(make_server(mage_password="wr0ng-pass")) as c:
        result = await c.call_tool("list_pipelines", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "wrong email or password" in text and "MAGE_PASSWORD" in text and "wr0ng-pass" not in text


async def test_unreachable_cluster_points_to_start_cluster(make_server: ServerFactory) -> None:
    # A real connection to port 9, where nothing listens.
    async with Client(make_server(real_network=True, mage_cluster_url="http://127.0.0.1:9")) as c:
        result = await c.call_tool("list_pipelines", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "not reachable" in text and "start_cluster" in text


async def test_concurrent_calls_with_an_expired_session_log_in_again_once(client: Client, mage: FakeMage) -> None:
    await client.call_tool("list_pipelines", {})
    mage.expire_tokens()
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(client.call_tool, "list_pipelines", {})
    assert mage.logins == 2
