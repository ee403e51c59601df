"""Pipeline variables (``/api/pipelines/{uuid}/variables``), kept in the pipeline's ``variables``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore, User
from .helpers import not_served


class VariablesRoutes(FakeCore):
    def _variables(
        self,
        method: str,
        segments: list[str],
        pipeline: dict[str, Any],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: User,
    ) -> Response:
        raise not_served(method, segments)
