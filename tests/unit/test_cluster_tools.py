"""The Cloud tools against the Mage Cloud fake: what they read, what they write, what they never show."""

from __future__ import annotations

import json
import logging

import anyio
import pytest
from mcp import Client

from tests.fakes import FakeCloud
from tests.unit.conftest import CLUSTER, ServerFactory

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
        "message": result.structured_content["message"],  # type: ignore[index]
    }
    (body,) = puts(cloud)
    assert body == {"cluster": {"config": {**before, "replicaCount": 1}, "status": "Active"}}


async def test_stop_on_a_stopped_cluster_sends_no_put_and_says_so(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
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
        result = await c.call_tool(
            "set_env_vars", {"env_vars": {"NEW": "n3w-value", "EXISTING": "ch4nged-value"}}
        )
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
