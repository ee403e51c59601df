"""The local cloud's state: credentials, team and clusters, kept in one JSON file (mode 0600).

The file holds the generated secrets, so it is private to its owner, and it is replaced
atomically (write, fsync, rename): a crash leaves the old state or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

TEAM_ID = "local"
STATE_FILE = "state.json"
# Cluster ports: registered-port space below any usual ephemeral range (Linux 32768+, macOS 49152+).
_STABLE_PORTS = range(20000, 32768)
_EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
_random = random.SystemRandom()
ClusterStatus = Literal["Active", "Stopped"]


class ClusterRecord(BaseModel):
    id: str
    name: str
    port: int
    status: ClusterStatus = "Stopped"
    config: dict[str, Any] = Field(default_factory=lambda: {"replicaCount": 0, "extraEnvs": []})

    def as_api(self) -> dict[str, Any]:
        """The `cluster` object of the Cloud API."""
        return {"id": self.id, "name": self.name, "status": self.status, "config": self.config}

    @property
    def env(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.config.get("extraEnvs") or []}


class CloudState(BaseModel):
    cloud_port: int
    api_key: str
    email: str
    password: str
    mage_email: str
    mage_password: str
    team_id: str = TEAM_ID
    clusters: dict[str, ClusterRecord] = Field(default_factory=dict)

    @classmethod
    def create(cls, cloud_port: int) -> CloudState:
        return cls(
            cloud_port=cloud_port,
            api_key=secrets.token_urlsafe(30),
            email=f"local-{secrets.token_hex(3)}@example.com",
            password=secrets.token_urlsafe(18),
            mage_email=f"owner-{secrets.token_hex(3)}@example.com",
            mage_password=secrets.token_urlsafe(18),
        )

    def ensure_clusters(self, count: int) -> list[str]:
        """Add `local-1` ... `local-<count>` where missing (never removes one); returns the added ids."""
        added = []
        taken = {c.port for c in self.clusters.values()} | {self.cloud_port}
        for n in range(1, count + 1):
            cluster_id = f"local-{n}"
            if cluster_id not in self.clusters:
                port = free_port(avoid=taken)
                taken.add(port)
                self.clusters[cluster_id] = ClusterRecord(id=cluster_id, name=f"Local Mage {n}", port=port)
                added.append(cluster_id)
        return added


def load(state_dir: Path) -> CloudState | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    return CloudState.model_validate_json(path.read_text())


def save(state_dir: Path, state: CloudState) -> None:
    write_private(state_dir / STATE_FILE, json.dumps(state.model_dump(mode="json"), indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def free_port(avoid: Collection[int] = ()) -> int:
    """A port nothing listens on at 127.0.0.1 right now, below the kernel's ephemeral range.

    A cluster keeps its port across restarts. A port from the ephemeral range can be taken, while
    the cluster is stopped, as the local end of any outgoing connection; one below it cannot.
    """
    stable = range(_STABLE_PORTS.start, min(_STABLE_PORTS.stop, ephemeral_ports().start))
    for _ in range(200 if stable else 0):
        port = _random.choice(stable)
        if port not in avoid and port_free(port):
            return port
    while True:  # no room below the ephemeral range on this machine: let the kernel pick
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def ephemeral_ports() -> range:
    """The ports the kernel hands out to outgoing connections (Linux's default when unreadable)."""
    try:
        low, high = map(int, Path(_EPHEMERAL_RANGE_FILE).read_text().split())
    except (OSError, ValueError):
        return range(32768, 61000)
    return range(low, high + 1)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
