"""Profiles and the audit trail, end to end: real `mage-mcp` processes, two fake Mage clusters on real ports.

A profiles file points profile `dev` at fake A and `prod` at fake B (each with credentials of its own), so a
request that reaches the wrong cluster shows in that cluster's recorder. Every server writes its audit log to
the test's own temporary file, which the tests read back line by line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextResourceContents
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes import FakeMage, RecordedRequest, serve_in_thread
from tests.support.environment import server_env
from tests.support.ports import free_port, port_open
from tests.support.processes import assert_no_secrets, mage_mcp_command, read_text, stderr_file, stop

from .conftest import PIPELINE, STARTUP_TIMEOUT, http_server

pytestmark = pytest.mark.anyio

TRANSPORTS = ["stdio", "streamable-http"]
DEV_ONLY_PIPELINE = "dev_only_pipeline"
PROD_ONLY_PIPELINE = "prod_only_pipeline"
CONCURRENT_CALLS = 10
CALL_TIMEOUT_S = 30.0
SECRETS_ROUTE = "/api/secrets"


# ----------------------------------------------------------------------------- two clusters
@dataclass
class Clusters:
    """Fake A (profile `dev`) and fake B (profile `prod`), each with credentials of its own."""

    dev: FakeMage
    prod: FakeMage
    dev_url: str
    prod_url: str

    @property
    def passwords(self) -> list[str]:
        return [self.dev.password, self.prod.password]

    def secret_posts(self) -> dict[str, list[RecordedRequest]]:
        """The secret creations each fake received, by profile."""
        return {
            "dev": self.dev.recorder.filter(method="POST", path_prefix=SECRETS_ROUTE),
            "prod": self.prod.recorder.filter(method="POST", path_prefix=SECRETS_ROUTE),
        }


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    dev = FakeMage(email="dev-owner@example.com", password=f"dev-pw-{uuid.uuid4().hex}")
    prod = FakeMage(email="prod-owner@example.com", password=f"prod-pw-{uuid.uuid4().hex}")
    dev.add_pipeline(DEV_ONLY_PIPELINE, blocks=["load"])
    prod.add_pipeline(PROD_ONLY_PIPELINE, blocks=["load"])
    with serve_in_thread(dev.app) as dev_url, serve_in_thread(prod.app) as prod_url:
        yield Clusters(dev, prod, dev_url, prod_url)


@pytest.fixture(autouse=True)
def clean_clusters(clusters: Clusters) -> None:
    clusters.dev.recorder.clear()
    clusters.prod.recorder.clear()


# ----------------------------------------------------------------------------- configuration
def profiles_file(
    directory: Path, clusters: Clusters, *, literal_prod_credential: str | None = None, prod_extra: str = ""
) -> Path:
    """`dev` (the default) on fake A, `prod` on fake B; credentials are `${VAR}` references unless given literally."""
    prod_password = literal_prod_credential or "${PROD_PASSWORD}"
    path = directory / "profiles.toml"
    path.write_text(
        f"""\
default_profile = "dev"
[profiles.dev]
cluster_url = "{clusters.dev_url}"
email = "${{DEV_EMAIL}}"
password = "${{DEV_PASSWORD}}"
[profiles.prod]
cluster_url = "{clusters.prod_url}"
email = "${{PROD_EMAIL}}"
password = "{prod_password}"
{prod_extra}
""",
        encoding="utf-8",
    )
    return path


def profiles_env(config: Path, clusters: Clusters, audit_log: Path, **extra: str) -> dict[str, str]:
    return server_env(
        MAGE_MCP_CONFIG=str(config),
        MAGE_MCP_AUDIT_LOG=str(audit_log),
        DEV_EMAIL=clusters.dev.email,
        DEV_PASSWORD=clusters.dev.password,
        PROD_EMAIL=clusters.prod.email,
        PROD_PASSWORD=clusters.prod.password,
        **extra,
    )


# ----------------------------------------------------------------------------- clients
@asynccontextmanager
async def stdio_server(env: dict[str, str], cwd: Path, secrets: list[str]) -> AsyncIterator[Client]:
    """A client over stdio to a server the SDK starts with `env`; none of `secrets` may show in its stderr."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "mage_mcp"], env=env, cwd=cwd)
    with stderr_file() as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            yield client
        assert_no_secrets(read_text(err), secrets, "mage-mcp over stdio")


