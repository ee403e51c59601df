"""The session every resource API of a Mage cluster shares: login, authenticated requests, errors.

What it hides, so callers don't have to know:
- Mage answers most errors with HTTP 200 and an `error` body, in three shapes; every
  response is checked and turned into one `MageError` subclass.
- When the cluster requires authentication (`GET /api/statuses` says so), it logs in once,
  unwraps the JWT Mage returns, sends the inner token as a Bearer credential, and logs in
  again once when the token is rejected.
- Error `message` strings are unreliable (Mage mutates shared error dicts), so errors are
  classified by `code` / `type`, and for unhandled exceptions by `exception`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx

from .._http import HttpClient
from ..defaults import MAGE_PUBLIC_API_KEY
from ..errors import (
    MageApiError,
    MageAuthError,
    MageError,
    MageInvalidRequestError,
    MageNotFoundError,
    MageOutcomeUnknownError,
    Subject,
)
from ..models import Credentials, MageModel, Page

_TOKEN_REJECTED = frozenset({"invalid_oauth_token", "expired_oauth_token"})
_DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class ClusterSession(HttpClient):
    """One Mage cluster's `/api`, over a single keep-alive `httpx.AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = MAGE_PUBLIC_API_KEY,
        credentials: Credentials | None = None,
        timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, "/api", api_key, timeout, transport)
        self._credentials = credentials
        self._auth_required: bool | None = None
        self._bearer: str | None = None
        self._login_lock = anyio.Lock()
        self._key_locks: dict[str, anyio.Lock] = {}

    async def requires_authentication(self) -> bool:
        body = await self._send("GET", "/statuses", authenticate=False)
        statuses = body.get("statuses") or [{}]
        return bool(statuses[0].get("require_user_authentication", False))

    async def is_answering(self, timeout_s: float = 3.0) -> bool:
        """Whether the cluster's API answers `GET /api/statuses` with its statuses within `timeout_s`.

        Needs no login and never raises for an unreachable, slow or broken server: it says False.
        """
        with anyio.move_on_after(timeout_s):
            try:
                response = await self._http.get("/statuses", timeout=timeout_s)
                body = response.json()
            except (httpx.HTTPError, ValueError):
                return False
            return response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("statuses"), list)
        return False

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        what: Subject | None = None,
    ) -> dict[str, Any]:
        """Send an authenticated request; return the body or raise a `MageError`.

        `what` names the object the path addresses, for a readable not-found error.
        """
        await self._ensure_login()
        rejected = self._bearer
        try:
            return await self._send(method, path, params=params, json=json, what=what)
        except MageAuthError as exc:
            if exc.type not in _TOKEN_REJECTED or self._credentials is None:
                raise
        await self._login(replacing=rejected)
        return await self._send(method, path, params=params, json=json, what=what)

    def _lock_for(self, key: str) -> anyio.Lock:
        """A lock per key, for the read-then-write sequences that must not interleave."""
        return self._key_locks.setdefault(key, anyio.Lock())

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        what: Subject | None = None,
        authenticate: bool = True,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._bearer}"} if authenticate and self._bearer else None
        try:
            response = await self._transport(method, path, params=params, json=json, headers=headers)
        except MageOutcomeUnknownError as exc:
            raise MageOutcomeUnknownError(exc.message, kind=what.kind if what else None) from None
        return _parse(response, what)

    async def _ensure_login(self) -> None:
        if self._auth_required is False or self._bearer is not None:
            return
        async with self._login_lock:
            if self._auth_required is None:
                self._auth_required = await self.requires_authentication()
            if self._auth_required and self._bearer is None:
                await self._login_locked()

    async def _login(self, *, replacing: str | None) -> None:
        async with self._login_lock:
            if self._bearer is None or self._bearer == replacing:  # else a concurrent call already did it
                await self._login_locked()

    async def _login_locked(self) -> None:
        if self._credentials is None:
            raise MageAuthError(
                "This Mage cluster requires a login and no email/password is configured.",
                type="login_required",
            )
        self._bearer = None
        try:
            body = await self._send(
                "POST",
                "/sessions",
                json={"session": {"email": self._credentials.email, "password": self._credentials.password}},
                authenticate=False,
            )
        except MageNotFoundError:
            # Mage reports a wrong email or password as a 404 record_not_found.
            raise MageAuthError(
                "Mage refused the login: wrong email or password.", code=404, type="record_not_found"
            ) from None
        self._bearer = _inner_token(body["session"]["token"])


