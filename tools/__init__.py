"""The tools, one module per domain; each module ends with a table (`TOOLS`) of what it offers."""

from . import clusters, pipelines, runs
from .base import Plane, ToolSpec

TOOLS: tuple[ToolSpec, ...] = (*clusters.TOOLS, *pipelines.TOOLS, *runs.TOOLS)

__all__ = ["TOOLS", "Plane", "ToolSpec"]
