"""Logs of pipeline runs."""

from __future__ import annotations

from .session import ClusterSession


class LogsApi(ClusterSession):
    pass
