"""The tools, one module per domain; each module ends with a table (`TOOLS`) of what it offers
and names the toolset its tools belong to (`TOOLSET`)."""

from types import ModuleType

from . import (
    block_deletion,
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
    profiles,
    run_starts,
    runs,
    secrets,
    trigger_deletion,
    triggers,
    variables,
    workspaces,
)
from .base import TOOLSETS, Plane, Toolset, ToolSpec

MODULES: tuple[ModuleType, ...] = (
    profiles,
    clusters,
    env_vars,
    cluster_config,
    pipelines,
    pipeline_deletion,
    run_starts,
    blocks,
    block_deletion,
    triggers,
    trigger_deletion,
    variables,
    secrets,
    workspaces,
    git,
    runs,
    logs,
    diagnosis,
    outputs,
)
TOOLS: tuple[ToolSpec, ...] = tuple(spec.in_toolset(module.TOOLSET) for module in MODULES for spec in module.TOOLS)

__all__ = ["TOOLS", "TOOLSETS", "Plane", "ToolSpec", "Toolset"]
