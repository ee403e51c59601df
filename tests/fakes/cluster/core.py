"""The heart of the Mage cluster fake: its state, request dispatch, authentication and error rendering.

Each resource's routes and test hooks live in a module of their own (sessions, pipelines,
triggers, runs, logs, outputs), as classes built on :class:`FakeCore`; ``FakeMage`` combines them.
"""

from __future__ import annotations

import json
import os
import uuid as uuid_lib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.recording import Recorder, RecordingMiddleware

from .helpers import (
    DEFAULT_LIMIT,
    DEFAULT_OWNER_EMAIL,
    DEFAULT_OWNER_PASSWORD,
    MAGE_PUBLIC_API_KEY,
    REAL_UNSERVED_RESOURCES,
    RECORD_NOT_FOUND,
    REPO_PATH,
    ApiError,
    JwtDecodeError,
    Unhandled,
    bearer_token,
    classify,
    first_values,
    int_meta,
    jwt_decode,
    not_served,
    parse_body,
    unhandled_body,
    utc_now,
)

User = dict[str, Any] | None
# A resource's routes: (method, path segments, query, body, user) -> response.
Handler = Callable[[str, list[str], Mapping[str, str], Mapping[str, Any], User], Response]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class FakeCore:
    """State, dispatch and auth; ``app`` is an ASGI app (httpx.ASGITransport or uvicorn)."""

    def __init__(
        self,
        require_auth: bool = True,
        email: str = DEFAULT_OWNER_EMAIL,
        password: str = DEFAULT_OWNER_PASSWORD,
        api_key: str = MAGE_PUBLIC_API_KEY,
        username: str = "owner",
        auto_complete: bool = False,
    ) -> None:
        self.require_auth = require_auth
        self.email = email
        self.password = password
        self.api_key = api_key
        self.username = username
        self.auto_complete = auto_complete
        self.scheduler_status = "running"
        self.project_uuid = uuid_lib.uuid4().hex
        self.logins = 0  # successful logins
        self.login_attempts = 0
        self.recorder = Recorder()

        self.pipelines: dict[str, dict[str, Any]] = {}
        self.pipeline_schedules: dict[int, dict[str, Any]] = {}
        self.pipeline_runs: dict[int, dict[str, Any]] = {}
        self._next_schedule_id = 1
        self._next_run_id = 1
        self._next_block_run_id = 1
        self._tokens: dict[str, datetime] = {}  # raw token -> expires (naive UTC)
        # Mage's ApiError.RESOURCE_NOT_FOUND['message'], mutated in place by every password login.
        self._not_found_message = RECORD_NOT_FOUND
        # Log files by (run id, file name), as appended chunks; the notebook (editor) logs by pipeline.
        self._log_chunks: dict[tuple[int, str], list[str]] = {}
        self._log_modified: dict[tuple[int, str], float] = {}
        self._editor_logs: dict[str, list[tuple[str, str, str]]] = {}  # (block uuid, file name, content)
        self._block_outputs: dict[int, list[dict[str, Any]]] = {}  # by block run id

        self.app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=_ALL_METHODS)],
            middleware=[Middleware(RecordingMiddleware, recorder=self.recorder)],
        )

    # ----------------------------------------------------------------- served by the resource classes
    def _handlers(self) -> Mapping[str, Handler]:
        """The resources served, by their URL name."""
        raise NotImplementedError

    async def _api_trigger(self, request: Request, schedule_pk: str, token: str | None) -> Response:
        raise NotImplementedError

    async def _endpoint(self, request: Request) -> Response:
        path = request.url.path
        if path != "/api" and not path.startswith("/api/"):
            return PlainTextResponse("404: Not Found", status_code=404)
        segments = [s for s in path[len("/api") :].split("/") if s]
        method = request.method
        query = first_values(request)
        http_error_codes = "_http_error_codes" in query
        url_parameters: dict[str, str] = {}
        try:
            if not segments:
                return PlainTextResponse("404: Not Found", status_code=404)
            if method not in ("GET", "POST", "PUT", "DELETE"):
                return Response(status_code=405)  # e.g. PATCH: HTTP 405 with an empty body

            # ---- routes outside the OAuth middleware
            if segments[0] in ("status", "statuses") and len(segments) == 1:
                url_parameters = {}
                if method != "GET":
                    return Response(status_code=405)
                return JSONResponse(self._statuses())
            if (
                segments[0] == "pipeline_schedules"
                and len(segments) == 4
                and segments[2] == "pipeline_runs"
                and method == "POST"
            ):
                url_parameters = {"pipeline_schedule_id": segments[1], "token": segments[3]}
                return await self._api_trigger(request, segments[1], segments[3])
            if segments[0] == "pipeline_schedules" and len(segments) == 3 and segments[2] == "api_trigger":
                url_parameters = {"pipeline_schedule_id": segments[1]}
                if method != "POST":
                    return Response(status_code=405)
                return await self._api_trigger(request, segments[1], None)

            if len(segments) > 4:
                return PlainTextResponse("404: Not Found", status_code=404)
            keys = ("resource", "pk", "child", "child_pk")
            url_parameters = dict(zip(keys, segments, strict=False))
            allowed = {
                1: ("GET", "POST"),
                2: ("GET", "PUT", "DELETE"),
                3: ("GET", "POST"),
                4: ("GET", "PUT", "DELETE"),
            }
            if method not in allowed[len(segments)]:
                return Response(status_code=405)

            raw_body = await request.body()
            user = await self._authenticate(request, method, raw_body, query)
            body = parse_body(request, raw_body) if method in ("POST", "PUT") else {}
            return await self._route(method, segments, query, body, user)
        except ApiError as err:
            status = err.http_status
            body_status = 200
            if http_error_codes:
                status = err.code
                body_status = err.code
            return JSONResponse({"error": err.as_dict(), "status": body_status}, status_code=status)
        except Unhandled as err:
            return JSONResponse(unhandled_body(err, url_parameters), status_code=200)

    # ----------------------------------------------------------------- auth
    async def _authenticate(
        self, request: Request, method: str, raw_body: bytes, query: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """Mage's ``OAuthMiddleware.prepare``. Returns the user, or None (no token / auth off)."""
        if not self.require_auth:
            return None
        headers = request.headers
        api_key: Any = headers.get("x-api-key")
        if not api_key:
            if method == "POST":
                try:
                    parsed = json.loads(raw_body)
                    api_key = parsed.get("api_key") if isinstance(parsed, dict) else None
                except (ValueError, UnicodeDecodeError):
                    api_key = query.get("api_key")
            else:
                api_key = query.get("api_key")
        if not api_key or api_key != self.api_key:
            raise ApiError(401, "Invalid API key.", "invalid_api_key", http_status=401)

        token_from_header = headers.get("oauth-token")
        if not token_from_header and headers.get("authorization"):
            token_from_header = bearer_token(headers)
        cookie_jwt = request.cookies.get("oauth_token")

        raw_token: str | None
        if token_from_header:
            raw_token = token_from_header
        elif cookie_jwt is not None:
            try:
                data = jwt_decode(cookie_jwt)
            except JwtDecodeError as err:
                raise Unhandled(str(err), err.type_name) from err
            if "token" not in data:
                raise _invalid_oauth_token()
            raw_token = str(data["token"])
        else:
            return None  # key only: the policy decides (403 for private operations)

        expires = self._tokens.get(raw_token)
        if expires is None:
            raise _invalid_oauth_token()
        if expires <= utc_now():
            raise _expired_oauth_token()
        return self._user()

    def _authorize(self, operation: str, user: dict[str, Any] | None, *, public: bool = False) -> None:
        """BasePolicy scope check: with auth on and no user, only public operations pass."""
        if not self.require_auth or user is not None or public:
            return
        raise ApiError(403, f"Private access for {operation} only, invalid scope.", "unauthorized_access")

    def _user(self) -> dict[str, Any]:
        stamp = "2026-01-01 00:00:00"
        return {
            "avatar": None,
            "first_name": None,
            "id": 1,
            "last_name": None,
            "owner": True,
            "project_access": 1,
            "roles": None,
            "roles_display": "Owner",
            "roles_new": [
                {"name": "Owner", "user_id": None, "id": 1, "created_at": stamp, "updated_at": stamp}
            ],
            "username": self.username,
        }

    def _not_found(self) -> ApiError:
        return ApiError(404, self._not_found_message, "record_not_found")

    # ----------------------------------------------------------------- status
    def _statuses(self) -> dict[str, Any]:
        return {
            "statuses": [
                {
                    "is_instance_manager": False,
                    "max_print_output_lines": 1000,
                    "repo_path": REPO_PATH,
                    "repo_path_relative": "fake_project",
                    "repo_path_relative_root": "fake_project",
                    "repo_path_root": REPO_PATH,
                    "server_process_id": os.getpid(),
                    "scheduler_process_id": os.getpid() + 1,
                    "scheduler_status": self.scheduler_status,
                    "instance_type": None,
                    "disable_pipeline_edit_access": False,
                    "require_user_authentication": self.require_auth,
                    "require_user_permissions": False,
                    "project_type": "standalone",
                    "project_uuid": self.project_uuid,
                }
            ],
            "metadata": {},
        }


    # ----------------------------------------------------------------- routing
    async def _route(
        self,
        method: str,
        segments: list[str],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: User,
    ) -> Response:
        resource = segments[0]
        handler = self._handlers().get(resource)
        if handler is not None:
            return handler(method, segments, query, body, user)
        if resource in REAL_UNSERVED_RESOURCES or resource == "blocks":
            raise not_served(method, segments)
        raise Unhandled(
            f"No module named 'mage_ai.api.policies.{classify(resource)}Policy'", "ModuleNotFoundError"
        )

    # ----------------------------------------------------------------- shared lookups and lists
    def _get_pipeline(self, pipeline_uuid: str) -> dict[str, Any]:
        pipeline = self.pipelines.get(pipeline_uuid)
        if pipeline is None:
            raise Unhandled(f"Pipeline {pipeline_uuid} does not exist.")
        return pipeline

    def _find_block_run(self, block_run_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The block run with this id and its run, or None."""
        for run in self.pipeline_runs.values():
            for block_run in run["block_runs"]:
                if block_run["id"] == block_run_id:
                    return block_run, run
        return None

    def _db_list(self, key: str, items: list[dict[str, Any]], query: Mapping[str, str]) -> Response:
        """DatabaseResource pagination: default limit 40, metadata ``{"count", "next"}``."""
        limit = int_meta(query, "_limit", DEFAULT_LIMIT)
        offset = int_meta(query, "_offset", 0)
        page = items[offset : offset + limit]
        return JSONResponse(
            {key: page, "metadata": {"count": len(items), "next": offset + limit < len(items)}}
        )


def _invalid_oauth_token() -> ApiError:
    return ApiError(401, "Invalid OAuth token.", "invalid_oauth_token", http_status=401)


def _expired_oauth_token() -> ApiError:
    return ApiError(401, "Expired OAuth token.", "expired_oauth_token", http_status=401)
