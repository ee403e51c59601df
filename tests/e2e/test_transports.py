"""The three transports, each through a real client against a real `mage-mcp` process."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.types import jsonrpc_message_adapter

from tests.support.processes import assert_no_secrets, mage_mcp_command, read_text, stderr_file, stop

from .conftest import (
    MODES,
    PIPELINE,
    TOOL_NAMES,
    Answers,
    Fakes,
    HttpServer,
    check_accepted_trigger,
    check_declined_trigger,
    check_tools_and_pipelines,
    http_server,
    stdio_session,
)

pytestmark = pytest.mark.anyio


# ------------------------------------------------------------------------------------ stdio
async def test_stdio_lists_tools_and_returns_compact_json(fakes: Fakes, workdir: Path) -> None:
    async with stdio_session(fakes, workdir) as client:
        result = await check_tools_and_pipelines(client)
    structured = result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == structured
    assert text == json.dumps(structured, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_stdio_confirmation(fakes: Fakes, workdir: Path, mode: str, action: str) -> None:
    answers = Answers(action)
    async with stdio_session(fakes, workdir, mode=mode, elicitation=answers) as client:
        if action == "accept":
            await check_accepted_trigger(client, answers, fakes)
        else:
            await check_declined_trigger(client, answers, fakes)


class LineReader:
    """Reads a pipe line by line in a thread, so the test can wait with a deadline."""

    def __init__(self, pipe: Any) -> None:
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.seen: list[bytes] = []
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe: Any) -> None:
        for line in iter(pipe.readline, b""):
            self.lines.put(line)
        self.lines.put(None)

    def until_response(self, request_id: int, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no response to request {request_id} within {timeout} s; stdout so far: {self.seen}")
            if line is None:
                pytest.fail(f"stdout closed before the response to request {request_id}; stdout: {self.seen}")
            self.seen.append(line)
            message = json.loads(line)
            if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
                return message

    def rest(self, timeout: float = 5.0) -> None:
        """Collect everything up to EOF."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "stdout did not reach EOF after the process exited"
        while (line := self.lines.get_nowait()) is not None:
            self.seen.append(line)


@pytest.fixture
def raw_stdio_server(fakes: Fakes, workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    with stderr_file() as err:
        proc = subprocess.Popen(
            mage_mcp_command(),
            env=fakes.env(),
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        try:
            yield proc, err
        finally:
            stop(proc)
            assert proc.stdout is not None
            proc.stdout.close()
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
        assert_no_secrets(read_text(err), fakes.secrets, "mage-mcp over raw stdio")


def test_stdio_stdout_carries_only_protocol(raw_stdio_server: tuple[subprocess.Popen[bytes], Any]) -> None:
    proc, err = raw_stdio_server
    assert proc.stdin is not None and proc.stdout is not None
    reader = LineReader(proc.stdout)

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    send(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "e2e-raw", "version": "0"},
            },
        }
    )
    init = reader.until_response(1)
    assert init["result"]["protocolVersion"] == "2025-06-18", init
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    listed = reader.until_response(2)
    assert len(listed["result"]["tools"]) == len(TOOL_NAMES), listed
    send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_pipelines", "arguments": {}}})
    called = reader.until_response(3)
    assert called["result"].get("isError") is not True, called
    assert PIPELINE in [p["uuid"] for p in called["result"]["structuredContent"]["pipelines"]]

    proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"mage-mcp did not exit within 5 s of stdin closing; stderr:\n{read_text(err)}")
    reader.rest()

    assert reader.seen, "nothing on stdout"
    for line in reader.seen:
        jsonrpc_message_adapter.validate_json(line)  # raises on anything that is not one JSON-RPC message
        assert line.endswith(b"\n")


# ---------------------------------------------------------------------- SSE, Streamable HTTP
@pytest.fixture(scope="module", params=["sse", "streamable-http"])
def server(request: pytest.FixtureRequest, fakes: Fakes, workdir: Path) -> Iterator[HttpServer]:
    with http_server(request.param, fakes.env(), workdir, fakes.secrets) as running:
        yield running


def connect(server: HttpServer, mode: str, elicitation: Answers | None = None) -> Client:
    target: Any = sse_client(server.url) if server.transport == "sse" else server.url
    return Client(target, mode=mode, elicitation_callback=elicitation)


@pytest.mark.parametrize("mode", MODES)
async def test_http_transport_end_to_end(server: HttpServer, fakes: Fakes, mode: str) -> None:
    answers = Answers("accept", "decline")
    async with connect(server, mode, answers) as client:
        await check_tools_and_pipelines(client)
        await check_accepted_trigger(client, answers, fakes)
        await check_declined_trigger(client, answers, fakes)
    assert answers.queued == []
