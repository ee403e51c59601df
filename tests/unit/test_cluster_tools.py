"""The Cloud tools against the Mage Cloud fake: what they read, what they write, what they never show."""

from __future__ import annotations

import json
import logging

import anyio
import pytest
from mcp import Client

from tests.fakes import FakeCloud, FakeMage
from tests.unit.conftest import CLUSTER, ServerFactory, answer

pytestmark = pytest.mark.anyio

SECRET_VALUE = "s3cr3t-existing"  # the value of EXISTING in the fake's default cluster


def puts(cloud: FakeCloud) -> list[dict[str, object]]:
    return [r.json for r in cloud.recorder.requests if r.method == "PUT"]


async def test_get_cluster_names_variables_but_never_their_values(client: Client) -> None:
    result = await client.call_tool("get_cluster", {})
    assert not result.is_error, result.content
    assert result.structured_content == {
        "cluster_id": CLUSTER,
        "name": "demo-cluster",
        "status": "Stopped",
        "replica_count": 0,
        "env_var_names": ["EXISTING"],
        "api": "ready",
    }
    assert SECRET_VALUE not in result.content[0].text  # type: ignore[union-attr]


async def test_result_text_is_compact_json_of_the_structured_result(client: Client) -> None:
    result = await client.call_tool("get_cluster", {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == result.structured_content
    assert ", " not in text and ": " not in text and "\n" not in text


async def test_start_sends_the_whole_config_back_with_replicas_and_status(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    before = cloud.cluster(CLUSTER)["config"]
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("start_cluster", {})
    assert result.structured_content == {
        "status": "Active",
        "cluster_id": CLUSTER,
        "action": "started",
        "message": result.structured_content["message"],  # type: ignore[index]
    }
    (body,) = puts(cloud)
    assert body == {"cluster": {"config": {**before, "replicaCount": 1}, "status": "Active"}}


async def test_stop_on_a_stopped_cluster_sends_no_put_and_says_so(make_server: ServerFactory, cloud: FakeCloud) -> None:
    async with Client(make_server()) as c:  # token fallback: a change would need confirmation first
        result = await c.call_tool("stop_cluster", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "Stopped"
    assert "already Stopped" in result.structured_content["message"]
    assert puts(cloud) == []


async def test_start_on_an_active_cluster_sends_no_put_and_says_so(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    cloud.clusters[CLUSTER]["status"], cloud.clusters[CLUSTER]["config"]["replicaCount"] = "Active", 1
    async with Client(make_server()) as c:
        result = await c.call_tool("start_cluster", {})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "Active"
    assert "already Active" in result.structured_content["message"]
    assert puts(cloud) == []


async def test_set_env_vars_merges_by_name_keeps_everything_else_and_reports_names(
    make_server: ServerFactory, cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    original = cloud.cluster(CLUSTER)
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("set_env_vars", {"env_vars": {"NEW": "n3w-value", "EXISTING": "ch4nged-value"}})
    assert result.structured_content is not None
    assert result.structured_content["added"] == ["NEW"]
    assert result.structured_content["updated"] == ["EXISTING"]
    assert result.structured_content["unchanged"] == []
    assert cloud.env(CLUSTER) == {"NEW": "n3w-value", "EXISTING": "ch4nged-value"}
    after = cloud.cluster(CLUSTER)
    assert {k: v for k, v in after["config"].items() if k != "extraEnvs"} == {
        k: v for k, v in original["config"].items() if k != "extraEnvs"
    }
    shown = result.content[0].text + caplog.text  # type: ignore[union-attr]
    assert "n3w-value" not in shown and "ch4nged-value" not in shown and SECRET_VALUE not in shown


async def test_set_env_vars_with_nothing_new_sends_nothing(make_server: ServerFactory, cloud: FakeCloud) -> None:
    async with Client(make_server()) as c:
        result = await c.call_tool("set_env_vars", {"env_vars": {"EXISTING": SECRET_VALUE}})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "unchanged"
    assert result.structured_content["unchanged"] == ["EXISTING"]
    assert SECRET_VALUE not in result.content[0].text  # type: ignore[union-attr]
    assert puts(cloud) == []


async def test_concurrent_set_env_vars_never_lose_each_others_variables(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    cloud.put_delay = 0.05  # the fake reads, waits, then writes: unserialised writers would clobber
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c, anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(c.call_tool, "set_env_vars", {"env_vars": {f"VAR_{i}": f"value-{i}"}})
    assert cloud.env(CLUSTER) == {"EXISTING": SECRET_VALUE} | {f"VAR_{i}": f"value-{i}" for i in range(5)}


async def test_invalid_names_are_refused_with_the_names_and_nothing_is_sent(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("set_env_vars", {"env_vars": {"1BAD": "top-secret-1", "OK": "v"}})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "'1BAD'" in text and "top-secret-1" not in text
    assert puts(cloud) == []


async def test_validation_errors_never_echo_the_value(client: Client) -> None:
    result = await client.call_tool("set_env_vars", {"env_vars": {"TOKEN": 123456789}})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "env_vars.TOKEN" in text and "123456789" not in text


async def test_unconfigured_cloud_names_the_missing_variables(make_server: ServerFactory) -> None:
    async with Client(make_server(mage_cloud_api_key=None, mage_cloud_password=None)) as c:
        result = await c.call_tool("get_cluster", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "MAGE_CLOUD_API_KEY" in text and "MAGE_CLOUD_PASSWORD" in text and "MAGE_CLOUD_EMAIL" not in text


async def test_no_cluster_chosen_names_argument_and_variable(make_server: ServerFactory) -> None:
    async with Client(make_server(mage_cluster_id=None)) as c:
        result = await c.call_tool("start_cluster", {})
    assert result.is_error
    assert "cluster_id (or MAGE_CLUSTER_ID)" in result.content[0].text  # type: ignore[union-attr]


async def test_unknown_cluster_is_an_error_that_names_it(client: Client) -> None:
    result = await client.call_tool("get_cluster", {"cluster_id": "nope-7"})
    assert result.is_error
    assert "nope-7" in result.content[0].text  # type: ignore[union-attr]


async def test_logs_in_once_and_again_once_after_the_token_expires(client: Client, cloud: FakeCloud) -> None:
    await client.call_tool("get_cluster", {})
    await client.call_tool("get_cluster", {})
    assert cloud.logins == 1
    cloud.expire_tokens()
    result = await client.call_tool("get_cluster", {})
    assert not result.is_error and cloud.logins == 2
    cookies = [r.headers.get("cookie", "") for r in cloud.recorder.requests if r.method == "GET"]
    assert all(c.startswith("oauth_token=") for c in cookies)


async def test_wrong_cloud_password_is_an_auth_error_without_the_password(
    make_server: ServerFactory,
) -> None:
    async with Client(make_server(mage_cloud_password="wr0ng-cloud-pass")) as c:
        result = await c.call_tool("get_cluster", {})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "MAGE_CLOUD_PASSWORD" in text and "wr0ng-cloud-pass" not in text


async def test_unreachable_cloud_says_so(make_server: ServerFactory) -> None:
    # A real connection to port 9, where nothing listens.
    async with Client(make_server(real_network=True, mage_cloud_url="http://127.0.0.1:9/api/v1")) as c:
        result = await c.call_tool("get_cluster", {})
    assert result.is_error
    assert "not reachable" in result.content[0].text and "MAGE_CLOUD_URL" in result.content[0].text  # type: ignore[union-attr]


# -- the cluster lifecycle: restart, waits, env var removal, configuration -------------------


def set_power(cloud: FakeCloud, status: str, replicas: int, cluster_id: str = CLUSTER) -> None:
    cloud.clusters[cluster_id]["status"] = status
    cloud.clusters[cluster_id]["config"]["replicaCount"] = replicas


async def test_get_cluster_says_whether_the_cluster_api_answers(make_server: ServerFactory, cloud: FakeCloud) -> None:
    cloud.clusters["other"] = cloud.cluster(CLUSTER) | {"id": "other"}
    async with Client(make_server()) as c:
        answering = await c.call_tool("get_cluster", {})
        unknown = await c.call_tool("get_cluster", {"cluster_id": "other"})
    async with Client(make_server(cluster_down=True)) as c:
        down = await c.call_tool("get_cluster", {})
    assert answering.structured_content is not None and answering.structured_content["api"] == "ready"
    assert down.structured_content is not None and down.structured_content["api"] == "not_answering"
    assert unknown.structured_content is not None and unknown.structured_content["api"] == "unknown"


async def test_restart_stops_then_starts_with_the_whole_config(make_server: ServerFactory, cloud: FakeCloud) -> None:
    set_power(cloud, "Active", 1)
    before = cloud.cluster(CLUSTER)["config"]
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("restart_cluster", {})
    assert result.structured_content is not None and result.structured_content["action"] == "restarted"
    assert puts(cloud) == [
        {"cluster": {"config": {**before, "replicaCount": 0}, "status": "Stopped"}},
        {"cluster": {"config": {**before, "replicaCount": 1}, "status": "Active"}},
    ]


async def test_restart_of_a_stopped_cluster_just_starts_it_and_says_so(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("restart_cluster", {})
    assert result.structured_content is not None
    assert result.structured_content["action"] == "started" and "not running" in result.structured_content["message"]
    assert "started (not restarted)" in prompts[0]
    assert [body["cluster"]["status"] for body in puts(cloud)] == ["Active"]  # type: ignore[index]


async def test_stop_and_restart_plans_name_the_runs_a_stop_interrupts(
    make_server: ServerFactory, cloud: FakeCloud, mage: FakeMage
) -> None:
    set_power(cloud, "Active", 1)
    trigger = mage.add_trigger("example_pipeline", status="active")
    running = mage.trigger_run(trigger["id"])
    mage.complete_run(running["id"], "running")
    done = mage.trigger_run(trigger["id"])
    mage.complete_run(done["id"], "completed")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("decline", seen=prompts)) as c:
        await c.call_tool("stop_cluster", {})
        await c.call_tool("restart_cluster", {})
    for prompt in prompts:
        assert f"{running['id']} (example_pipeline)" in prompt and f"{done['id']} (" not in prompt
    assert puts(cloud) == []


async def test_start_with_wait_returns_once_the_cluster_api_answers_with_progress(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("start_cluster", {"wait": True, "timeout_s": 30}, progress_callback=on_progress)
    body = result.structured_content
    assert body is not None and not result.is_error
    assert body["ready"] is True and body["timed_out"] is False and body["api"] == "ready"
    assert progress and "cluster API" in (progress[0] or "")


async def test_a_wait_that_times_out_returns_the_state_not_an_error(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    server = make_server(mage_mcp_confirm_fallback="allow", cluster_down=True)
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    with anyio.fail_after(15):
        async with Client(server) as c:
            result = await c.call_tool("start_cluster", {"wait": True, "timeout_s": 3}, progress_callback=on_progress)
    body = result.structured_content
    assert body is not None and not result.is_error, result.content
    assert body["status"] == "Active" and body["ready"] is False and body["timed_out"] is True
    assert body["api"] == "not_answering" and "get_cluster" in body["message"]
    assert len(progress) >= 2


async def test_a_wait_on_a_cluster_whose_url_is_unknown_says_so(make_server: ServerFactory, cloud: FakeCloud) -> None:
    cloud.clusters["other"] = cloud.cluster(CLUSTER) | {"id": "other"}
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("start_cluster", {"cluster_id": "other", "wait": True})
    assert result.structured_content is not None
    assert result.structured_content["api"] == "unknown" and "MAGE_CLUSTER_URL" in result.structured_content["message"]


async def test_unset_env_vars_removes_by_name_and_reports_absent_ones(
    make_server: ServerFactory, cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    cloud.clusters[CLUSTER]["config"]["extraEnvs"].append({"name": "GOES", "value": "g0es-value"})
    original = cloud.cluster(CLUSTER)["config"]
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("unset_env_vars", {"names": ["GOES", "NEVER_SET"]})
    assert result.structured_content is not None
    assert result.structured_content["removed"] == ["GOES"] and result.structured_content["absent"] == ["NEVER_SET"]
    assert cloud.env(CLUSTER) == {"EXISTING": SECRET_VALUE}
    after = cloud.cluster(CLUSTER)["config"]
    assert {k: v for k, v in after.items() if k != "extraEnvs"} == {
        k: v for k, v in original.items() if k != "extraEnvs"
    }
    assert "g0es-value" not in result.content[0].text + caplog.text  # type: ignore[union-attr]


async def test_unset_env_vars_of_absent_names_sends_nothing(make_server: ServerFactory, cloud: FakeCloud) -> None:
    async with Client(make_server()) as c:
        result = await c.call_tool("unset_env_vars", {"names": ["NEVER_SET"]})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "unchanged" and result.structured_content["absent"] == ["NEVER_SET"]
    assert puts(cloud) == []


async def test_update_cluster_config_merges_and_keeps_every_other_field(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    cloud.clusters[CLUSTER]["config"]["resources"] = {"cpu": "1", "memory": "2Gi"}
    cloud.clusters[CLUSTER]["config"]["ingress"] = {"host": "a.example.com", "tls": True}
    before = cloud.cluster(CLUSTER)["config"]
    patch = {"resources": {"cpu": "2"}, "ingress": {"tls": None}, "nodeSelector": {"pool": "big"}}
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("update_cluster_config", {"config": patch})
    assert result.structured_content is not None
    assert result.structured_content["changed"] == ["ingress.tls", "nodeSelector.pool", "resources.cpu"]
    (body,) = puts(cloud)
    sent = body["cluster"]["config"]  # type: ignore[index]
    assert sent == {
        **before,
        "resources": {"cpu": "2", "memory": "2Gi"},
        "ingress": {"host": "a.example.com"},
        "nodeSelector": {"pool": "big"},
    }
    assert json.dumps(sent["extraEnvs"]) == json.dumps(before["extraEnvs"])


@pytest.mark.parametrize(("key", "tool"), [("extraEnvs", "set_env_vars"), ("replicaCount", "start_cluster")])
async def test_update_cluster_config_refuses_keys_with_their_own_tools(
    make_server: ServerFactory, cloud: FakeCloud, key: str, tool: str
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("update_cluster_config", {"config": {key: 1, "resources": {"cpu": "4"}}})
    assert result.is_error and tool in result.content[0].text  # type: ignore[union-attr]
    assert puts(cloud) == [] and [r for r in cloud.recorder.requests if "/clusters/" in r.path] == []


async def test_update_cluster_config_plan_shows_old_and_new_but_never_a_credential(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    cloud.clusters[CLUSTER]["config"]["database"] = {"host": "db1", "password": "old-db-p4ss"}
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("decline", seen=prompts)) as c:
        await c.call_tool("update_cluster_config", {"config": {"database": {"host": "db2", "password": "new-db-p4ss"}}})
    (prompt,) = prompts
    assert 'database.host: "db1" → "db2"' in prompt and "database.password: *** → ***" in prompt
    assert "p4ss" not in prompt


async def test_a_list_in_the_config_plan_never_shows_an_env_var_or_credential_value(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    sidecar = {"name": "proxy", "env": [{"name": "DSN", "value": "dsn-s3cret"}], "apiKey": "k3y-s3cret"}
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("decline", seen=prompts)) as c:
        result = await c.call_tool("update_cluster_config", {"config": {"sidecars": [sidecar]}})
    (prompt,) = prompts
    assert '"name": "DSN"' in prompt and '"apiKey": "***"' in prompt and '"value": "***"' in prompt
    assert "s3cret" not in prompt and "s3cret" not in result.content[0].text  # type: ignore[union-attr]
