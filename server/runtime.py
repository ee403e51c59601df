"""What tools share while the server runs: settings, the confirmation gate and the clients.

One `Runtime` per process. The clients are created on first use (no network before
`initialize` is answered) and closed when the last connection using them ends; SSE opens
one lifespan per connection, and they all share these clients, so writes to one cluster
stay serialised across connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from mage_mcp.clients import Credentials

from .config import Settings
from .confirmation import ConfirmationGate
from .idempotency import IdempotencyKeys

if TYPE_CHECKING:
    import httpx

    from mage_mcp.clients import CloudClient, ClusterClient


@dataclass(frozen=True)
class ClusterTarget:
    team_id: str
    cluster_id: str


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        cluster_transport: httpx.AsyncBaseTransport | None = None,
        cloud_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.gate = ConfirmationGate(settings.mage_mcp_confirm_fallback, settings.mage_mcp_confirm_ttl_s)
        self.idempotency = IdempotencyKeys()
        self._cluster_transport = cluster_transport
        self._cloud_transport = cloud_transport
        self._cluster: ClusterClient | None = None
        self._cloud: CloudClient | None = None
        self._connections = 0

    @property
    def cluster(self) -> ClusterClient:
        if self._cluster is None:
            from mage_mcp.clients import ClusterClient  # httpx loads on first use, not at start-up

            s = self.settings
            credentials = (
                Credentials(s.mage_email, s.mage_password.get_secret_value())
                if s.mage_email and s.mage_password
                else None
            )
            self._cluster = ClusterClient(
                s.mage_cluster_url,
                api_key=s.mage_api_key.get_secret_value(),
                credentials=credentials,
                transport=self._cluster_transport,
            )
        return self._cluster

    @property
    def cloud(self) -> CloudClient:
        if self._cloud is None:
            s = self.settings
            missing = s.missing_cloud_credentials()
            if missing or not (s.mage_cloud_api_key and s.mage_cloud_email and s.mage_cloud_password):
                raise ToolError(
                    f"The Mage Cloud API is not configured: set {', '.join(missing)} "
                    "in the server's environment (see the README's configuration table)."
                )
            from mage_mcp.clients import CloudClient

            self._cloud = CloudClient(
                s.mage_cloud_url,
                api_key=s.mage_cloud_api_key.get_secret_value(),
                email=s.mage_cloud_email,
                password=s.mage_cloud_password.get_secret_value(),
                transport=self._cloud_transport,
            )
        return self._cloud

    def cluster_target(self, team_id: str | None, cluster_id: str | None) -> ClusterTarget:
        """The team and cluster a Cloud tool acts on: its arguments, else the configured defaults."""
        team = team_id or self.settings.mage_team_id
        cluster = cluster_id or self.settings.mage_cluster_id
        missing = [
            f"{arg} (or {var})"
            for arg, var, value in (("team_id", "MAGE_TEAM_ID", team), ("cluster_id", "MAGE_CLUSTER_ID", cluster))
            if not value
        ]
        if missing or team is None or cluster is None:
            raise ToolError(f"No Mage Pro cluster chosen: pass {' and '.join(missing)}.")
        return ClusterTarget(team, cluster)

    def cluster_api_of(self, target: ClusterTarget) -> ClusterClient | None:
        """The cluster API of a Mage Pro cluster, when the server knows its URL (the configured one's only)."""
        s = self.settings
        if (target.team_id, target.cluster_id) != (s.mage_team_id, s.mage_cluster_id):
            return None
        return self.cluster

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Runtime]:
        """Scope of one MCP connection; the last one to leave closes the clients."""
        self._connections += 1
        try:
            yield self
        finally:
            self._connections -= 1
            if self._connections == 0:
                await self.aclose()

    async def aclose(self) -> None:
        cluster, cloud = self._cluster, self._cloud
        self._cluster = self._cloud = None
        if cluster is not None:
            await cluster.aclose()
        if cloud is not None:
            await cloud.aclose()
