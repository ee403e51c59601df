"""What every tool module shares: the two kinds of tool declaration and the runtime accessor.

A module ends with a table (`TOOLS`) of its tools, each declared with `reads(...)` or
`changes(...)`, and names the toolset they belong to (`TOOLSET`, one of `TOOLSETS`). A changing
tool is its plan (reads only) and its apply step; the confirmation gate, the token binding and the
result shape come from the declaration (`confirmed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations

from mage_mcp.server.confirmation import Plan, confirmed
from mage_mcp.server.runtime import Runtime, Target

Plane = Literal["cloud", "cluster"]
"""Which Mage API a tool talks to; it decides the hints an upstream error gets."""

Toolset = Literal["clusters", "pipelines", "blocks", "triggers", "runs", "variables", "secrets", "workspaces", "git"]
"""A group of tools an operator enables or leaves out as a whole (`--toolsets`)."""
TOOLSETS: tuple[Toolset, ...] = get_args(Toolset)


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    title: str
    annotations: ToolAnnotations
    plane: Plane
    plan: Callable[..., Awaitable[Plan]] | None = None
    """The plan function of a changing tool; None for a read-only one."""
    toolset: Toolset | None = None
    """Set from the module's `TOOLSET` by `tools/__init__.py`; the server refuses a tool without one."""
    about_server: bool = False
    """A tool about this server itself (`list_profiles`): in no toolset, always listed, no `profile` argument."""

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def mutating(self) -> bool:
        return self.plan is not None

    def in_toolset(self, toolset: Toolset | None) -> ToolSpec:
        return replace(self, toolset=toolset)


def reads(fn: Callable[..., Awaitable[Any]], title: str, plane: Plane) -> ToolSpec:
    """A read-only tool: it never changes Mage, so nobody is asked."""
    return ToolSpec(fn, title, ToolAnnotations(read_only_hint=True), plane)


def about_server(fn: Callable[..., Awaitable[Any]], title: str) -> ToolSpec:
    """A read-only tool about this server (not about Mage): listed whatever toolsets are chosen."""
    return ToolSpec(fn, title, ToolAnnotations(read_only_hint=True), "cluster", about_server=True)


def changes(
    apply: Callable[..., Awaitable[Any]],
    title: str,
    plane: Plane,
    *,
    plan: Callable[..., Awaitable[Plan]],
    destructive: bool,
    idempotent: bool,
    settle: Callable[..., Awaitable[Any]] | None = None,
) -> ToolSpec:
    """A tool that changes Mage: `plan` says what would change, `apply` changes it once confirmed, and
    `settle` (optional) reads whether it did when Mage's answer was lost."""
    hints = ToolAnnotations(read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent)
    return ToolSpec(confirmed(apply, plan, settle), title, hints, plane, plan)


def runtime(ctx: Context[Runtime, Any]) -> Target:
    """The Mage of the call's profile: its clients, its Cloud target and its idempotency keys."""
    return ctx.request_context.lifespan_context.target()
