"""Fixtures for the local Mage Cloud's own tests.

The contract tests drive `LocalCloud(...).app` in process (httpx over ASGI) with
`RecordingProcesses` in place of real Mage processes and `FakeClock` in place of `time.time`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import pytest

from mage_mcp.local.cloud import state as state_file
from mage_mcp.local.cloud.api import LocalCloud
from mage_mcp.local.cloud.state import CloudState, ClusterRecord
from tests.support.cloud_api import CloudApi

TOKEN_TTL_S = 3600.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ProcessCall:
    """One start or stop the API asked for, with the environment of the cluster it got."""

    op: Literal["start", "stop"]
    cluster_id: str
    env: dict[str, str]
    failed: bool = False
    done: bool = False


class SimulatedStartFailure(RuntimeError):
    pass


@dataclass
class RecordingProcesses:
    """A `ClusterProcesses` that only pretends: it tracks which clusters run and records every call.

    `fail_starts` makes that many next starts raise; `delay` sleeps inside every start and stop
    (after recording its beginning) to widen race windows. `violations` lists every call that
    began while another call for the same cluster was still in flight, every start of a running
    cluster and every stop of a stopped one.
    """

    running: dict[str, dict[str, str]] = field(default_factory=dict)  # cluster id -> env it runs with
    calls: list[ProcessCall] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_starts: int = 0
    delay: float = 0.0
    max_in_flight: int = 0
    _in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def is_running(self, cluster: ClusterRecord) -> bool:
        return cluster.id in self.running

    async def start(self, cluster: ClusterRecord) -> None:
        call = self._begin("start", cluster)
        try:
            if cluster.id in self.running:
                self.violations.append(f"start of {cluster.id} while it runs")
            await anyio.sleep(self.delay)
            if self.fail_starts > 0:
                self.fail_starts -= 1
                call.failed = True
                raise SimulatedStartFailure(f"simulated failure starting {cluster.id}")
            self.running[cluster.id] = dict(cluster.env)
        finally:
            self._end(call)

    async def stop(self, cluster: ClusterRecord) -> None:
        call = self._begin("stop", cluster)
        try:
            if cluster.id not in self.running:
                self.violations.append(f"stop of {cluster.id} while it does not run")
            await anyio.sleep(self.delay)
            self.running.pop(cluster.id, None)
        finally:
            self._end(call)

    def _begin(self, op: Literal["start", "stop"], cluster: ClusterRecord) -> ProcessCall:
        if self._in_flight[cluster.id]:
            self.violations.append(f"{op} of {cluster.id} began while another call for it was in flight")
        self._in_flight[cluster.id] += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight[cluster.id])
        call = ProcessCall(op, cluster.id, dict(cluster.env))
        self.calls.append(call)
        return call

    def _end(self, call: ProcessCall) -> None:
        self._in_flight[call.cluster_id] -= 1
        call.done = True

    def ops(self) -> list[tuple[str, str, dict[str, str]]]:
        """The calls as (op, cluster id, env), in the order they began."""
        return [(c.op, c.cluster_id, c.env) for c in self.calls]


class Harness(CloudApi):
    """A `LocalCloud` in process, its state directory, fake processes and clock; its Cloud API over `client`."""

    def __init__(
        self,
        cloud: LocalCloud,
        state_dir: Path,
        processes: RecordingProcesses,
        clock: FakeClock,
        client: httpx.AsyncClient,
    ) -> None:
        state = cloud.state
        super().__init__(client, "/api/v1", api_key=state.api_key, email=state.email, password=state.password)
        self.cloud, self.state_dir, self.processes, self.clock, self.client = cloud, state_dir, processes, clock, client

    @property
    def state(self) -> CloudState:
        return self.cloud.state

    @property
    def state_path(self) -> Path:
        return self.state_dir / state_file.STATE_FILE

    async def set_cluster(self, cluster_id: str, status: str, env: dict[str, str], **extra: Any) -> dict[str, Any]:
        """Bring a cluster to `status` with `env` (and extra config fields) through the API; forget the calls."""
        config = {
            "replicaCount": 1 if status == "Active" else 0,
            "extraEnvs": [{"name": k, "value": v} for k, v in env.items()],
            **extra,
        }
        response = await self.put({"cluster": {"config": config, "status": status}}, cluster_id)
        assert response.status_code == 200, response.text
        self.processes.calls.clear()
        self.processes.violations.clear()
        return config

    def snapshot(self) -> tuple[dict[str, Any], bytes, dict[str, dict[str, str]]]:
        """The state in memory, the state file's bytes and what runs: all an error must leave alone."""
        return (
            self.state.model_dump(mode="json"),
            self.state_path.read_bytes(),
            {k: dict(v) for k, v in self.processes.running.items()},
        )


def make_state(clusters: int = 2) -> CloudState:
    state = CloudState.create(cloud_port=8787)
    state.ensure_clusters(clusters)
    return state


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def processes() -> RecordingProcesses:
    return RecordingProcesses()


@pytest.fixture
async def harness(tmp_path: Path, clock: FakeClock, processes: RecordingProcesses) -> AsyncIterator[Harness]:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    state = make_state()
    state_file.save(state_dir, state)
    cloud = LocalCloud(state, state_dir, processes, clock=clock, token_ttl_s=TOKEN_TTL_S)
    # raise_app_exceptions=False: an unhandled error comes back as the 500 a real server would send.
    transport = httpx.ASGITransport(app=cloud.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://local-cloud.test") as client:
        yield Harness(cloud, state_dir, processes, clock, client)
