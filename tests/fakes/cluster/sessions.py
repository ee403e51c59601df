"""Sessions: password login (JWT-wrapped tokens), logout, and the token test hooks."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import Any

from starlette.responses import JSONResponse, Response

from .core import FakeCore, User
from .helpers import (
    LOGIN_INVALID,
    LOGIN_REQUIRED,
    TOKEN_LIFETIME,
    jwt_encode,
    mage_str,
    not_served,
    unwrap,
    utc_now,
)


class SessionsRoutes(FakeCore):
    # ----------------------------------------------------------------- test hooks
    def expire_tokens(self) -> None:
        """Every session token issued so far is expired (-> HTTP 401 ``expired_oauth_token``)."""
        past = utc_now() - timedelta(seconds=1)
        for token in self._tokens:
            self._tokens[token] = past

    @property
    def issued_tokens(self) -> list[str]:
        """Raw (inner) tokens issued by logins so far."""
        return list(self._tokens)

    def session_jwt(self, raw_token: str | None = None) -> str:
        """Issue a token without going through ``POST /api/sessions`` and return its JWT."""
        raw = raw_token or secrets.token_urlsafe(32)
        expires = utc_now() + TOKEN_LIFETIME
        self._tokens[raw] = expires
        return jwt_encode({"expires": expires.replace(tzinfo=UTC).timestamp(), "token": raw})

    # ----------------------------------------------------------------- routes
    def _sessions(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        n = len(segments)
        if n == 1 and method == "POST":
            return self._login(unwrap(body, "session"))
        if n == 2 and method == "PUT":
            self._authorize("update", user)
            return self._logout(user)
        raise not_served(method, segments)

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
        expires = utc_now() + TOKEN_LIFETIME
        self._tokens[raw] = expires
        self.logins += 1
        token = jwt_encode({"expires": expires.replace(tzinfo=UTC).timestamp(), "token": raw})
        return JSONResponse(
            {"session": {"expires": mage_str(expires), "token": token, "user": self._user()}, "metadata": None}
        )

    def _logout(self, user: User) -> Response:
        # PUT /api/sessions/{any}: Mage expires the current token; the fake expires them all.
        self.expire_tokens()
        return JSONResponse({"session": {"expires": mage_str(utc_now()), "user": user}, "metadata": None})

