"""A fake of the Mage Cloud API (the Mage Pro control plane), served under ``/api/v1``.

It follows ``mage-cloud-api.md`` / Mage's own documentation page:

* ``POST /api/v1/sessions`` with ``X-API-KEY`` and ``{"session": {"email", "password"}}`` answers
  ``{"session": {"token", "expires"}}``; the token is then sent as the cookie ``oauth_token=<token>``.
* ``GET`` / ``PUT /api/v1/teams/{team_id}/clusters/{cluster_id}``: ``{"cluster": {...}}``. A PUT's
  ``config`` replaces the stored config *whole* (clients must read, modify and send everything back).
* Errors: ``{"error": {"code", "message", "type"}}`` with a real HTTP status (401, 404, 400).

Test hooks: :meth:`FakeCloud.expire_tokens`, ``logins``, ``clusters`` (live state), ``recorder`` and
``put_delay`` (PUT reads state, sleeps, then writes the whole cluster back, like a real service).
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.recording import Recorder, RecordingMiddleware

# The Cloud frontend's public key, as shown on Mage's documentation page.
DEFAULT_CLOUD_API_KEY = "oMqz2m320NfVERFonfytPFVETfPTHyN5N7db9dLK"
DEFAULT_CLOUD_EMAIL = "user@example.com"
DEFAULT_CLOUD_PASSWORD = "cloud-pass"
CLUSTER_STATUSES = ("Active", "Stopped")
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_CLUSTER_PATH = re.compile(r"^/api/v1/teams/(?P<team_id>[^/]+)/clusters/(?P<cluster_id>[^/]+)/?$")


def default_cluster(cluster_id: str = "cluster-1") -> dict[str, Any]:
    """The cluster a new FakeCloud holds when none are given (config has opaque extra fields)."""
    return {
        "id": cluster_id,
        "name": "demo-cluster",
        "status": "Stopped",
        "config": {
            "replicaCount": 0,
            "extraEnvs": [{"name": "EXISTING", "value": "s3cr3t-existing"}],
            "image": "mageai/mageaipro:latest",
            "resources": {"cpu": "1"},
        },
    }


class _BadRequest(Exception):
    pass


def _error(status: int, message: str, type_: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "type": type_}}, status_code=status)


def _is_replica_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in (0, 1)


class FakeCloud:
    """In-memory Mage Cloud API. ``fake.app`` is an ASGI app (httpx.ASGITransport or uvicorn)."""

    def __init__(
        self,
        api_key: str = DEFAULT_CLOUD_API_KEY,
        email: str = DEFAULT_CLOUD_EMAIL,
        password: str = DEFAULT_CLOUD_PASSWORD,
        team_id: str = "team-1",
        clusters: Mapping[str, Mapping[str, Any]] | None = None,
        put_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.email = email
        self.password = password
        self.team_id = team_id
        self.put_delay = put_delay
        if clusters is None:
            clusters = {"cluster-1": default_cluster("cluster-1")}
        self.clusters: dict[str, dict[str, Any]] = {}
        for cluster_id, cluster in clusters.items():
            stored = copy.deepcopy(dict(cluster))
            stored.setdefault("id", cluster_id)
            self.clusters[cluster_id] = stored
        self.logins = 0
        self.login_failures = 0
        self.puts = 0  # successful PUTs
        self.recorder = Recorder()
        self._tokens: dict[str, bool] = {}  # token -> still valid
        self.app = Starlette(
            routes=[Route("/{path:path}", self._dispatch, methods=_ALL_METHODS)],
            middleware=[Middleware(RecordingMiddleware, recorder=self.recorder)],
        )

    # ----------------------------------------------------------------- test hooks
    def expire_tokens(self) -> None:
        """Every token issued so far stops working: the next call gets HTTP 401."""
        for token in self._tokens:
            self._tokens[token] = False

    @property
    def issued_tokens(self) -> list[str]:
        return list(self._tokens)

    def cluster(self, cluster_id: str = "cluster-1") -> dict[str, Any]:
        """A deep copy of a stored cluster."""
        return copy.deepcopy(self.clusters[cluster_id])

    def env(self, cluster_id: str = "cluster-1") -> dict[str, str]:
        """The stored ``config.extraEnvs`` as a name -> value dict."""
        envs = self.clusters[cluster_id].get("config", {}).get("extraEnvs", [])
        return {e["name"]: e["value"] for e in envs}

    # ----------------------------------------------------------------- dispatch
    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        method = request.method
        if path.rstrip("/") == "/api/v1/sessions":
            if method != "POST":
                return _error(405, "Method not allowed.", "method_not_allowed")
            return await self._login(request)
        match = _CLUSTER_PATH.match(path)
        if match is None:
            return _error(404, "Not found.", "record_not_found")
        if method not in ("GET", "PUT"):
            return _error(405, "Method not allowed.", "method_not_allowed")
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        team_id, cluster_id = match["team_id"], match["cluster_id"]
        if team_id != self.team_id or cluster_id not in self.clusters:
            return _error(404, "Record not found.", "record_not_found")
        if method == "GET":
            return JSONResponse({"cluster": copy.deepcopy(self.clusters[cluster_id])})
        return await self._put_cluster(request, cluster_id)

    def _check_auth(self, request: Request) -> Response | None:
        if request.headers.get("x-api-key") != self.api_key:
            return _error(401, "Invalid API key.", "invalid_api_key")
        token = request.cookies.get("oauth_token")
        if not token or token not in self._tokens:
            return _error(401, "Invalid OAuth token.", "invalid_oauth_token")
        if not self._tokens[token]:
            return _error(401, "Expired OAuth token.", "expired_oauth_token")
        return None

    async def _login(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != self.api_key:
            self.login_failures += 1
            return _error(401, "Invalid API key.", "invalid_api_key")
        body = await _json_body(request)
        session = body.get("session") if isinstance(body, dict) else None
        if not isinstance(session, dict):
            self.login_failures += 1
            return _error(400, 'Body must be {"session": {"email": ..., "password": ...}}.', "record_invalid")
        if session.get("email") != self.email or session.get("password") != self.password:
            self.login_failures += 1
            return _error(401, "Email and/or password invalid.", "invalid_credentials")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = True
        self.logins += 1
        expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=30)
        return JSONResponse({"session": {"token": token, "expires": str(expires)}})

    async def _put_cluster(self, request: Request, cluster_id: str) -> Response:
        body = await _json_body(request)
        # Read the current state...
        snapshot = copy.deepcopy(self.clusters[cluster_id])
        try:
            updated = _apply_put(snapshot, body)
        except _BadRequest as err:
            return _error(400, str(err), "record_invalid")
        # ...take a while, as a real service does between its read and its write...
        if self.put_delay > 0:
            await anyio.sleep(self.put_delay)
        # ...and write the whole object back (last writer wins).
        self.clusters[cluster_id] = updated
        self.puts += 1
        return JSONResponse({"cluster": copy.deepcopy(updated)})


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return await request.json()
    except ValueError:
        return None


def _apply_put(current: dict[str, Any], body: Any) -> dict[str, Any]:
    """Validate a PUT body against ``current`` and return the new cluster object (or raise)."""
    if not isinstance(body, dict) or not isinstance(body.get("cluster"), dict):
        raise _BadRequest('Body must be {"cluster": {"config": {...}, "status": "Active"|"Stopped"}}.')
    cluster = body["cluster"]
    updated = copy.deepcopy(current)

    if "status" in cluster:
        status = cluster["status"]
        if status not in CLUSTER_STATUSES:
            raise _BadRequest(f"status must be one of {', '.join(CLUSTER_STATUSES)}, got {status!r}.")
        updated["status"] = status

    if "config" in cluster:
        config = cluster["config"]
        if not isinstance(config, dict):
            raise _BadRequest("config must be an object.")
        if not _is_replica_count(config.get("replicaCount")):
            raise _BadRequest(f"config.replicaCount must be 0 or 1, got {config.get('replicaCount')!r}.")
        if "extraEnvs" in config:
            envs = config["extraEnvs"]
            if not isinstance(envs, list):
                raise _BadRequest("config.extraEnvs must be a list.")
            for item in envs:
                if (
                    not isinstance(item, dict)
                    or set(item) != {"name", "value"}
                    or not isinstance(item["name"], str)
                    or not isinstance(item["value"], str)
                    or not item["name"]
                ):
                    raise _BadRequest(
                        f'each config.extraEnvs item must be {{"name": str, "value": str}}: {item!r}.'
                    )
        updated["config"] = copy.deepcopy(config)  # whole replacement, never a merge

    replicas = updated.get("config", {}).get("replicaCount")
    status = updated.get("status")
    if _is_replica_count(replicas) and status in CLUSTER_STATUSES:
        expected = "Active" if replicas == 1 else "Stopped"
        if status != expected:
            raise _BadRequest(
                f"replicaCount {replicas} and status {status!r} disagree "
                "(start = replicaCount 1 + Active, stop = replicaCount 0 + Stopped)."
            )
    return updated
