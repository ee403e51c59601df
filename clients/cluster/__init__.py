"""Async client for the API every running Mage serves under `/api` (Mage OSS and Mage Pro).

One class per resource, all on one shared session (`session.py`); `ClusterClient` is all of them.
"""

from __future__ import annotations

from .logs import LogsApi
from .outputs import OutputsApi
from .pipelines import PipelinesApi
from .runs import RunsApi
from .session import ClusterSession
from .triggers import TriggersApi


class ClusterClient(PipelinesApi, TriggersApi, RunsApi, LogsApi, OutputsApi):
    """One Mage cluster's `/api`, over a single keep-alive `httpx.AsyncClient`."""


__all__ = ["ClusterClient", "ClusterSession"]
