"""Blocks of a pipeline: read, create, edit (code verified by reading it back), delete."""

from .base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
