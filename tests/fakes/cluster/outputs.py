"""Block run outputs: ``GET /api/block_runs/{id}/outputs``."""

from __future__ import annotations

from .core import FakeCore


class OutputsRoutes(FakeCore):
    pass