@asynccontextmanager
async def connected(transport: str, env: dict[str, str], cwd: Path, secrets: list[str]) -> AsyncIterator[Client]:
    if transport == "stdio":
        async with stdio_server(env, cwd, secrets) as client:
            yield client
        return
    with http_server(transport, env, cwd, secrets) as server:
        async with Client(server.url) as client:
            yield client


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    with anyio.fail_after(CALL_TIMEOUT_S):
        return await client.call_tool(tool, arguments)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


def pipeline_uuids(result: CallToolResult) -> set[str]:
    return {p["uuid"] for p in structured(result)["pipelines"]}


def pipeline_lists(fake: FakeMage) -> list[RecordedRequest]:
    return [r for r in fake.recorder.filter(method="GET", path_prefix="/api/pipelines") if r.path == "/api/pipelines"]


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def audit_lines_for(audit_log: Path, secret_name: str) -> list[dict[str, Any]]:
    """The audit lines of the calls about the secret `secret_name`."""
    return [line for line in audit_lines(audit_log) if line["arguments"].get("name") == secret_name]


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def secret_value() -> str:
    return f"v-{uuid.uuid4().hex}-never-shown"


# ------------------------------------------------------------------ 1. two profiles, one server
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_each_profile_reaches_only_its_own_cluster(
    transport: str, clusters: Clusters, tmp_path: Path, workdir: Path
) -> None:
    env = profiles_env(profiles_file(tmp_path, clusters), clusters, tmp_path / "audit.jsonl")
    async with connected(transport, env, workdir, clusters.passwords) as client:
        listed = structured(await call(client, "list_profiles"))
        assert {p["name"]: p["default"] for p in listed["profiles"]} == {"dev": True, "prod": False}
        assert listed["total"] == 2
        assert {p["name"]: p["cluster_url"] for p in listed["profiles"]} == {
            "dev": clusters.dev_url,
            "prod": clusters.prod_url,
        }

        prod = await call(client, "list_pipelines", profile="prod")
        assert structured(prod)["profile"] == "prod"
        assert pipeline_uuids(prod) >= {PIPELINE, PROD_ONLY_PIPELINE} and DEV_ONLY_PIPELINE not in pipeline_uuids(prod)
        assert len(pipeline_lists(clusters.prod)) == 1 and clusters.dev.recorder.requests == []

        clusters.prod.recorder.clear()
        default = await call(client, "list_pipelines")
        assert structured(default)["profile"] == "dev"
        assert DEV_ONLY_PIPELINE in pipeline_uuids(default) and PROD_ONLY_PIPELINE not in pipeline_uuids(default)
        assert len(pipeline_lists(clusters.dev)) == 1 and clusters.prod.recorder.requests == []

        clusters.dev.recorder.clear()
        results: dict[str, list[CallToolResult]] = {"dev": [], "prod": []}

        async def list_on(profile: str) -> None:
            results[profile].append(await call(client, "list_pipelines", profile=profile))

        async with anyio.create_task_group() as group:
            for _ in range(CONCURRENT_CALLS):
                group.start_soon(list_on, "dev")
                group.start_soon(list_on, "prod")

    own_pipeline = {"dev": DEV_ONLY_PIPELINE, "prod": PROD_ONLY_PIPELINE}
    for profile, answers in results.items():
        assert len(answers) == CONCURRENT_CALLS
        other = own_pipeline["prod" if profile == "dev" else "dev"]
        for answer in answers:
            assert structured(answer)["profile"] == profile
            assert own_pipeline[profile] in pipeline_uuids(answer) and other not in pipeline_uuids(answer)
    assert len(pipeline_lists(clusters.dev)) == CONCURRENT_CALLS
    assert len(pipeline_lists(clusters.prod)) == CONCURRENT_CALLS


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_unknown_profile_is_an_error_listing_the_profiles(
    transport: str, clusters: Clusters, tmp_path: Path, workdir: Path
) -> None:
    env = profiles_env(profiles_file(tmp_path, clusters), clusters, tmp_path / "audit.jsonl")
    async with connected(transport, env, workdir, clusters.passwords) as client:
        message = error_text(await call(client, "list_pipelines", profile="staging"))
    assert "staging" in message and "dev, prod" in message, message
    assert clusters.dev.recorder.requests == [] and clusters.prod.recorder.requests == []


