"""The Mage Cloud API contract, served by Starlette over the local clusters.

`POST /api/v1/sessions` takes `X-API-KEY` and `{"session": {"email", "password"}}` and returns
`session.token`; every other call needs the API key and the cookie `oauth_token`.
`GET` / `PUT /api/v1/teams/{team}/clusters/{cluster}` read and write `{"cluster": {...}}`.
Errors are always `{"error": {"code", "message", "type"}}` with that HTTP status, and an
error changes nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import state as state_file
from .clusters import ClusterProcesses
from .state import CloudState, ClusterRecord

log = logging.getLogger("mage_mcp.local_cloud")

TOKEN_TTL_S = 24 * 3600
STATUSES = {"Active": 1, "Stopped": 0}  # status -> the replicaCount it goes with


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.status, "message": self.message, "type": self.type}}
        return JSONResponse(body, status_code=self.status)


class LocalCloud:
    """The API's behaviour over a `CloudState`, with the cluster processes made real."""

    def __init__(
        self,
        state: CloudState,
        state_dir: Path,
        processes: ClusterProcesses,
        *,
        clock: Callable[[], float] = time.time,
        token_ttl_s: float = TOKEN_TTL_S,
    ) -> None:
        self.state = state
        self.state_dir = state_dir
        self.processes = processes
        self._clock = clock
        self._token_ttl_s = token_ttl_s
        self._tokens: dict[str, float] = {}
        self._writes = anyio.Lock()  # one PUT at a time, each applied whole
        self.app = Starlette(
            routes=[
                Route("/api/v1/sessions", self._login, methods=["POST"]),
                Route("/api/v1/teams/{team_id}/clusters/{cluster_id}", self._cluster, methods=["GET", "PUT"]),
            ],
            exception_handlers={HTTPException: _http_error, Exception: _unexpected},  # type: ignore[dict-item]
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def resume(self) -> None:
        """Start the clusters that were Active when the local cloud last stopped."""
        for cluster in self.state.clusters.values():
            if cluster.status == "Active" and not self.processes.is_running(cluster):
                await self.processes.start(cluster)

    async def shutdown(self) -> None:
        """Stop every running cluster, keeping its stored status for the next start."""
        async with self._writes:
            for cluster in self.state.clusters.values():
                if self.processes.is_running(cluster):
                    await self.processes.stop(cluster)

    # -- routes --------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        try:
            self._check_api_key(request)
            session = _object(await _json(request), "session")
            email, password = session.get("email"), session.get("password")
            if not isinstance(email, str) or not isinstance(password, str):
                raise ApiError(400, "invalid_request", "Send {\"session\": {\"email\": ..., \"password\": ...}}.")
            if not (_same(email, self.state.email) & _same(password, self.state.password)):
                raise ApiError(401, "invalid_login", "Email or password invalid.")
        except ApiError as exc:
            return exc.response()
        token = secrets.token_urlsafe(32)
        expires = self._clock() + self._token_ttl_s
        self._tokens[token] = expires
        return JSONResponse(
            {"session": {"token": token, "expires": datetime.fromtimestamp(expires, UTC).isoformat()}}
        )

    async def _cluster(self, request: Request) -> Response:
        try:
            self._check_api_key(request)
            self._check_session(request)
            cluster = self._find(request.path_params["team_id"], request.path_params["cluster_id"])
            if request.method == "PUT":
                config, status = _parse_update(await _json(request), cluster)
                cluster = await self._apply(cluster.id, config, status)
        except ApiError as exc:
            return exc.response()
        return JSONResponse({"cluster": cluster.as_api()})

    # -- checks --------------------------------------------------------------------------

    def _check_api_key(self, request: Request) -> None:
        if not _same(request.headers.get("x-api-key", ""), self.state.api_key):
            raise ApiError(401, "invalid_api_key", "Invalid API key.")

    def _check_session(self, request: Request) -> None:
        token = request.cookies.get("oauth_token")
        if not token:
            raise ApiError(401, "invalid_oauth_token", "Log in first; send the session token as cookie oauth_token.")
        expires = self._tokens.get(token)
        if expires is None:
            raise ApiError(401, "invalid_oauth_token", "Invalid session token.")
        if self._clock() >= expires:
            del self._tokens[token]
            raise ApiError(401, "expired_oauth_token", "The session expired; log in again.")

    def _find(self, team_id: str, cluster_id: str) -> ClusterRecord:
        if team_id != self.state.team_id:
            raise ApiError(404, "record_not_found", f"No team {team_id!r}.")
        cluster = self.state.clusters.get(cluster_id)
        if cluster is None:
            raise ApiError(404, "record_not_found", f"No cluster {cluster_id!r} in team {team_id!r}.")
        return cluster

    # -- the write ------------------------------------------------------------------------

    async def _apply(self, cluster_id: str, config: dict[str, Any] | None, status: str | None) -> ClusterRecord:
        async with self._writes:
            before = self.state.clusters[cluster_id]
            after = before.model_copy(
                update={"config": before.config if config is None else config, "status": status or before.status}
            )
            if after.config.get("replicaCount") != STATUSES[after.status]:
                raise ApiError(
                    400,
                    "invalid_request",
                    f"replicaCount {after.config.get('replicaCount')} and status {after.status} disagree: "
                    "Active goes with replicaCount 1, Stopped with 0.",
                )
            try:
                await self._make_real(before, after)
                self._persist(after)
            except Exception as exc:
                log.error("cluster %s: %s", cluster_id, exc)
                await self._restore(before)
                raise ApiError(500, "internal_error", f"Cluster {cluster_id} could not be changed: {exc}") from None
            return after

    def _persist(self, cluster: ClusterRecord) -> None:
        """Write the new state to disk first; only then is it the state this server answers with."""
        updated = self.state.model_copy(update={"clusters": {**self.state.clusters, cluster.id: cluster}})
        state_file.save(self.state_dir, updated)
        self.state = updated

    async def _make_real(self, before: ClusterRecord, after: ClusterRecord) -> None:
        running = self.processes.is_running(before)
        if after.status == "Stopped":
            if running:
                await self.processes.stop(before)
        elif not running:
            await self.processes.start(after)
        elif after.env != before.env:
            await self.processes.stop(before)  # the old processes go before the new ones start
            await self.processes.start(after)

    async def _restore(self, before: ClusterRecord) -> None:
        running = self.processes.is_running(before)
        try:
            if before.status == "Active" and not running:
                await self.processes.start(before)
            elif before.status == "Stopped" and running:
                await self.processes.stop(before)
        except Exception as exc:
            log.error("cluster %s could not be put back as it was: %s", before.id, exc)


def _parse_update(body: Any, cluster: ClusterRecord) -> tuple[dict[str, Any] | None, str | None]:
    """The new config (whole, or None to keep) and status (or None to keep) of a PUT body."""
    update = _object(body, "cluster")
    status = update.get("status")
    if status is not None and not (isinstance(status, str) and status in STATUSES):
        raise ApiError(400, "invalid_request", "status must be \"Active\" or \"Stopped\".")
    config = update.get("config")
    if config is None:
        return None, status
    if not isinstance(config, dict):
        raise ApiError(400, "invalid_request", "cluster.config must be an object.")
    replicas = config.get("replicaCount")
    if type(replicas) is not int or replicas not in (0, 1):
        raise ApiError(400, "invalid_request", "config.replicaCount must be the integer 0 or 1.")
    envs = config.get("extraEnvs", [])
    if not isinstance(envs, list) or not all(_is_env(e) for e in envs):
        raise ApiError(400, "invalid_request", "config.extraEnvs must be a list of {\"name\": str, \"value\": str}.")
    return config, status


def _is_env(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and set(entry) == {"name", "value"}
        and isinstance(entry["name"], str)
        and bool(entry["name"])
        and isinstance(entry["value"], str)
    )


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "invalid_request", "The body must be JSON.") from None


def _object(body: Any, key: str) -> dict[str, Any]:
    inner = body.get(key) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        raise ApiError(400, "invalid_request", f"The body must be {{\"{key}\": {{...}}}}.")
    return inner


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def _http_error(request: Request, exc: HTTPException) -> Response:
    kind = {404: "record_not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    return ApiError(exc.status_code, kind, exc.detail).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return ApiError(500, "internal_error", "The local cloud failed; see its log. Nothing was changed.").response()
