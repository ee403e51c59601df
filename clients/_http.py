"""What both clients share: one keep-alive `httpx.AsyncClient`, its lifetime, retries and transport errors.

A read is retried on a network failure or a 502/503/504, a few times with exponential backoff and jitter
(`stamina`), then fails with `MageConnectionError`. A change is never retried: when its connection could
not be made nothing was sent (`MageConnectionError`); when it failed later, or a 502/503/504 answered it
(which a gateway in front of Mage may send after Mage applied it), the change may have been applied
(`MageOutcomeUnknownError`), and the caller must read Mage to know.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx
import stamina

from .errors import MageConnectionError, MageOutcomeUnknownError
from .exchanges import note_exchange

READS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRIED_STATUSES = frozenset({502, 503, 504})
READ_ATTEMPTS = 3
READ_BACKOFF: dict[str, Any] = {"attempts": READ_ATTEMPTS, "timeout": 30, "wait_max": 2.0, "wait_jitter": 0.3}
"""About 0.1 s, then 0.2 s, each plus up to 0.3 s of jitter; 30 s in all at most."""
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: a change is known not to have happened."""


class _Unavailable(Exception):
    """A 502/503/504 answer to a read, raised so that `stamina` retries it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response


class HttpClient:
    """Base of the two API clients. `service` names the API in error messages."""

    service = "Mage"

    def __init__(
        self,
        base_url: str,
        api_prefix: str,
        api_key: str,
        timeout: httpx.Timeout | float,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}{api_prefix}",
            headers={"X-API-KEY": api_key, "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _transport(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One HTTP exchange (a read with its retries); a network failure becomes a `MageConnectionError`
        that names neither the URL path nor any secret."""
        if method.upper() not in READS:
            return await self._exchange(method, path, params=params, json=json, headers=headers)
        try:
            async for attempt in stamina.retry_context(on=(httpx.TransportError, _Unavailable), **READ_BACKOFF):
                with attempt:
                    return await self._read(method, path, params=params, headers=headers)
        except _Unavailable as unavailable:
            return unavailable.response
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        raise AssertionError("stamina ends with an answer or an exception")  # pragma: no cover

    async def _read(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        response = await self._http.request(method, path, params=params, headers=headers)
        note_exchange(method, response.status_code)
        if response.status_code in RETRIED_STATUSES:
            raise _Unavailable(response)
        return response

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, params=params, json=json, headers=headers)
        except _NOT_SENT as exc:
            raise self._unreachable(exc) from None
        except httpx.TransportError as exc:
            note_exchange(method, None)
            raise MageOutcomeUnknownError(
                f"{self.service} at {self.base_url} took the request but its answer never came "
                f"({type(exc).__name__}): the change may or may not have been applied."
            ) from None
        note_exchange(method, response.status_code)
        if response.status_code in RETRIED_STATUSES:  # a gateway's answer, as a rule: did Mage get the change?
            raise MageOutcomeUnknownError(
                f"{self.service} at {self.base_url} answered HTTP {response.status_code} (unavailable, or a gateway "
                "that lost Mage's answer): the change may or may not have been applied."
            )
        return response

    def _unreachable(self, exc: httpx.TransportError) -> MageConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return MageConnectionError(f"{self.service} at {self.base_url} did not answer in time.")
        return MageConnectionError(f"{self.service} at {self.base_url} is not reachable ({type(exc).__name__}).")
