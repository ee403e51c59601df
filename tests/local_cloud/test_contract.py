"""The local cloud's Cloud API contract, in process: auth, validation, PUT semantics, concurrency, secrets.

No Mage here: `RecordingProcesses` stands in for the cluster processes, `FakeClock` for time.
"""

from __future__ import annotations

import logging
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from mage_mcp.local.cloud import state as state_file
from mage_mcp.local.cloud.api import LocalCloud

from .conftest import TOKEN_TTL_S, Harness, RecordingProcesses, make_state

pytestmark = pytest.mark.anyio

SESSIONS = "/api/v1/sessions"


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response has HTTP `status` and exactly the body {"error": {"code", "message", "type"}}."""
    assert response.status_code == status, response.text
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"HTTP {response.status_code} without a JSON error body: {response.text!r}")
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "type"}, error
    assert error["code"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert error["type"]
    return error  # type: ignore[no-any-return]


def envs(**values: str) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def cluster_body(status: str | None, env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A PUT body with a whole config that agrees with `status` (None: no status sent)."""
    config = {"replicaCount": 1 if status == "Active" else 0, "extraEnvs": envs(**(env or {})), **extra}
    update: dict[str, Any] = {"config": config}
    if status is not None:
        update["status"] = status
    return {"cluster": update}


# -- login --------------------------------------------------------------------------------------


async def test_login_returns_a_token_that_opens_the_cluster_calls(harness: Harness) -> None:
    response = await harness.client.post(
        SESSIONS,
        headers=harness.key_header(),
        json={"session": {"email": harness.state.email, "password": harness.state.password}},
    )
    assert response.status_code == 200
    token = response.json()["session"]["token"]
    assert isinstance(token, str)
    assert len(token) >= 20
    assert (await harness.get(token=token)).status_code == 200

    other = await harness.login()
    assert other != token
    assert (await harness.get(token=token)).status_code == 200  # a new login keeps the old token valid
    assert (await harness.get(token=other)).status_code == 200


@pytest.mark.parametrize(
    "key",
    [None, "", "wrong-key", "api-key-with-suffix"],
    ids=["missing", "empty", "wrong", "right-key-plus-suffix"],
)
async def test_login_needs_the_api_key(harness: Harness, key: str | None) -> None:
    headers = {}
    if key == "api-key-with-suffix":
        headers["X-API-KEY"] = harness.state.api_key + "x"
    elif key is not None:
        headers["X-API-KEY"] = key
    body = {"session": {"email": harness.state.email, "password": harness.state.password}}
    response = await harness.client.post(SESSIONS, headers=headers, json=body)
    assert_error(response, 401)
    assert harness.state.api_key not in response.text
    assert harness.state.password not in response.text


@pytest.mark.parametrize("wrong", ["email", "password", "both", "email-case", "swapped"])
async def test_login_refuses_wrong_credentials(harness: Harness, wrong: str) -> None:
    email, password = harness.state.email, harness.state.password
    attempt = secrets.token_urlsafe(12)
    given = {
        "email": (f"{attempt}@example.com", password),
        "password": (email, attempt),
        "both": (f"{attempt}@example.com", attempt),
        "email-case": (email.upper(), password),
        "swapped": (password, email),
    }[wrong]
    response = await harness.client.post(
        SESSIONS, headers=harness.key_header(), json={"session": {"email": given[0], "password": given[1]}}
    )
    assert_error(response, 401)
    assert "token" not in response.text
    for secret in (harness.state.password, attempt):
        assert secret not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b"{}",
        b'{"session": "x"}',
        b'{"session": null}',
        b'{"email": "e@example.com", "password": "p"}',
        b'{"session": {"email": "e@example.com"}}',
        b'{"session": {"password": "p"}}',
        b'{"session": {"email": 1, "password": "p"}}',
        b'{"session": {"email": "e@example.com", "password": null}}',
    ],
    ids=lambda b: b.decode() or "empty",
)
async def test_login_rejects_a_malformed_body(harness: Harness, body: bytes) -> None:
    response = await harness.client.post(
        SESSIONS, headers={**harness.key_header(), "Content-Type": "application/json"}, content=body
    )
    assert_error(response, 400)


