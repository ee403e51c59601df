"""Faults between mage-mcp and a real local Mage Cloud (`mage-mcp local-cloud`), injected by the suite's
loopback proxy (`tests/support/fault_proxy.py`) and met through a real MCP client: unavailable answers,
answers cut short or lost, a stall past the client's timeout, an expired session and a wrong password.

One local cloud serves the whole module. Its one cluster stays Stopped throughout, so no Mage ever starts:
changing a stopped cluster's env vars only rewrites the local cloud's state. What reached the local cloud
is the proxy's `forwarded`, and the cluster as the local cloud serves it, read directly.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from mage_mcp.local import mage
from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.runtime import Runtime
from tests.support.cloud_api import CloudApi, read_env_file, secrets_of
from tests.support.environment import isolated_environment  # noqa: F401 (autouse)
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.mcp_results import ok, text_of
from tests.support.ports import free_port
from tests.support.processes import (
    processes_under,
    read_text,
    spawn_local_cloud,
    stderr_file,
    stop,
    wait_until_ready,
)

pytestmark = [pytest.mark.mage, pytest.mark.anyio]

READY_TIMEOUT_S = 30
API_PREFIX = "/api/v1"
SESSIONS = f"{API_PREFIX}/sessions"
CLUSTER = f"{API_PREFIX}/teams/local/clusters/local-1"
READ_TIMEOUT_S = 1.0  # the Cloud client's read timeout in the stall tests (its default is 30 s)
STALL_S = 3.0  # how long the proxy holds a stalled answer: well past READ_TIMEOUT_S

Proxy = tuple[FaultProxy, str]


@pytest.fixture(scope="module")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A `mage-mcp local-cloud` process with its one cluster Stopped; its cloud.env. No Mage may start."""
    state_dir = tmp_path_factory.mktemp("cloud-faults") / "state"
    clusters_dir = state_dir / "clusters"
    with stderr_file() as stderr:
        proc = spawn_local_cloud(state_dir, "--port", str(free_port()), stdout=subprocess.DEVNULL, stderr=stderr)
        leftover: list[str] = []
        try:
            wait_until_ready(proc, state_dir / "cloud.env", READY_TIMEOUT_S, lambda: read_text(stderr))
            yield read_env_file(state_dir / "cloud.env")
            leftover = processes_under(clusters_dir, besides=proc.pid)
        finally:
            stop(proc)
            for cluster_dir in clusters_dir.glob("*"):
                mage.stop(cluster_dir)
    assert leftover == [], "a Mage was started, though the cluster should have stayed Stopped"


@pytest.fixture
def proxy(local_cloud: dict[str, str]) -> Iterator[Proxy]:
    """The fault proxy in front of the local cloud; mage-mcp's Cloud URL is its URL plus `API_PREFIX`."""
    cloud_url = local_cloud["MAGE_CLOUD_URL"]
    assert cloud_url.endswith(API_PREFIX)
    with fault_proxy(cloud_url.removesuffix(API_PREFIX)) as running:
        yield running


@pytest.fixture
async def cloud(local_cloud: dict[str, str]) -> AsyncIterator[CloudApi]:
    """The local cloud's own API, straight (not through the proxy): what the cluster really is."""
    async with aclosing(CloudApi.from_env(local_cloud, timeout=10)) as api:
        yield api


