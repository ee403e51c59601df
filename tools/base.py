"""What every tool module shares: the tool spec, annotation presets and the runtime accessor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations

from mage_mcp.server.runtime import Runtime

Plane = Literal["cloud", "cluster"]
"""Which Mage API a tool talks to; it decides the hints an upstream error gets."""

READ_ONLY = ToolAnnotations(read_only_hint=True)


def mutating(*, destructive: bool, idempotent: bool) -> ToolAnnotations:
    """Annotations of a tool that changes Mage; both hints are always stated explicitly."""
    return ToolAnnotations(read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent)


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    title: str
    annotations: ToolAnnotations
    plane: Plane

    @property
    def name(self) -> str:
        return self.fn.__name__


def runtime(ctx: Context[Runtime, Any]) -> Runtime:
    return ctx.request_context.lifespan_context
