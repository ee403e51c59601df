"""Typed async clients for Mage's two HTTP APIs. They know Mage's quirks and nothing of MCP."""

from .cloud import DEFAULT_CLOUD_URL, CloudClient, ClusterUpdate
from .cluster import MAGE_PUBLIC_API_KEY, ClusterClient, Credentials
from .errors import (
    MageApiError,
    MageAuthError,
    MageConnectionError,
    MageError,
    MageInvalidRequestError,
    MageNotFoundError,
)
from .models import BlockRun, Cluster, Page, Pipeline, PipelineRun, Trigger

__all__ = [
    "DEFAULT_CLOUD_URL",
    "MAGE_PUBLIC_API_KEY",
    "BlockRun",
    "CloudClient",
    "Cluster",
    "ClusterClient",
    "ClusterUpdate",
    "Credentials",
    "MageApiError",
    "MageAuthError",
    "MageConnectionError",
    "MageError",
    "MageInvalidRequestError",
    "MageNotFoundError",
    "Page",
    "Pipeline",
    "PipelineRun",
    "Trigger",
]
