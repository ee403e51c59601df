"""The workspace tools against the Mage cluster fake: its OSS answers (no workspaces) and its Pro mode.

What reached Mage is read from the fake's recorder and state, never from the tool's answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.fakes import FakeMage
from tests.support.mcp_results import ok, text_of
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

SECRET_CONFIG = "image_tag: 2026.01.01\nenv:\n  - name: DB_PASSWORD\n    value: hunter2-s3cret\napi_token: tok-s3cret\n"
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_workspaces", {}),
    ("get_workspace", {"name": "dev"}),
    ("create_workspace", {"name": "new", "cluster_type": "k8s"}),
    ("update_workspace", {"name": "dev", "action": "stop"}),
    ("delete_workspace", {"name": "dev"}),
]


@pytest.fixture
def pro(mage: FakeMage) -> FakeMage:
    mage.pro = True
    mage.add_workspace("dev", container_config=SECRET_CONFIG, namespace="mage")
    mage.add_workspace("staging", status="STOPPED")
    return mage


def workspace_requests(mage: FakeMage) -> list[str]:
    return [f"{r.method} {r.path}" for r in mage.recorder.requests if r.path.startswith("/api/workspaces")]


def changes(mage: FakeMage) -> list[Any]:
    """The requests that change something in Mage (the login excluded)."""
    return [r for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def puts(mage: FakeMage) -> list[Any]:
    return [r.json for r in mage.recorder.requests if r.method == "PUT"]


# -- a Mage without workspaces ----------------------------------------------------------------


@pytest.mark.parametrize("setup", ["oss", "kubernetes_installed"])
@pytest.mark.parametrize(("tool", "arguments"), CALLS, ids=[name for name, _ in CALLS])
async def test_a_mage_without_workspaces_gets_one_clear_error_before_anyone_is_asked(
    setup: str, tool: str, arguments: dict[str, Any], make_server: ServerFactory, mage: FakeMage
) -> None:
    mage.kubernetes_installed = setup == "kubernetes_installed"
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(tool, arguments)
    assert result.is_error
    message = text_of(result)
    assert "Workspaces need Mage Pro" in message and "multi-workspace" in message
    assert "Traceback" not in message and len(message) < 600
    assert prompts == [] and changes(mage) == []


# -- list and get -----------------------------------------------------------------------------


async def test_list_workspaces_pages_2000_workspaces_within_bounds(client: Client, pro: FakeMage) -> None:
    for n in range(2000):
        pro.add_workspace(f"ws-{n:04d}", container_config="x" * 5_000)
    first = await client.call_tool("list_workspaces", {"limit": 100})
    page = ok(first)
    assert page["total"] == 2002 and len(page["workspaces"]) == 100
    assert page["workspaces"][0] == {"name": "dev", "status": "RUNNING", "instance_type": "kubernetes"}
    assert len(text_of(first)) < 20_000
    second = ok(await client.call_tool("list_workspaces", {"limit": 100, "cursor": page["next_cursor"]}))
    assert second["workspaces"][0]["name"] == "ws-0098"


async def test_get_workspace_hides_env_values_and_credentials(client: Client, pro: FakeMage) -> None:
    result = await client.call_tool("get_workspace", {"name": "dev"})
    detail = ok(result)
    assert detail["status"] == "RUNNING" and detail["settings"] == {"namespace": "mage"}
    assert "image_tag: 2026.01.01" in detail["container_config"] and "name: DB_PASSWORD" in detail["container_config"]
    assert "s3cret" not in text_of(result)


async def test_a_huge_container_config_is_cut(client: Client, pro: FakeMage) -> None:
    pro.workspaces["dev"]["container_config"] = "image_tag: x\n" + "y" * 1_000_000
    result = await client.call_tool("get_workspace", {"name": "dev"})
    assert "more chars" in ok(result)["container_config"] and len(text_of(result)) < 10_000


async def test_an_unknown_workspace_points_to_list_workspaces(client: Client, pro: FakeMage) -> None:
    result = await client.call_tool("get_workspace", {"name": "nope"})
    assert result.is_error and "'nope' was not found" in text_of(result) and "list_workspaces" in text_of(result)


async def test_the_cluster_type_mage_reports_is_sent_with_each_call(
    client: Client, pro: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses = pro._statuses()
    statuses["statuses"][0]["instance_type"] = "k8s"
    monkeypatch.setattr(pro, "_statuses", lambda: statuses)
    ok(await client.call_tool("list_workspaces", {}))
    ok(await client.call_tool("get_workspace", {"name": "dev"}))
    sent = [r.query.get("cluster_type") for r in pro.recorder.requests if r.path.startswith("/api/workspaces")]
    assert sent == ["k8s", "k8s"]
    assert len([r for r in pro.recorder.requests if r.path.endswith("/statuses")]) == 2  # the login probe, then one


# -- create -----------------------------------------------------------------------------------


async def test_create_workspace_sends_its_config_and_reads_it_back(make_server: ServerFactory, pro: FakeMage) -> None:
    prompts: list[str] = []
    config = {
        "namespace": "team-a",
        "container_config": SECRET_CONFIG,
        "lifecycle_config": {"pre_start_script_path": "a.sh"},
    }
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("create_workspace", {"name": "team-a", "cluster_type": "k8s", "config": config})
    assert ok(result)["status"] == "created" and ok(result)["workspace_status"] == "RUNNING"
    (post,) = changes(pro)
    assert post.json == {"workspace": {"name": "team-a", "cluster_type": "k8s", **config}}
    assert pro.workspaces["team-a"]["namespace"] == "team-a"
    (prompt,) = prompts
    assert "team-a" in prompt and "k8s" in prompt and "DB_PASSWORD" in prompt
    assert "s3cret" not in prompt + text_of(result)


async def test_an_existing_name_is_refused_before_anyone_is_asked(make_server: ServerFactory, pro: FakeMage) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("create_workspace", {"name": "dev", "cluster_type": "k8s"})
    assert result.is_error and "exists already" in text_of(result)
    assert prompts == [] and changes(pro) == []


@pytest.mark.parametrize("name", ["", "  ", "a/b", "../up", "a\\b"])
async def test_a_path_like_name_is_refused_with_nothing_sent(client: Client, pro: FakeMage, name: str) -> None:
    result = await client.call_tool("create_workspace", {"name": name, "cluster_type": "k8s"})
    assert result.is_error and "name" in text_of(result)
    assert workspace_requests(pro) == []


async def test_unknown_config_fields_are_refused(client: Client, pro: FakeMage) -> None:
    result = await client.call_tool("create_workspace", {"name": "x", "cluster_type": "k8s", "config": {"image": "y"}})
    assert result.is_error and "config.image" in text_of(result)
    assert workspace_requests(pro) == []


# -- update -----------------------------------------------------------------------------------


def allowing(make_server: ServerFactory) -> Client:
    return Client(make_server(mage_mcp_confirm_fallback="allow"))


async def test_stop_and_resume_change_the_instance(make_server: ServerFactory, pro: FakeMage) -> None:
    async with allowing(make_server) as c:
        stopped = ok(await c.call_tool("update_workspace", {"name": "dev", "action": "stop"}))
        resumed = ok(await c.call_tool("update_workspace", {"name": "staging", "action": "resume"}))
    assert stopped == stopped | {"status": "stopped", "workspace_status": "STOPPED", "name": "dev"}
    assert resumed["workspace_status"] == "RUNNING"
    assert pro.workspaces["dev"]["instance"]["status"] == "STOPPED"
    assert puts(pro) == [{"workspace": {"action": "stop"}}, {"workspace": {"action": "resume"}}]


async def test_patch_fields_are_applied_first_then_the_action(make_server: ServerFactory, pro: FakeMage) -> None:
    arguments = {
        "name": "dev",
        "action": "stop",
        "container_config": "image_tag: 2026.06.16\n",
        "lifecycle_config": {"termination_policy": {"enable_auto_termination": True, "max_idle_seconds": 600}},
        "update_workspace_settings": True,
    }
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        ok(await c.call_tool("update_workspace", arguments))
    patch = {
        "action": "patch",
        "container_config": "image_tag: 2026.06.16\n",
        "lifecycle_config": {"termination_policy": {"enable_auto_termination": True, "max_idle_seconds": 600}},
        "update_workspace_settings": True,
    }
    assert puts(pro) == [{"workspace": patch}, {"workspace": {"action": "stop"}}]
    dev = pro.workspaces["dev"]
    assert dev["container_config"] == "image_tag: 2026.06.16\n" and dev["settings_synced"] == 1
    assert dev["instance"]["status"] == "STOPPED"
    assert "then stop it" in prompts[0] and "s3cret" not in prompts[0]


@pytest.mark.parametrize(
    "arguments",
    [
        {"name": "staging", "action": "stop"},
        {"name": "dev", "action": "resume"},
        {"name": "dev", "action": "patch", "container_config": SECRET_CONFIG},
    ],
    ids=["stopped", "running", "same-config"],
)
async def test_a_change_already_made_asks_and_sends_nothing(
    make_server: ServerFactory, pro: FakeMage, arguments: dict[str, Any]
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = ok(await c.call_tool("update_workspace", arguments))
    assert result["status"] == "unchanged" and "already" in result["message"]
    assert prompts == [] and changes(pro) == []


async def test_patch_without_fields_is_refused_with_nothing_sent(client: Client, pro: FakeMage) -> None:
    result = await client.call_tool("update_workspace", {"name": "dev", "action": "patch"})
    assert result.is_error and "container_config" in text_of(result)
    assert workspace_requests(pro) == []


async def test_updating_an_unknown_workspace_is_not_found(client: Client, pro: FakeMage) -> None:
    result = await client.call_tool("update_workspace", {"name": "nope", "action": "stop"})
    assert result.is_error and "list_workspaces" in text_of(result)
    assert changes(pro) == []


# -- delete -----------------------------------------------------------------------------------


async def test_delete_workspace_says_it_cannot_be_undone_and_deletes(make_server: ServerFactory, pro: FakeMage) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = ok(await c.call_tool("delete_workspace", {"name": "dev"}))
    assert result["status"] == "deleted" and "dev" not in pro.workspaces
    assert "cannot be undone" in prompts[0] and "RUNNING" in prompts[0]
    assert [(r.method, r.path) for r in changes(pro)] == [("DELETE", "/api/workspaces/dev")]


async def test_a_declined_delete_sends_nothing(make_server: ServerFactory, pro: FakeMage) -> None:
    async with Client(make_server(), elicitation_callback=answer("decline")) as c:
        result = ok(await c.call_tool("delete_workspace", {"name": "dev"}))
    assert result["status"] == "declined" and "dev" in pro.workspaces and changes(pro) == []
