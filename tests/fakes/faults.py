"""Faults between the server and a fake: a transport that refuses, drops, loses answers or answers 5xx.

`FaultyTransport` wraps the transport to a fake (or any other); each injected `Fault` matches requests by
method and path prefix and acts on the next `times` of them. What reached the fake is still read from
the fake's own recorder: a dropped or refused request never gets there, a lost answer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

FaultKind = Literal["refuse", "drop", "lose_answer", "cut", "status", "gateway"]
"""refuse: no connection (nothing sent); drop: sent, never arrives, times out; lose_answer: arrives and is
handled, the answer times out; cut: arrives, the answer's connection closes early; status: a bare HTTP answer
(nothing arrives); gateway: arrives and is handled, and a gateway answers a bare `status` instead."""


@dataclass
class Fault:
    method: str
    path: str
    kind: FaultKind
    times: int = 1
    status: int = 503
    after: int = 0
    """Matching requests to let through first."""

    def matches(self, request: httpx.Request) -> bool:
        return self.times > 0 and request.method == self.method and request.url.path.startswith(self.path)


class FaultyTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.faults: list[Fault] = []
        self.attempts: list[tuple[str, str]] = []
        """Every request the server tried, faulty or not: method and path."""

    def inject(
        self, method: str, path: str, kind: FaultKind, *, times: int = 1, status: int = 503, after: int = 0
    ) -> None:
        self.faults.append(Fault(method, path, kind, times, status, after))

    def tried(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.attempts if m == method and p.startswith(path))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts.append((request.method, request.url.path))
        fault = next((f for f in self.faults if f.matches(request)), None)
        if fault is not None and fault.after > 0:
            fault.after -= 1
            fault = None
        if fault is None:
            return await self.inner.handle_async_request(request)
        fault.times -= 1
        if fault.kind == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if fault.kind == "drop":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault.kind == "status":
            return httpx.Response(fault.status, text="upstream unavailable", request=request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if fault.kind == "gateway":
            return httpx.Response(fault.status, text="bad gateway", request=request)
        if fault.kind == "lose_answer":
            raise httpx.ReadTimeout("timed out", request=request)
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=request)