# ------------------------------------------------------------------ 2. tokens bound to a profile
async def test_a_token_from_prod_is_refused_on_dev_and_applies_on_prod(
    clusters: Clusters, tmp_path: Path, workdir: Path
) -> None:
    value = secret_value()
    name = unique_name("token_bound")
    env = profiles_env(
        profiles_file(tmp_path, clusters), clusters, tmp_path / "audit.jsonl", MAGE_MCP_CONFIRM_FALLBACK="token"
    )
    async with stdio_server(env, workdir, [*clusters.passwords, value]) as client:
        asked = structured(await call(client, "create_secret", name=name, value=value, profile="prod"))
        assert asked["status"] == "confirmation_required", asked
        assert asked["plan"]["profile"] == "prod" and asked["profile"] == "prod"
        token = asked["confirmation_token"]

        refused = error_text(
            await call(client, "create_secret", name=name, value=value, profile="dev", confirmation_token=token)
        )
        assert "token" in refused and "dev" in refused, refused
        assert clusters.secret_posts() == {"dev": [], "prod": []}

        applied = structured(
            await call(client, "create_secret", name=name, value=value, profile="prod", confirmation_token=token)
        )
    assert applied["status"] == "created" and applied["name"] == name and applied["profile"] == "prod", applied
    posts = clusters.secret_posts()
    assert posts["dev"] == [] and len(posts["prod"]) == 1
    assert clusters.prod.secret_value(name) == value and clusters.dev.secret_value(name) is None


# ------------------------------------------------------------------ 3. a read-only profile
async def test_a_read_only_profile_refuses_changes_and_audits_the_refusal(
    clusters: Clusters, tmp_path: Path, workdir: Path
) -> None:
    audit_log = tmp_path / "audit.jsonl"
    value = secret_value()
    name = unique_name("read_only")
    config = profiles_file(tmp_path, clusters, prod_extra="read_only = true")
    env = profiles_env(config, clusters, audit_log, MAGE_MCP_CONFIRM_FALLBACK="allow")
    async with stdio_server(env, workdir, [*clusters.passwords, value]) as client:
        message = error_text(await call(client, "create_secret", name=name, value=value, profile="prod"))
        assert "read_only" in message and "prod" in message, message
        assert value not in message
        listed = structured(await call(client, "list_profiles"))
    assert {p["name"]: p["read_only"] for p in listed["profiles"]} == {"dev": False, "prod": True}
    assert clusters.prod.recorder.mutations() == [] and clusters.dev.recorder.mutations() == []
    lines = audit_lines(audit_log)
    assert [(line["profile"], line["tool"], line["outcome"]) for line in lines] == [
        ("prod", "create_secret", "refused")
    ], lines
    assert lines[0]["arguments"]["value"] == "***" and value not in audit_log.read_text(encoding="utf-8")


# ------------------------------------------------------------------ 4. a literal credential
def test_a_literal_password_in_the_profiles_file_stops_start_up(
    clusters: Clusters, tmp_path: Path, workdir: Path
) -> None:
    literal = "hunter2-literal-Zq"
    config = profiles_file(tmp_path, clusters, literal_prod_credential=literal)
    env = profiles_env(config, clusters, tmp_path / "audit.jsonl")
    done = subprocess.run(
        mage_mcp_command(), env=env, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=STARTUP_TIMEOUT
    )
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode != 0, stderr
    assert "password" in stderr and "'prod'" in stderr, stderr
    assert literal not in stderr and literal.encode() not in done.stdout


# ------------------------------------------------------------------ 5. the audit trail of a change
async def test_an_applied_change_has_a_pending_and_an_applied_line(
    clusters: Clusters, tmp_path: Path, workdir: Path
) -> None:
    audit_log = tmp_path / "audit.jsonl"
    value = secret_value()
    name = unique_name("audited")
    env = profiles_env(profiles_file(tmp_path, clusters), clusters, audit_log, MAGE_MCP_CONFIRM_FALLBACK="allow")
    async with stdio_server(env, workdir, [*clusters.passwords, value]) as client:
        applied = structured(await call(client, "create_secret", name=name, value=value))
        assert applied["status"] == "created", applied
        with anyio.fail_after(CALL_TIMEOUT_S):
            resource = await client.read_resource("mage://audit/recent")

    assert clusters.dev.secret_value(name) == value
    text = audit_log.read_text(encoding="utf-8")
    assert value not in text
    lines = audit_lines_for(audit_log, name)
    assert [line["outcome"] for line in lines] == ["pending", "applied"], lines
    pending, done = lines
    assert pending["attempt"] == done["attempt"]
    for line in lines:
        assert line["tool"] == "create_secret" and line["profile"] == "dev" and line["confirmation"] == "allow"
        assert line["arguments"] == {"name": name, "value": "***"}
    assert done["upstream"]["status"] == 200 and done["upstream"]["name"] == name, done

    contents = resource.contents[0]
    assert isinstance(contents, TextResourceContents)
    assert value not in contents.text
    recent = json.loads(contents.text)
    assert recent["path"] == str(audit_log)
    assert [(e["outcome"], e["attempt"]) for e in recent["entries"]] == [
        ("applied", pending["attempt"]),
        ("pending", pending["attempt"]),
    ]