# -- auth on the cluster calls ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["missing-key", "wrong-key"])
async def test_cluster_calls_need_the_api_key(harness: Harness, method: str, key: str | None) -> None:
    token = await harness.login()
    before = harness.snapshot()
    headers = {"Cookie": f"oauth_token={token}"}
    if key is not None:
        headers["X-API-KEY"] = key
    response = await harness.client.request(
        method, "/api/v1/teams/local/clusters/local-1", headers=headers, json=cluster_body("Active", {"A": "1"})
    )
    assert_error(response, 401)
    assert harness.snapshot() == before
    assert harness.processes.calls == []


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("token", ["missing", "empty", "wrong", "in-authorization-header", "api-key-as-token"])
async def test_cluster_calls_need_a_session_token(harness: Harness, method: str, token: str) -> None:
    good = await harness.login()
    before = harness.snapshot()
    headers = harness.key_header()
    if token == "empty":
        headers["Cookie"] = "oauth_token="
    elif token == "wrong":
        headers["Cookie"] = f"oauth_token={secrets.token_urlsafe(32)}"
    elif token == "in-authorization-header":
        headers["Authorization"] = f"Bearer {good}"
    elif token == "api-key-as-token":
        headers["Cookie"] = f"oauth_token={harness.state.api_key}"
    response = await harness.client.request(
        method, "/api/v1/teams/local/clusters/local-1", headers=headers, json=cluster_body("Active", {"A": "1"})
    )
    assert_error(response, 401)
    assert harness.snapshot() == before
    assert harness.processes.calls == []


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_session_token_expires(harness: Harness, method: str) -> None:
    token = await harness.login()
    harness.clock.advance(TOKEN_TTL_S - 1)
    assert (await harness.get(token=token)).status_code == 200

    fresh = await harness.login()
    harness.clock.advance(2)  # `token` is now older than TOKEN_TTL_S
    before = harness.snapshot()
    response = await harness.client.request(
        method,
        "/api/v1/teams/local/clusters/local-1",
        headers=harness.auth(token),
        json=cluster_body("Active", {"A": "1"}),
    )
    assert_error(response, 401)
    assert harness.snapshot() == before
    assert harness.processes.calls == []
    # Still expired when asked again, while a younger token and a new login work.
    assert_error(await harness.get(token=token), 401)
    assert (await harness.get(token=fresh)).status_code == 200
    harness.clock.advance(TOKEN_TTL_S)
    assert_error(await harness.get(token=fresh), 401)
    assert (await harness.get()).status_code == 200


# -- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize(
    ("team_id", "cluster_id"),
    [("other-team", "local-1"), ("local", "local-9"), ("local", "cluster-1"), ("LOCAL", "local-1")],
)
async def test_unknown_team_or_cluster_is_404(harness: Harness, method: str, team_id: str, cluster_id: str) -> None:
    token = await harness.login()
    before = harness.snapshot()
    response = await harness.client.request(
        method,
        f"/api/v1/teams/{team_id}/clusters/{cluster_id}",
        headers=harness.auth(token),
        json=cluster_body("Active", {"A": "1"}),
    )
    assert_error(response, 404)
    assert harness.snapshot() == before
    assert harness.processes.calls == []


async def test_other_routes_and_methods_answer_with_the_error_body(harness: Harness) -> None:
    token = await harness.login()
    assert_error(await harness.client.get("/api/v1/teams/local/clusters", headers=harness.auth(token)), 404)
    assert_error(await harness.client.get("/nothing-here", headers=harness.auth(token)), 404)
    before = harness.snapshot()
    delete = await harness.client.delete("/api/v1/teams/local/clusters/local-1", headers=harness.auth(token))
    assert_error(delete, 405)
    assert_error(await harness.client.get(SESSIONS, headers=harness.key_header()), 405)
    assert harness.snapshot() == before
    assert harness.processes.calls == []


# -- GET ----------------------------------------------------------------------------------------


