"""Project secrets (``/api/secrets``): names listed, values never returned.

As Mage 0.9.80's ``SecretResource``: the list is DB-paged (default 40, ``{"count", "next"}``) and
hides the names Mage reserves for its Git sync; a create answers ``{"id", "name"}``; a name that
exists already is an ``IntegrityError`` (shape 3) whose text carries the stored (encrypted) value;
a value that is not a string fails in the encryption; the detail and update actions are a 403
for an existing secret and a 404 otherwise; a delete answers the deleted ``{"id", "name"}``.

The fake "encrypts" a value as its base64, so a test can check that neither form leaks.
Test hooks: ``add_secret()``, ``secret_value()``, ``fail_next_secret_create``, the state ``secrets``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore, User
from .helpers import REPO_PATH, ApiError, Unhandled, detail_response, not_served, unwrap

GIT_SECRET_PREFIXES = ("mage_git_ssh_private_key_b64", "mage_git_ssh_public_key_b64", "mage_git_access_token")
_KEY_UUID = "ab0d10c86f334e229b0c2e4efbe488fc"


class SecretsRoutes(FakeCore):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.secrets: dict[int, dict[str, Any]] = {}
        self._next_secret_id = 1
        self.fail_next_secret_create: str | None = None
        """When set, the next create fails with this text as Mage's unhandled `exception`."""

    # ----------------------------------------------------------------- test hooks
    def add_secret(self, name: str, value: str) -> dict[str, Any]:
        secret_id = self._next_secret_id
        secret: dict[str, Any] = {"id": secret_id, "name": name, "value": _encrypted(value)}
        self.secrets[secret_id] = secret
        self._next_secret_id += 1
        return secret

    def secret_value(self, name: str) -> str | None:
        """What `get_secret_value(name)` would give a block."""
        found = self._secret_named(name)
        return None if found is None else base64.b64decode(found["value"]).decode()

    # ----------------------------------------------------------------- routes
    def _secrets(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) == 1 and method == "GET":
            self._authorize("list", user)
            listed = [_presented(s) for s in self.secrets.values() if not s["name"].startswith(GIT_SECRET_PREFIXES)]
            return self._db_list("secrets", listed, query)
        if len(segments) == 1 and method == "POST":
            self._authorize("create", user)
            return detail_response("secret", _presented(self._create_secret(unwrap(body, "secret"))))
        if len(segments) == 2:
            found = self._secret_named(segments[1])
            if found is None:
                raise self._not_found()
            if method == "DELETE":
                self._authorize("delete", user)
                del self.secrets[found["id"]]
                return detail_response("secret", _presented(found))
            action = "detail" if method == "GET" else "update"
            raise ApiError(403, f"The {action} action is disabled for secrets.", "unauthorized_access")
        raise not_served(method, segments)

    def _create_secret(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        name, value = payload.get("name"), payload.get("value")
        if name is None:
            raise Unhandled("create_secret() missing 1 required positional argument: 'name'", "TypeError")
        if not isinstance(value, str):
            raise Unhandled(f"'{type(value).__name__}' object has no attribute 'encode'", "AttributeError")
        if self.fail_next_secret_create is not None:
            failure, self.fail_next_secret_create = self.fail_next_secret_create, None
            raise Unhandled(failure)
        if self._secret_named(str(name)) is not None:
            raise Unhandled(_unique_violation(str(name), _encrypted(value)), "IntegrityError")
        return self.add_secret(str(name), value)

    def _secret_named(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.secrets.values() if s["name"] == name), None)


def _encrypted(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _presented(secret: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": secret["id"], "name": secret["name"]}


_INSERT = "[SQL: INSERT INTO secret (name, value, repo_name, key_uuid) VALUES (?, ?, ?, ?) RETURNING id]"


def _unique_violation(name: str, stored: str) -> str:
    """Mage's error text for a second secret of one name: the stored (encrypted) value is in it."""
    parameters = f"[parameters: ({name!r}, {stored!r}, {REPO_PATH!r}, {_KEY_UUID!r})]"
    return "\n".join(
        [
            "(sqlite3.IntegrityError) UNIQUE constraint failed: secret.name, secret.key_uuid",
            _INSERT,
            parameters,
            "(Background on this error at: https://sqlalche.me/e/21/gkpj)",
        ]
    )
