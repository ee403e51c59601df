"""Async client for the Mage Cloud API, the control plane of Mage Pro clusters.

The contract (Mage's documentation): log in with `POST /sessions` and the `X-API-KEY`
header, then send the session token as the cookie `oauth_token`. A cluster is read and
written whole at `/teams/{team}/clusters/{cluster}`; start, stop and environment variables
are all edits of its `config` and `status`, sent back with every other field unchanged.

The API has no version field, so two read-modify-write updates could lose each other's
change. `update_cluster` serialises the writes to one cluster and applies the caller's change to
a fresh read inside the lock: this client's own lock, or one the caller shares with other
processes (`lock`, called with a name for the cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from ._http import HttpClient
from .defaults import DEFAULT_CLOUD_URL
from .errors import (
    MageApiError,
    MageAuthError,
    MageError,
    MageInvalidRequestError,
    MageNotFoundError,
    MageOutcomeUnknownError,
)
from .models import Cluster, ClusterUpdate

_DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class CloudClient(HttpClient):
    """The Mage Cloud API on one keep-alive `httpx.AsyncClient`; logs in lazily, once."""

    service = "Mage Cloud"

    def __init__(
        self,
        base_url: str = DEFAULT_CLOUD_URL,
        *,
        api_key: str,
        email: str,
        password: str,
        timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        lock: Callable[[str], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        super().__init__(base_url, "", api_key, timeout, transport)
        self._email = email
        self._password = password
        self._token: str | None = None
        self._login_lock = anyio.Lock()
        self._cluster_locks: dict[str, anyio.Lock] = {}
        self._lock = lock or self._own_lock

    async def get_cluster(self, team_id: str, cluster_id: str) -> Cluster:
        body = await self._request("GET", _cluster_path(team_id, cluster_id), what=_what(team_id, cluster_id))
        return _cluster_from(body)

    async def update_cluster(
        self,
        team_id: str,
        cluster_id: str,
        change: Callable[[Cluster], ClusterUpdate | None],
    ) -> tuple[Cluster, Cluster]:
        """Read the cluster, let `change` compute the update, write it; one writer per cluster.

        `change` returns None when nothing needs writing. Returns (before, after).
        """
        async with self._lock_for(team_id, cluster_id):
            before = await self.get_cluster(team_id, cluster_id)
            update = change(before)
            if update is None:
                return before, before
            payload: dict[str, Any] = {"config": update.config}
            if update.status is not None:
                payload["status"] = update.status
            path, what = _cluster_path(team_id, cluster_id), _what(team_id, cluster_id)
            try:
                body = await self._request("PUT", path, json={"cluster": payload}, what=what)
            except MageOutcomeUnknownError as lost:
                return before, await self._read_back(team_id, cluster_id, change, lost)
            after = _cluster_from(body) if isinstance(body.get("cluster"), dict) else None
            # The contract does not promise that a PUT echoes the cluster; re-read to report what is true.
            return before, after or await self.get_cluster(team_id, cluster_id)

    async def _read_back(
        self,
        team_id: str,
        cluster_id: str,
        change: Callable[[Cluster], ClusterUpdate | None],
        lost: MageOutcomeUnknownError,
    ) -> Cluster:
        """After a PUT whose answer was lost: the cluster when the change holds, else `MageApiError` saying it
        was not applied (and the unknown outcome again when the cluster cannot be read)."""
        try:
            now = await self.get_cluster(team_id, cluster_id)
        except MageError:
            raise lost from None
        if change(now) is not None:
            raise MageApiError(
                f"Mage Cloud's answer to the change of {_what(team_id, cluster_id)} was lost, and reading the "
                "cluster back shows the change was not applied: nothing changed.",
                hint="The call can be repeated.",
            )
        return now

    def _lock_for(self, team_id: str, cluster_id: str) -> AbstractAsyncContextManager[Any]:
        return self._lock(f"{self.base_url}/teams/{team_id}/clusters/{cluster_id}")

    def _own_lock(self, name: str) -> anyio.Lock:
        return self._cluster_locks.setdefault(name, anyio.Lock())

    async def _request(self, method: str, path: str, *, json: Any = None, what: str) -> dict[str, Any]:
        if self._token is None:
            await self._login()
        try:
            return await self._send(method, path, json=json, what=what)
        except MageAuthError:
            pass
        await self._login(force=True)
        return await self._send(method, path, json=json, what=what)

    async def _send(self, method: str, path: str, *, json: Any = None, what: str) -> dict[str, Any]:
        headers = {"Cookie": f"oauth_token={self._token}"} if self._token else None
        return _parse(await self._transport(method, path, json=json, headers=headers), what)

    async def _login(self, *, force: bool = False) -> None:
        stale = self._token
        async with self._login_lock:
            if self._token is not None and (not force or self._token != stale):
                return  # someone else logged in while we waited
            self._token = None
            body = await self._send(
                "POST",
                "/sessions",
                json={"session": {"email": self._email, "password": self._password}},
                what="the Mage Cloud session",
            )
            token = (body.get("session") or {}).get("token")
            if not isinstance(token, str) or not token:
                raise MageAuthError("Mage Cloud answered the login without a session token.")
            self._token = token


def _cluster_path(team_id: str, cluster_id: str) -> str:
    return f"/teams/{quote(team_id, safe='')}/clusters/{quote(cluster_id, safe='')}"


def _what(team_id: str, cluster_id: str) -> str:
    return f"cluster {cluster_id!r} of team {team_id!r}"


def _cluster_from(body: dict[str, Any]) -> Cluster:
    cluster = body.get("cluster")
    if not isinstance(cluster, dict):
        raise MageApiError("Mage Cloud answered without a `cluster` object.")
    return Cluster.model_validate(cluster)


def _parse(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if error is None and response.status_code < 400 and isinstance(body, dict):
        return body
    raise _error_from(error if isinstance(error, dict) else {}, response.status_code, what)


def _error_from(error: dict[str, Any], http_status: int, what: str) -> MageError:
    code = error.get("code") if isinstance(error.get("code"), int) else http_status
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    detail = f": {message[:300]}" if message else "."
    if http_status == 401 or code == 401:
        return MageAuthError(f"Mage Cloud refused the credentials{detail}", code=code, type=kind)
    if http_status == 403 or code == 403:
        return MageAuthError(f"Mage Cloud denied access to {what}{detail}", code=code, type=kind)
    if http_status == 404 or code == 404:
        return MageNotFoundError(f"Mage Cloud has no {what}.", code=code, type=kind)
    if http_status == 400 or code == 400:
        return MageInvalidRequestError(f"Mage Cloud rejected the request for {what}{detail}", code=code, type=kind)
    return MageApiError(f"Mage Cloud failed on {what} (HTTP {http_status}){detail}", code=code, type=kind)
