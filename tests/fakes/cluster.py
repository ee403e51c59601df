"""A fake of the Mage OSS cluster API (mage-ai 0.9.80), served under ``/api``.

It reproduces what ``mage-api.md`` and ``mage-real.md`` describe, quirks included:

* errors are HTTP 200 with an ``error`` body in three shapes: handled
  ``{"error": {"code", "message", "type"}, "status": 200}``, auth failures (the same body but HTTP
  401), and unhandled exceptions ``{"error": {"code": 500, "errors", "exception", "message"},
  "url_parameters": {...}}`` (no ``type``, no ``status``);
* auth: ``X-API-KEY`` on every call except ``/api/status(es)`` and the API-trigger routes; the session
  token is a JWT (HS256, secret ``materia``) wrapping a raw token. Bearer/OAUTH-TOKEN take the raw
  token, the ``oauth_token`` cookie takes the whole JWT;
* after any password login, 404 messages read "Email/username and/or password invalid." (Mage mutates
  a shared error dict);
* pipelines paginate with ``{"count", "results", "next"}`` (``next`` null without ``_limit``), the
  DB-backed lists with ``{"count", "next"}`` and a default limit of 40;
* a missing pipeline is an unhandled error (shape 3), a missing run/trigger a handled 404;
* runs start ``initial``; API triggers need only the trigger token and re-activate inactive triggers;
* datetimes come in Mage's inconsistent formats; PATCH is a bare HTTP 405.

Test hooks: ``expire_tokens()``, ``logins``, ``recorder``, ``complete_run()``, ``auto_complete``,
``add_pipeline()``, and the live state dicts ``pipelines``, ``pipeline_schedules``, ``pipeline_runs``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import uuid as uuid_lib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.recording import Recorder, RecordingMiddleware

# Mage's hard-coded OAuth client id (a public value baked into its frontend).
MAGE_PUBLIC_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
JWT_SECRET = "materia"
DEFAULT_OWNER_EMAIL = "owner@example.com"
DEFAULT_OWNER_PASSWORD = "owner-pass"
TOKEN_LIFETIME = timedelta(days=30)
DEFAULT_LIMIT = 40
REPO_PATH = "/home/src/fake_project"
RECORD_NOT_FOUND = "Record not found."
LOGIN_INVALID = "Email/username and/or password invalid."
LOGIN_REQUIRED = "Email/username and password are required."

RUN_STATUSES = ("initial", "running", "completed", "failed", "cancelled")
SCHEDULE_TYPES = ("time", "api", "event")
SCHEDULE_STATUSES = ("active", "inactive")
SCHEDULE_INTERVAL_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@always_on")
# Columns of PipelineSchedule accepted on create (anything else is a TypeError in Mage).
SCHEDULE_CREATE_KEYS = frozenset(
    {
        "name",
        "description",
        "pipeline_uuid",
        "schedule_type",
        "schedule_interval",
        "start_time",
        "status",
        "variables",
        "sla",
        "settings",
        "token",
        "last_enabled_at",
        "repo_path",
        "global_data_product_uuid",
        "event_matchers",
    }
)
SCHEDULE_UPDATE_KEYS = SCHEDULE_CREATE_KEYS | {"tags", "rotate_token"}
# Resources that exist in Mage but this fake does not serve (answers say so, in shape 3).
REAL_UNSERVED_RESOURCES = frozenset(
    {
        "backfills",
        "block_outputs",
        "custom_templates",
        "file_contents",
        "files",
        "git_branches",
        "git_custom_branches",
        "global_data_products",
        "kernels",
        "logs",
        "oauth_access_tokens",
        "outputs",
        "permissions",
        "pipeline_triggers",
        "projects",
        "roles",
        "secrets",
        "syncs",
        "tags",
        "users",
        "variables",
    }
)

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_CRON_FIELD = re.compile(r"^[\d\*/,\-A-Za-z\?LW#]+$")


# --------------------------------------------------------------------------- helpers
def _now() -> datetime:
    """Naive UTC now, like Mage's ``datetime.utcnow()``."""
    return datetime.now(UTC).replace(tzinfo=None)


