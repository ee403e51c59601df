"""The tools, one module per domain; each module ends with a table (`TOOLS`) of what it offers."""

from . import cluster_config, clusters, diagnosis, env_vars, logs, outputs, pipelines, runs
from .base import Plane, ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    *clusters.TOOLS,
    *env_vars.TOOLS,
    *cluster_config.TOOLS,
    *pipelines.TOOLS,
    *runs.TOOLS,
    *logs.TOOLS,
    *diagnosis.TOOLS,
    *outputs.TOOLS,
)

__all__ = ["TOOLS", "Plane", "ToolSpec"]
