"""What both clients share: one keep-alive `httpx.AsyncClient`, its lifetime, and transport errors."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from .errors import MageConnectionError
from .exchanges import note_exchange


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
        """One HTTP exchange; a network failure becomes `MageConnectionError` (no URL path, no secret)."""
        try:
            response = await self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException:
            raise MageConnectionError(f"{self.service} at {self.base_url} did not answer in time.") from None
        except httpx.TransportError as exc:
            raise MageConnectionError(
                f"{self.service} at {self.base_url} is not reachable ({type(exc).__name__})."
            ) from None
        note_exchange(method, response.status_code)
        return response