async def test_get_returns_the_cluster(harness: Harness) -> None:
    for cluster_id in ("local-1", "local-2"):
        response = await harness.get(cluster_id)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"cluster"}
        cluster = body["cluster"]
        assert {"id", "name", "status", "config"} <= set(cluster)
        assert cluster["id"] == cluster_id
        assert isinstance(cluster["name"], str)
        assert cluster["name"]
        assert cluster["status"] == "Stopped"
        assert cluster["config"]["replicaCount"] == 0
        assert cluster["config"]["extraEnvs"] == []
    assert harness.processes.calls == []


# -- PUT: the processes -------------------------------------------------------------------------


async def test_start_spawns_the_cluster_with_its_extra_envs(harness: Harness) -> None:
    body = cluster_body("Active", {"FOO": "bar", "EMPTY": ""})
    response = await harness.put(body)
    assert response.status_code == 200, response.text
    cluster = response.json()["cluster"]
    assert cluster["status"] == "Active"
    assert cluster["config"] == body["cluster"]["config"]
    assert harness.processes.ops() == [("start", "local-1", {"FOO": "bar", "EMPTY": ""})]
    assert harness.processes.running == {"local-1": {"FOO": "bar", "EMPTY": ""}}
    assert (await harness.get()).json()["cluster"] == cluster
    assert harness.processes.violations == []


