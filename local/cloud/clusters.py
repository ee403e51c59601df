"""The Mage processes behind the local cloud's clusters.

`MageClusters` is what the API calls to make a cluster's state real; a test can hand the API
another implementation of `ClusterProcesses` to check the contract without starting Mage.
The launcher (`mage_mcp.local.mage`) is synchronous, so its calls run in a worker thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import anyio.to_thread

from mage_mcp.local import hello_mage, mage

from .state import ClusterRecord

log = logging.getLogger("mage_mcp.local_cloud")
# On a restart the Mage just stopped may hold its port a moment after its processes are gone.
_PORT_GRACE_SECONDS = 15


class ClusterProcesses(Protocol):
    def is_running(self, cluster: ClusterRecord) -> bool: ...

    async def start(self, cluster: ClusterRecord) -> None:
        """Spawn the cluster's Mage with `cluster.env`; return once the process exists."""

    async def stop(self, cluster: ClusterRecord) -> None:
        """Return once every process of the cluster's Mage is gone."""


class MageClusters:
    """One Mage OSS project per cluster under `state_dir/clusters/<id>`, all on one shared venv."""

    def __init__(self, state_dir: Path, venv: Path, owner_email: str, owner_password: str) -> None:
        self.state_dir = state_dir
        self.venv = venv
        self._owner = (owner_email, owner_password)

    def project_dir(self, cluster: ClusterRecord) -> Path:
        return self.state_dir / "clusters" / cluster.id

    def is_running(self, cluster: ClusterRecord) -> bool:
        return mage.is_running(self.project_dir(cluster))

    def create(self, cluster: ClusterRecord) -> None:
        """Create the cluster's Mage project (once; about a second) with the offline `hello_mage` pipeline.

        Called on every start, so a project made before `hello_mage` existed gets it too; the seed
        itself never rewrites one that is there or was seeded before.
        """
        project_dir = self.project_dir(cluster)
        mage.init_project(project_dir, self.venv)
        hello_mage.seed(project_dir)

    async def start(self, cluster: ClusterRecord) -> None:
        email, password = self._owner
        log.info("starting cluster %s on port %d", cluster.id, cluster.port)
        await anyio.to_thread.run_sync(
            lambda: mage.start(
                self.project_dir(cluster),
                cluster.port,
                auth=True,
                owner_email=email,
                owner_password=password,
                extra_env=cluster.env,
                venv=self.venv,
                wait=False,
                port_grace=_PORT_GRACE_SECONDS,
            )
        )

    async def stop(self, cluster: ClusterRecord) -> None:
        log.info("stopping cluster %s", cluster.id)
        await anyio.to_thread.run_sync(lambda: mage.stop(self.project_dir(cluster)))