Item = TypeVar("Item", bound=MageModel)


def page_of(body: dict[str, Any], key: str, model: type[Item]) -> Page[Item]:
    """One page of a list answer: its items, Mage's total `count` and whether `next` pages follow."""
    meta = body.get("metadata") or {}
    return Page(
        items=[model.model_validate(item) for item in body.get(key, [])],
        total=meta.get("count"),
        has_more=bool(meta.get("next")),
    )


def segment(value: str) -> str:
    """Quote a path segment; Mage's routes accept `%2F` inside a pk."""
    return quote(value, safe="")


def _inner_token(jwt: str) -> str:
    """Mage's session token is a JWT whose payload carries the real token; Bearer needs the latter."""
    try:
        payload = jwt.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(decoded["token"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return jwt


def _parse(response: httpx.Response, what: Subject | None) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise MageApiError(
            f"Mage answered HTTP {response.status_code} with a body that is not JSON.", code=response.status_code
        ) from None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        raise _error_from(body["error"], response.status_code, what)
    if response.status_code >= 400 or not isinstance(body, dict):
        raise MageApiError(f"Mage answered HTTP {response.status_code}.", code=response.status_code)
    return body


def _error_from(error: dict[str, Any], http_status: int, what: Subject | None) -> MageError:
    code = error.get("code") if isinstance(error.get("code"), int) else None
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    exception = error.get("exception")
    if isinstance(exception, str):
        # An unhandled server exception: `message` is a traceback, `exception` the real text.
        text = exception.strip().splitlines()[0][:300] if exception.strip() else "unknown error"
        if "does not exist" in text or "'code': 404" in text:
            return MageNotFoundError(f"{_named(what)} does not exist.", code=code, kind=_kind(what))
        return MageApiError(f"Mage failed: {text}", code=code)
    if http_status == 401 or kind in {"invalid_api_key", *_TOKEN_REJECTED}:
        return MageAuthError(_AUTH_MESSAGES.get(kind or "", "Mage refused the credentials."), code=code, type=kind)
    if kind == "unauthorized_access" or code == 403:
        return MageAuthError("Mage denied access to this operation.", code=code, type=kind)
    if kind == "record_invalid" and (missing := _missing_block(error)) is not None:
        return MageNotFoundError(f"{missing} does not exist.", code=code, type=kind, kind="block")
    if kind == "record_not_found" or code == 404:
        # Mage's 404 message is often wrong (shared dicts mutated by its login code): don't repeat it.
        return MageNotFoundError(f"{_named(what)} was not found.", code=404, type=kind, kind=_kind(what))
    if kind in {"record_invalid", "api_resource_error"} or code == 400:
        detail = _validation_detail(error)
        return MageInvalidRequestError(f"Mage rejected the request: {detail}", code=code, type=kind)
    return MageApiError("Mage reported an error.", code=code, type=kind)


_AUTH_MESSAGES = {
    "invalid_api_key": "Mage rejected the API key.",
    "invalid_oauth_token": "Mage rejected the session token.",
    "expired_oauth_token": "The Mage session expired.",
}


_MISSING_BLOCK = re.compile(r"Block (?P<block>\S+) does not exist in pipeline (?P<pipeline>\S+)\.")


def _missing_block(error: dict[str, Any]) -> str | None:
    """Mage answers an unknown block with a 400 `record_invalid`; its message is reliable (a copied dict)."""
    message = error.get("message")
    found = _MISSING_BLOCK.fullmatch(message) if isinstance(message, str) else None
    return f"Block {found['block']!r} of pipeline {found['pipeline']!r}" if found else None


def _validation_detail(error: dict[str, Any]) -> str:
    errors: object = error.get("errors")
    if isinstance(errors, dict) and isinstance(errors.get("error"), str):
        return str(errors["error"])[:300]
    message: object = error.get("message")
    return message[:300] if isinstance(message, str) else "invalid input"


def _named(what: Subject | None) -> str:
    text = str(what) if what else "the object"
    return text[:1].upper() + text[1:]


def _kind(what: Subject | None) -> str | None:
    return what.kind if what else None