# ------------------------------------------------------------------ 6. the pending line survives SIGKILL
class HangOnSecretCreate:
    """ASGI middleware: a secret creation is noticed (`reached`) and not answered until `release`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reached = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == SECRETS_ROUTE:
            self.reached.set()
            await anyio.to_thread.run_sync(self.release.wait, abandon_on_cancel=True)
            await Response(status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@contextmanager
def streamable_http_process(
    env: dict[str, str], cwd: Path, secrets: list[str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A `mage-mcp --transport streamable-http` process this test owns (it may kill it); yields it and its port."""
    port = free_port()
    with stderr_file() as err:
        proc = subprocess.Popen(
            mage_mcp_command("--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not port_open(port):
                assert proc.poll() is None, f"mage-mcp exited with {proc.returncode}:\n{read_text(err)}"
                assert time.monotonic() < deadline, f"mage-mcp did not listen within {STARTUP_TIMEOUT} s"
                time.sleep(0.05)
            yield proc, port
        finally:
            stop(proc)
        assert_no_secrets(read_text(err), secrets, "mage-mcp --transport streamable-http")


async def test_the_pending_line_is_on_disk_before_the_request_is_sent(tmp_path: Path, workdir: Path) -> None:
    fake = FakeMage(password=f"hang-pw-{uuid.uuid4().hex}")
    hang = HangOnSecretCreate(fake.app)
    audit_log = tmp_path / "audit.jsonl"
    value = secret_value()
    name = unique_name("killed")
    with serve_in_thread(hang) as url:
        env = server_env(
            MAGE_CLUSTER_URL=url,
            MAGE_EMAIL=fake.email,
            MAGE_PASSWORD=fake.password,
            MAGE_MCP_CONFIRM_FALLBACK="allow",
            MAGE_MCP_AUDIT_LOG=str(audit_log),
            XDG_CONFIG_HOME=str(tmp_path / "config"),
        )
        try:
            with streamable_http_process(env, workdir, [fake.password, value]) as (proc, port):
                await create_secret_until_killed(f"http://127.0.0.1:{port}/mcp", proc, hang, name, value)
                assert proc.returncode == -signal.SIGKILL
        finally:
            hang.release.set()

    text = audit_log.read_text(encoding="utf-8")
    assert value not in text
    lines = audit_lines(audit_log)
    assert lines, "the audit log is empty"
    last = lines[-1]
    assert (last["tool"], last["outcome"], last["confirmation"]) == ("create_secret", "pending", "allow"), lines
    assert last["arguments"] == {"name": name, "value": "***"}
    assert [line for line in lines if line["attempt"] == last["attempt"]] == [last]
    assert fake.secret_value(name) is None


async def create_secret_until_killed(
    url: str, proc: subprocess.Popen[bytes], hang: HangOnSecretCreate, name: str, value: str
) -> None:
    """Starts `create_secret`, SIGKILLs the server once the fake receives the POST, and abandons the call."""

    async def create() -> None:
        with contextlib.suppress(Exception):  # the server dies under the call: any error is expected
            await client.call_tool("create_secret", {"name": name, "value": value})

    killed = False
    try:
        with anyio.fail_after(CALL_TIMEOUT_S):
            client = Client(url)
            async with client, anyio.create_task_group() as group:
                group.start_soon(create)
                reached = await anyio.to_thread.run_sync(hang.reached.wait, CALL_TIMEOUT_S / 2)
                assert reached, "the server never sent the secret creation"
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                await anyio.to_thread.run_sync(proc.wait)
                group.cancel_scope.cancel()
    except* httpx2.TransportError:
        # The SDK's transport reports the dropped connection when the client closes; only after the kill.
        assert killed, "the connection to the server failed before the server was killed"
