"""The tools, one module per domain; each module ends with a table (`TOOLS`) of what it offers."""

from . import (
    blocks,
    cluster_config,
    clusters,
    diagnosis,
    env_vars,
    git,
    logs,
    outputs,
    pipeline_deletion,
    pipelines,
    run_starts,
    runs,
    secrets,
    triggers,
    variables,
    workspaces,
)
from .base import Plane, ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    *clusters.TOOLS,
    *env_vars.TOOLS,
    *cluster_config.TOOLS,
    *pipelines.TOOLS,
    *pipeline_deletion.TOOLS,
    *run_starts.TOOLS,
    *blocks.TOOLS,
    *triggers.TOOLS,
    *variables.TOOLS,
    *secrets.TOOLS,
    *workspaces.TOOLS,
    *git.TOOLS,
    *runs.TOOLS,
    *logs.TOOLS,
    *diagnosis.TOOLS,
    *outputs.TOOLS,
)

__all__ = ["TOOLS", "Plane", "ToolSpec"]
