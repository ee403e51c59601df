"""What tools share while the server runs: settings, profiles, the confirmation gate, the audit log,
the shared state (used tokens, idempotency keys, cluster write locks: this process's, or Redis shared
with other replicas) and each profile's clients.

One `Runtime` per process. A call's profile is set for the length of the call (`current_profile`,
set by the server from the call's `profile` argument); tools reach that profile's `Target`, whose
clients are created on first use (no network before `initialize` is answered, none for a profile
nobody uses). Each profile has clients of its own, so one target's failure or slowness never holds
up another's calls. The clients are closed when the last connection ends; SSE opens one lifespan
per connection, and they all share these clients, so writes to one cluster stay serialised across
connections (and across replicas, through the shared state's locks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import SecretStr

from mage_mcp.clients import Credentials

from .audit import AuditLog
from .config import Settings
from .confirmation import ConfirmationGate, ConfirmationTokens
from .idempotency import IdempotencyKeys
from .profiles import Profile, Profiles, load_profiles
from .state import SharedState, shared_state

if TYPE_CHECKING:
    import httpx

    from mage_mcp.clients import CloudClient, ClusterClient

current_profile: ContextVar[str | None] = ContextVar("mage_mcp_profile", default=None)
"""The profile of the tool call being served; None outside a call (resources, prompts): the default."""


@dataclass(frozen=True)
class ClusterTarget:
    team_id: str
    cluster_id: str


class Target:
    """One profile's Mage: its cluster and Cloud clients, made on first use, and its idempotency keys."""

    def __init__(
        self,
        profile: Profile,
        state: SharedState,
        cluster_transport: httpx.AsyncBaseTransport | None = None,
        cloud_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.profile = profile
        self.idempotency = IdempotencyKeys(state, profile.name)
        self._state = state
        self._cluster_transport = cluster_transport
        self._cloud_transport = cloud_transport
        self._cluster: ClusterClient | None = None
        self._cloud: CloudClient | None = None

    @property
    def cluster(self) -> ClusterClient:
        if self._cluster is None:
            from mage_mcp.clients import ClusterClient  # httpx loads on first use, not at start-up

            p = self.profile
            if p.cluster_url is None:
                raise ToolError(f"Profile {p.name!r} has no Mage cluster: set {p.setting('cluster_url')}.")
            credentials = Credentials(p.email, p.password.get_secret_value()) if p.email and p.password else None
            self._cluster = ClusterClient(
                p.cluster_url,
                api_key=p.api_key.get_secret_value(),
                credentials=credentials,
                transport=self._cluster_transport,
            )
        return self._cluster

    @property
    def cloud(self) -> CloudClient:
        if self._cloud is None:
            p = self.profile
            missing = p.missing_cloud_credentials()
            if missing or not (p.cloud_api_key and p.cloud_email and p.cloud_password):
                where = "in the server's environment (see the README's configuration table)"
                raise ToolError(
                    f"The Mage Cloud API is not configured: set {', '.join(missing)}"
                    f"{'' if p.from_file else ' ' + where}."
                )
            from mage_mcp.clients import CloudClient

            self._cloud = CloudClient(
                p.cloud_url,
                api_key=p.cloud_api_key.get_secret_value(),
                email=p.cloud_email,
                password=p.cloud_password.get_secret_value(),
                transport=self._cloud_transport,
                lock=lambda cluster: self._state.lock(f"cloud:{cluster}"),
            )
        return self._cloud

    def cluster_target(self, team_id: str | None, cluster_id: str | None) -> ClusterTarget:
        """The team and cluster a Cloud tool acts on: its arguments, else the profile's defaults."""
        p = self.profile
        team = team_id or p.team_id
        cluster = cluster_id or p.cluster_id
        missing = [
            f"{arg} (or {p.setting(arg)})"
            for arg, value in (("team_id", team), ("cluster_id", cluster))
            if not value
        ]
        if missing or team is None or cluster is None:
            raise ToolError(f"No Mage Pro cluster chosen: pass {' and '.join(missing)}.")
        return ClusterTarget(team, cluster)

    def cluster_api_of(self, target: ClusterTarget) -> ClusterClient | None:
        """The cluster API of a Mage Pro cluster, when the profile knows its URL (its own cluster's only)."""
        p = self.profile
        if (target.team_id, target.cluster_id) != (p.team_id, p.cluster_id) or p.cluster_url is None:
            return None
        return self.cluster

    async def aclose(self) -> None:
        cluster, cloud = self._cluster, self._cloud
        self._cluster = self._cloud = None
        if cluster is not None:
            await cluster.aclose()
        if cloud is not None:
            await cloud.aclose()


class Runtime:
    """Raises `ProfileConfigError` for a bad profiles file and `AuditError` for an audit log it cannot write."""

    def __init__(
        self,
        settings: Settings,
        *,
        profiles: Profiles | None = None,
        audit: AuditLog | None = None,
        cluster_transport: httpx.AsyncBaseTransport | None = None,
        cloud_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.profiles = profiles or load_profiles(settings)
        self.audit = audit or AuditLog.open(settings.mage_mcp_audit_log.expanduser())
        self.state = shared_state(_revealed(settings.mage_mcp_state_url))
        secret = _revealed(settings.mage_mcp_confirm_secret)
        self.shared_secret = secret.encode() if secret else None
        tokens = ConfirmationTokens(settings.mage_mcp_confirm_ttl_s, self.state, secret=self.shared_secret)
        self.gate = ConfirmationGate(settings.mage_mcp_confirm_fallback, tokens)
        self._cluster_transport = cluster_transport
        self._cloud_transport = cloud_transport
        self._targets: dict[str, Target] = {}
        self._connections = 0

    @property
    def names_profiles(self) -> bool:
        """Whether results, plans and prompts name the profile: yes when a profiles file defines them."""
        return self.profiles.source is not None

    def profile(self, name: str | None = None) -> Profile:
        """The named profile, else the current call's, else the default; `UnknownProfileError` lists the valid names."""
        return self.profiles.get(name or current_profile.get())

    def target(self) -> Target:
        """The current call's profile's Mage (the default profile's outside a tool call)."""
        profile = self.profile()
        target = self._targets.get(profile.name)
        if target is None:
            target = self._targets[profile.name] = Target(
                profile, self.state, self._cluster_transport, self._cloud_transport
            )
        return target

    @contextmanager
    def serving(self, profile: Profile) -> Iterator[None]:
        """Within it, tools reach `profile`'s Mage."""
        token = current_profile.set(profile.name)
        try:
            yield
        finally:
            current_profile.reset(token)

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
        targets, self._targets = list(self._targets.values()), {}
        for target in targets:
            await target.aclose()
        await self.state.aclose()


def _revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
