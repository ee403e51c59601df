"""End-to-end harness: real `mage-mcp` processes, talking to the API fakes over real ports.

Each server is started as ``[sys.executable, "-m", "mage_mcp", ...]`` with an explicit
environment (PATH, HOME and the MAGE_* variables below; nothing else from ``os.environ``),
in an empty working directory (so no ``.env`` file is read). Its stderr goes to a file, and
every process's stderr is checked for leaked secrets when it is stopped.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult

from mage_mcp.tools import TOOLS
from tests.fakes import FakeCloud, FakeMage, RecordedRequest, serve_in_thread
from tests.support.environment import server_env
from tests.support.ports import free_port, port_open
from tests.support.processes import assert_no_secrets, mage_mcp_command, read_text, stderr_file, stop

TEAM, CLUSTER = "team-1", "cluster-1"
TOOL_NAMES = {spec.name for spec in TOOLS}
PIPELINE = "example_pipeline"
STARTUP_TIMEOUT = 15.0
MODES = ["auto", "legacy"]


# ----------------------------------------------------------------------------- the fakes
@dataclass
class Fakes:
    """Both Mage APIs, served on real 127.0.0.1 ports for the whole session."""

    mage: FakeMage
    cloud: FakeCloud
    mage_url: str
    cloud_url: str  # the Cloud API base, ending in /api/v1

    def env(self, **extra: str) -> dict[str, str]:
        """A server environment: PATH, HOME and the MAGE_* variables, plus `extra`."""
        env = server_env()
        env.update(
            MAGE_CLUSTER_URL=self.mage_url,
            MAGE_EMAIL=self.mage.email,
            MAGE_PASSWORD=self.mage.password,
            MAGE_CLOUD_URL=self.cloud_url,
            MAGE_CLOUD_API_KEY=self.cloud.api_key,
            MAGE_CLOUD_EMAIL=self.cloud.email,
            MAGE_CLOUD_PASSWORD=self.cloud.password,
            MAGE_TEAM_ID=TEAM,
            MAGE_CLUSTER_ID=CLUSTER,
        )
        env.update(extra)
        return env

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a server's stderr."""
        return [self.mage.password, self.cloud.password, self.cloud.api_key]

    def clear(self) -> None:
        self.mage.recorder.clear()
        self.cloud.recorder.clear()


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    mage, cloud = FakeMage(), FakeCloud()
    with serve_in_thread(mage.app) as mage_url, serve_in_thread(cloud.app) as cloud_url:
        yield Fakes(mage, cloud, mage_url, f"{cloud_url}/api/v1")


