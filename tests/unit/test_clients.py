"""The HTTP clients on their own (no MCP): Mage's error shapes, auth quirks and cluster writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from mage_mcp.clients import (
    CloudClient,
    ClusterClient,
    ClusterUpdate,
    Credentials,
    MageApiError,
    MageAuthError,
    MageInvalidRequestError,
    MageNotFoundError,
)
from tests.fakes import FakeCloud, FakeMage

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cloud_client(cloud: FakeCloud) -> AsyncIterator[CloudClient]:
    async with CloudClient(
        "http://cloud.test/api/v1",
        api_key=cloud.api_key,
        email=cloud.email,
        password=cloud.password,
        transport=httpx.ASGITransport(app=cloud.app),
    ) as client:
        yield client


async def test_unhandled_exception_shape_becomes_not_found_with_mages_code(cluster: ClusterClient) -> None:
    with pytest.raises(MageNotFoundError) as caught:
        await cluster.get_pipeline("missing_one")
    assert caught.value.code == 500 and "missing_one" in str(caught.value)
    assert "Traceback" not in str(caught.value)


async def test_handled_shape_404_is_classified_by_code_not_message(cluster: ClusterClient, mage: FakeMage) -> None:
    with pytest.raises(MageNotFoundError) as caught:
        await cluster.get_run(31337)
    assert caught.value.type == "record_not_found" and "31337" in str(caught.value)


async def test_validation_error_with_code_200_is_an_invalid_request(cluster: ClusterClient) -> None:
    with pytest.raises(MageInvalidRequestError) as caught:
        await cluster.request("POST", "/pipelines/example_pipeline/pipeline_schedules", json={"pipeline_schedule": {}})
    assert caught.value.type == "record_invalid"


async def test_other_unhandled_exceptions_keep_their_text(cluster: ClusterClient) -> None:
    with pytest.raises(MageApiError) as caught:
        await cluster.request("GET", "/nonexistent_resource")
    assert "No module named" in str(caught.value) and caught.value.code == 500


async def test_wrong_api_key_is_an_auth_error(mage: FakeMage) -> None:
    async with ClusterClient(
        "http://mage.test",
        api_key="wrong",
        credentials=Credentials(mage.email, mage.password),
        transport=httpx.ASGITransport(app=mage.app),
    ) as client:
        with pytest.raises(MageAuthError) as caught:
            await client.list_pipelines(limit=1)
    assert caught.value.type == "invalid_api_key"


async def test_credentials_never_print_the_password() -> None:
    assert "hunter2" not in repr(Credentials("a@b.c", "hunter2"))


async def test_cloud_update_applies_the_change_to_a_fresh_read(
    cloud_client: CloudClient, cloud: FakeCloud
) -> None:
    before, after = await cloud_client.update_cluster(
        "team-1", "cluster-1", lambda c: ClusterUpdate(config={**c.config, "replicaCount": 1}, status="Active")
    )
    assert before.status == "Stopped" and after.status == "Active"
    assert cloud.clusters["cluster-1"]["config"]["image"] == "mageai/mageaipro:latest"


async def test_cloud_update_that_changes_nothing_sends_nothing(cloud_client: CloudClient, cloud: FakeCloud) -> None:
    before, after = await cloud_client.update_cluster("team-1", "cluster-1", lambda c: None)
    assert before == after
    assert [r for r in cloud.recorder.requests if r.method == "PUT"] == []


async def test_cloud_rejected_body_is_an_invalid_request(cloud_client: CloudClient, cloud: FakeCloud) -> None:
    with pytest.raises(MageInvalidRequestError):
        await cloud_client.update_cluster(
            "team-1", "cluster-1", lambda c: ClusterUpdate(config={**c.config, "replicaCount": 7})
        )
    assert cloud.clusters["cluster-1"]["config"]["replicaCount"] == 0


async def test_cloud_login_sends_the_api_key_and_uses_the_cookie(cloud_client: CloudClient, cloud: FakeCloud) -> None:
    await cloud_client.get_cluster("team-1", "cluster-1")
    login, read = cloud.recorder.requests
    assert login.path == "/api/v1/sessions" and login.headers["x-api-key"] == cloud.api_key
    assert login.json == {"session": {"email": cloud.email, "password": cloud.password}}
    assert read.headers["cookie"].startswith("oauth_token=")