async def test_stop_stops_the_running_cluster(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Active", {"FOO": "bar"})
    body = cluster_body("Stopped", {"FOO": "bar"})
    response = await harness.put(body)
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["status"] == "Stopped"
    assert response.json()["cluster"]["config"]["replicaCount"] == 0
    assert [(op, cid) for op, cid, _ in harness.processes.ops()] == [("stop", "local-1")]
    assert harness.processes.running == {}
    assert (await harness.get()).json()["cluster"]["status"] == "Stopped"


async def test_a_put_that_changes_nothing_makes_no_process_call(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Active", {"FOO": "bar"})
    assert (await harness.put(cluster_body("Active", {"FOO": "bar"}))).status_code == 200
    assert (await harness.put(cluster_body("Stopped"), "local-2")).status_code == 200
    assert harness.processes.calls == []
    assert harness.processes.running == {"local-1": {"FOO": "bar"}}


async def test_only_the_named_cluster_is_touched(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Active", {"FOO": "1"})
    assert (await harness.put(cluster_body("Active", {"BAR": "2"}), "local-2")).status_code == 200
    assert harness.processes.ops() == [("start", "local-2", {"BAR": "2"})]
    assert harness.processes.running == {"local-1": {"FOO": "1"}, "local-2": {"BAR": "2"}}
    assert (await harness.get("local-1")).json()["cluster"]["config"]["extraEnvs"] == envs(FOO="1")


@pytest.mark.parametrize("send_status", [True, False], ids=["with-status", "config-only"])
async def test_extra_envs_change_while_running_restarts_with_the_new_env(harness: Harness, send_status: bool) -> None:
    await harness.set_cluster("local-1", "Active", {"FOO": "old", "KEEP": "k"})
    body = cluster_body("Active" if send_status else None, {"FOO": "new", "KEEP": "k", "ADDED": "a"})
    body["cluster"]["config"]["replicaCount"] = 1
    response = await harness.put(body)
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["status"] == "Active"
    assert response.json()["cluster"]["config"]["extraEnvs"] == envs(FOO="new", KEEP="k", ADDED="a")
    # The old processes go first, then the new ones start with the new environment.
    assert harness.processes.ops() == [
        ("stop", "local-1", {"FOO": "old", "KEEP": "k"}),
        ("start", "local-1", {"FOO": "new", "KEEP": "k", "ADDED": "a"}),
    ]
    assert harness.processes.calls[0].done
    assert harness.processes.running == {"local-1": {"FOO": "new", "KEEP": "k", "ADDED": "a"}}
    assert harness.processes.violations == []
    assert harness.processes.max_in_flight == 1


async def test_removing_every_extra_env_while_running_restarts_without_them(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Active", {"FOO": "old"})
    response = await harness.put(cluster_body("Active", {}))
    assert response.status_code == 200, response.text
    assert harness.processes.ops() == [("stop", "local-1", {"FOO": "old"}), ("start", "local-1", {})]


async def test_extra_envs_change_while_stopped_makes_no_process_call(harness: Harness) -> None:
    response = await harness.put(cluster_body("Stopped", {"FOO": "new"}))
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["config"]["extraEnvs"] == envs(FOO="new")
    assert harness.processes.calls == []
    assert harness.processes.running == {}
    # The stored env is the one the next start gets.
    assert (await harness.put(cluster_body("Active", {"FOO": "new"}))).status_code == 200
    assert harness.processes.ops() == [("start", "local-1", {"FOO": "new"})]


# -- PUT: the stored config ---------------------------------------------------------------------


async def test_unknown_config_fields_are_kept_and_returned(harness: Harness) -> None:
    extra = {
        "image": "mageai/mageai:0.9.80",
        "resources": {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": None},
        "ingress": [{"host": "a.example.com", "tls": True}],
        "replicas_hint": 3.5,
        "labels": {},
    }
    body = cluster_body("Active", {"FOO": "bar"}, **extra)
    response = await harness.put(body)
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["config"] == body["cluster"]["config"]
    assert (await harness.get()).json()["cluster"]["config"] == body["cluster"]["config"]
    stored = state_file.load(harness.state_dir)
    assert stored is not None
    assert stored.clusters["local-1"].config == body["cluster"]["config"]
    # A status-only PUT leaves them alone too.
    assert (await harness.put({"cluster": {"status": "Active"}})).status_code == 200
    assert (await harness.get()).json()["cluster"]["config"] == body["cluster"]["config"]


async def test_config_replaces_the_stored_config_whole(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Stopped", {"FOO": "1", "BAR": "2"}, image="old", resources={"cpu": "1"})
    new = {"replicaCount": 0, "extraEnvs": envs(BAZ="3"), "image": "new"}
    response = await harness.put({"cluster": {"config": new}})
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["config"] == new  # no merge: "resources" and FOO/BAR are gone
    assert (await harness.get()).json()["cluster"]["config"] == new
    stored = state_file.load(harness.state_dir)
    assert stored is not None
    assert stored.clusters["local-1"].config == new


@pytest.mark.parametrize("update", [{"status": "Stopped"}, {}, {"status": None}], ids=["status-only", "empty", "null"])
async def test_a_put_without_config_keeps_the_config(harness: Harness, update: dict[str, Any]) -> None:
    config = await harness.set_cluster("local-1", "Stopped", {"FOO": "1"}, image="x")
    response = await harness.put({"cluster": update})
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["status"] == "Stopped"
    assert response.json()["cluster"]["config"] == config
    assert harness.processes.calls == []


async def test_status_only_put_on_a_running_cluster(harness: Harness) -> None:
    config = await harness.set_cluster("local-1", "Active", {"FOO": "1"})
    response = await harness.put({"cluster": {"status": "Active"}})
    assert response.status_code == 200, response.text
    assert response.json()["cluster"]["status"] == "Active"
    assert response.json()["cluster"]["config"] == config
    assert harness.processes.calls == []
    assert harness.processes.running == {"local-1": {"FOO": "1"}}


# -- PUT: malformed bodies change nothing -------------------------------------------------------

Case = Callable[[bool], Any]  # running? -> the body


def _rc(running: bool) -> int:
    return 1 if running else 0


def _status(running: bool) -> str:
    return "Active" if running else "Stopped"


def _with_config(**config: Any) -> Case:
    """A body whose config agrees with the cluster's state except for `config`."""
    return lambda running: {
        "cluster": {"status": _status(running), "config": {"replicaCount": _rc(running), "extraEnvs": [], **config}}
    }


def _with_envs(value: Any) -> Case:
    return _with_config(extraEnvs=value)


MALFORMED: dict[str, Case] = {
    "not-json": lambda _: b"{cluster",
    "empty-body": lambda _: b"",
    "not-utf8": lambda _: b'{"cluster": "\xff"}',
    "json-list": lambda _: [],
    "json-string": lambda _: "cluster",
    "json-null": lambda _: None,
    "empty-object": lambda _: {},
    "not-wrapped": lambda r: {"config": {"replicaCount": 1 - _rc(r), "extraEnvs": []}, "status": _status(not r)},
    "cluster-null": lambda _: {"cluster": None},
    "cluster-list": lambda r: {"cluster": [{"status": _status(not r)}]},
    "cluster-string": lambda r: {"cluster": _status(not r)},
    "config-list": lambda r: {"cluster": {"config": [], "status": _status(r)}},
    "config-string": lambda r: {"cluster": {"config": "replicaCount=1", "status": _status(r)}},
    "rc-string": lambda r: {"cluster": {"config": {"replicaCount": str(_rc(r)), "extraEnvs": []}}},
    "rc-float": lambda r: {"cluster": {"config": {"replicaCount": float(_rc(r)), "extraEnvs": []}}},
    "rc-bool": lambda r: {"cluster": {"config": {"replicaCount": bool(_rc(r)), "extraEnvs": []}}},
    "rc-2": lambda _: {"cluster": {"config": {"replicaCount": 2, "extraEnvs": []}, "status": "Active"}},
    "rc-minus-1": lambda _: {"cluster": {"config": {"replicaCount": -1, "extraEnvs": []}, "status": "Stopped"}},
    "rc-null": lambda r: {"cluster": {"config": {"replicaCount": None, "extraEnvs": []}, "status": _status(r)}},
    "rc-missing": lambda r: {"cluster": {"config": {"extraEnvs": []}, "status": _status(r)}},
    "status-running": lambda _: {"cluster": {"config": {"replicaCount": 1, "extraEnvs": []}, "status": "Running"}},
    "status-lowercase": lambda r: {"cluster": {"status": _status(r).lower()}},
    "status-number": lambda r: {"cluster": {"status": _rc(r)}},
    "status-bool": lambda r: {"cluster": {"status": bool(_rc(r))}},
    "status-list": lambda r: {"cluster": {"status": [_status(r)]}},
    "status-object": lambda r: {"cluster": {"status": {"name": _status(r)}}},
    "rc1-with-stopped": lambda _: {"cluster": {"config": {"replicaCount": 1, "extraEnvs": []}, "status": "Stopped"}},
    "rc0-with-active": lambda _: {"cluster": {"config": {"replicaCount": 0, "extraEnvs": []}, "status": "Active"}},
    "status-only-flip": lambda r: {"cluster": {"status": _status(not r)}},
    "config-only-flip": lambda r: {"cluster": {"config": {"replicaCount": 1 - _rc(r), "extraEnvs": []}}},
    "envs-string": _with_envs("FOO=bar"),
    "envs-object": _with_envs({"FOO": "bar"}),
    "envs-item-string": _with_envs(["FOO=bar"]),
    "envs-item-list": _with_envs([["FOO", "bar"]]),
    "envs-item-null": _with_envs([None]),
    "envs-missing-value": _with_envs([{"name": "FOO"}]),
    "envs-missing-name": _with_envs([{"value": "bar"}]),
    "envs-value-int": _with_envs([{"name": "FOO", "value": 1}]),
    "envs-value-null": _with_envs([{"name": "FOO", "value": None}]),
    "envs-value-bool": _with_envs([{"name": "FOO", "value": True}]),
    "envs-name-int": _with_envs([{"name": 1, "value": "bar"}]),
    "envs-extra-key": _with_envs([{"name": "FOO", "value": "bar", "valueFrom": "x"}]),
    "envs-one-bad-among-good": _with_envs([{"name": "FOO", "value": "bar"}, {"name": "BAZ", "value": 2}]),
}


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
async def test_a_malformed_put_is_400_and_changes_nothing(harness: Harness, running: bool, case: str) -> None:
    await harness.set_cluster("local-1", _status(running), {"FOO": "old"}, image="kept")
    before = harness.snapshot()
    response = await harness.put(MALFORMED[case](running))
    assert_error(response, 400)
    assert harness.snapshot() == before  # memory, state file and processes
    assert harness.processes.calls == []
    assert (await harness.get()).json()["cluster"] == harness.state.clusters["local-1"].as_api()


# -- PUT: failures and concurrency --------------------------------------------------------------


async def test_a_failing_start_is_500_and_changes_nothing(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Stopped", {"FOO": "old"})
    before = harness.snapshot()
    harness.processes.fail_starts = 1
    response = await harness.put(cluster_body("Active", {"FOO": "new"}))
    assert_error(response, 500)
    assert harness.processes.ops() == [("start", "local-1", {"FOO": "new"})]
    assert harness.processes.calls[0].failed
    assert harness.snapshot() == before
    assert (await harness.get()).json()["cluster"]["status"] == "Stopped"


async def test_a_failing_restart_is_500_and_puts_the_old_cluster_back(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Active", {"FOO": "old"})
    before = harness.snapshot()
    harness.processes.fail_starts = 1
    response = await harness.put(cluster_body("Active", {"FOO": "new"}))
    assert_error(response, 500)
    assert harness.snapshot() == before  # running again, with the old environment
    assert harness.processes.ops() == [
        ("stop", "local-1", {"FOO": "old"}),
        ("start", "local-1", {"FOO": "new"}),
        ("start", "local-1", {"FOO": "old"}),
    ]
    assert harness.processes.violations == []
    assert (await harness.get()).json()["cluster"]["config"]["extraEnvs"] == envs(FOO="old")


async def test_a_failing_state_write_changes_nothing(harness: Harness) -> None:
    """An error the API did not foresee (the state file cannot be replaced) still changes nothing."""
    await harness.set_cluster("local-1", "Stopped", {"FOO": "old"})
    memory, running = harness.state.clusters["local-1"].as_api(), dict(harness.processes.running)
    token = await harness.login()
    harness.state_path.unlink()
    harness.state_path.mkdir()  # os.replace onto a directory fails: the write cannot complete
    response = await harness.put(cluster_body("Active", {"FOO": "new"}), token=token)
    # Observed all at once, so that a failure shows every way the error leaked.
    observed = {
        "http_status": response.status_code,
        "content_type": response.headers.get("content-type"),
        "state_in_memory": harness.state.clusters["local-1"].as_api(),
        "running": harness.processes.running,
    }
    expected = {"http_status": 500, "content_type": "application/json", "state_in_memory": memory, "running": running}
    assert observed == expected, response.text
    assert_error(response, 500)


async def test_concurrent_puts_are_applied_one_at_a_time_each_whole(harness: Harness) -> None:
    await harness.set_cluster("local-1", "Active", {"N": "initial"})
    harness.processes.delay = 0.01
    token = await harness.login()
    bodies = [
        cluster_body("Active" if i % 3 else "Stopped", {"N": str(i), f"ONLY_{i}": "x"}, marker=i, nested={"i": [i]})
        for i in range(10)
    ]
    responses: dict[int, httpx.Response] = {}

    async def put(i: int) -> None:
        responses[i] = await harness.put(bodies[i], token=token)

    async with anyio.create_task_group() as tg:
        for i in range(len(bodies)):
            tg.start_soon(put, i)

    for i, response in responses.items():
        assert response.status_code == 200, response.text
        assert response.json()["cluster"]["config"] == bodies[i]["cluster"]["config"]  # each applied whole
        assert response.json()["cluster"]["status"] == bodies[i]["cluster"]["status"]

    final = (await harness.get(token=token)).json()["cluster"]
    matching = [b for b in bodies if b["cluster"]["config"] == final["config"]]
    assert len(matching) == 1, final
    assert final["status"] == matching[0]["cluster"]["status"]
    stored = state_file.load(harness.state_dir)
    assert stored is not None
    assert stored.clusters["local-1"].as_api() == final
    assert harness.state.clusters["local-1"].as_api() == final

    processes = harness.processes
    assert processes.violations == []
    assert processes.max_in_flight == 1
    assert all(call.done and not call.failed for call in processes.calls)
    body_envs = [{e["name"]: e["value"] for e in b["cluster"]["config"]["extraEnvs"]} for b in bodies]
    for op, _, env in processes.ops():
        assert env in [*body_envs, {"N": "initial"}], (op, env)  # never a mix of two bodies
    final_env = {e["name"]: e["value"] for e in final["config"]["extraEnvs"]}
    if final["status"] == "Active":
        assert processes.running == {"local-1": final_env}
    else:
        assert processes.running == {}


# -- the state file, lifecycle, secrets ---------------------------------------------------------


async def test_the_state_file_is_private_and_holds_each_write(harness: Harness) -> None:
    harness.state_path.chmod(0o644)  # replaced, not rewritten in place: the mode comes from the write
    body = cluster_body("Active", {"FOO": "bar"}, image="x")
    assert (await harness.put(body)).status_code == 200
    assert stat.S_IMODE(harness.state_path.stat().st_mode) == 0o600
    stored = state_file.load(harness.state_dir)
    assert stored is not None
    assert stored == harness.state
    assert stored.clusters["local-1"].status == "Active"
    assert stored.clusters["local-1"].config == body["cluster"]["config"]
    leftovers = [p.name for p in harness.state_dir.iterdir() if p.name != state_file.STATE_FILE]
    assert leftovers == []


async def test_resume_starts_the_active_clusters_and_shutdown_stops_them(tmp_path: Path) -> None:
    state = make_state(3)
    state.clusters["local-1"].status = "Active"
    state.clusters["local-1"].config = {"replicaCount": 1, "extraEnvs": envs(FOO="bar"), "image": "x"}
    state.clusters["local-3"].status = "Active"
    state.clusters["local-3"].config = {"replicaCount": 1, "extraEnvs": []}
    state_file.save(tmp_path, state)
    processes = RecordingProcesses()
    cloud = LocalCloud(state, tmp_path, processes)

    await cloud.resume()
    assert sorted(processes.ops()) == [("start", "local-1", {"FOO": "bar"}), ("start", "local-3", {})]
    await cloud.resume()  # what runs is not started twice
    assert len(processes.calls) == 2

    saved = (tmp_path / state_file.STATE_FILE).read_bytes()
    await cloud.shutdown()
    assert processes.running == {}
    assert sorted(processes.ops()[2:]) == [("stop", "local-1", {"FOO": "bar"}), ("stop", "local-3", {})]
    assert processes.violations == []
    # Still Active on disk: the next start brings them back.
    assert (tmp_path / state_file.STATE_FILE).read_bytes() == saved
    stored = state_file.load(tmp_path)
    assert stored is not None
    assert [c.id for c in stored.clusters.values() if c.status == "Active"] == ["local-1", "local-3"]


async def test_no_secret_reaches_the_logs(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    state = harness.state
    attempts = [secrets.token_urlsafe(12) for _ in range(3)]

    await harness.client.post(SESSIONS, headers={"X-API-KEY": attempts[0]}, json={"session": {}})
    await harness.client.post(
        SESSIONS, headers=harness.key_header(), json={"session": {"email": state.email, "password": attempts[1]}}
    )
    token = await harness.login()
    await harness.client.get("/api/v1/teams/local/clusters/local-1", headers=harness.auth(attempts[2]))
    await harness.put(cluster_body("Active", {"SECRETISH": "v"}), token=token)
    await harness.put(cluster_body("Active", {"SECRETISH": "w"}), token=token)
    harness.processes.fail_starts = 1
    await harness.put(cluster_body("Active", {"SECRETISH": "z"}), token=token)  # 500, logged as an error
    await harness.put({"cluster": {"status": "Bogus"}}, token=token)
    harness.clock.advance(TOKEN_TTL_S + 1)
    await harness.get(token=token)
    await harness.cloud.shutdown()

    assert any(r.levelno >= logging.ERROR for r in caplog.records)  # the failure was logged
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in [state.api_key, state.password, state.mage_password, *harness.tokens, *attempts]:
        assert secret not in text
