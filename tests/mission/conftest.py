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

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.types import ElicitRequestParams, ElicitResult

# Mage's built-in frontend OAuth client id (public, not a secret), sent as X-API-KEY.
MAGE_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
CLUSTER_DIR = "clusters/local-1"
CLOUD_ENV_NAMES = (
    "MAGE_CLOUD_URL",
    "MAGE_CLOUD_API_KEY",
    "MAGE_CLOUD_EMAIL",
    "MAGE_CLOUD_PASSWORD",
    "MAGE_TEAM_ID",
    "MAGE_CLUSTER_ID",
    "MAGE_CLUSTER_URL",
    "MAGE_EMAIL",
    "MAGE_PASSWORD",
)
CLOUD_READY_TIMEOUT_S = 60.0  # the local cloud checks the Mage venv (a subprocess) before it listens
CLOUD_STOP_TIMEOUT_S = 60.0
LEFTOVER_GRACE_S = 10.0
LOG_TAIL_LINES = 40
# Values that must never reach the stderr of mage-mcp or of the local cloud (besides the passwords and key).
NEVER_LOGGED = ("hello",)


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
        return [self.env["MAGE_PASSWORD"], self.env["MAGE_CLOUD_PASSWORD"], self.env["MAGE_CLOUD_API_KEY"]]

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def _cloud_process_env() -> dict[str, str]:
    """This process's environment, minus anything that could leak into the clusters or the config.

    The local cloud hands its own environment to each Mage it starts, so GREETING must not be in it,
    and no MAGE_* setting of the developer's shell may change what the test sees.
    """
    keep = {"MAGE_MCP_MAGE_VENV", "MAGE_MCP_PYTHON"}
    return {
        name: value
        for name, value in os.environ.items()
        if name != "GREETING" and (not name.startswith("MAGE_") or name in keep)
    }


def mage_processes(state_dir: Path, *, besides: int | None = None) -> list[str]:
    """Live processes that belong to a Mage of `state_dir`: by working directory, command line or environment.

    Mage's processes run in the cluster's directory and inherit MAGE_DATA_DIR (under `state_dir`), so
    any process that names `state_dir` in one of those is one of them. `besides` (the local cloud,
    which names it on its command line) and this process are left out.
    """
    needle = str(state_dir)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), besides):
            continue
        proc = Path(entry.path)
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X", "x"):
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if needle in cwd or needle in cmdline or needle in environ:
            found.append(f"pid {entry.name} (cwd {cwd}): {cmdline[:200]}")
    return found


def assert_no_secrets(text: str, secrets: list[str], what: str) -> None:
    leaked = [f"secret #{n}" for n, value in enumerate(secrets) if value and value in text]
    leaked += [repr(word) for word in NEVER_LOGGED if word in text]
    assert not leaked, f"{what} contains {', '.join(leaked)}:\n{text[-4000:]}"


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
    command = [
        sys.executable,
        "-m",
        "mage_mcp",
        "local-cloud",
        "--state-dir",
        str(state_dir),
        "--port",
        str(_free_port()),
        "--clusters",
        "1",
    ]
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            command, env=_cloud_process_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        env_file = state_dir / "cloud.env"
        deadline = time.monotonic() + CLOUD_READY_TIMEOUT_S
        while not env_file.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"the local cloud exited with {proc.returncode} before it was ready:\n{_tail(stderr_path, 80)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no {env_file} after {CLOUD_READY_TIMEOUT_S:g} s:\n{_tail(stderr_path, 80)}")
            time.sleep(0.1)
        env = _read_env_file(env_file)
        missing = [name for name in CLOUD_ENV_NAMES if not env.get(name)]
        assert not missing, f"cloud.env lacks {missing}; it has {sorted(env)}"
        yield LocalCloud(state_dir=state_dir, env=env, proc=proc, stderr_path=stderr_path)
    finally:
        _stop_local_cloud(proc, stderr_path)
    leftovers = _wait_for_no_mage(state_dir)
    assert not leftovers, f"Mage processes of {state_dir} outlived the local cloud:\n" + "\n".join(leftovers)
    assert_no_secrets(stderr_path.read_text(errors="replace"), _secrets_of(state_dir), "the local cloud's stderr")


def _stop_local_cloud(proc: subprocess.Popen[bytes], stderr_path: Path) -> None:
    if proc.poll() is not None:
        pytest.fail(f"the local cloud died during the tests (exit {proc.returncode}):\n{_tail(stderr_path, 80)}")
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=CLOUD_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        pytest.fail(f"the local cloud did not exit within {CLOUD_STOP_TIMEOUT_S:g} s of SIGTERM (killed)")


