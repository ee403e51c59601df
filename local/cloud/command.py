"""`mage-mcp local-cloud`: serve the local Mage Cloud until interrupted.

Ready signal: `STATE_DIR/cloud.env` is (re)written, with the same values on every start, only
once the server listens. On SIGINT/SIGTERM it stops the clusters it runs (a cluster that was
Active starts again on the next start).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import uvicorn
from starlette.applications import Starlette

from mage_mcp.local import mage

from . import state as state_file
from .api import LocalCloud
from .clusters import MageClusters
from .state import CloudState

log = logging.getLogger("mage_mcp.local_cloud")

DEFAULT_PORT = 8787
ENV_FILE = "cloud.env"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mage-mcp" / "local-cloud"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mage-mcp local-cloud",
        description="Serve the Mage Cloud API on 127.0.0.1 over real local Mage OSS clusters.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"default: the port of the last start, else {DEFAULT_PORT}")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir(), help="default: %(default)s")
    parser.add_argument("--clusters", type=int, default=1, help="clusters local-1..N (added, never removed)")
    parser.add_argument(
        "--mage-venv", type=Path, help="mage-ai 0.9.80 virtual environment (default: MAGE_MCP_MAGE_VENV, else cached)"
    )
    parser.add_argument(
        "--start", action="append", default=[], metavar="CLUSTER", help="set CLUSTER Active at start (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        parser.error(f"--host {args.host}: the local cloud serves on 127.0.0.1 only")
    if args.clusters < 1:
        parser.error("--clusters must be at least 1")
    return args


def load_or_create(state_dir: Path, port: int | None, clusters: int, start: Sequence[str] = ()) -> CloudState:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    state = state_file.load(state_dir) or CloudState.create(port or DEFAULT_PORT)
    if port is not None:
        state.cloud_port = port
    added = state.ensure_clusters(clusters)
    if added:
        log.info("clusters added: %s", ", ".join(added))
    for cluster_id in start:
        if cluster_id not in state.clusters:
            known = ", ".join(state.clusters)
            raise SystemExit(f"mage-mcp local-cloud: --start {cluster_id}: no such cluster (there are {known})")
        cluster = state.clusters[cluster_id]
        cluster.status, cluster.config = "Active", {**cluster.config, "replicaCount": 1}
    state_file.save(state_dir, state)
    return state


def cloud_env(state: CloudState) -> str:
    """Every variable a client of this local cloud needs; the first cluster is the default one."""
    first = state.clusters["local-1"]
    values = {
        "MAGE_CLOUD_URL": f"http://127.0.0.1:{state.cloud_port}/api/v1",
        "MAGE_CLOUD_API_KEY": state.api_key,
        "MAGE_CLOUD_EMAIL": state.email,
        "MAGE_CLOUD_PASSWORD": state.password,
        "MAGE_TEAM_ID": state.team_id,
        "MAGE_CLUSTER_ID": first.id,
        "MAGE_CLUSTER_URL": f"http://127.0.0.1:{first.port}",
        "MAGE_EMAIL": state.mage_email,
        "MAGE_PASSWORD": state.mage_password,
    }
    return "".join(f"{name}={value}\n" for name, value in values.items())


async def serve(cloud: LocalCloud, state_dir: Path) -> None:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await cloud.resume()
        try:
            yield
        finally:
            await cloud.shutdown()

    cloud.app.router.lifespan_context = lifespan
    config = uvicorn.Config(
        cloud.app, host="127.0.0.1", port=cloud.state.cloud_port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            if server.should_exit:
                return  # it could not start (say, the port is taken); uvicorn said why
            await anyio.sleep(0.05)
        state_file.write_private(state_dir / ENV_FILE, cloud_env(cloud.state))
        log.info(
            "local Mage Cloud at http://127.0.0.1:%d/api/v1 (team %s, clusters %s); variables in %s",
            cloud.state.cloud_port,
            cloud.state.team_id,
            ", ".join(cloud.state.clusters),
            state_dir / ENV_FILE,
        )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[mage-mcp local-cloud] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    state_dir = args.state_dir.expanduser().absolute()
    (state_dir / ENV_FILE).unlink(missing_ok=True)  # it reappears once this start listens: the ready signal
    state = load_or_create(state_dir, args.port, args.clusters, args.start)
    try:
        venv = mage.ensure_venv(args.mage_venv)
    except mage.MageError as exc:
        sys.exit(f"mage-mcp local-cloud: {exc}")
    if not state_file.port_free(state.cloud_port):
        sys.exit(f"mage-mcp local-cloud: port {state.cloud_port} on 127.0.0.1 is in use; pass another --port")
    clusters = MageClusters(state_dir, venv, state.mage_email, state.mage_password)
    for cluster in state.clusters.values():
        clusters.create(cluster)
    anyio.run(serve, LocalCloud(state, state_dir, clusters), state_dir)
