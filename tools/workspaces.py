"""Workspaces (Mage Pro, or Mage OSS in multi-workspace mode)."""

from .base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
