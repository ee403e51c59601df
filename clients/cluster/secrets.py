"""Project secrets: list names, create, delete (Mage never returns a value)."""

from __future__ import annotations

from .session import ClusterSession


class SecretsApi(ClusterSession):
    pass
