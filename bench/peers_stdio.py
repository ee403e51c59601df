"""A raw JSON-RPC client of one stdio MCP server: newline-delimited JSON written to its stdin, lines read back.

No SDK on the client side, so what is timed is the server's cost (and the pipe's), as in the anchors'
`rawstdio.py`. One request at a time; messages without the awaited id (server notifications) are skipped.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bench import INITIALIZE_LINE

SESSION_TIMEOUT_S = 900  # the server is killed if a session lasts longer (a hung server must not hang the bench)


@dataclass(frozen=True)
class Reply:
    message: dict[str, Any]
    line_bytes: int  # the response line as it came over the pipe

    @property
    def result(self) -> dict[str, Any]:
        result = self.message.get("result")
        if not isinstance(result, dict):
            raise RuntimeError(f"JSON-RPC error: {str(self.message.get('error'))[:500]}")
        return result

    def tool_text(self) -> str:
        """The first text content of a successful tools/call result."""
        result = self.result
        if result.get("isError"):
            raise RuntimeError(f"tool error: {str(result.get('content'))[:500]}")
        return str(result["content"][0]["text"])


class LineClient:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self._argv, self._env, self._cwd = list(argv), dict(env), cwd
        self._next_id = 2  # 1 is INITIALIZE_LINE's
        self._errors: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: threading.Timer | None = None
        self.initialize: Reply | None = None

    def __enter__(self) -> LineClient:
        self._errors = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, env=self._env, cwd=self._cwd
        )
        self._watchdog = threading.Timer(SESSION_TIMEOUT_S, self._proc.kill)
        self._watchdog.start()
        try:
            self._write(INITIALIZE_LINE)
            self.initialize = self._read_reply(1)
            self.notify("notifications/initialized")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        proc = self._proc
        if proc is not None:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._errors is not None:
            self._errors.close()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(_line(message))

    def request(self, method: str, params: dict[str, Any]) -> Reply:
        request_id, self._next_id = self._next_id, self._next_id + 1
        self._write(_line({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))
        return self._read_reply(request_id)

    def call_tool(self, name: str, arguments: dict[str, Any]) -> Reply:
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def _write(self, line: bytes) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(line)
        self._proc.stdin.flush()

    def _read_reply(self, request_id: int) -> Reply:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{' '.join(self._argv)} closed its stdout; stderr:\n{self._stderr_tail()}")
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                return Reply(message, len(line))

    def _stderr_tail(self) -> str:
        if self._errors is None:
            return ""
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace")[-2000:]


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()