def _wait_for_no_mage(state_dir: Path) -> list[str]:
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while (found := mage_processes(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _secrets_of(state_dir: Path) -> list[str]:
    env = _read_env_file(state_dir / "cloud.env")
    return [env.get("MAGE_PASSWORD", ""), env.get("MAGE_CLOUD_PASSWORD", ""), env.get("MAGE_CLOUD_API_KEY", "")]


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
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()


@pytest.fixture(scope="module")
async def mcp(
    local_cloud: LocalCloud, answers: Answers, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> AsyncIterator[McpServer]:
    """A real `mage-mcp` over stdio for the whole module, configured only by cloud.env."""
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
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
class ApiFailure(AssertionError):
    """A set-up or check request (not the code under test) failed."""


class CloudApi:
    """The local cloud's Cloud API, with the credentials of cloud.env."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.path = f"/teams/{env['MAGE_TEAM_ID']}/clusters/{env['MAGE_CLUSTER_ID']}"
        self.http = httpx.AsyncClient(
            base_url=env["MAGE_CLOUD_URL"], headers={"X-API-KEY": env["MAGE_CLOUD_API_KEY"]}, timeout=60
        )
        self._token: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _headers(self) -> dict[str, str]:
        if self._token is None:
            credentials = {"email": self.env["MAGE_CLOUD_EMAIL"], "password": self.env["MAGE_CLOUD_PASSWORD"]}
            response = await self.http.post("/sessions", json={"session": credentials})
            body = response.json()
            if response.status_code != 200 or "session" not in body:
                raise ApiFailure(f"Cloud API login -> HTTP {response.status_code}: {body.get('error')}")
            self._token = str(body["session"]["token"])
        return {"Cookie": f"oauth_token={self._token}"}

    async def cluster(self) -> dict[str, Any]:
        response = await self.http.get(self.path, headers=await self._headers())
        body = response.json()
        if response.status_code != 200 or "cluster" not in body:
            raise ApiFailure(f"GET {self.path} -> HTTP {response.status_code}: {body.get('error')}")
        return dict(body["cluster"])

    async def put_cluster(self, update: dict[str, Any]) -> dict[str, Any]:
        """Set-up only (never the code under test)."""
        response = await self.http.put(self.path, json={"cluster": update}, headers=await self._headers())
        body = response.json()
        if response.status_code != 200 or "cluster" not in body:
            raise ApiFailure(f"PUT {self.path} -> HTTP {response.status_code}: {body.get('error')}")
        return dict(body["cluster"])


class MageApi:
    """The cluster's Mage, through its own API, logged in as its owner (MAGE_EMAIL/MAGE_PASSWORD)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.url = env["MAGE_CLUSTER_URL"]
        self.http = httpx.AsyncClient(base_url=f"{self.url}/api", headers={"X-API-KEY": MAGE_API_KEY}, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def status(self) -> dict[str, Any] | None:
        """`GET /api/status` (no auth needed), or None when nothing answers there."""
        try:
            response = await self.http.get("/status", timeout=20)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        statuses = body.get("statuses") if isinstance(body, dict) else None
        return dict(statuses[0]) if isinstance(statuses, list) and statuses else None

    async def login(self) -> None:
        credentials = {"email": self.env["MAGE_EMAIL"], "password": self.env["MAGE_PASSWORD"]}
        response = await self.http.post("/sessions", json={"session": credentials})
        body = response.json()
        if "session" not in body:
            raise ApiFailure(f"Mage login -> HTTP {response.status_code}: {(body.get('error') or {}).get('type')}")
        payload = str(body["session"]["token"]).split(".")[1]
        inner = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["token"]
        self.http.headers["Authorization"] = f"Bearer {inner}"

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or "error" in body:
            error = body.get("error") or {}
            detail = error.get("exception") or error.get("type") or error.get("code")
            raise ApiFailure(f"{method} /api{path} -> HTTP {response.status_code}: {str(detail)[:300]}")
        return body

    async def create_pipeline(self, name: str) -> str:
        body = await self.call("POST", "/pipelines", json={"pipeline": {"name": name, "type": "python"}})
        return str(body["pipeline"]["uuid"])

    async def add_loader_block(self, pipeline_uuid: str, name: str, code: str) -> str:
        block = {"name": name, "type": "data_loader", "language": "python", "content": code}
        body = await self.call("POST", f"/pipelines/{pipeline_uuid}/blocks", json={"block": block})
        return str(body["block"]["uuid"])

    async def runs(self, pipeline_uuid: str) -> list[dict[str, Any]]:
        body = await self.call("GET", "/pipeline_runs", params={"pipeline_uuid": pipeline_uuid, "_limit": 100})
        return list(body["pipeline_runs"])

    async def schedules(self, pipeline_uuid: str) -> list[dict[str, Any]]:
        body = await self.call("GET", f"/pipelines/{pipeline_uuid}/pipeline_schedules", params={"_limit": 100})
        return list(body["pipeline_schedules"])

    async def run(self, run_id: int) -> dict[str, Any]:
        return dict((await self.call("GET", f"/pipeline_runs/{run_id}"))["pipeline_run"])

    async def block_output(self, block_run_id: int) -> dict[str, Any]:
        """The first row of a block run's table output, as {column: value}."""
        body = await self.call("GET", f"/block_runs/{block_run_id}/outputs")
        sample = body["outputs"][0]["sample_data"]
        return dict(zip(sample["columns"], sample["rows"][0], strict=True))


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
    cloud, mage = CloudApi(local_cloud.env), MageApi(local_cloud.env)
    try:
        yield Mission(client=mcp.client, answers=answers, cloud=cloud, mage=mage, local=local_cloud)
    finally:
        with anyio.CancelScope(shield=True):
            await cloud.aclose()
            await mage.aclose()
