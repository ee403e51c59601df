"""What blocks returned in a run (block run outputs)."""

from __future__ import annotations

from .session import ClusterSession


class OutputsApi(ClusterSession):
    pass
