"""Git: sync settings and pulls (``/api/syncs``), version control (``/api/git_custom_branches``), Pro deployments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore, User
from .helpers import not_served


class GitRoutes(FakeCore):
    def _syncs(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        raise not_served(method, segments)

    def _git_custom_branches(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        raise not_served(method, segments)

    def _deployment_settings(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        raise not_served(method, segments)
