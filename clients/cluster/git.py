"""Git: the version-control status, a pull from the configured sync remote, Mage Pro deployments."""

from __future__ import annotations

from .session import ClusterSession


class GitApi(ClusterSession):
    pass
