"""Project secrets (``/api/secrets``): names listed, values never returned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore, User
from .helpers import not_served


class SecretsRoutes(FakeCore):
    def _secrets(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        raise not_served(method, segments)
