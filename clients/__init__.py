"""Typed async clients for Mage's two HTTP APIs. They know Mage's quirks and nothing of MCP.

The clients themselves (and so httpx) load on first use, which keeps a server's start-up lean.
"""

from typing import TYPE_CHECKING, Any

from .defaults import DEFAULT_CLOUD_URL, MAGE_PUBLIC_API_KEY
from .errors import (
    HIDDEN_RUN,
    MageApiError,
    MageAuthError,
    MageConnectionError,
    MageError,
    MageInvalidRequestError,
    MageNotFoundError,
    MageOutcomeUnknownError,
    MageUnsupportedError,
    Subject,
)
from .log_lines import LogLine, parse_log_lines
from .models import (
    Block,
    BlockOutput,
    BlockRun,
    Cluster,
    ClusterUpdate,
    Credentials,
    LogFile,
    Page,
    Pipeline,
    PipelineRun,
    RunLogs,
    Trigger,
)
from .pages import every_item

if TYPE_CHECKING:
    from .cloud import CloudClient
    from .cluster import ClusterClient

_LAZY = {"CloudClient": ".cloud", "ClusterClient": ".cluster"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_CLOUD_URL",
    "HIDDEN_RUN",
    "MAGE_PUBLIC_API_KEY",
    "Block",
    "BlockOutput",
    "BlockRun",
    "CloudClient",
    "Cluster",
    "ClusterClient",
    "ClusterUpdate",
    "Credentials",
    "LogFile",
    "LogLine",
    "MageApiError",
    "MageAuthError",
    "MageConnectionError",
    "MageError",
    "MageInvalidRequestError",
    "MageNotFoundError",
    "MageOutcomeUnknownError",
    "MageUnsupportedError",
    "Page",
    "Pipeline",
    "PipelineRun",
    "RunLogs",
    "Subject",
    "Trigger",
    "every_item",
    "parse_log_lines",
]
