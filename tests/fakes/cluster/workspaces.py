"""Workspaces (``/api/workspaces``): Mage OSS fails without the kubernetes module; a Mage Pro mode serves them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore, User
from .helpers import Unhandled


class WorkspacesRoutes(FakeCore):
    def _workspaces(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        raise Unhandled("No module named 'kubernetes'", "ModuleNotFoundError")
