"""Async client for the API every running Mage serves under `/api` (Mage OSS and Mage Pro).

One class per resource, all on one shared session (`session.py`); `ClusterClient` is all of them.
"""

from __future__ import annotations

from .blocks import BlocksApi
from .git import GitApi
from .logs import LogsApi
from .outputs import OutputsApi
from .pipelines import PipelinesApi
from .runs import RunsApi
from .secrets import SecretsApi
from .session import ClusterSession
from .triggers import TriggersApi
from .variables import VariablesApi
from .workspaces import WorkspacesApi


class ClusterClient(
    PipelinesApi,
    BlocksApi,
    TriggersApi,
    RunsApi,
    LogsApi,
    OutputsApi,
    VariablesApi,
    SecretsApi,
    WorkspacesApi,
    GitApi,
):
    """One Mage cluster's `/api`, over a single keep-alive `httpx.AsyncClient`."""


__all__ = ["ClusterClient", "ClusterSession"]
