"""Request recording shared by the fakes, and a helper to serve an ASGI app on a real port.

Every fake wraps its app in :class:`RecordingMiddleware`, which records each HTTP request
(method, path, query, headers, JSON body) *before* the app sees it, so requests the app
rejects (bad key, expired token, malformed body) are visible to tests as well.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake received it."""

    method: str
    path: str  # without the query string
    query: dict[str, str] = field(default_factory=dict)  # first value of each key
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    json: Any | None = None  # the parsed JSON body, or None (no body, or not JSON)

    @property
    def is_mutation(self) -> bool:
        return self.method.upper() not in READ_ONLY_METHODS


class Recorder:
    """A thread-safe list of :class:`RecordedRequest`, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot copy of every request recorded so far."""
        with self._lock:
            return list(self._requests)

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def mutations(self, path_prefix: str | None = None) -> list[RecordedRequest]:
        """Requests whose method is not GET/HEAD/OPTIONS, optionally only under ``path_prefix``."""
        return [
            r
            for r in self.requests
            if r.is_mutation and (path_prefix is None or r.path.startswith(path_prefix))
        ]

    def filter(self, method: str | None = None, path_prefix: str | None = None) -> list[RecordedRequest]:
        """Requests matching ``method`` (case-insensitive) and/or ``path_prefix``."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
        ]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._requests)


def _parse_query(raw: bytes) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        query.setdefault(key, value)  # Mage reads the first value of a repeated key
    return query


def _parse_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _parse_json(body: bytes) -> Any | None:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class RecordingMiddleware:
    """Pure ASGI middleware: read the whole body, record the request, replay it to ``app``."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)

        self.recorder.add(
            RecordedRequest(
                method=str(scope["method"]).upper(),
                path=str(scope["path"]),
                query=_parse_query(scope.get("query_string", b"")),
                headers=_parse_headers(list(scope.get("headers", []))),
                json=_parse_json(body),
            )
        )

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``host`` and a free port, in a daemon thread.

    Yields the base URL (``http://127.0.0.1:<port>``) once the server accepts connections, and
    shuts the server down (and joins the thread) on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"fake-uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if not thread.is_alive():
                raise RuntimeError("the uvicorn thread exited before it started serving")
            if server.started:
                try:
                    with socket.create_connection((host, port), timeout=0.5):
                        break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {host}:{port} within {startup_timeout} s")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
