"""Unit tests drive the real server through the SDK's in-memory `Client`, against the API fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from mage_mcp.clients import ClusterClient, Credentials
from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.runtime import Runtime
from tests.fakes import FakeCloud, FakeMage
from tests.support.environment import isolated_environment  # noqa: F401 (autouse)
from tests.unit.fake_clients import asgi_client

TEAM, CLUSTER = "team-1", "cluster-1"

ServerFactory = Callable[..., MageMCPServer]
Elicitation = Callable[[ClientRequestContext, ElicitRequestParams], Any]


@pytest.fixture
def mage() -> FakeMage:
    return FakeMage()


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
async def mc(mage: FakeMage) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the Mage fake, in process (the fake-API tests)."""
    async with asgi_client(mage.app, "http://mage.test") as client:
        yield client


@pytest.fixture
async def cluster(mage: FakeMage) -> AsyncIterator[ClusterClient]:
    """The cluster client on its own, against the fake."""
    async with ClusterClient(
        "http://mage.test",
        credentials=Credentials(mage.email, mage.password),
        transport=httpx.ASGITransport(app=mage.app),
    ) as client:
        yield client


@pytest.fixture
def make_server(mage: FakeMage, cloud: FakeCloud) -> ServerFactory:
    def make(*, real_network: bool = False, cluster_down: bool = False, **overrides: Any) -> MageMCPServer:
        """A server on the fakes; `real_network` drops them, for tests of unreachable hosts, and
        `cluster_down` points the cluster API at a loopback port where nothing listens."""
        values: dict[str, Any] = {
            "mage_cluster_url": "http://mage.test",
            "mage_email": mage.email,
            "mage_password": mage.password,
            "mage_cloud_url": "http://cloud.test/api/v1",
            "mage_cloud_api_key": cloud.api_key,
            "mage_cloud_email": cloud.email,
            "mage_cloud_password": cloud.password,
            "mage_team_id": TEAM,
            "mage_cluster_id": CLUSTER,
            **overrides,
        }
        if cluster_down:
            values["mage_cluster_url"] = "http://127.0.0.1:9"
        runtime = Runtime(
            Settings(**values),
            cluster_transport=None if real_network or cluster_down else httpx.ASGITransport(app=mage.app),
            cloud_transport=None if real_network else httpx.ASGITransport(app=cloud.app),
        )
        return build_server(runtime=runtime)

    return make


def answer(action: str, content: dict[str, Any] | None = None, seen: list[str] | None = None) -> Elicitation:
    """An elicitation callback that answers every prompt the same way, keeping the messages it saw."""

    async def callback(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        if seen is not None:
            seen.append(params.message)
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    return callback


@pytest.fixture
async def client(make_server: ServerFactory) -> AsyncIterator[Client]:
    """A client that cannot show confirmation prompts (no elicitation capability)."""
    async with Client(make_server(), raise_exceptions=True) as c:
        yield c