class ShortReadTimeout(httpx.AsyncBaseTransport):
    """A plain HTTP transport whose requests time out reading after `seconds` (the client's own is 30 s)."""

    def __init__(self, seconds: float) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._timeout = httpx.Timeout(10.0, read=seconds).as_dict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions = {**request.extensions, "timeout": self._timeout}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def through(
    proxy_url: str,
    env: dict[str, str],
    *,
    password: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> MageMCPServer:
    """mage-mcp, in process, with the local cloud's settings but its Cloud URL at the proxy."""
    settings = Settings(
        mage_cloud_url=f"{proxy_url}{API_PREFIX}",
        mage_cloud_api_key=SecretStr(env["MAGE_CLOUD_API_KEY"]),
        mage_cloud_email=env["MAGE_CLOUD_EMAIL"],
        mage_cloud_password=SecretStr(password or env["MAGE_CLOUD_PASSWORD"]),
        mage_team_id=env["MAGE_TEAM_ID"],
        mage_cluster_id=env["MAGE_CLUSTER_ID"],
        mage_cluster_url=env["MAGE_CLUSTER_URL"],  # the stopped cluster: get_cluster says not_answering
        mage_mcp_confirm_fallback="allow",
    )
    return build_server(runtime=Runtime(settings, cloud_transport=transport))


def env_vars_of(cluster: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in cluster["config"].get("extraEnvs", [])}


def new_variable() -> tuple[str, str]:
    return f"FAULT_{secrets.token_hex(4).upper()}", secrets.token_urlsafe(12)


def assert_stopped(result: CallToolResult) -> None:
    info = ok(result)
    assert (info["cluster_id"], info["status"]) == ("local-1", "Stopped")


# -- reads: retried, then a clear error -------------------------------------------------------


async def test_a_read_outlasts_two_unavailable_answers(proxy: Proxy, local_cloud: dict[str, str]) -> None:
    faults, url = proxy
    faults.inject("GET", CLUSTER, "status", times=2, status=503)
    async with Client(through(url, local_cloud)) as client:
        result = await client.call_tool("get_cluster", {})
    assert_stopped(result)
    assert faults.count(faults.requests, "GET", CLUSTER) == 3
    assert faults.count(faults.forwarded, "GET", CLUSTER) == 1


async def test_a_read_unavailable_every_time_fails_clearly_after_three_tries(
    proxy: Proxy, local_cloud: dict[str, str]
) -> None:
    faults, url = proxy
    faults.inject("GET", CLUSTER, "status", times=100, status=503)
    async with Client(through(url, local_cloud)) as client:
        result = await client.call_tool("get_cluster", {})
        tries = faults.count(faults.requests, "GET", CLUSTER)
        faults.clear_faults()
        again = await client.call_tool("get_cluster", {})
    assert result.is_error
    assert "Mage Cloud failed on cluster 'local-1' of team 'local' (HTTP 503)" in text_of(result), text_of(result)
    assert tries == 3
    assert_stopped(again)  # the server serves on
    assert faults.count(faults.forwarded, "GET", CLUSTER) == 1  # the second call's only


async def test_a_read_stalled_past_the_timeout_fails_clearly_after_three_tries(
    proxy: Proxy, local_cloud: dict[str, str]
) -> None:
    faults, url = proxy
    async with Client(through(url, local_cloud, transport=ShortReadTimeout(READ_TIMEOUT_S))) as client:
        assert_stopped(await client.call_tool("get_cluster", {}))  # logged in, and quick enough unstalled
        faults.inject("GET", CLUSTER, "stall", times=3, delay=STALL_S)
        result = await client.call_tool("get_cluster", {})
        again = await client.call_tool("get_cluster", {})
    assert result.is_error
    assert "Mage Cloud at" in text_of(result) and "did not answer in time" in text_of(result), text_of(result)
    assert faults.count(faults.requests, "GET", CLUSTER) == 1 + 3 + 1
    assert_stopped(again)


# -- changes: never retried; a lost answer settled by reading the cluster back -----------------


async def test_an_env_var_change_whose_answer_is_cut_is_settled_as_applied(
    proxy: Proxy, local_cloud: dict[str, str], cloud: CloudApi
) -> None:
    faults, url = proxy
    name, value = new_variable()
    faults.inject("PUT", CLUSTER, "cut")
    async with Client(through(url, local_cloud)) as client:
        result = await client.call_tool("set_env_vars", {"env_vars": {name: value}})
    outcome = ok(result)
    assert (outcome["status"], outcome["added"]) == ("applied", [name])
    assert value not in text_of(result)
    assert faults.count(faults.forwarded, "PUT", CLUSTER) == 1  # sent once, never again
    assert faults.count(faults.requests, "PUT", CLUSTER) == 1
    assert env_vars_of(await cloud.cluster())[name] == value


async def test_an_env_var_change_whose_answer_stalls_past_the_timeout_is_settled_as_applied(
    proxy: Proxy, local_cloud: dict[str, str], cloud: CloudApi
) -> None:
    faults, url = proxy
    name, value = new_variable()
    faults.inject("PUT", CLUSTER, "stall", delay=STALL_S)
    async with Client(through(url, local_cloud, transport=ShortReadTimeout(READ_TIMEOUT_S))) as client:
        result = await client.call_tool("set_env_vars", {"env_vars": {name: value}})
    outcome = ok(result)
    assert (outcome["status"], outcome["added"]) == ("applied", [name])
    assert faults.count(faults.requests, "PUT", CLUSTER) == 1
    assert env_vars_of(await cloud.cluster())[name] == value


async def test_an_env_var_change_whose_answer_is_lost_before_the_cloud_is_settled_as_not_applied(
    proxy: Proxy, local_cloud: dict[str, str], cloud: CloudApi
) -> None:
    faults, url = proxy
    name, value = new_variable()
    before = await cloud.cluster()
    faults.inject("PUT", CLUSTER, "drop")
    async with Client(through(url, local_cloud)) as client:
        result = await client.call_tool("set_env_vars", {"env_vars": {name: value}})
    assert result.is_error
    assert "was not applied: nothing changed" in text_of(result), text_of(result)
    assert "The call can be repeated" in text_of(result)
    assert value not in text_of(result)
    assert faults.count(faults.requests, "PUT", CLUSTER) == 1
    assert faults.count(faults.forwarded, "PUT", CLUSTER) == 0
    assert await cloud.cluster() == before


async def test_an_env_var_change_answered_by_a_bare_503_is_not_retried_and_read_back_as_not_applied(
    proxy: Proxy, local_cloud: dict[str, str], cloud: CloudApi
) -> None:
    faults, url = proxy
    name, value = new_variable()
    before = await cloud.cluster()
    faults.inject("PUT", CLUSTER, "status", status=503)
    async with Client(through(url, local_cloud)) as client:
        result = await client.call_tool("set_env_vars", {"env_vars": {name: value}})
    assert result.is_error
    assert "reading the cluster back shows the change was not applied: nothing changed" in text_of(result), text_of(
        result
    )
    assert value not in text_of(result)
    assert faults.count(faults.requests, "PUT", CLUSTER) == 1  # a change is never retried
    assert faults.count(faults.forwarded, "PUT", CLUSTER) == 0
    assert await cloud.cluster() == before


# -- sessions and credentials -----------------------------------------------------------------


async def test_an_expired_cloud_session_is_renewed_once_transparently(
    proxy: Proxy, local_cloud: dict[str, str]
) -> None:
    faults, url = proxy
    async with Client(through(url, local_cloud)) as client:
        assert_stopped(await client.call_tool("get_cluster", {}))
        assert faults.count(faults.forwarded, "POST", SESSIONS) == 1
        faults.inject("GET", CLUSTER, "expire_session")
        result = await client.call_tool("get_cluster", {})
    assert_stopped(result)
    assert faults.count(faults.forwarded, "POST", SESSIONS) == 2  # exactly one renewal
    assert faults.count(faults.forwarded, "GET", CLUSTER) == 1 + 2  # the refused GET, then the same GET again


async def test_a_wrong_cloud_password_is_a_clear_error_after_one_login(
    proxy: Proxy, local_cloud: dict[str, str]
) -> None:
    faults, url = proxy
    wrong = secrets.token_urlsafe(16)
    async with Client(through(url, local_cloud, password=wrong)) as client:
        result = await client.call_tool("get_cluster", {})
    assert result.is_error
    text = text_of(result)
    assert "Mage Cloud refused the credentials" in text, text
    assert "MAGE_CLOUD_PASSWORD" in text
    assert faults.count(faults.forwarded, "POST", SESSIONS) == 1  # no second try, no loop
    assert faults.count(faults.requests, "GET", CLUSTER) == 0
    dumped = result.model_dump_json()
    assert all(secret not in dumped for secret in [wrong, *secrets_of(local_cloud)])
