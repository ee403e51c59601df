"""Workspaces (Mage Pro, or Mage OSS in multi-workspace mode): list, read, create, update, delete."""

from __future__ import annotations

from .session import ClusterSession


class WorkspacesApi(ClusterSession):
    pass
