"""Run logs: ``GET /api/pipelines/{uuid}/logs``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore
from .helpers import Unhandled


class LogsRoutes(FakeCore):
    def _pipeline_logs(self, pipeline: dict[str, Any], query: Mapping[str, str]) -> Response:
        raise Unhandled("FakeMage does not serve GET /api/pipelines/{uuid}/logs", "NotImplementedError")
