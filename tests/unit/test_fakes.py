"""Pin the quirks of the Mage fakes that clients must handle (and that the references describe)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from tests.fakes import FakeCloud, FakeMage, inner_token, serve_in_thread

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(app: Any, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
def mage() -> FakeMage:
    return FakeMage()


@pytest.fixture
async def mc(mage: FakeMage) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(mage.app, "http://mage.test") as client:
        yield client


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
async def cc(cloud: FakeCloud) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(cloud.app, "http://cloud.test") as client:
        yield client


async def _login(mc: httpx.AsyncClient, mage: FakeMage) -> str:
    """Log in; return the session JWT as Mage returns it."""
    r = await mc.post(
        "/api/sessions",
        headers={"X-API-KEY": mage.api_key},
        json={"session": {"email": mage.email, "password": mage.password}},
    )
    assert r.status_code == 200
    return str(r.json()["session"]["token"])


async def _auth(mc: httpx.AsyncClient, mage: FakeMage) -> dict[str, str]:
    jwt = await _login(mc, mage)
    return {"X-API-KEY": mage.api_key, "Authorization": f"Bearer {inner_token(jwt)}"}


def _assert_shape3(body: dict[str, Any], exception: str) -> None:
    assert set(body) == {"error", "url_parameters"}
    err = body["error"]
    assert err["code"] == 500
    assert err["exception"] == exception
    assert err["message"].startswith("Traceback (most recent call last):")
    assert isinstance(err["errors"], list)
    assert "type" not in err


# =========================================================================== FakeMage: auth
async def test_status_needs_no_auth(mc: httpx.AsyncClient) -> None:
    for path in ("/api/status", "/api/statuses"):
        r = await mc.get(path)
        assert r.status_code == 200
        body = r.json()
        assert body["metadata"] == {}
        status = body["statuses"][0]
        assert status["require_user_authentication"] is True
        assert status["scheduler_status"] == "running"


async def test_missing_or_wrong_key_is_http_401_with_status_200_in_body(mc: httpx.AsyncClient) -> None:
    expected = {
        "error": {"code": 401, "message": "Invalid API key.", "type": "invalid_api_key"},
        "status": 200,
    }
    r = await mc.get("/api/pipelines")
    assert (r.status_code, r.json()) == (401, expected)
    r = await mc.get("/api/pipelines", headers={"X-API-KEY": "wrong"})
    assert (r.status_code, r.json()) == (401, expected)


async def test_key_without_token_is_http_200_with_403_body(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    key = {"X-API-KEY": mage.api_key}
    r = await mc.get("/api/pipelines", headers=key)
    assert r.status_code == 200
    assert r.json() == {
        "error": {
            "code": 403,
            "message": "Private access for list only, invalid scope.",
            "type": "unauthorized_access",
        },
        "status": 200,
    }
    r = await mc.get("/api/pipelines/example_pipeline", headers=key)
    assert r.json()["error"]["message"] == "Private access for detail only, invalid scope."


async def test_login_returns_hs256_jwt_wrapping_raw_token(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    r = await mc.post(
        "/api/sessions",
        headers={"X-API-KEY": mage.api_key},
        json={"session": {"username": mage.username, "password": mage.password}},
    )
    body = r.json()
    assert body["metadata"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", body["session"]["expires"])
    assert body["session"]["user"]["owner"] is True
    header_b64, payload_b64, sig_b64 = body["session"]["token"].split(".")
    expected = hmac.new(b"materia", f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4)) == expected
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    assert set(payload) == {"expires", "token"}
    assert payload["token"] in mage.issued_tokens
    assert mage.logins == 1


async def test_token_transports(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    jwt = await _login(mc, mage)
    raw = inner_token(jwt)
    key = {"X-API-KEY": mage.api_key}

    async def get(headers: dict[str, str]) -> httpx.Response:
        return await mc.get("/api/pipelines", headers={**key, **headers})

    # raw token as Bearer / OAUTH-TOKEN, whole JWT as cookie: accepted
    for ok in ({"Authorization": f"Bearer {raw}"}, {"OAUTH-TOKEN": raw}, {"Cookie": f"oauth_token={jwt}"}):
        r = await get(ok)
        assert r.status_code == 200 and "pipelines" in r.json(), ok
    # JWT as Bearer: HTTP 401 invalid_oauth_token
    r = await get({"Authorization": f"Bearer {jwt}"})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_oauth_token"
    # raw token in the cookie: HTTP 200, shape 3 (a JWT decode exception)
    r = await get({"Cookie": f"oauth_token={raw}"})
    assert r.status_code == 200
    _assert_shape3(r.json(), "Not enough segments")
    # a token but no key is still a 401 invalid_api_key
    r = await mc.get("/api/pipelines", headers={"Authorization": f"Bearer {raw}"})
    assert (r.status_code, r.json()["error"]["type"]) == (401, "invalid_api_key")


async def test_expired_token_then_relogin(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await _auth(mc, mage)
    mage.expire_tokens()
    r = await mc.get("/api/pipelines", headers=headers)
    assert r.status_code == 401
    assert r.json() == {
        "error": {"code": 401, "message": "Expired OAuth token.", "type": "expired_oauth_token"},
        "status": 200,
    }
    headers = await _auth(mc, mage)
    assert (await mc.get("/api/pipelines", headers=headers)).status_code == 200
    assert mage.logins == 2


async def test_failed_login_is_http_200_and_logins_corrupt_later_404_messages(
    mc: httpx.AsyncClient, mage: FakeMage
) -> None:
    # Mage mutates its shared RESOURCE_NOT_FOUND dict on every password login (even a good one),
    # so clients must branch on code/type, never on message.
    headers = await _auth(mc, mage)
    r = await mc.post(
        "/api/sessions",
        headers={"X-API-KEY": mage.api_key},
        json={"session": {"email": mage.email, "password": "nope"}},
    )
    assert r.status_code == 200
    assert r.json() == {
        "error": {
            "code": 404,
            "message": "Email/username and/or password invalid.",
            "type": "record_not_found",
        },
        "status": 200,
    }
    r = await mc.get("/api/pipeline_runs/999999", headers=headers)
    assert r.json()["error"]["code"] == 404
    assert r.json()["error"]["type"] == "record_not_found"
    assert r.json()["error"]["message"] == "Email/username and/or password invalid."


async def test_auth_off_needs_nothing() -> None:
    mage = FakeMage(require_auth=False)
    async with _client(mage.app, "http://mage.test") as mc:
        assert (await mc.get("/api/status")).json()["statuses"][0]["require_user_authentication"] is False
        r = await mc.get("/api/pipelines", headers={"X-API-KEY": "wrong"})
        assert r.status_code == 200 and r.json()["metadata"]["count"] == 1
        r = await mc.get("/api/pipeline_runs/999999")
        assert r.json() == {
            "error": {"code": 404, "message": "Record not found.", "type": "record_not_found"},
            "status": 200,
        }


# =========================================================================== FakeMage: errors and lists
async def test_three_error_shapes_and_odd_methods(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await _auth(mc, mage)
    # shape 1: handled, HTTP 200
    r = await mc.get("/api/pipeline_schedules/999999", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == 200
    assert (body["error"]["code"], body["error"]["type"]) == (404, "record_not_found")
    # ?_http_error_codes=1 turns shape 1 into a real status
    r = await mc.get("/api/pipeline_runs/999999", params={"_http_error_codes": "1"}, headers=headers)
    assert r.status_code == 404 and r.json()["status"] == 404
    # shape 3: unhandled, HTTP 200
    r = await mc.get("/api/pipelines/does_not_exist", headers=headers)
    assert r.status_code == 200
    _assert_shape3(r.json(), "Pipeline does_not_exist does not exist.")
    assert r.json()["url_parameters"] == {"resource": "pipelines", "pk": "does_not_exist"}
    r = await mc.get("/api/nonexistent_resource", headers=headers)
    _assert_shape3(r.json(), "No module named 'mage_ai.api.policies.NonexistentResourcePolicy'")
    # PATCH: bare 405
    r = await mc.patch("/api/pipelines/example_pipeline", headers=headers, json={})
    assert r.status_code == 405 and r.content == b""


async def test_pipeline_list_pagination_and_search(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    mage.add_pipeline("Zeta_Pipe", blocks=["a"])
    mage.add_pipeline("alpha_pipe", blocks=["b", "c"])
    headers = await _auth(mc, mage)
    r = await mc.get("/api/pipelines", headers=headers)
    body = r.json()
    assert [p["uuid"] for p in body["pipelines"]] == ["Zeta_Pipe", "alpha_pipe", "example_pipeline"]
    assert body["metadata"] == {"count": 3, "results": 3, "next": None}
    assert all("content" not in b for p in body["pipelines"] for b in p["blocks"])
    r = await mc.get("/api/pipelines", params={"_limit": 1, "_offset": 1}, headers=headers)
    assert r.json()["metadata"] == {"count": 3, "results": 1, "next": True}
    r = await mc.get("/api/pipelines", params={"_limit": 2, "_offset": 2}, headers=headers)
    assert r.json()["metadata"] == {"count": 3, "results": 1, "next": False}
    r = await mc.get("/api/pipelines", params={"search": "A_P"}, headers=headers)
    assert [p["uuid"] for p in r.json()["pipelines"]] == ["Zeta_Pipe", "alpha_pipe"]
    r = await mc.get("/api/pipelines/example_pipeline", headers=headers)
    detail = r.json()
    assert detail["metadata"] is None
    assert [b["uuid"] for b in detail["pipeline"]["blocks"]] == [
        "load_titanic",
        "fill_in_missing_values",
        "export_titanic_clean",
    ]
    assert all("content" in b for b in detail["pipeline"]["blocks"])


async def test_db_backed_lists_default_limit_40(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline")
    for _ in range(45):
        mage.trigger_run(trigger["id"])
    headers = await _auth(mc, mage)
    r = await mc.get("/api/pipeline_runs", params={"pipeline_uuid": "example_pipeline"}, headers=headers)
    body = r.json()
    assert len(body["pipeline_runs"]) == 40
    assert body["metadata"] == {"count": 45, "next": True}
    assert body["pipeline_runs"][0]["id"] == 45  # newest first
    r = await mc.get("/api/pipeline_runs", params={"_limit": 2, "_offset": 44}, headers=headers)
    assert r.json()["metadata"] == {"count": 45, "next": False}
    assert [run["id"] for run in r.json()["pipeline_runs"]] == [1]
    r = await mc.get("/api/pipelines/example_pipeline/pipeline_schedules", headers=headers)
    assert r.json()["metadata"] == {"count": 1, "next": False}


async def test_trigger_create_validation(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await _auth(mc, mage)
    url = "/api/pipelines/example_pipeline/pipeline_schedules"
    r = await mc.post(
        url, headers=headers, json={"pipeline_schedule": {"name": "hook", "schedule_type": "api"}}
    )
    created = r.json()["pipeline_schedule"]
    assert re.fullmatch(r"[0-9a-f]{32}", created["token"])
    assert created["status"] == "inactive"
    r = await mc.post(url, headers=headers, json={"pipeline_schedule": {"schedule_type": "api"}})
    err = r.json()["error"]
    assert (r.status_code, err["code"], err["type"]) == (200, 200, "record_invalid")
    r = await mc.post(url, headers=headers, json={"pipeline_schedule": {"name": "x", "tags": ["a"]}})
    _assert_shape3(r.json(), "'tags' is an invalid keyword argument for PipelineSchedule")
    r = await mc.post(
        url, headers=headers, json={"pipeline_schedule": {"name": "second", "schedule_type": "api"}}
    )
    r = await mc.get(url, headers=headers)
    assert [s["name"] for s in r.json()["pipeline_schedules"]] == ["second", "hook"]  # id desc


# =========================================================================== FakeMage: runs
async def test_token_trigger_needs_no_auth_and_activates_trigger(
    mc: httpx.AsyncClient, mage: FakeMage
) -> None:
    trigger = mage.add_trigger("example_pipeline")
    assert trigger["status"] == "inactive"
    r = await mc.post(
        f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs/{trigger['token']}",
        json={"pipeline_run": {"variables": {"x": 1}}, "source": "test"},
    )
    body = r.json()
    assert set(body) == {"pipeline_run"}  # no metadata key on this route
    run = body["pipeline_run"]
    assert run["status"] == "initial"
    assert run["variables"]["x"] == 1
    assert re.fullmatch(rf"{trigger['id']}/\d{{8}}T\d{{6}}_\d{{6}}", run["variables"]["execution_partition"])
    assert run["event_variables"] == {"source": "test"}
    assert mage.pipeline_schedules[trigger["id"]]["status"] == "active"
    # the Bearer form
    r = await mc.post(
        f"/api/pipeline_schedules/{trigger['id']}/api_trigger",
        headers={"Authorization": f"Bearer {trigger['token']}"},
        json={"pipeline_run": {"variables": {}}},
    )
    assert r.json()["pipeline_run"]["status"] == "initial"
    # bad token / missing trigger: shape 3
    r = await mc.post(f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs/wrongtoken", json={})
    _assert_shape3(r.json(), f"Invalid token for pipeline schedule ID {trigger['id']}.")
    r = await mc.post("/api/pipeline_schedules/999999/pipeline_runs/abc", json={"pipeline_run": {}})
    assert r.json()["error"]["code"] == 500 and "record_not_found" in r.json()["error"]["exception"]


async def test_authenticated_run_and_polling(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await _auth(mc, mage)
    trigger = mage.add_trigger("example_pipeline")
    r = await mc.post(
        f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs",
        headers=headers,
        json={"pipeline_run": {"variables": {"y": 2}}},
    )
    body = r.json()
    assert body["metadata"] is None
    run_id = body["pipeline_run"]["id"]
    assert body["pipeline_run"]["status"] == "initial"
    mage.complete_run(run_id)
    r = await mc.get(f"/api/pipeline_runs/{run_id}", headers=headers)
    run = r.json()["pipeline_run"]
    assert run["status"] == "completed"
    assert {br["status"] for br in run["block_runs"]} == {"completed"}
    assert " " in run["completed_at"] and "T" not in run["completed_at"]
    r = await mc.get(f"/api/pipeline_runs/{run_id}/block_runs", headers=headers)
    assert "T" in r.json()["block_runs"][0]["completed_at"]  # block-run routes use ISO with a T


async def test_auto_complete_on_next_get() -> None:
    mage = FakeMage(auto_complete=True)
    trigger = mage.add_trigger("example_pipeline")
    run = mage.trigger_run(trigger["id"])
    async with _client(mage.app, "http://mage.test") as mc:
        headers = await _auth(mc, mage)
        r = await mc.get(f"/api/pipeline_runs/{run['id']}", headers=headers)
        assert r.json()["pipeline_run"]["status"] == "completed"


# =========================================================================== FakeCloud
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
    async with _client(cloud.app, "http://cloud.test") as cc:
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


# =========================================================================== serve_in_thread
def test_serve_in_thread_over_a_real_port() -> None:
    mage = FakeMage()
    with serve_in_thread(mage.app) as base_url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        with httpx.Client(base_url=base_url) as client:
            r = client.get("/api/status")
            assert r.status_code == 200 and "statuses" in r.json()
            r = client.get("/api/pipelines")
            assert r.status_code == 401
    assert [req.path for req in mage.recorder.requests] == ["/api/status", "/api/pipelines"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/api/status", timeout=1)
