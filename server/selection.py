"""Which tools a server lists: toolsets, `--tools`, `--exclude-tools` and read-only mode, checked at start.

The listed tools are (toolsets ∩ tools, less the excluded), then, in read-only mode, only those whose
`readOnlyHint` is true. Every other tool of ours is hidden: not listed, and a call to it by name
gets an error result that says why and how to enable it, with nothing sent to Mage. A tool about
the server itself (`list_profiles`) is in no toolset and always listed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from mage_mcp.tools.base import TOOLSETS, ToolSpec

from .config import Settings

TOOLSETS_OPTION = "--toolsets / MAGE_MCP_TOOLSETS"
TOOLS_OPTION = "--tools / MAGE_MCP_TOOLS"
EXCLUDE_OPTION = "--exclude-tools / MAGE_MCP_EXCLUDE_TOOLS"
READ_ONLY_REASON = "the server is read-only; writes are enabled by starting it without --read-only / MAGE_MCP_READ_ONLY"


class SelectionError(ValueError):
    """A name that is not a toolset or tool, a tool in no toolset, or a selection that leaves no tool."""


@dataclass(frozen=True)
class Selection:
    listed: tuple[ToolSpec, ...]
    hidden: dict[str, str]
    """Each hidden tool's name -> why it is hidden and how to enable it."""


def check_toolsets(tools: Sequence[ToolSpec]) -> None:
    """Every tool is in exactly one known toolset (its module's `TOOLSET`), and every name is unique."""
    seen: set[str] = set()
    for spec in tools:
        if spec.about_server:
            if spec.toolset is not None:
                raise SelectionError(f"tool {spec.name!r} is about the server and must be in no toolset")
        elif spec.toolset not in TOOLSETS:
            raise SelectionError(
                f"tool {spec.name!r} belongs to no toolset; set TOOLSET in its module to one of: {', '.join(TOOLSETS)}"
            )
        if spec.name in seen:
            raise SelectionError(f"tool {spec.name!r} is declared twice")
        seen.add(spec.name)


def select(tools: Sequence[ToolSpec], settings: Settings) -> Selection:
    check_toolsets(tools)
    names = sorted(spec.name for spec in tools)
    toolsets = _known(settings.mage_mcp_toolsets, TOOLSETS, "toolset", TOOLSETS_OPTION)
    only = _known(settings.mage_mcp_tools, names, "tool", TOOLS_OPTION)
    excluded = _known(settings.mage_mcp_exclude_tools, names, "tool", EXCLUDE_OPTION) or ()
    hidden: dict[str, str] = {}
    for spec in tools:
        if spec.about_server:
            continue  # always listed: how an assistant learns what this server acts on
        reasons = []
        if toolsets is not None and spec.toolset not in toolsets:
            reasons.append(
                f"its toolset {spec.toolset!r} is not in {TOOLSETS_OPTION} ({','.join(toolsets)}); add it there"
            )
        if only is not None and spec.name not in only:
            reasons.append(f"it is not in {TOOLS_OPTION}; add it there")
        if spec.name in excluded:
            reasons.append(f"it is in {EXCLUDE_OPTION}; remove it from there")
        if settings.mage_mcp_read_only and spec.annotations.read_only_hint is not True:
            reasons.append(READ_ONLY_REASON)
        if reasons:
            hidden[spec.name] = f"Tool {spec.name!r} is not enabled on this server: {'; '.join(reasons)}."
    listed = tuple(spec for spec in tools if spec.name not in hidden)
    if all(spec.about_server for spec in listed):
        raise SelectionError(f"the selection leaves no tool to serve ({_described(settings)}); widen it")
    return Selection(listed, hidden)


def _known(given: tuple[str, ...] | None, valid: Collection[str], kind: str, option: str) -> tuple[str, ...] | None:
    unknown = [name for name in given or () if name not in valid]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise SelectionError(f"unknown {kind} {listed} in {option}; valid {kind}s: {', '.join(valid)}")
    return given


def _described(settings: Settings) -> str:
    parts = [
        f"{option}: {','.join(value)}"
        for option, value in (
            (TOOLSETS_OPTION, settings.mage_mcp_toolsets),
            (TOOLS_OPTION, settings.mage_mcp_tools),
            (EXCLUDE_OPTION, settings.mage_mcp_exclude_tools),
        )
        if value
    ]
    if settings.mage_mcp_read_only:
        parts.append("--read-only / MAGE_MCP_READ_ONLY")
    return "; ".join(parts)
