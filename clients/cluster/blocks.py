"""Blocks of a pipeline: read, create, update, delete. Code is written through the route that really writes it."""

from __future__ import annotations

from .session import ClusterSession


class BlocksApi(ClusterSession):
    pass
