"""A loopback HTTP proxy of the test suite's own, between mage-mcp and a real Mage (or a local Mage Cloud),
that injects faults.

Every request is forwarded to the upstream unless a `ProxyFault` matches it (method and path prefix, for
its next `times` requests):

- `status`: answer a bare HTTP `status` (502, 503, ...) without forwarding;
- `mage_error`: answer HTTP 200 with one of Mage's error bodies (`body`) without forwarding;
- `cut`: forward, then send the answer's headers and only half its body: the request was handled, and its
  answer breaks off (the client sees the connection close early);
- `expire_session`: forward with a session token the upstream does not know, as after an expired session:
  the Cloud API's `oauth_token` cookie when the request carries one, else a Bearer token for Mage;
- `drop`: without forwarding, start an answer and break it off: the request was never handled, though the
  client cannot tell that from a `cut`;
- `stall`: forward, then hold the answer `delay` seconds: the request was handled, and its answer comes
  too late for a client whose timeout is shorter.

`requests` lists what reached the proxy; `forwarded` what it passed on to Mage.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from tests.fakes.recording import serve_in_thread

ProxyFaultKind = Literal["status", "mage_error", "cut", "expire_session", "drop", "stall"]
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}
_UNKNOWN_TOKEN = "expired-session-token"
_OAUTH_COOKIE = re.compile(r"(?<![^;\s])oauth_token=[^;]*")


@dataclass
class ProxyFault:
    method: str
    path: str
    kind: ProxyFaultKind
    times: int = 1
    status: int = 503
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[ProxyFault] = []
        self.requests: list[tuple[str, str]] = []
        self.forwarded: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def inject(self, method: str, path: str, kind: ProxyFaultKind, **fields: Any) -> None:
        with self._lock:
            self.faults.append(ProxyFault(method, path, kind, **fields))

    def clear_faults(self) -> None:
        """Forget every fault not yet used up: from now on everything is forwarded."""
        with self._lock:
            self.faults.clear()

    def count(self, seen: list[tuple[str, str]], method: str, path: str) -> int:
        return sum(1 for m, p in seen if m == method and p.startswith(path))

    def _take(self, method: str, path: str) -> ProxyFault | None:
        with self._lock:
            self.requests.append((method, path))
            matching = (f for f in self.faults if f.times > 0 and f.method == method and path.startswith(f.path))
            fault = next(matching, None)
            if fault is not None:
                fault.times -= 1
            return fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        fault = self._take(request.method, request.url.path)
        if fault is not None and fault.kind in ("status", "mage_error"):
            status, body = (fault.status, b"unavailable") if fault.kind == "status" else (200, _json(fault.body))
            await _answer(send, status, [(b"content-type", b"application/json")], body)
            return
        if fault is not None and fault.kind == "drop":
            await _break_off(send, 200, [(b"content-type", b"application/json")], b"{}")
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if fault is not None and fault.kind == "expire_session":
            _expire_session(headers)
        async with httpx.AsyncClient(base_url=self.upstream, timeout=60) as client:
            upstream = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        with self._lock:
            self.forwarded.append((request.method, request.url.path))
        if fault is not None and fault.kind == "stall":
            await anyio.sleep(fault.delay)
        answer_headers = [(k.encode(), v.encode()) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP]
        if fault is not None and fault.kind == "cut":
            await _break_off(send, upstream.status_code, answer_headers, upstream.content)
            return
        await _answer(send, upstream.status_code, answer_headers, upstream.content)


def _expire_session(headers: dict[str, str]) -> None:
    """Swap the session token for one the upstream does not know: the Cloud API's cookie, or Mage's Bearer."""
    cookie = headers.get("cookie", "")
    has_cookie_session = _OAUTH_COOKIE.search(cookie) is not None
    if has_cookie_session:
        headers["cookie"] = _OAUTH_COOKIE.sub(f"oauth_token={_UNKNOWN_TOKEN}", cookie)
    if "authorization" in headers or not has_cookie_session:
        headers["authorization"] = f"Bearer {_UNKNOWN_TOKEN}"


async def _break_off(send: Send, status: int, headers: list[tuple[bytes, bytes]], full: bytes) -> None:
    """Announce `full`'s length, then send only half of it and end the answer."""
    headers = [*headers, (b"content-length", str(len(full)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": full[: len(full) // 2], "more_body": False})


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def fault_proxy(upstream: str) -> Iterator[tuple[FaultProxy, str]]:
    """A proxy to `upstream` on a free loopback port: the proxy and its base URL."""
    proxy = FaultProxy(upstream)
    with serve_in_thread(proxy) as url:
        yield proxy, url
