"""The mission harness: a real local Mage Cloud over real Mage OSS processes, and a real `mage-mcp`.

One of each for the module:

- ``local_cloud``: ``python -m mage_mcp local-cloud --state-dir DIR --port P --clusters 1`` as a
  subprocess (its stderr in a file). Ready when ``DIR/cloud.env`` exists. Teardown sends it SIGTERM,
  waits, checks that no Mage process of DIR is left and that its stderr holds no secret.
- ``mcp``: ``python -m mage_mcp`` over stdio through the SDK's ``Client``, with PATH, HOME and the
  values of ``cloud.env`` as its whole environment, in an empty working directory, and an elicitation
  callback (``answers``) whose answer each test sets. Its stderr is checked for secrets at the end.

``CloudApi`` and ``MageApi`` are the tests' own view of the truth (the Cloud API's state, Mage's own
API); they never go through the code under test. Nothing here matches Mage's error messages.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.types import ElicitRequestParams, ElicitResult

from tests.support.cloud_api import CLOUD_ENV_NAMES, CloudApi, read_env_file, secrets_of
from tests.support.environment import server_env
from tests.support.mage_api import MageApi
from tests.support.ports import free_port
from tests.support.processes import (
    assert_no_secrets,
    processes_under,
    read_text,
    spawn_local_cloud,
    stop,
    wait_until_ready,
)

CLUSTER_DIR = "clusters/local-1"
CLOUD_READY_TIMEOUT_S = 60.0  # the local cloud checks the Mage venv (a subprocess) before it listens
CLOUD_STOP_TIMEOUT_S = 60.0
LEFTOVER_GRACE_S = 10.0
LOG_TAIL_LINES = 40
# Values that must never reach the stderr of mage-mcp or of the local cloud (besides the passwords and key).
GREETING = "bonjour-7f3a9c"  # the env var value the tests set; unique, so a leak cannot hide in other text
SECRET_VALUE = "orders-db-5e1b2d77"  # the project secret the authoring story creates
NEVER_LOGGED = (GREETING, SECRET_VALUE)


# ------------------------------------------------------------------------------- the local cloud
@dataclass
class LocalCloud:
    """A running `mage-mcp local-cloud` and what it wrote."""

    state_dir: Path
    env: dict[str, str]  # the values of cloud.env
    proc: subprocess.Popen[bytes]
    stderr_path: Path

    @property
    def cluster_dir(self) -> Path:
        return self.state_dir / CLUSTER_DIR

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in any stderr."""
        return [*secrets_of(self.env), *NEVER_LOGGED]

    def mage_log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.cluster_dir / "mage.log", lines)

    def stderr_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.stderr_path, lines)

    def diagnostics(self) -> str:
        """What to read when something about the cluster went wrong."""
        return (
            f"\n--- last lines of {self.cluster_dir / 'mage.log'}:\n{self.mage_log_tail()}"
            f"\n--- last lines of the local cloud's stderr:\n{self.stderr_tail()}"
        )


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so that the module-scoped MCP client lives on one event loop for all tests."""
    return "asyncio"


@pytest.fixture(scope="module")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mission-logs")


@pytest.fixture(scope="module")
def local_cloud(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("mission-cloud")
    stderr_path = logs_dir / "local-cloud.stderr"
    with stderr_path.open("wb") as stderr:
        proc = spawn_local_cloud(
            state_dir, "--port", str(free_port()), "--clusters", "1", stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        env_file = state_dir / "cloud.env"
        wait_until_ready(proc, env_file, CLOUD_READY_TIMEOUT_S, lambda: _tail(stderr_path, 80))
        env = read_env_file(env_file)
        missing = [name for name in CLOUD_ENV_NAMES if not env.get(name)]
        assert not missing, f"cloud.env lacks {missing}; it has {sorted(env)}"
        local = LocalCloud(state_dir=state_dir, env=env, proc=proc, stderr_path=stderr_path)
        yield local
    finally:
        _stop_local_cloud(proc, stderr_path)
    leftovers = _wait_for_no_mage(state_dir)
    assert not leftovers, f"Mage processes of {state_dir} outlived the local cloud:\n" + "\n".join(leftovers)
    assert_no_secrets(stderr_path.read_text(errors="replace"), local.secrets, "the local cloud's stderr")


def _stop_local_cloud(proc: subprocess.Popen[bytes], stderr_path: Path) -> None:
    if proc.poll() is not None:
        pytest.fail(f"the local cloud died during the tests (exit {proc.returncode}):\n{_tail(stderr_path, 80)}")
    if not stop(proc, CLOUD_STOP_TIMEOUT_S):
        pytest.fail(f"the local cloud did not exit within {CLOUD_STOP_TIMEOUT_S:g} s of SIGTERM (killed)")


def _wait_for_no_mage(state_dir: Path) -> list[str]:
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while (found := processes_under(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


# --------------------------------------------------------------------------------- mage-mcp
Action = Literal["accept", "decline"]


@dataclass
class Answers:
    """The person behind the MCP client: answers every confirmation prompt with `action`."""

    action: Action = "accept"
    seen: list[str] = field(default_factory=list)

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.seen.append(getattr(params, "message", ""))
        if self.action == "accept":
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action="decline")


@pytest.fixture(scope="module")
def answers() -> Answers:
    return Answers()


@dataclass
class McpServer:
    client: Client
    stderr: TextIO

    def stderr_text(self) -> str:
        return read_text(self.stderr)


@pytest.fixture(scope="module")
async def mcp(
    local_cloud: LocalCloud, answers: Answers, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> AsyncIterator[McpServer]:
    """A real `mage-mcp` over stdio for the whole module, configured only by cloud.env."""
    env = server_env()
    env.update(local_cloud.env)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mage_mcp"], env=env, cwd=tmp_path_factory.mktemp("mission-cwd")
    )
    with (logs_dir / "mage-mcp.stderr").open("w+", encoding="utf-8", errors="replace") as err:
        server = McpServer(client=Client(stdio_client(params, errlog=err), elicitation_callback=answers), stderr=err)
        async with server.client:
            yield server
        assert_no_secrets(server.stderr_text(), local_cloud.secrets, "mage-mcp's stderr")


# ------------------------------------------------------------------------- the tests' own view
@dataclass
class Mission:
    """Everything a mission test drives or checks."""

    client: Client
    answers: Answers
    cloud: CloudApi
    mage: MageApi
    local: LocalCloud


@pytest.fixture
async def mission(mcp: McpServer, answers: Answers, local_cloud: LocalCloud) -> AsyncIterator[Mission]:
    cloud = CloudApi.from_env(local_cloud.env, timeout=60)
    mage = MageApi(local_cloud.env["MAGE_CLUSTER_URL"])
    try:
        yield Mission(client=mcp.client, answers=answers, cloud=cloud, mage=mage, local=local_cloud)
    finally:
        with anyio.CancelScope(shield=True):
            await cloud.aclose()
            await mage.aclose()
