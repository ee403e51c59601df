"""Pin the Mage Cloud fake: login failures, auth and expiry, the whole-config PUT and its validation,
the request recorder, and the PUT delay that exposes lost updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from tests.fakes import FakeCloud
from tests.unit.fake_clients import asgi_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cc(cloud: FakeCloud) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(cloud.app, "http://cloud.test") as client:
        yield client


def _cloud_headers(cloud: FakeCloud, token: str | None = None) -> dict[str, str]:
    headers = {"X-API-KEY": cloud.api_key, "Content-Type": "application/json"}
    if token:
        headers["Cookie"] = f"oauth_token={token}"
    return headers


async def _cloud_login(cc: httpx.AsyncClient, cloud: FakeCloud) -> str:
    r = await cc.post(
        "/api/v1/sessions",
        headers=_cloud_headers(cloud),
        json={"session": {"email": cloud.email, "password": cloud.password}},
    )
    assert r.status_code == 200
    return str(r.json()["session"]["token"])


CLUSTER_URL = "/api/v1/teams/team-1/clusters/cluster-1"


async def test_cloud_login_failures(cc: httpx.AsyncClient, cloud: FakeCloud) -> None:
    creds = {"session": {"email": cloud.email, "password": cloud.password}}
    r = await cc.post("/api/v1/sessions", headers={"X-API-KEY": "bad"}, json=creds)
    assert r.status_code == 401 and set(r.json()["error"]) == {"code", "message", "type"}
    bad = {"session": {"email": cloud.email, "password": "wrong"}}
    r = await cc.post("/api/v1/sessions", headers=_cloud_headers(cloud), json=bad)
    assert r.status_code == 401 and "error" in r.json()
    assert cloud.logins == 0


async def test_cloud_auth_and_not_found(cc: httpx.AsyncClient, cloud: FakeCloud) -> None:
    r = await cc.get(CLUSTER_URL, headers=_cloud_headers(cloud))
    assert r.status_code == 401
    token = await _cloud_login(cc, cloud)
    r = await cc.get(CLUSTER_URL, headers=_cloud_headers(cloud, token))
    assert r.status_code == 200 and r.json()["cluster"]["config"]["replicaCount"] == 0
    r = await cc.get("/api/v1/teams/team-1/clusters/nope", headers=_cloud_headers(cloud, token))
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    cloud.expire_tokens()
    r = await cc.get(CLUSTER_URL, headers=_cloud_headers(cloud, token))
    assert r.status_code == 401
    token = await _cloud_login(cc, cloud)
    assert (await cc.get(CLUSTER_URL, headers=_cloud_headers(cloud, token))).status_code == 200
    assert cloud.logins == 2


async def test_cloud_put_replaces_whole_config(cc: httpx.AsyncClient, cloud: FakeCloud) -> None:
    token = await _cloud_login(cc, cloud)
    headers = _cloud_headers(cloud, token)
    # start the docs' way: read, modify, send everything back
    config = (await cc.get(CLUSTER_URL, headers=headers)).json()["cluster"]["config"]
    config["replicaCount"] = 1
    r = await cc.put(CLUSTER_URL, headers=headers, json={"cluster": {"config": config, "status": "Active"}})
    assert r.status_code == 200
    assert cloud.clusters["cluster-1"]["status"] == "Active"
    assert cloud.clusters["cluster-1"]["config"]["image"] == "mageai/mageaipro:latest"
    # a partial config is not merged: what is not sent is gone
    r = await cc.put(CLUSTER_URL, headers=headers, json={"cluster": {"config": {"replicaCount": 1}}})
    assert r.status_code == 200
    assert cloud.clusters["cluster-1"]["config"] == {"replicaCount": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"config": {"replicaCount": 1}},  # not wrapped in "cluster"
        {"cluster": "stop"},
        {"cluster": {"config": {"replicaCount": 2}}},
        {"cluster": {"config": {"replicaCount": True, "extraEnvs": []}}},
        {"cluster": {"config": {"extraEnvs": []}}},  # replicaCount missing
        {"cluster": {"status": "Running"}},
        {"cluster": {"status": "Active"}},  # disagrees with the stored replicaCount 0
        {"cluster": {"config": {"replicaCount": 1}, "status": "Stopped"}},
        {"cluster": {"config": {"replicaCount": 0, "extraEnvs": [{"name": "A"}]}}},
        {"cluster": {"config": {"replicaCount": 0, "extraEnvs": [{"name": "A", "value": 1}]}}},
        {"cluster": {"config": {"replicaCount": 0, "extraEnvs": {"A": "1"}}}},
    ],
)
async def test_cloud_put_malformed_is_400_and_changes_nothing(
    cc: httpx.AsyncClient, cloud: FakeCloud, body: dict[str, Any]
) -> None:
    token = await _cloud_login(cc, cloud)
    before = cloud.cluster("cluster-1")
    r = await cc.put(CLUSTER_URL, headers=_cloud_headers(cloud, token), json=body)
    assert r.status_code == 400
    assert set(r.json()["error"]) == {"code", "message", "type"}
    assert cloud.cluster("cluster-1") == before


async def test_cloud_recorder_sees_rejected_requests(cc: httpx.AsyncClient, cloud: FakeCloud) -> None:
    await cc.put(f"{CLUSTER_URL}?x=1", headers={"X-API-KEY": "bad"}, json={"cluster": {"status": "Active"}})
    (rejected,) = cloud.recorder.mutations()
    assert rejected.method == "PUT"
    assert rejected.path == CLUSTER_URL
    assert rejected.query == {"x": "1"}
    assert rejected.headers["x-api-key"] == "bad"
    assert rejected.json == {"cluster": {"status": "Active"}}
    await cc.get(CLUSTER_URL)
    assert len(cloud.recorder.requests) == 2
    assert cloud.recorder.mutations("/api/v1/sessions") == []
    cloud.recorder.clear()
    assert cloud.recorder.requests == []


async def test_cloud_put_delay_exposes_lost_updates() -> None:
    cloud = FakeCloud(put_delay=0.2)
    async with asgi_client(cloud.app, "http://cloud.test") as cc:
        token = await _cloud_login(cc, cloud)
        headers = _cloud_headers(cloud, token)
        config = cloud.cluster("cluster-1")["config"]
        start = {"cluster": {"config": {**config, "replicaCount": 1}, "status": "Active"}}
        env_only = {"cluster": {"config": {**config, "extraEnvs": [{"name": "NEW", "value": "1"}]}}}

        async def put(body: dict[str, Any]) -> None:
            r = await cc.put(CLUSTER_URL, headers=headers, json=body)
            assert r.status_code == 200

        async with anyio.create_task_group() as tg:
            tg.start_soon(put, start)
            await anyio.sleep(0.05)
            tg.start_soon(put, env_only)
        # the env-only PUT read the cluster before the start was written, and wrote it all back
        assert cloud.clusters["cluster-1"]["status"] == "Stopped"
        assert cloud.env("cluster-1") == {"NEW": "1"}
