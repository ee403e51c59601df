"""What every part of the Mage cluster fake shares: constants, Mage's formats, JWTs, errors, request helpers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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



# --------------------------------------------------------------------------- helpers
def utc_now() -> datetime:
    """Naive UTC now, like Mage's ``datetime.utcnow()``."""
    return datetime.now(UTC).replace(tzinfo=None)


def whole_seconds(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def mage_str(dt: datetime | None) -> str | None:
    """``str(datetime)``: ``2026-11-29 03:36:19.383206`` (space, no zone)."""
    return None if dt is None else str(dt)


def mage_iso(dt: datetime | None) -> str | None:
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


def classify(resource: str) -> str:
    singular = resource
    if singular.endswith("ies"):
        singular = singular[:-3] + "y"
    elif singular.endswith("ses"):
        singular = singular[:-2]
    elif singular.endswith("s") and not singular.endswith("ss"):
        singular = singular[:-1]
    return "".join(part.capitalize() for part in singular.split("_"))


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """``get_bearer_auth_token_from_headers``: the part of Authorization that holds "bearer"."""
    value = headers.get("authorization")
    if not value:
        return None
    for part in value.split(","):
        if "bearer" in part.lower():
            pieces = part.strip().split(" ", 1)
            return pieces[1].strip() if len(pieces) == 2 else None
    return None



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


# --------------------------------------------------------------------------- module helpers
def not_served(method: str, segments: list[str]) -> Unhandled:
    """A route Mage has and this fake does not implement: said plainly, in Mage's unhandled shape."""
    return Unhandled(f"FakeMage does not serve {method} /api/{'/'.join(segments)}", "NotImplementedError")


def first_values(request: Request) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, value)
    return query


def int_meta(query: Mapping[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise Unhandled(f"invalid literal for int() with base 10: '{text}'", "ValueError") from None


def parse_body(request: Request, raw: bytes) -> dict[str, Any]:
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


def unwrap(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The payload under the singular resource name; anything not wrapped is ignored."""
    payload = body.get(key)
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise Unhandled(f"'{type(payload).__name__}' object has no attribute 'get'", "AttributeError")
    return dict(payload)


def detail_response(key: str, item: Mapping[str, Any]) -> Response:
    return JSONResponse({key: item, "metadata": None})


def paginate_plain(key: str, items: list[dict[str, Any]], query: Mapping[str, str]) -> Response:
    """Blocks child list: no default limit, metadata ``{"count", "next"}``."""
    offset = int_meta(query, "_offset", 0)
    if query.get("_limit") is None:
        return JSONResponse({key: items[offset:], "metadata": {"count": len(items), "next": False}})
    limit = int_meta(query, "_limit", 0)
    return JSONResponse(
        {
            key: items[offset : offset + limit],
            "metadata": {"count": len(items), "next": offset + limit < len(items)},
        }
    )


def query_timestamps(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """``start_timestamp`` / ``end_timestamp`` (unix seconds) as naive UTC, as ``get_query_timestamps`` reads them."""
    bounds: list[datetime | None] = []
    for key in ("start_timestamp", "end_timestamp"):
        text = query.get(key)
        try:
            bounds.append(datetime.fromtimestamp(int(text), UTC).replace(tzinfo=None) if text else None)
        except (ValueError, OverflowError):
            raise ApiError(400, f"Value is invalid for {key}.", "record_invalid") from None
    return bounds[0], bounds[1]


def parse_datetime(value: Any) -> datetime:
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


def unhandled_body(err: Unhandled, url_parameters: Mapping[str, str]) -> dict[str, Any]:
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


