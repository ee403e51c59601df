"""HTTP transports: Host/Origin protection, the non-loopback guard, bearer-token auth, no secrets in logs."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.ports import free_port, port_open
from tests.support.processes import assert_no_secrets, mage_mcp_command, read_text, stderr_file, stop

from .conftest import (
    MODES,
    Fakes,
    HttpServer,
    check_tools_and_pipelines,
    http_server,
)

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
TOKEN = f"e2e-token-{secrets.token_urlsafe(24)}"


def post_initialize(url: str, **headers: str) -> httpx.Response:
    return httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=10)


# --------------------------------------------------------------------- Host/Origin protection
@pytest.fixture(scope="module")
def open_http_server(fakes: Fakes, workdir: Path) -> Iterator[HttpServer]:
    """Streamable HTTP on 127.0.0.1 without MAGE_MCP_AUTH_TOKEN."""
    with http_server("streamable-http", fakes.env(), workdir, fakes.secrets) as running:
        yield running


def test_local_host_and_origin_are_accepted(open_http_server: HttpServer) -> None:
    """The control for the two checks below: the same request with a local Host and Origin works."""
    response = post_initialize(open_http_server.url, Origin=open_http_server.base)
    assert response.status_code == 200, response.text
    assert '"protocolVersion":"2025-06-18"' in response.text.replace(" ", "")


def test_foreign_host_is_rejected(open_http_server: HttpServer) -> None:
    response = post_initialize(open_http_server.url, Host="evil.example")
    assert response.status_code == 421, response.text


def test_a_load_balancers_public_name_is_accepted_once_allowed_and_others_still_rejected(
    fakes: Fakes, workdir: Path
) -> None:
    env = fakes.env(MAGE_MCP_ALLOWED_HOSTS="mcp.example.test, other.example.test")
    with http_server("streamable-http", env, workdir, fakes.secrets) as running:
        for host in ("mcp.example.test", "mcp.example.test:443", "other.example.test"):
            response = post_initialize(running.url, Host=host, Origin=f"https://{host}")
            assert response.status_code == 200, (host, response.text)
        assert post_initialize(running.url, Host="evil.example").status_code == 421
        assert post_initialize(running.url, Origin="https://evil.example").status_code == 403
        assert post_initialize(running.url).status_code == 200  # loopback names stay allowed


def test_foreign_origin_is_rejected(open_http_server: HttpServer) -> None:
    response = post_initialize(open_http_server.url, Origin="http://evil.example")
    assert response.status_code == 403, response.text


# ------------------------------------------------------------------ non-loopback without token
@pytest.mark.parametrize("host", ["0.0.0.0", "::"])  # noqa: S104 (the server must refuse these)
def test_non_loopback_bind_without_token_is_refused(fakes: Fakes, workdir: Path, host: str) -> None:
    port = free_port()
    with stderr_file() as err:
        proc = subprocess.Popen(
            mage_mcp_command("--transport", "streamable-http", "--host", host, "--port", str(port)),
            env=fakes.env(),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        listened = False
        try:
            deadline = time.monotonic() + 15
            while proc.poll() is None and time.monotonic() < deadline:
                listened = listened or port_open(port)
                time.sleep(0.02)
            exited = proc.poll() is not None
        finally:
            stop(proc)
        stderr = read_text(err)
    assert exited, f"mage-mcp kept running on {host} without MAGE_MCP_AUTH_TOKEN; stderr:\n{stderr}"
    assert proc.returncode != 0, stderr
    assert not listened, f"mage-mcp listened on {host} before exiting"
    assert "MAGE_MCP_AUTH_TOKEN" in stderr, stderr
    assert_no_secrets(stderr, fakes.secrets, f"mage-mcp --host {host}")


# --------------------------------------------------------------------------- bearer token
@pytest.fixture(scope="module", params=["sse", "streamable-http"])
def token_server(request: pytest.FixtureRequest, fakes: Fakes, workdir: Path) -> Iterator[HttpServer]:
    """An HTTP transport on 127.0.0.1 with MAGE_MCP_AUTH_TOKEN set; its stderr must not show the token."""
    env = fakes.env(MAGE_MCP_AUTH_TOKEN=TOKEN)
    with http_server(request.param, env, workdir, [*fakes.secrets, TOKEN]) as running:
        yield running


WRONG_AUTHORIZATION = {
    "missing": None,
    "wrong-bearer": "Bearer not-the-token",
    "token-plus-suffix": f"Bearer {TOKEN}x",
    "token-prefix": f"Bearer {TOKEN[:-1]}",
    "no-scheme": TOKEN,
}


@pytest.mark.parametrize("authorization", WRONG_AUTHORIZATION.values(), ids=WRONG_AUTHORIZATION.keys())
def test_request_without_the_right_bearer_is_401(token_server: HttpServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    if token_server.transport == "sse":
        responses = [
            httpx.get(token_server.url, headers={"Accept": "text/event-stream", **headers}, timeout=10),
            httpx.post(
                f"{token_server.base}/messages/?session_id=0123456789abcdef0123456789abcdef",
                json=INITIALIZE,
                headers={"Content-Type": "application/json", **headers},
                timeout=10,
            ),
        ]
    else:
        responses = [post_initialize(token_server.url, **headers)]
    for response in responses:
        assert response.status_code == 401, (response.request.method, response.request.url, response.text)
        assert TOKEN not in response.text


def _authorized_transport(server: HttpServer, http: httpx2.AsyncClient) -> Any:
    if server.transport == "sse":
        return sse_client(server.url, headers={"Authorization": f"Bearer {TOKEN}"})
    return streamable_http_client(server.url, http_client=http)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_client_with_the_right_bearer_works(token_server: HttpServer, mode: str) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        Client(_authorized_transport(token_server, http), mode=mode) as client,
    ):
        await check_tools_and_pipelines(client)