@pytest.fixture(autouse=True)
def clean_recorders(fakes: Fakes) -> None:
    """Each test sees only the upstream requests it caused."""
    fakes.clear()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty working directory for the server processes (no `.env` file to read)."""
    return tmp_path_factory.mktemp("mage-mcp-cwd")


# ------------------------------------------------------------------------ recorder checks
def run_posts(fakes: Fakes) -> list[RecordedRequest]:
    """The requests that create a pipeline run."""
    return [
        r
        for r in fakes.mage.recorder.filter(method="POST", path_prefix="/api/pipeline_schedules/")
        if r.path.endswith("/pipeline_runs")
    ]


def writes_other_than_login(fakes: Fakes) -> list[str]:
    """Every POST/PUT/PATCH/DELETE to either API, except the cluster login."""
    return [
        f"{r.method} {r.path}"
        for r in fakes.mage.recorder.mutations() + fakes.cloud.recorder.mutations()
        if (r.method, r.path) != ("POST", "/api/sessions")
    ]


# ---------------------------------------------------------------------------- processes
@dataclass
class HttpServer:
    """A running `mage-mcp --transport sse|streamable-http` process."""

    transport: str
    port: int
    proc: subprocess.Popen[bytes]
    stderr: TextIO
    secrets: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/sse" if self.transport == "sse" else f"{self.base}/mcp"

    def stderr_text(self) -> str:
        return read_text(self.stderr)


@contextmanager
def http_server(transport: str, env: dict[str, str], cwd: Path, secrets: list[str]) -> Iterator[HttpServer]:
    """Start `mage-mcp` on a free 127.0.0.1 port; wait until it listens; stop it and check its stderr."""
    port = free_port()
    with stderr_file() as err:
        proc = subprocess.Popen(
            mage_mcp_command("--transport", transport, "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        server = HttpServer(transport, port, proc, err, secrets)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not port_open(port):
                if proc.poll() is not None:
                    pytest.fail(f"mage-mcp ({transport}) exited with {proc.returncode}:\n{server.stderr_text()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"mage-mcp ({transport}) did not listen within {STARTUP_TIMEOUT} s")
                time.sleep(0.05)
            yield server
            if proc.poll() is not None:
                pytest.fail(
                    f"mage-mcp ({transport}) died during the tests (exit {proc.returncode}):\n{server.stderr_text()}"
                )
        finally:
            stop(proc)
        assert_no_secrets(server.stderr_text(), secrets, f"mage-mcp --transport {transport}")


@asynccontextmanager
async def stdio_session(
    fakes: Fakes, cwd: Path, *, mode: str = "auto", elicitation: ElicitationFnT | None = None
) -> AsyncIterator[Client]:
    """A `Client` over stdio to a `mage-mcp` process the SDK starts; its stderr is checked on exit."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "mage_mcp"], env=fakes.env(), cwd=cwd)
    with stderr_file() as err:
        async with Client(stdio_client(params, errlog=err), mode=mode, elicitation_callback=elicitation) as client:
            yield client
        assert_no_secrets(read_text(err), fakes.secrets, "mage-mcp over stdio")


# ------------------------------------------------------------------------------ clients
class Answers:
    """An elicitation callback that answers each prompt with the next queued action."""

    def __init__(self, *actions: str) -> None:
        self.queued = list(actions)
        self.seen: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.seen.append(params.message)
        action = self.queued.pop(0)
        if action == "accept":
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action=action)


async def check_accepted_trigger(client: Client, answers: Answers, fakes: Fakes) -> None:
    """A confirmed `trigger_pipeline` asks once, then POSTs a run to the cluster."""
    fakes.clear()
    asked = len(answers.seen)
    result = await client.call_tool("trigger_pipeline", {"pipeline_uuid": PIPELINE})
    assert not result.is_error, result.content
    assert len(answers.seen) == asked + 1 and PIPELINE in answers.seen[-1]
    sc = result.structured_content
    assert sc is not None and isinstance(sc.get("run_id"), int), sc
    assert sc["pipeline_uuid"] == PIPELINE
    posts = run_posts(fakes)
    assert len(posts) == 1, [f"{r.method} {r.path}" for r in fakes.mage.recorder.requests]
    assert posts[0].path == f"/api/pipeline_schedules/{sc['trigger_id']}/pipeline_runs"
    assert sc["run_id"] in fakes.mage.pipeline_runs
    assert not fakes.cloud.recorder.mutations()


async def check_declined_trigger(client: Client, answers: Answers, fakes: Fakes) -> None:
    """A declined `trigger_pipeline` asks once and writes nothing upstream (a login aside)."""
    fakes.clear()
    runs_before = set(fakes.mage.pipeline_runs)
    asked = len(answers.seen)
    result = await client.call_tool("trigger_pipeline", {"pipeline_uuid": PIPELINE})
    assert not result.is_error, result.content
    assert len(answers.seen) == asked + 1 and PIPELINE in answers.seen[-1]
    assert result.structured_content is not None and result.structured_content["status"] == "declined"
    assert writes_other_than_login(fakes) == []
    assert set(fakes.mage.pipeline_runs) == runs_before


async def check_tools_and_pipelines(client: Client) -> CallToolResult:
    """`tools/list` names exactly the registry's tools; `list_pipelines` returns the example pipeline."""
    tools = (await client.list_tools()).tools
    assert sorted(t.name for t in tools) == sorted(TOOL_NAMES)
    result = await client.call_tool("list_pipelines", {})
    assert not result.is_error, result.content
    sc = result.structured_content
    assert sc is not None
    assert PIPELINE in [p["uuid"] for p in sc["pipelines"]], sc
    return result