def _seconds(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def _fmt(dt: datetime | None) -> str | None:
    """``str(datetime)``: ``2026-11-29 03:36:19.383206`` (space, no zone)."""
    return None if dt is None else str(dt)


def _fmt_iso(dt: datetime | None) -> str | None:
    """``2026-11-29T03:36:24.507461`` (block runs on the block_runs routes)."""
    return None if dt is None else dt.isoformat()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwtDecodeError(Exception):
    """Mirrors PyJWT's DecodeError / InvalidSignatureError messages."""

    def __init__(self, message: str, type_name: str = "DecodeError") -> None:
        super().__init__(message)
        self.type_name = type_name


def jwt_encode(payload: Mapping[str, Any], secret: str = JWT_SECRET) -> str:
    """HS256 JWT, byte-compatible with ``jwt.encode(payload, secret, algorithm='HS256')``."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(dict(payload), separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    signature = _b64url(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"


def jwt_decode(token: str, secret: str = JWT_SECRET) -> dict[str, Any]:
    """Verify and decode an HS256 JWT the way Mage's ``decode_token`` does (raises JwtDecodeError)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtDecodeError("Not enough segments")
    header_b64, payload_b64, signature_b64 = parts
    try:
        header = json.loads(_b64url_decode(header_b64))
    except (ValueError, UnicodeDecodeError) as err:
        raise JwtDecodeError(f"Invalid header string: {err}") from err
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JwtDecodeError("The specified alg value is not allowed", "InvalidAlgorithmError")
    try:
        payload = json.loads(_b64url_decode(payload_b64))
        signature = _b64url_decode(signature_b64)
    except (ValueError, UnicodeDecodeError) as err:
        raise JwtDecodeError(f"Invalid payload string: {err}") from err
    expected = hmac.new(
        secret.encode(), f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(signature, expected):
        raise JwtDecodeError("Signature verification failed", "InvalidSignatureError")
    if not isinstance(payload, dict):
        raise JwtDecodeError("Invalid payload string: must be a json object")
    return payload


def inner_token(jwt: str) -> str:
    """The raw access token inside a session JWT (no signature check, like clients do)."""
    payload = json.loads(_b64url_decode(jwt.split(".")[1]))
    return str(payload["token"])


def clean_name(name: str) -> str:
    """Mage's ``clean_name``: lower-cased, non-word characters -> ``_``."""
    return re.sub(r"\W", "_", name.strip()).lower()


def _classify(resource: str) -> str:
    singular = resource
    if singular.endswith("ies"):
        singular = singular[:-3] + "y"
    elif singular.endswith("ses"):
        singular = singular[:-2]
    elif singular.endswith("s") and not singular.endswith("ss"):
        singular = singular[:-1]
    return "".join(part.capitalize() for part in singular.split("_"))


def _bearer(headers: Mapping[str, str]) -> str | None:
    """``get_bearer_auth_token_from_headers``: the part of Authorization that holds "bearer"."""
    value = headers.get("authorization")
    if not value:
        return None
    for part in value.split(","):
        if "bearer" in part.lower():
            pieces = part.strip().split(" ", 1)
            return pieces[1].strip() if len(pieces) == 2 else None
    return None


def _valid_cron(expr: str) -> bool:
    fields = expr.split()
    return len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)


# --------------------------------------------------------------------------- error types
class ApiError(Exception):
    """Shape 1 (handled) or shape 2 (auth, ``http_status=401``)."""

    def __init__(
        self,
        code: int,
        message: str,
        type_: str,
        *,
        errors: Any = None,
        http_status: int = 200,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.type = type_
        self.errors = errors
        self.http_status = http_status

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "type": self.type}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class Unhandled(Exception):
    """Shape 3: an unhandled Python exception that Mage renders with its traceback."""

    def __init__(self, exception: str, exc_type: str = "Exception") -> None:
        super().__init__(exception)
        self.exception = exception
        self.exc_type = exc_type


def _invalid_api_key() -> ApiError:
    return ApiError(401, "Invalid API key.", "invalid_api_key", http_status=401)


def _invalid_oauth_token() -> ApiError:
    return ApiError(401, "Invalid OAuth token.", "invalid_oauth_token", http_status=401)


def _expired_oauth_token() -> ApiError:
    return ApiError(401, "Expired OAuth token.", "expired_oauth_token", http_status=401)


# --------------------------------------------------------------------------- the fake
class FakeMage:
    """In-memory Mage OSS API. ``fake.app`` is an ASGI app (httpx.ASGITransport or uvicorn)."""

    def __init__(
        self,
        require_auth: bool = True,
        email: str = DEFAULT_OWNER_EMAIL,
        password: str = DEFAULT_OWNER_PASSWORD,
        api_key: str = MAGE_PUBLIC_API_KEY,
        username: str = "owner",
        auto_complete: bool = False,
        seed_example_pipeline: bool = True,
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

        if seed_example_pipeline:
            self._seed_example_pipeline()

        self.app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=_ALL_METHODS)],
            middleware=[Middleware(RecordingMiddleware, recorder=self.recorder)],
        )

    # ======================================================================= test hooks
    def expire_tokens(self) -> None:
        """Every session token issued so far is expired (-> HTTP 401 ``expired_oauth_token``)."""
        past = _now() - timedelta(seconds=1)
        for token in self._tokens:
            self._tokens[token] = past

    @property
    def issued_tokens(self) -> list[str]:
        """Raw (inner) tokens issued by logins so far."""
        return list(self._tokens)

    def session_jwt(self, raw_token: str | None = None) -> str:
        """Issue a token without going through ``POST /api/sessions`` and return its JWT."""
        raw = raw_token or secrets.token_urlsafe(32)
        expires = _now() + TOKEN_LIFETIME
        self._tokens[raw] = expires
        return jwt_encode({"expires": expires.replace(tzinfo=UTC).timestamp(), "token": raw})

    def add_pipeline(
        self,
        uuid: str,
        name: str | None = None,
        type: str = "python",
        blocks: Sequence[str | Mapping[str, Any]] | None = None,
        *,
        description: str | None = None,
        tags: Iterable[str] = (),
        created_at: str | None = "now",
    ) -> dict[str, Any]:
        """Add (or replace) a pipeline. Blocks are uuids or dicts (``uuid`` plus any block field).

        Unless a block gives ``upstream_blocks``, blocks form a linear chain in list order. Types
        default to data_loader / transformer / data_exporter by position.
        """
        now = datetime.now(UTC)
        created = None if created_at is None else (str(now) if created_at == "now" else created_at)
        specs: list[dict[str, Any]] = [{"uuid": b} if isinstance(b, str) else dict(b) for b in (blocks or [])]
        built: list[dict[str, Any]] = []
        for index, spec in enumerate(specs):
            if "uuid" not in spec:
                raise ValueError(f"block spec without uuid: {spec!r}")
            if index == 0:
                default_type = "data_loader"
            elif index == len(specs) - 1:
                default_type = "data_exporter"
            else:
                default_type = "transformer"
            upstream = spec.get("upstream_blocks")
            if upstream is None:
                upstream = [specs[index - 1]["uuid"]] if index > 0 else []
            block_type = spec.get("type", default_type)
            block: dict[str, Any] = {
                "all_upstream_blocks_executed": not upstream,
                "color": None,
                "configuration": {},
                "downstream_blocks": [],
                "executor_config": None,
                "executor_type": "local_python",
                "has_callback": False,
                "name": spec.get("name", spec["uuid"]),
                "language": spec.get("language", "python"),
                "retry_config": None,
                "status": "not_executed",
                "timeout": None,
                "type": block_type,
                "upstream_blocks": list(upstream),
                "uuid": spec["uuid"],
                "content": spec.get("content", _default_block_content(block_type, spec["uuid"])),
            }
            for key, value in spec.items():
                if key not in ("uuid", "upstream_blocks"):
                    block[key] = value
            built.append(block)
        by_uuid = {b["uuid"]: b for b in built}
        for b in built:
            for up in b["upstream_blocks"]:
                if up in by_uuid and b["uuid"] not in by_uuid[up]["downstream_blocks"]:
                    by_uuid[up]["downstream_blocks"].append(b["uuid"])
        pipeline: dict[str, Any] = {
            "uuid": uuid,
            "name": name if name is not None else uuid,
            "type": type,
            "description": description,
            "tags": list(tags),
            "created_at": created,
            "updated_at": now.isoformat(),
            "blocks": built,
            "variables": None,
        }
        self.pipelines[uuid] = pipeline
        return pipeline

    def add_trigger(
        self,
        pipeline_uuid: str,
        name: str = "api_trigger",
        schedule_type: str = "api",
        status: str = "inactive",
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a trigger directly in state (as if through the API) and return the stored dict."""
        if pipeline_uuid not in self.pipelines:
            raise KeyError(pipeline_uuid)
        payload = {"name": name, "schedule_type": schedule_type, "status": status, **fields}
        return self._create_schedule(pipeline_uuid, payload)

    def trigger_run(self, schedule_id: int, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create a run on a trigger directly in state (status ``initial``); returns the stored run."""
        schedule = self.pipeline_schedules[schedule_id]
        return self._create_run(schedule, dict(variables or {}), {})

    def complete_run(self, run_id: int, status: str = "completed") -> dict[str, Any]:
        """Move a run (and its block runs) to ``status``: completed, failed, cancelled or running."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        run = self.pipeline_runs[run_id]
        now = _now()
        if run["started_at"] is None and status != "initial":
            run["started_at"] = now
        run["status"] = status
        run["updated_at"] = _seconds(now)
        if status == "completed":
            run["completed_at"] = now
            for br in run["block_runs"]:
                br["started_at"] = br["started_at"] or now
                br["completed_at"] = br["completed_at"] or now
                br["status"] = "completed"
                br["metrics"] = br["metrics"] or {}
                br["updated_at"] = _seconds(now)
        elif status == "failed":
            run["completed_at"] = None  # Mage leaves completed_at null on failed runs
            failed_one = False
            for br in run["block_runs"]:
                if br["status"] == "completed":
                    continue
                br["started_at"] = br["started_at"] or now
                br["status"] = "upstream_failed" if failed_one else "failed"
                br["updated_at"] = _seconds(now)
                failed_one = True
        elif status == "cancelled":
            for br in run["block_runs"]:
                if br["status"] not in ("completed", "failed"):
                    br["status"] = "cancelled"
                    br["updated_at"] = _seconds(now)
        elif status == "running":
            run["completed_at"] = None
        return run

    # ======================================================================= seeding
    def _seed_example_pipeline(self) -> None:
        pipeline = self.add_pipeline(
            "example_pipeline",
            blocks=[
                {"uuid": "load_titanic", "type": "data_loader"},
                {"uuid": "fill_in_missing_values", "type": "transformer"},
                {"uuid": "export_titanic_clean", "type": "data_exporter"},
            ],
            created_at=None,  # a new project's example pipeline has created_at null
        )
        for block in pipeline["blocks"]:
            block["has_callback"] = None
            block["status"] = None

    # ======================================================================= dispatch
    async def _endpoint(self, request: Request) -> Response:
        path = request.url.path
        if path != "/api" and not path.startswith("/api/"):
            return PlainTextResponse("404: Not Found", status_code=404)
        segments = [s for s in path[len("/api") :].split("/") if s]
        method = request.method
        query = _first_values(request)
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
            body = _parse_body(request, raw_body) if method in ("POST", "PUT") else {}
            return await self._route(method, segments, query, body, user)
        except ApiError as err:
            status = err.http_status
            body_status = 200
            if http_error_codes:
                status = err.code
                body_status = err.code
            return JSONResponse({"error": err.as_dict(), "status": body_status}, status_code=status)
        except Unhandled as err:
            return JSONResponse(_unhandled_body(err, url_parameters), status_code=200)

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
            raise _invalid_api_key()

        token_from_header = headers.get("oauth-token")
        if not token_from_header and headers.get("authorization"):
            token_from_header = _bearer(headers)
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
        if expires <= _now():
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

    # ----------------------------------------------------------------- routing
    async def _route(
        self,
        method: str,
        segments: list[str],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: dict[str, Any] | None,
    ) -> Response:
        resource = segments[0]
        n = len(segments)
        if resource == "sessions":
            if n == 1 and method == "POST":
                return self._login(_wrapped(body, "session"))
            if n == 2 and method == "PUT":
                self._authorize("update", user)
                return self._logout(user)
            raise Unhandled(
                f"FakeMage does not serve {method} /api/{'/'.join(segments)}", "NotImplementedError"
            )
        if resource == "pipelines":
            return self._pipelines(method, segments, query, body, user)
        if resource == "pipeline_schedules":
            return self._schedules(method, segments, query, body, user)
        if resource == "pipeline_runs":
            return self._runs(method, segments, query, body, user)
        if resource == "block_runs" and n == 1 and method == "GET":
            self._authorize("list", user)
            runs = list(self.pipeline_runs.values())
            if query.get("pipeline_run_id"):
                runs = [r for r in runs if str(r["id"]) == query["pipeline_run_id"]]
            if query.get("pipeline_uuid"):
                runs = [r for r in runs if r["pipeline_uuid"] == query["pipeline_uuid"]]
            items = [
                self._block_run_item(br, run, with_schedule=True) for run in runs for br in run["block_runs"]
            ]
            return self._db_list("block_runs", items, query)
        if resource == "workspaces":
            raise Unhandled("No module named 'kubernetes'", "ModuleNotFoundError")
        if resource in REAL_UNSERVED_RESOURCES or resource in ("block_runs", "blocks"):
            raise Unhandled(
                f"FakeMage does not serve {method} /api/{'/'.join(segments)}", "NotImplementedError"
            )
        raise Unhandled(
            f"No module named 'mage_ai.api.policies.{_classify(resource)}Policy'", "ModuleNotFoundError"
        )

    # ----------------------------------------------------------------- sessions
    def _login(self, payload: Mapping[str, Any]) -> Response:
        self.login_attempts += 1
        email = payload.get("email")
        username = payload.get("username")
        password = payload.get("password")
        # SessionResource.create mutates the shared RESOURCE_NOT_FOUND dict before checking anything.
        self._not_found_message = LOGIN_INVALID
        if not (email or username) or not password:
            self._not_found_message = LOGIN_REQUIRED
            raise self._not_found()
        known = email == self.email if email else username == self.username
        if not known or password != self.password:
            raise self._not_found()
        raw = secrets.token_urlsafe(32)
        expires = _now() + TOKEN_LIFETIME
        self._tokens[raw] = expires
        self.logins += 1
        token = jwt_encode({"expires": expires.replace(tzinfo=UTC).timestamp(), "token": raw})
        return JSONResponse(
            {"session": {"expires": _fmt(expires), "token": token, "user": self._user()}, "metadata": None}
        )

    def _logout(self, user: dict[str, Any] | None) -> Response:
        # PUT /api/sessions/{any}: Mage expires the current token; the fake expires them all.
        self.expire_tokens()
        return JSONResponse({"session": {"expires": _fmt(_now()), "user": user}, "metadata": None})

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

    # ----------------------------------------------------------------- pipelines
    def _get_pipeline(self, pipeline_uuid: str) -> dict[str, Any]:
        pipeline = self.pipelines.get(pipeline_uuid)
        if pipeline is None:
            raise Unhandled(f"Pipeline {pipeline_uuid} does not exist.")
        return pipeline

    def _pipelines(
        self,
        method: str,
        segments: list[str],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: dict[str, Any] | None,
    ) -> Response:
        n = len(segments)
        if n == 1 and method == "GET":
            self._authorize("list", user)
            return self._list_pipelines(query)
        if n == 1 and method == "POST":
            self._authorize("create", user)
            payload = _wrapped(body, "pipeline")
            name = payload.get("name")
            if not name or not isinstance(name, str):
                raise Unhandled("'NoneType' object has no attribute 'strip'", "AttributeError")
            new_uuid = clean_name(name)
            if new_uuid in self.pipelines:
                raise Unhandled(f"Pipeline {name} already exists.")
            pipeline = self.add_pipeline(
                new_uuid,
                name=name,
                type=str(payload.get("type") or "python"),
                description=payload.get("description"),
                tags=payload.get("tags") or [],
            )
            return _detail("pipeline", self._pipeline_item(pipeline, detail=True, query=query))
        pipeline = self._get_pipeline(segments[1])
        if n == 2:
            if method == "GET":
                self._authorize("detail", user)
                return _detail("pipeline", self._pipeline_item(pipeline, detail=True, query=query))
            if method == "DELETE":
                self._authorize("delete", user)
                del self.pipelines[pipeline["uuid"]]
                return _detail("pipeline", self._pipeline_item(pipeline, detail=False, query=query))
            raise Unhandled(
                f"FakeMage does not serve {method} /api/pipelines/{{uuid}}", "NotImplementedError"
            )
        child = segments[2]
        if child == "pipeline_schedules" and n == 3:
            if method == "GET":
                self._authorize("list", user)
                items = [
                    self._schedule_item(s, kind="list")
                    for s in sorted(self.pipeline_schedules.values(), key=lambda s: -int(s["id"]))
                    if s["pipeline_uuid"] == pipeline["uuid"]
                ]
                return self._db_list("pipeline_schedules", items, query)
            self._authorize("create", user)
            schedule = self._create_schedule(pipeline["uuid"], _wrapped(body, "pipeline_schedule"))
            return _detail("pipeline_schedule", self._schedule_item(schedule, kind="create"))
        if child == "pipeline_runs":
            raise Unhandled("'Pipeline' object has no attribute 'id'", "AttributeError")
        if child == "blocks" and method == "GET":
            self._authorize("list" if n == 3 else "detail", user)
            if n == 3:
                wanted = query.get("block_uuid[]")
                names = set(wanted.split(",")) if wanted else None
                items = [
                    self._block_item(b, with_content=True)
                    for b in pipeline["blocks"]
                    if names is None or b["uuid"] in names
                ]
                return _paginate_plain("blocks", items, query)
            block = next((b for b in pipeline["blocks"] if b["uuid"] == segments[3]), None)
            if block is None:
                raise ApiError(
                    400,
                    f"Block {segments[3]} does not exist in pipeline {pipeline['uuid']}.",
                    "record_invalid",
                )
            return _detail("block", {**self._block_item(block, with_content=True), "outputs": []})
        if child in ("blocks", "variables", "logs", "backfills", "pipeline_triggers", "block_outputs"):
            raise Unhandled(
                f"FakeMage does not serve {method} /api/pipelines/{{uuid}}/{child}", "NotImplementedError"
            )
        raise Unhandled(
            f"No module named 'mage_ai.api.policies.{_classify(child)}Policy'", "ModuleNotFoundError"
        )

    def _list_pipelines(self, query: Mapping[str, str]) -> Response:
        items = sorted(self.pipelines.values(), key=lambda p: str(p["uuid"]))
        search = query.get("search")
        if search:
            items = [p for p in items if search.lower() in str(p["uuid"]).lower()]
        types = query.get("type[]")
        if types:
            wanted = set(types.split(","))
            items = [p for p in items if p["type"] in wanted]
        tags = query.get("tag[]")
        if tags:
            wanted_tags = set(tags.split(","))
            items = [p for p in items if wanted_tags & set(p.get("tags") or [])]
        order = query.get("_order_by[]")
        if order:
            key = order.lstrip("-")
            items = sorted(items, key=lambda p: str(p.get(key) or ""), reverse=order.startswith("-"))
        include_schedules = query.get("include_schedules") not in (None, "", "0", "false")
        count = len(items)
        offset = _int_meta(query, "_offset", 0)
        limit_text = query.get("_limit")
        if limit_text is None:
            page = items[offset:]
            has_next: bool | None = None
        else:
            limit = _int_meta(query, "_limit", 0)
            page = items[offset : offset + limit]
            has_next = offset + limit < count
        presented = []
        for p in page:
            item = self._pipeline_item(p, detail=False, query=query)
            if include_schedules:
                item["schedules"] = [
                    {
                        "id": s["id"],
                        "name": s["name"],
                        "pipeline_uuid": s["pipeline_uuid"],
                        "schedule_interval": s["schedule_interval"],
                        "schedule_type": s["schedule_type"],
                        "start_time": _fmt(s["start_time"]),
                        "status": s["status"],
                        "created_at": _fmt(s["created_at"]),
                        "updated_at": _fmt(s["updated_at"]),
                    }
                    for s in self.pipeline_schedules.values()
                    if s["pipeline_uuid"] == p["uuid"]
                ]
            presented.append(item)
        return JSONResponse(
            {"pipelines": presented, "metadata": {"count": count, "results": len(page), "next": has_next}}
        )

    def _block_item(self, block: Mapping[str, Any], *, with_content: bool) -> dict[str, Any]:
        keys = (
            "all_upstream_blocks_executed",
            "color",
            "configuration",
            "downstream_blocks",
            "executor_config",
            "executor_type",
            "has_callback",
            "name",
            "language",
            "retry_config",
            "status",
            "timeout",
            "type",
            "upstream_blocks",
            "uuid",
        )
        item = {k: copy.deepcopy(block.get(k)) for k in keys}
        if with_content:
            item["content"] = block.get("content")
        return item

    def _pipeline_item(
        self, pipeline: Mapping[str, Any], *, detail: bool, query: Mapping[str, str]
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "cache_block_output_in_memory": False,
            "concurrency_config": {},
            "created_at": pipeline.get("created_at"),
            "data_integration": None,
            "description": pipeline.get("description"),
            "executor_config": {},
            "executor_count": 1,
            "executor_type": None,
            "name": pipeline["name"],
            "notification_config": {},
            "remote_variables_dir": None,
            "retry_config": {},
            "run_pipeline_in_one_process": False,
            "settings": {"triggers": None},
            "tags": list(pipeline.get("tags") or []),
            "type": pipeline["type"],
            "uuid": pipeline["uuid"],
            "variables_dir": "/home/src/mage_data/fake_project",
            "spark_config": {},
        }
        if pipeline.get("variables"):
            item["variables"] = copy.deepcopy(pipeline["variables"])
        include_content = query.get("includes_content", "true") != "false"
        include_outputs = query.get("includes_outputs", "true") != "false"
        blocks = []
        for block in pipeline["blocks"]:
            b = self._block_item(block, with_content=False)
            if detail:
                b["callback_blocks"] = []
                b["conditional_blocks"] = []
                if include_content:
                    b["content"] = block.get("content")
                if include_outputs:
                    b["outputs"] = []
                b["metadata"] = {}
                b["tags"] = []
            blocks.append(b)
        item["blocks"] = blocks
        item["callbacks"] = []
        item["conditionals"] = []
        item["widgets"] = []
        if detail:
            item["extensions"] = {}
        item["updated_at"] = pipeline.get("updated_at")
        return item

    # ----------------------------------------------------------------- triggers
    def _get_schedule(self, pk: str) -> dict[str, Any]:
        try:
            schedule_id = int(pk)
        except ValueError:
            raise self._not_found() from None
        schedule = self.pipeline_schedules.get(schedule_id)
        if schedule is None:
            raise self._not_found()
        return schedule

    def _create_schedule(self, pipeline_uuid: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        for key in payload:
            if key not in SCHEDULE_CREATE_KEYS:
                raise Unhandled(f"'{key}' is an invalid keyword argument for PipelineSchedule", "TypeError")
        name = payload.get("name")
        if not name:
            raise ApiError(
                200,
                "Record is invalid.",
                "record_invalid",
                errors={"error": "name cannot be empty.", "metadata": {"key": "name", "value": name}},
            )
        fields = self._validated_schedule_fields(payload)
        now = _now()
        schedule: dict[str, Any] = {
            "id": self._next_schedule_id,
            "name": name,
            "description": payload.get("description"),
            "pipeline_uuid": pipeline_uuid,
            "schedule_type": payload.get("schedule_type"),
            "schedule_interval": payload.get("schedule_interval"),
            "start_time": None,
            "status": "inactive",
            "variables": payload.get("variables"),
            "sla": payload.get("sla"),
            "settings": payload.get("settings"),
            "token": uuid_lib.uuid4().hex,
            "last_enabled_at": None,
            "repo_path": REPO_PATH,
            "global_data_product_uuid": payload.get("global_data_product_uuid"),
            "created_at": _seconds(now),
            "updated_at": _seconds(now),
            "tags": [],
            "event_matchers": list(payload.get("event_matchers") or []),
        }
        schedule.update(fields)
        if schedule["status"] == "active":
            schedule["last_enabled_at"] = now
        self._next_schedule_id += 1
        self.pipeline_schedules[schedule["id"]] = schedule
        return schedule

    def _validated_schedule_fields(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if "schedule_type" in payload:
            value = payload["schedule_type"]
            if value is not None and value not in SCHEDULE_TYPES:
                raise Unhandled(
                    f"'{value}' is not among the defined enum values. Enum name: scheduletype. "
                    f"Possible values: {', '.join(SCHEDULE_TYPES)}",
                    "LookupError",
                )
            fields["schedule_type"] = value
        if "status" in payload:
            value = payload["status"]
            if value not in SCHEDULE_STATUSES:
                raise Unhandled(
                    f"'{value}' is not among the defined enum values. Enum name: schedulestatus. "
                    f"Possible values: {', '.join(SCHEDULE_STATUSES)}",
                    "LookupError",
                )
            fields["status"] = value
        if payload.get("schedule_interval") is not None:
            interval = payload["schedule_interval"]
            if not isinstance(interval, str) or (
                interval not in SCHEDULE_INTERVAL_PRESETS and not _valid_cron(interval)
            ):
                raise Unhandled("Cron expression is invalid.")
            fields["schedule_interval"] = interval
        if payload.get("start_time") is not None:
            fields["start_time"] = _parse_datetime(payload["start_time"])
        if (
            "variables" in payload
            and payload["variables"] is not None
            and not isinstance(payload["variables"], dict)
        ):
            raise Unhandled("variables must be a dict", "TypeError")
        return fields

    def _schedule_item(self, schedule: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "created_at": _fmt(schedule["created_at"]),
            "description": schedule.get("description"),
            "global_data_product_uuid": schedule.get("global_data_product_uuid"),
            "id": schedule["id"],
            "last_enabled_at": _fmt(schedule.get("last_enabled_at")),
            "name": schedule["name"],
            "pipeline_uuid": schedule["pipeline_uuid"],
            "repo_path": schedule.get("repo_path"),
            "schedule_interval": schedule.get("schedule_interval"),
            "schedule_type": schedule.get("schedule_type"),
            "settings": copy.deepcopy(schedule.get("settings")),
            "sla": schedule.get("sla"),
            "start_time": _fmt(schedule.get("start_time")),
            "status": schedule["status"],
            "token": schedule["token"],
            "updated_at": _fmt(schedule["updated_at"]),
            "variables": copy.deepcopy(schedule.get("variables")),
        }
        if kind in ("detail", "list"):
            item["event_matchers"] = copy.deepcopy(schedule.get("event_matchers") or [])
        if kind == "list":
            runs = [r for r in self.pipeline_runs.values() if r["pipeline_schedule_id"] == schedule["id"]]
            last = max(runs, key=lambda r: int(r["id"])) if runs else None
            item["last_pipeline_run_status"] = last["status"] if last else None
        if kind in ("detail", "list"):
            item["next_pipeline_run_date"] = None
        if kind == "list":
            runs = [r for r in self.pipeline_runs.values() if r["pipeline_schedule_id"] == schedule["id"]]
            in_progress = [r for r in runs if r["status"] in ("initial", "running")]
            item["pipeline_in_progress_runs_count"] = len(in_progress) or None
            item["pipeline_runs_count"] = len(runs) or None
        if kind in ("detail", "list"):
            item["tags"] = list(schedule.get("tags") or [])
        return item

    def _schedules(
        self,
        method: str,
        segments: list[str],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: dict[str, Any] | None,
    ) -> Response:
        n = len(segments)
        if n == 1:
            if method == "POST":
                self._authorize("create", user)
                raise Unhandled("'NoneType' object has no attribute 'uuid'", "AttributeError")
            self._authorize("list", user)
            items = sorted(self.pipeline_schedules.values(), key=lambda s: -int(s["id"]))
            for key, field in (("schedule_type[]", "schedule_type"), ("status[]", "status")):
                if query.get(key):
                    wanted = set(query[key].split(","))
                    items = [s for s in items if s.get(field) in wanted]
            if query.get("pipeline_uuid"):
                items = [s for s in items if s["pipeline_uuid"] == query["pipeline_uuid"]]
            return self._db_list(
                "pipeline_schedules", [self._schedule_item(s, kind="list") for s in items], query
            )
        if n == 2:
            schedule = self._get_schedule(segments[1])
            if method == "GET":
                self._authorize("detail", user)
                return _detail("pipeline_schedule", self._schedule_item(schedule, kind="detail"))
            if method == "DELETE":
                self._authorize("delete", user)
                del self.pipeline_schedules[schedule["id"]]
                return _detail("pipeline_schedule", self._schedule_item(schedule, kind="detail"))
            self._authorize("update", user)
            self._update_schedule(schedule, _wrapped(body, "pipeline_schedule"))
            return _detail("pipeline_schedule", self._schedule_item(schedule, kind="detail"))
        child = segments[2]
        if child == "pipeline_runs" and n == 3:
            if method == "GET":
                self._authorize("list", user)
                try:
                    parent = self.pipeline_schedules.get(int(segments[1]))
                except ValueError:
                    parent = None
                runs = [
                    r
                    for r in self.pipeline_runs.values()
                    # A trigger id that does not exist returns ALL runs (Mage quirk).
                    if parent is None or r["pipeline_schedule_id"] == parent["id"]
                ]
                return self._run_list(runs, query)
            schedule = self._get_schedule(segments[1])
            self._authorize("create", user)
            payload = _wrapped(body, "pipeline_run")
            variables = payload.get("variables") or {}
            if not isinstance(variables, dict):
                raise Unhandled("'variables' must be a dict", "TypeError")
            execution_date = (
                _parse_datetime(payload["execution_date"]) if payload.get("execution_date") else None
            )
            if (
                schedule["status"] == "inactive"
                and schedule.get("schedule_type") == "time"
                and schedule.get("schedule_interval") == "@once"
            ):
                schedule["status"] = "active"
                schedule["last_enabled_at"] = _now()
            run = self._create_run(
                schedule,
                variables,
                dict(payload.get("event_variables") or {}),
                execution_date=execution_date,
            )
            return _detail("pipeline_run", self._run_detail(run))
        raise Unhandled(f"FakeMage does not serve {method} /api/{'/'.join(segments)}", "NotImplementedError")

    def _update_schedule(self, schedule: dict[str, Any], payload: Mapping[str, Any]) -> None:
        for key in payload:
            if key not in SCHEDULE_UPDATE_KEYS:
                raise Unhandled(f"'PipelineSchedule' object has no attribute '{key}'", "AttributeError")
        fields = self._validated_schedule_fields(payload)
        if "name" in payload and not payload["name"]:
            raise ApiError(
                200,
                "Record is invalid.",
                "record_invalid",
                errors={
                    "error": "name cannot be empty.",
                    "metadata": {"key": "name", "value": payload["name"]},
                },
            )
        now = _now()
        for key in ("name", "description", "variables", "sla", "settings", "event_matchers"):
            if key in payload:
                schedule[key] = copy.deepcopy(payload[key])
        if "tags" in payload:
            schedule["tags"] = list(payload["tags"] or [])
        if fields.get("status") == "active" and schedule["status"] != "active":
            schedule["last_enabled_at"] = now
        schedule.update(fields)
        if payload.get("rotate_token"):
            schedule["token"] = uuid_lib.uuid4().hex
        schedule["updated_at"] = _seconds(now)

    # ----------------------------------------------------------------- API trigger
    async def _api_trigger(self, request: Request, schedule_pk: str, token: str | None) -> Response:
        try:
            schedule_id = int(schedule_pk)
        except ValueError:
            raise Unhandled(
                f"invalid literal for int() with base 10: '{schedule_pk}'", "ValueError"
            ) from None
        schedule = self.pipeline_schedules.get(schedule_id)
        if schedule is None:
            err = {"code": 404, "message": self._not_found_message, "type": "record_not_found"}
            raise Unhandled(str(err), "ApiError")
        if token is None:
            token = _bearer(request.headers)
        if schedule.get("token") != token:
            raise Unhandled(
                f"Invalid token for pipeline schedule ID {schedule_pk}.", "UnauthenticatedRequestException"
            )
        raw_body = await request.body()
        parsed: Any = {}
        if raw_body:
            try:
                parsed = json.loads(raw_body)
            except ValueError as err:
                raise Unhandled(str(err), "JSONDecodeError") from err
        if not isinstance(parsed, dict):
            raise Unhandled(f"'{type(parsed).__name__}' object has no attribute 'items'", "AttributeError")
        payload = parsed.get("pipeline_run") or {}
        if not isinstance(payload, dict):
            raise Unhandled(f"'{type(payload).__name__}' object has no attribute 'get'", "AttributeError")
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            raise Unhandled("'variables' must be a dict", "TypeError")
        event_variables = {k: v for k, v in parsed.items() if k != "pipeline_run"}
        self._get_pipeline(schedule["pipeline_uuid"])
        if schedule["status"] != "active":
            # create_and_start_pipeline_run re-activates an inactive trigger
            schedule["status"] = "active"
            schedule["last_enabled_at"] = _now()
            schedule["updated_at"] = _seconds(_now())
        run = self._create_run(schedule, variables, event_variables)
        return JSONResponse({"pipeline_run": self._run_to_dict(run)})  # no "metadata" on this route

    # ----------------------------------------------------------------- runs
    def _create_run(
        self,
        schedule: Mapping[str, Any],
        variables: Mapping[str, Any],
        event_variables: Mapping[str, Any],
        *,
        execution_date: datetime | None = None,
    ) -> dict[str, Any]:
        now = _now()
        execution = execution_date or now
        run_id = self._next_run_id
        self._next_run_id += 1
        partition = f"{schedule['id']}/{execution.strftime('%Y%m%dT%H%M%S_%f')}"
        pipeline = self.pipelines.get(schedule["pipeline_uuid"])
        block_runs = []
        for block in pipeline["blocks"] if pipeline else []:
            block_runs.append(
                {
                    "id": self._next_block_run_id,
                    "pipeline_run_id": run_id,
                    "block_uuid": block["uuid"],
                    "status": "initial",
                    "started_at": None,
                    "completed_at": None,
                    "metrics": None,
                    "created_at": _seconds(now),
                    "updated_at": _seconds(now),
                }
            )
            self._next_block_run_id += 1
        run: dict[str, Any] = {
            "id": run_id,
            "pipeline_schedule_id": schedule["id"],
            "pipeline_uuid": schedule["pipeline_uuid"],
            "execution_date": execution,
            "status": "initial",
            "started_at": None,
            "completed_at": None,
            "variables": {**copy.deepcopy(dict(variables)), "execution_partition": partition},
            "passed_sla": False,
            "event_variables": copy.deepcopy(dict(event_variables)),
            "metrics": None,
            "backfill_id": None,
            "executor_type": "local_python",
            "created_at": _seconds(now),
            "updated_at": _seconds(now),
            "block_runs": block_runs,
        }
        self.pipeline_runs[run_id] = run
        return run

    def _get_run(self, pk: str) -> dict[str, Any]:
        try:
            run_id = int(pk)
        except ValueError:
            raise self._not_found() from None
        run = self.pipeline_runs.get(run_id)
        if run is None:
            raise self._not_found()
        return run

    def _run_to_dict(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """``PipelineRun.to_dict()``, as the API-trigger route writes it."""
        return {
            "pipeline_schedule_id": run["pipeline_schedule_id"],
            "pipeline_uuid": run["pipeline_uuid"],
            "execution_date": _fmt(run["execution_date"]),
            "status": run["status"],
            "started_at": _fmt(run["started_at"]),
            "completed_at": _fmt(run["completed_at"]),
            "variables": copy.deepcopy(run["variables"]),
            "passed_sla": run["passed_sla"],
            "event_variables": copy.deepcopy(run["event_variables"]),
            "metrics": copy.deepcopy(run["metrics"]),
            "backfill_id": run["backfill_id"],
            "executor_type": run["executor_type"],
            "id": run["id"],
            "created_at": _fmt(run["created_at"]),
            "updated_at": _fmt(run["updated_at"]),
        }

    def _block_run_item(
        self, br: Mapping[str, Any], run: Mapping[str, Any], *, with_schedule: bool, iso: bool = True
    ) -> dict[str, Any]:
        fmt = _fmt_iso if iso else _fmt
        schedule = self.pipeline_schedules.get(int(run["pipeline_schedule_id"])) if with_schedule else None
        return {
            "block_uuid": br["block_uuid"],
            "completed_at": fmt(br["completed_at"]),
            "created_at": fmt(br["created_at"]),
            "id": br["id"],
            "pipeline_run_id": br["pipeline_run_id"],
            "started_at": fmt(br["started_at"]),
            "status": br["status"],
            "updated_at": fmt(br["updated_at"]),
            "pipeline_schedule_id": run["pipeline_schedule_id"] if with_schedule else None,
            "pipeline_schedule_name": schedule["name"] if schedule else None,
        }

    def _run_detail(self, run: Mapping[str, Any]) -> dict[str, Any]:
        schedule = self.pipeline_schedules.get(int(run["pipeline_schedule_id"]))
        item = self._run_to_dict(run)
        item["block_runs"] = [
            {
                "pipeline_run_id": br["pipeline_run_id"],
                "block_uuid": br["block_uuid"],
                "status": br["status"],
                "started_at": _fmt(br["started_at"]),
                "completed_at": _fmt(br["completed_at"]),
                "metrics": copy.deepcopy(br["metrics"]),
                "id": br["id"],
                "created_at": _fmt(br["created_at"]),
                "updated_at": _fmt(br["updated_at"]),
                "pipeline_schedule_id": run["pipeline_schedule_id"],
                "pipeline_schedule_name": schedule["name"] if schedule else None,
            }
            for br in run["block_runs"]
        ]
        return item

    def _run_list_item(self, run: Mapping[str, Any]) -> dict[str, Any]:
        schedule = self.pipeline_schedules.get(int(run["pipeline_schedule_id"]))
        pipeline = self.pipelines.get(str(run["pipeline_uuid"]))
        item = self._run_to_dict(run)
        item["block_runs"] = [
            {
                "pipeline_run_id": br["pipeline_run_id"],
                "block_uuid": br["block_uuid"],
                "status": br["status"],
                "started_at": _fmt(br["started_at"]),
                "completed_at": _fmt(br["completed_at"]),
                "metrics": copy.deepcopy(br["metrics"]),
                "id": br["id"],
                "created_at": _fmt(br["created_at"]),
                "updated_at": _fmt(br["updated_at"]),
            }
            for br in run["block_runs"]
        ]
        item["block_runs_count"] = len(run["block_runs"])
        item["completed_block_runs_count"] = sum(1 for br in run["block_runs"] if br["status"] == "completed")
        item["pipeline_schedule_name"] = schedule["name"] if schedule else None
        item["pipeline_schedule_token"] = schedule["token"] if schedule else None
        item["pipeline_schedule_type"] = schedule.get("schedule_type") if schedule else None
        item["pipeline_tags"] = (pipeline.get("tags") or None) if pipeline else None
        item["pipeline_type"] = None
        item["repo_path"] = REPO_PATH
        return item

    def _run_list(self, runs: list[dict[str, Any]], query: Mapping[str, str]) -> Response:
        if query.get("pipeline_uuid"):
            runs = [r for r in runs if r["pipeline_uuid"] == query["pipeline_uuid"]]
        if query.get("pipeline_uuid[]"):
            wanted = set(query["pipeline_uuid[]"].split(","))
            runs = [r for r in runs if r["pipeline_uuid"] in wanted]
        status = query.get("status") or query.get("status[]")
        if status:
            wanted_status = set(status.split(","))
            runs = [r for r in runs if r["status"] in wanted_status]
        if query.get("pipeline_schedule_id"):
            runs = [r for r in runs if str(r["pipeline_schedule_id"]) == query["pipeline_schedule_id"]]
        order = query.get("order_by[]")
        if order and order.split()[0] == "id" and (len(order.split()) == 1 or order.split()[1] == "asc"):
            runs = sorted(runs, key=lambda r: int(r["id"]))
        else:
            runs = sorted(runs, key=lambda r: (r["execution_date"], int(r["id"])), reverse=True)
        return self._db_list("pipeline_runs", [self._run_list_item(r) for r in runs], query)

    def _runs(
        self,
        method: str,
        segments: list[str],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: dict[str, Any] | None,
    ) -> Response:
        n = len(segments)
        if n == 1:
            if method == "POST":
                self._authorize("create", user)
                raise Unhandled("FakeMage does not serve POST /api/pipeline_runs", "NotImplementedError")
            self._authorize("list", user)
            return self._run_list(list(self.pipeline_runs.values()), query)
        run = self._get_run(segments[1])
        if n == 2:
            if method == "GET":
                self._authorize("detail", user)
                if self.auto_complete and run["status"] in ("initial", "running"):
                    self.complete_run(int(run["id"]))
                return _detail("pipeline_run", self._run_detail(run))
            if method == "DELETE":
                self._authorize("delete", user)
                del self.pipeline_runs[int(run["id"])]
                return _detail("pipeline_run", self._run_detail(run))
            self._authorize("update", user)
            payload = _wrapped(body, "pipeline_run")
            if payload.get("status") == "cancelled":
                if run["status"] in ("initial", "running"):
                    self.complete_run(int(run["id"]), "cancelled")
            elif payload.get("pipeline_run_action") == "retry_blocks":
                for br in run["block_runs"]:
                    if br["status"] != "completed":
                        br["status"] = "initial"
                        br["started_at"] = None
                        br["completed_at"] = None
                run["status"] = "running"
                run["completed_at"] = None
                run["updated_at"] = _seconds(_now())
            # any other status is silently ignored (HTTP 200, unchanged)
            return _detail("pipeline_run", self._run_detail(run))
        if segments[2] == "block_runs" and n == 3 and method == "GET":
            self._authorize("list", user)
            items = [self._block_run_item(br, run, with_schedule=False) for br in run["block_runs"]]
            return self._db_list("block_runs", items, query)
        raise Unhandled(f"FakeMage does not serve {method} /api/{'/'.join(segments)}", "NotImplementedError")

    # ----------------------------------------------------------------- lists
    def _db_list(self, key: str, items: list[dict[str, Any]], query: Mapping[str, str]) -> Response:
        """DatabaseResource pagination: default limit 40, metadata ``{"count", "next"}``."""
        limit = _int_meta(query, "_limit", DEFAULT_LIMIT)
        offset = _int_meta(query, "_offset", 0)
        page = items[offset : offset + limit]
        return JSONResponse(
            {key: page, "metadata": {"count": len(items), "next": offset + limit < len(items)}}
        )


# --------------------------------------------------------------------------- module helpers
def _first_values(request: Request) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, value)
    return query


def _int_meta(query: Mapping[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise Unhandled(f"invalid literal for int() with base 10: '{text}'", "ValueError") from None


def _parse_body(request: Request, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" not in request.headers.get("content-type", ""):
        # Tornado parses a non-JSON body as form arguments and the operation then fails.
        raise Unhandled(
            "FakeMage: a request body must be sent with Content-Type: application/json "
            "(Mage parses other bodies as form arguments and fails)",
            "JSONDecodeError",
        )
    try:
        parsed = json.loads(raw)
    except ValueError as err:
        raise Unhandled(str(err), "JSONDecodeError") from err
    if not isinstance(parsed, dict):
        raise Unhandled(f"'{type(parsed).__name__}' object has no attribute 'get'", "AttributeError")
    return parsed


def _wrapped(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The payload under the singular resource name; anything not wrapped is ignored."""
    payload = body.get(key)
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise Unhandled(f"'{type(payload).__name__}' object has no attribute 'get'", "AttributeError")
    return dict(payload)


def _detail(key: str, item: Mapping[str, Any]) -> Response:
    return JSONResponse({key: item, "metadata": None})


def _paginate_plain(key: str, items: list[dict[str, Any]], query: Mapping[str, str]) -> Response:
    """Blocks child list: no default limit, metadata ``{"count", "next"}``."""
    offset = _int_meta(query, "_offset", 0)
    if query.get("_limit") is None:
        return JSONResponse({key: items[offset:], "metadata": {"count": len(items), "next": False}})
    limit = _int_meta(query, "_limit", 0)
    return JSONResponse(
        {
            key: items[offset : offset + limit],
            "metadata": {"count": len(items), "next": offset + limit < len(items)},
        }
    )


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Unhandled(f"Unknown string format: {value}", "ParserError") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _unhandled_body(err: Unhandled, url_parameters: Mapping[str, str]) -> dict[str, Any]:
    site = "/usr/local/lib/python3.11/site-packages"
    frames = [
        f'  File "{site}/mage_ai/server/api/base.py", line 52, in wrapper\n'
        "    return await func(self, *args, **kwargs)\n",
        f'  File "{site}/mage_ai/api/views.py", line 112, in execute_operation\n'
        "    result = await base_operation.execute()\n",
        f'  File "{site}/mage_ai/api/operations/base.py", line 96, in execute\n'
        "    result = await self.__executed_result()\n",
    ]
    traceback = (
        "Traceback (most recent call last):\n" + "".join(frames) + f"{err.exc_type}: {err.exception}\n"
    )
    return {
        "error": {"code": 500, "errors": frames, "exception": err.exception, "message": traceback},
        "url_parameters": dict(url_parameters),
    }


def _default_block_content(block_type: str, block_uuid: str) -> str:
    known_decorators = ("data_loader", "transformer", "data_exporter", "custom")
    decorator = block_type if block_type in known_decorators else "custom"
    return (
        f"if '{decorator}' not in globals():\n"
        f"    from mage_ai.data_preparation.decorators import {decorator}\n\n\n"
        f"@{decorator}\n"
        f"def {block_uuid}(*args, **kwargs):\n"
        "    return {}\n"
    )
