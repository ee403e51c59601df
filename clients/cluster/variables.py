"""Pipeline variables (the globals in a pipeline's metadata.yaml): list, set, delete."""

from __future__ import annotations

from .session import ClusterSession


class VariablesApi(ClusterSession):
    pass
